/// Size limits the parser enforces; every limit is checked before the bytes are kept.
public struct HTTPParserLimits: Sendable, Equatable {
    /// Longest request line, without its CRLF (default 8 KiB). Over it: 431.
    public var requestLineBytes: Int
    /// Total size of the header section, CRLFs included (default 32 KiB). Over it: 431.
    public var headerBytes: Int
    /// Most header fields in one request (default 100). Over it: 431.
    public var headerFields: Int
    /// Largest body after de-chunking (default 1 MiB). Over it: 413.
    public var bodyBytes: Int

    public init(requestLineBytes: Int = 8 * 1024, headerBytes: Int = 32 * 1024, headerFields: Int = 100, bodyBytes: Int = 1024 * 1024) {
        self.requestLineBytes = requestLineBytes
        self.headerBytes = headerBytes
        self.headerFields = headerFields
        self.bodyBytes = bodyBytes
    }
}

/// Why a request could not be parsed: the status to answer, a stable reason code and a message for the client.
/// After any parse error the connection must be closed: the parser's position in the stream is lost.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let reason: String
    public let message: String

    public var description: String { "\(status) \(reason): \(message)" }

    static func bad(_ reason: String, _ message: String) -> HTTPParseError {
        HTTPParseError(status: 400, reason: reason, message: message)
    }
}

/// A strict, bounded, incremental HTTP/1.1 request parser.
///
/// Feed it bytes with `append(_:)` as they arrive and call `next()` until it returns `nil` (more bytes needed).
/// It holds at most one request plus the unconsumed bytes the caller gave it, and rejects before buffering
/// anything past a limit. It refuses everything that enables request smuggling: `Content-Length` together with
/// `Transfer-Encoding`, differing `Content-Length` values, obs-fold, bare LF, bad chunk sizes.
///
/// Not thread-safe: a parser belongs to one connection.
public struct HTTPRequestParser: Sendable {
    /// What `next()` found.
    public enum Event: Sendable {
        /// The head of a request with a body was parsed; the body follows. `expectsContinue` is set when the
        /// client sent `Expect: 100-continue` and waits for an interim response before sending the body.
        case head(expectsContinue: Bool)
        /// A complete request.
        case request(HTTPRequest)
    }

    private enum State {
        case requestLine
        case headerLines
        case fixedBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailerLines
    }

    public let limits: HTTPParserLimits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the next LF resumes, so slow clients do not make scanning quadratic.
    private var scanIndex = 0
    private var state = State.requestLine

    private var method = ""
    private var target = ""
    private var minorVersion = 1
    private var headers = HTTPHeaders()
    private var headerBytesSeen = 0
    private var body: [UInt8] = []

    private static let maxChunkLineBytes = 4096

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet consumed.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Heap bytes the parser holds (its input buffer's and the current body's capacity), for accounting.
    public var heldByteCount: Int { buffer.capacity + body.capacity }

    /// Whether part of a request has been received (so a header or body deadline applies).
    public var hasPartialRequest: Bool {
        if case .requestLine = state { return readIndex < buffer.count }
        return true
    }

