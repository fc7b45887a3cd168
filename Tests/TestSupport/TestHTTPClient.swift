#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A response as the test client parsed it.
public struct TestResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
    public var closes: Bool { headers["connection"]?.lowercased() == "close" }
}

public struct TestClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking TCP client for tests: sends raw bytes, reads HTTP/1.1 responses. Not thread-safe.
public final class TestHTTPClient {
    public let descriptor: Int32
    private var buffer: [UInt8] = []
    /// Where unread bytes start in `buffer` (consumed bytes are dropped in bulk, not per response).
    private var start = 0

    /// Connects to `host:port` (IPv4 or IPv6 literal) with a receive timeout.
    /// - Parameter receiveBufferBytes: a small `SO_RCVBUF` makes the server's output back up quickly.
    public init(host: String = "127.0.0.1", port: UInt16, timeoutSeconds: Int = 10, receiveBufferBytes: Int32? = nil) throws {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            throw TestClientError("cannot resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        #if canImport(Glibc)
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(info.pointee.ai_family, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw TestClientError("socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBufferBytes {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw TestClientError("connect \(host):\(port): \(message)")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw TestClientError("send: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads more bytes; `false` on EOF. Throws on timeout or reset.
    @discardableResult
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TestClientError("recv: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }

    /// Reads one complete response (Content-Length framed, as the server sends).
    public func readResponse() throws -> TestResponse {
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[start..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestClientError("bad status line: \(head)") }
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                if status == 100 {
                    consume(upTo: end + 4)
                    continue
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                while buffer.count < end + 4 + length {
                    guard try fill() else { throw TestClientError("connection closed mid-body") }
                }
                let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                consume(upTo: end + 4 + length)
                return TestResponse(status: status, headers: headers, body: body)
            }
            guard try fill() else { throw TestClientError("connection closed before a response") }
        }
    }

    private func consume(upTo index: Int) {
        start = index
        if start > 1 << 20 || start == buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }

    /// Whether the server closed the connection (EOF) within the receive timeout.
    public func isClosedByServer() -> Bool {
        do {
            while true { if try !fill() { return true } }
        } catch {
            return (error as? TestClientError)?.description.contains("reset") ?? false
        }
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count - start >= pattern.count else { return nil }
        for index in start...(buffer.count - pattern.count) where buffer[index] == pattern[0] {
            if Array(buffer[index..<index + pattern.count]) == pattern { return index }
        }
        return nil
    }

    /// A request with a Content-Length body.
    public static func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                               close: Bool = false) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// Sends one request and reads its response.
    public func roundTrip(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> TestResponse {
        try send(Self.request(method, path, headers: headers, body: body))
        return try readResponse()
    }
}
