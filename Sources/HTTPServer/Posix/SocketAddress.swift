#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SystemCalls

/// A numeric IPv4 or IPv6 socket address, parsed from `host:port` or `[v6]:port`.
///
/// Host names are resolved once with `getaddrinfo` (so `localhost:8080` works); the first address wins.
public struct SocketAddress: Sendable, CustomStringConvertible, Equatable {
    /// The numeric host, without brackets (`127.0.0.1`, `::1`).
    public let host: String
    public let port: UInt16
    /// `AF_INET` or `AF_INET6`.
    public let family: Int32

    /// Errors from parsing or resolving an address; the message says what was wrong.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses `host:port`, `[v6-address]:port` or `:port` (all IPv4 interfaces).
    public init(parsing text: String) throws(ParseError) {
        let hostPart: String
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                  text.index(after: close) < text.endIndex, text[text.index(after: close)] == ":" else {
                throw ParseError(description: "invalid listen address '\(text)': expected [IPv6]:port, e.g. [::1]:8080")
            }
            hostPart = String(text[text.index(after: text.startIndex)..<close])
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ParseError(description: "invalid listen address '\(text)': expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080")
            }
            hostPart = colon == text.startIndex ? "0.0.0.0" : String(text[..<colon])
            portPart = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portPart), !portPart.isEmpty else {
            throw ParseError(description: "invalid port in listen address '\(text)': expected a number from 0 to 65535")
        }
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(hostPart, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw ParseError(description: "cannot resolve host '\(hostPart)' in listen address '\(text)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        self.init(storage: storage)
    }

    init(storage: sockaddr_storage) {
        var storage = storage
        family = Int32(storage.ss_family)
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if family == AF_INET6 {
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            var addr = address.sin6_addr
            inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
            port = UInt16(bigEndian: address.sin6_port)
        } else {
            let address = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            var addr = address.sin_addr
            inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
            port = UInt16(bigEndian: address.sin_port)
        }
        host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String {
        family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemCallError) -> R) throws(SystemCallError) -> R {
        if family == AF_INET6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            inet_pton(AF_INET6, host, &address.sin6_addr)
            return try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                    try body(address, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            inet_pton(AF_INET, host, &address.sin_addr)
            return try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                    try body(address, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}