    /// Parses as far as the buffered bytes allow.
    /// - Returns: the next event, or `nil` when more bytes are needed.
    /// - Throws: `HTTPParseError`; the parser must not be used afterwards.
    public mutating func next() throws(HTTPParseError) -> Event? {
        while true {
            // Consumed bytes are dropped as we go, so many tiny chunks cannot pile up in memory.
            if readIndex >= 64 * 1024 { compact() }
            switch state {
            case .requestLine:
                // Tolerate empty lines before a request line (RFC 9112 section 2.2).
                while readIndex + 1 < buffer.count, buffer[readIndex] == 13, buffer[readIndex + 1] == 10 {
                    readIndex += 2
                    scanIndex = readIndex
                }
                guard let line = try nextLine(limit: limits.requestLineBytes, tooLong: HTTPParseError(
                    status: 431, reason: "request_line_too_long",
                    message: "request line exceeds \(limits.requestLineBytes) bytes")) else { return nil }
                try parseRequestLine(line)
                state = .headerLines

            case .headerLines:
                let remaining = limits.headerBytes - headerBytesSeen
                guard let line = try nextLine(limit: max(remaining - 2, 0), tooLong: headersTooLarge) else { return nil }
                headerBytesSeen += line.count + 2
                if line.isEmpty {
                    if let event = try finishHead() { return event }
                    continue
                }
                let field = try parseHeaderLine(line)
                guard headers.count < limits.headerFields else { throw tooManyFields }
                headers.add(name: field.name, value: field.value)

            case .fixedBody(let remaining):
                let available = buffer.count - readIndex
                if available == 0 { return nil }
                let take = min(available, remaining)
                body.append(contentsOf: buffer[readIndex..<readIndex + take])
                readIndex += take
                scanIndex = readIndex
                if take == remaining { return .request(completeRequest()) }
                state = .fixedBody(remaining: remaining - take)
                return nil

            case .chunkSizeLine:
                guard let line = try nextLine(limit: Self.maxChunkLineBytes, tooLong: .bad(
                    "bad_chunk_size", "chunk size line exceeds \(Self.maxChunkLineBytes) bytes")) else { return nil }
                let size = try parseChunkSize(line)
                if size == 0 {
                    state = .trailerLines
                } else {
                    guard size <= limits.bodyBytes - body.count else { throw bodyTooLarge }
                    body.reserveCapacity(body.count + size)
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let available = buffer.count - readIndex
                if available == 0 { return nil }
                let take = min(available, remaining)
                body.append(contentsOf: buffer[readIndex..<readIndex + take])
                readIndex += take
                scanIndex = readIndex
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)

            case .chunkDataEnd:
                guard buffer.count - readIndex >= 2 else { return nil }
                guard buffer[readIndex] == 13, buffer[readIndex + 1] == 10 else {
                    throw .bad("bad_chunk", "chunk data is not followed by CRLF")
                }
                readIndex += 2
                scanIndex = readIndex
                state = .chunkSizeLine

            case .trailerLines:
                let remaining = limits.headerBytes - headerBytesSeen
                guard let line = try nextLine(limit: max(remaining - 2, 0), tooLong: headersTooLarge) else { return nil }
                headerBytesSeen += line.count + 2
                if line.isEmpty { return .request(completeRequest()) }
                _ = try parseHeaderLine(line)  // trailer fields are checked, then ignored
                headerFieldCount += 1
                if headers.count + headerFieldCount > limits.headerFields { throw tooManyFields }
            }
        }
    }

    private var headerFieldCount = 0

    private var headersTooLarge: HTTPParseError {
        HTTPParseError(status: 431, reason: "headers_too_large", message: "header section exceeds \(limits.headerBytes) bytes")
    }

    private var tooManyFields: HTTPParseError {
        HTTPParseError(status: 431, reason: "too_many_headers", message: "more than \(limits.headerFields) header fields")
    }

    private var bodyTooLarge: HTTPParseError {
        HTTPParseError(status: 413, reason: "body_too_large", message: "body exceeds \(limits.bodyBytes) bytes")
    }

    /// The next CRLF-terminated line (without CRLF), or `nil` if it has not fully arrived.
    /// Throws `tooLong` as soon as more than `limit` bytes are buffered without a line end.
    private mutating func nextLine(limit: Int, tooLong: HTTPParseError) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        let searchEnd = min(buffer.count, readIndex + limit + 2)
        var index = max(scanIndex, readIndex)
        while index < searchEnd {
            if buffer[index] == 10 {
                guard index > readIndex, buffer[index - 1] == 13 else {
                    throw .bad("bare_lf", "line ends with LF without CR")
                }
                let line = buffer[readIndex..<index - 1]
                readIndex = index + 1
                scanIndex = readIndex
                return line
            }
            index += 1
        }
        scanIndex = index
        if buffer.count - readIndex > limit + 1 { throw tooLong }
        return nil
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    private mutating func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .bad("bad_request_line", "request line must be 'METHOD target HTTP/1.1'")
        }
        guard parts[0].allSatisfy(Self.isTokenByte) else { throw .bad("bad_method", "invalid method") }
        guard parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw .bad("bad_target", "request target contains invalid characters")
        }
        let version = parts[2]
        guard version.count == 8, version.starts(with: Array("HTTP/".utf8)), version[version.startIndex + 6] == UInt8(ascii: "."),
              let major = Self.digit(version[version.startIndex + 5]), let minor = Self.digit(version[version.startIndex + 7]) else {
            throw .bad("bad_version", "invalid HTTP version")
        }
        guard major == 1, minor <= 1 else {
            throw HTTPParseError(status: 505, reason: "unsupported_version", message: "only HTTP/1.0 and HTTP/1.1 are supported")
        }
        method = String(decoding: parts[0], as: UTF8.self)
        var targetText = String(decoding: parts[1], as: UTF8.self)
        if targetText.hasPrefix("http://") || targetText.hasPrefix("https://") {
            // absolute-form: keep only the path and query.
            let afterScheme = targetText.drop(while: { $0 != ":" }).dropFirst(3)
            if let slash = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                targetText = afterScheme[slash] == "?" ? "/" + afterScheme[slash...] : String(afterScheme[slash...])
            } else {
                targetText = "/"
            }
        } else if !(targetText.hasPrefix("/") || (targetText == "*" && method == "OPTIONS")) {
            throw .bad("bad_target", "request target must start with '/'")
        }
        target = targetText
        minorVersion = minor
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte >= 48 && byte <= 57 ? Int(byte - 48) : nil
    }

    private func parseHeaderLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (name: String, value: String) {
        let first = line[line.startIndex]
        if first == 32 || first == 9 {
            throw .bad("obs_fold", "folded header lines (obs-fold) are not accepted")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .bad("bad_header", "header line has no ':'")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(Self.isTokenByte) else {
            throw .bad("bad_header", "invalid header field name")
        }
        var valueStart = colon + 1
        var valueEnd = line.endIndex
        while valueStart < valueEnd, line[valueStart] == 32 || line[valueStart] == 9 { valueStart += 1 }
        while valueEnd > valueStart, line[valueEnd - 1] == 32 || line[valueEnd - 1] == 9 { valueEnd -= 1 }
        let value = line[valueStart..<valueEnd]
        for byte in value where (byte < 32 && byte != 9) || byte == 127 {
            throw .bad("bad_header", "header field value contains a control character")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// Decides body framing once the header section is complete.
    private mutating func finishHead() throws(HTTPParseError) -> Event? {
        if minorVersion == 1 {
            let hosts = headers.values("Host")
            guard hosts.count == 1 else {
                throw .bad("bad_host", hosts.isEmpty ? "HTTP/1.1 request without a Host header" : "more than one Host header")
            }
        }
        let transferEncodings = headers.values("Transfer-Encoding")
        let contentLengths = headers.values("Content-Length")
        var expectsContinue = false
        if let expect = headers["Expect"] {
            guard expect.lowercased() == "100-continue" else {
                throw HTTPParseError(status: 417, reason: "unsupported_expectation", message: "only 'Expect: 100-continue' is supported")
            }
            expectsContinue = minorVersion == 1
        }

        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else {
                throw .bad("conflicting_framing", "Content-Length and Transfer-Encoding must not both be present")
            }
            guard minorVersion == 1 else { throw .bad("bad_transfer_encoding", "Transfer-Encoding is not allowed in HTTP/1.0") }
            let codings = transferEncodings.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                .map { $0.trimmingCharacters(in: " \t").lowercased() }
            guard codings.last == "chunked" else {
                throw .bad("bad_transfer_encoding", "Transfer-Encoding must end with 'chunked'")
            }
            guard codings.count == 1 else {
                throw HTTPParseError(status: 501, reason: "unsupported_transfer_encoding",
                                     message: "only 'Transfer-Encoding: chunked' is supported")
            }
            state = .chunkSizeLine
            return .head(expectsContinue: expectsContinue)
        }

        var length: Int?
        for field in contentLengths {
            for item in field.split(separator: ",", omittingEmptySubsequences: false) {
                let text = item.trimmingCharacters(in: " \t")
                guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(text) else {
                    throw .bad("bad_content_length", "Content-Length is not a number")
                }
                if let previous = length, previous != value {
                    throw .bad("conflicting_content_length", "Content-Length values differ")
                }
                length = value
            }
        }
        let bodyLength = length ?? 0
        guard bodyLength <= limits.bodyBytes else { throw bodyTooLarge }
        if bodyLength == 0 {
            state = .requestLine
            return .request(completeRequest())
        }
        body.reserveCapacity(bodyLength)
        state = .fixedBody(remaining: bodyLength)
        return .head(expectsContinue: expectsContinue)
    }

    private func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        var index = line.startIndex
        while index < line.endIndex {
            let byte = line[index]
            let value: Int
            switch byte {
            case 48...57: value = Int(byte - 48)
            case 97...102: value = Int(byte - 87)
            case 65...70: value = Int(byte - 55)
            default: value = -1
            }
            if value < 0 { break }
            digits += 1
            guard digits <= 8 else { throw .bad("bad_chunk_size", "chunk size has more than 8 hex digits") }
            size = size * 16 + value
            index += 1
        }
        guard digits > 0 else { throw .bad("bad_chunk_size", "chunk size is not a hexadecimal number") }
        // Optional whitespace, then chunk extensions (ignored) made of visible characters.
        while index < line.endIndex, line[index] == 32 || line[index] == 9 { index += 1 }
        if index < line.endIndex {
            guard line[index] == UInt8(ascii: ";") else { throw .bad("bad_chunk_size", "invalid character after chunk size") }
            for byte in line[index...] where (byte < 32 && byte != 9) || byte == 127 {
                throw .bad("bad_chunk_size", "chunk extension contains a control character")
            }
        }
        return size
    }

    private mutating func completeRequest() -> HTTPRequest {
        let request = HTTPRequest(method: method, target: target, minorVersion: minorVersion, headers: headers, body: body)
        headers = HTTPHeaders()
        body = []
        headerBytesSeen = 0
        headerFieldCount = 0
        state = .requestLine
        // Drop consumed bytes so the buffer never holds more than the current request and what follows it.
        releaseSpareCapacity()
        return request
    }

    /// Capacity a buffer keeps when it is (nearly) empty; more is released.
    private static let keptCapacity = 4 * 1024

    /// Drops consumed bytes and gives back spare memory: an empty buffer keeps at most 4 KiB of capacity, and one
    /// whose capacity is over twice what it holds is reallocated to fit. So a connection that once received a burst
    /// (pipelined requests, a large body) does not hold its peak for the rest of its life. Cheap when nothing is spare.
    public mutating func releaseSpareCapacity() {
        compact()
        if buffer.isEmpty {
            if buffer.capacity > Self.keptCapacity { buffer = [] }
        } else if buffer.capacity > max(Self.keptCapacity, 2 * buffer.count) {
            var fitted: [UInt8] = []
            fitted.reserveCapacity(buffer.count)
            fitted.append(contentsOf: buffer)
            buffer = fitted
        }
        if body.isEmpty && body.capacity > Self.keptCapacity { body = [] }
    }

    private mutating func compact() {
        guard readIndex > 0 else { return }
        buffer.removeSubrange(0..<readIndex)
        scanIndex -= readIndex
        readIndex = 0
    }
}
