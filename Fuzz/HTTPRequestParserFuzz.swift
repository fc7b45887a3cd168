// libFuzzer target for `HTTPRequestParser` (issue 13, item 20). Built by scripts/fuzz.sh together with the parser's
// sources into one module (so it is not part of `swift build`): see docs/security.md, "Fuzzing".
//
// Input: one byte that says how many cut points follow (0–15), the cut points (one byte each: the length of the
// next piece, 0 meaning 256), then the byte stream a client sends. Properties checked on every input:
//   1. The parser never crashes (Swift traps and AddressSanitizer findings are crashes).
//   2. The requests and the error it produces do not depend on how the stream is cut into `append` calls.
//   3. Every request it accepts is within its limits (request line, header bytes and fields, body).
//   4. Every request it accepts is the one `ReferenceReading` (a plain, whole-buffer reading of RFC 9112 with the
//      same strictness) reads at that point of the stream; a stream the reference refuses is refused too.

/// Small limits, so the fuzzer reaches them.
let fuzzLimits = HTTPParserLimits(requestLineBytes: 96, headerBytes: 320, headerFields: 8, bodyBytes: 600)

struct ParsedRequest: Equatable {
    var method: String
    var target: String
    var minorVersion: Int
    var headers: [String]
    var body: [UInt8]

    init(_ request: HTTPRequest) {
        method = request.method
        target = request.target
        minorVersion = request.minorVersion
        headers = request.headers.fields.map { "\($0.name): \($0.value)" }
        body = request.body
    }

    init(method: String, target: String, minorVersion: Int, headers: [String], body: [UInt8]) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
        self.body = body
    }
}

/// What a parser made of a stream: the requests, then the error that stopped it (if any).
struct Outcome: Equatable {
    var requests: [ParsedRequest] = []
    var error: HTTPParseError?
}

func parse(_ stream: [UInt8], pieces: [Int]) -> Outcome {
    var parser = HTTPRequestParser(limits: fuzzLimits)
    var outcome = Outcome()
    var offset = 0
    var cuts = pieces.makeIterator()
    while offset < stream.count {
        let length = min(cuts.next() ?? stream.count, stream.count - offset)
        parser.append(Array(stream[offset..<offset + length]))
        offset += length
        do {
            while let event = try parser.next() {
                if case .request(let request) = event { outcome.requests.append(ParsedRequest(request)) }
            }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    return outcome
}

/// A deliberately plain reading of one request at `start` of the whole stream, strict in the same ways as the
/// parser (CRLF only, no obs-fold, one Host for HTTP/1.1, chunked or one Content-Length, no smuggling).
/// Returns the request and where the next one starts, `nil` if the stream ends before the request does, or
/// `.refused` if the bytes are not an acceptable request. Limits are not modelled: the parser refusing for a limit is
/// checked against the limits themselves.
enum Reading {
    case request(ParsedRequest, next: Int)
    case incomplete
    case refused
}

enum ReferenceReading {
    static func lineEnd(_ s: [UInt8], from: Int) -> Int?? {
        // nil: no LF yet; .some(nil): bare LF (refused); .some(i): CRLF at i.
        guard let lf = s[from...].firstIndex(of: 10) else { return nil }
        return lf > from && s[lf - 1] == 13 ? .some(lf - 1) : .some(nil)
    }

    static let tokenBytes = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~".utf8))

    static func read(_ s: [UInt8], at start: Int) -> Reading {
        var position = start
        while position + 1 < s.count, s[position] == 13, s[position + 1] == 10 { position += 2 }
        // Request line.
        guard let found = lineEnd(s, from: position) else { return .incomplete }
        guard let requestLineEnd = found else { return .refused }
        let words = s[position..<requestLineEnd].split(separator: 32, omittingEmptySubsequences: false).map(Array.init)
        guard words.count == 3, !words[0].isEmpty, words[0].allSatisfy(tokenBytes.contains),
              !words[1].isEmpty, words[1].allSatisfy({ $0 > 32 && $0 < 127 }) else { return .refused }
        let method = String(decoding: words[0], as: UTF8.self)
        let version = String(decoding: words[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return .refused }
        let minor = version == "HTTP/1.1" ? 1 : 0
        var target = String(decoding: words[1], as: UTF8.self)
        for scheme in ["http://", "https://"] where target.hasPrefix(scheme) {
            let rest = target.dropFirst(scheme.count)
            if let cut = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                target = rest[cut] == "?" ? "/" + rest[cut...] : String(rest[cut...])
            } else {
                target = "/"
            }
        }
        guard target.hasPrefix("/") || (target == "*" && method == "OPTIONS") else { return .refused }
        position = requestLineEnd + 2
        // Header fields.
        var headers: [(name: String, value: String)] = []
        while true {
            guard let end = lineEnd(s, from: position) else { return .incomplete }
            guard let fieldEnd = end else { return .refused }
            let line = Array(s[position..<fieldEnd])
            position = fieldEnd + 2
            if line.isEmpty { break }
            guard let field = headerField(line) else { return .refused }
            headers.append(field)
        }
        func values(_ name: String) -> [String] { headers.filter { $0.name.lowercased() == name }.map(\.value) }
        if minor == 1 && values("host").count != 1 { return .refused }
        if let expect = values("expect").first, expect.lowercased() != "100-continue" { return .refused }
        let fields = headers.map { "\($0.name): \($0.value)" }
        let te = values("transfer-encoding")
        let cl = values("content-length")
        if !te.isEmpty {
            guard cl.isEmpty, minor == 1 else { return .refused }
            let codings = te.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                .map { String($0).trimmingCharacters(in: " \t").lowercased() }
            guard codings == ["chunked"] else { return .refused }
            var body: [UInt8] = []
            while true {
                guard let end = lineEnd(s, from: position) else { return .incomplete }
                guard let sizeEnd = end else { return .refused }
                let line = Array(s[position..<sizeEnd])
                position = sizeEnd + 2
                let hex = line.prefix { Self.hexDigit($0) != nil }
                guard !hex.isEmpty, hex.count <= 8 else { return .refused }
                let size = hex.reduce(0) { $0 * 16 + Self.hexDigit($1)! }
                var rest = line.dropFirst(hex.count)
                while let first = rest.first, first == 32 || first == 9 { rest = rest.dropFirst() }
                if let first = rest.first {
                    guard first == UInt8(ascii: ";"), rest.allSatisfy({ !(($0 < 32 && $0 != 9) || $0 == 127) }) else { return .refused }
                }
                if size == 0 { break }
                if body.count + size > fuzzLimits.bodyBytes { return .refused }  // the parser's 413 before reading
                guard position + size + 2 <= s.count else { return .incomplete }
                body += s[position..<position + size]
                position += size
                guard s[position] == 13, s[position + 1] == 10 else { return .refused }
                position += 2
            }
            // Trailer fields: checked, then dropped.
            while true {
                guard let end = lineEnd(s, from: position) else { return .incomplete }
                guard let trailerEnd = end else { return .refused }
                let line = Array(s[position..<trailerEnd])
                position = trailerEnd + 2
                if line.isEmpty { break }
                guard headerField(line) != nil else { return .refused }
            }
            return .request(ParsedRequest(method: method, target: target, minorVersion: minor, headers: fields, body: body), next: position)
        }
        var length: Int?
        for item in cl.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let text = String(item).trimmingCharacters(in: " \t")
            guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(text) else { return .refused }
            if let length, length != value { return .refused }
            length = value
        }
        let size = length ?? 0
        if size > fuzzLimits.bodyBytes { return .refused }  // the parser's 413 before reading
        guard position + size <= s.count else { return .incomplete }
        return .request(ParsedRequest(method: method, target: target, minorVersion: minor, headers: fields,
                                      body: Array(s[position..<position + size])), next: position + size)
    }

    static func headerField(_ line: [UInt8]) -> (name: String, value: String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              line[..<colon].allSatisfy(tokenBytes.contains) else { return nil }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
        while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
        guard value.allSatisfy({ !(($0 < 32 && $0 != 9) || $0 == 127) }) else { return nil }
        return (String(decoding: line[..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte - 48)
        case 97...102: Int(byte - 87)
        case 65...70: Int(byte - 55)
        default: nil
        }
    }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// Whether the parser's error is about a limit (the reference reading does not model them all).
func isLimit(_ error: HTTPParseError) -> Bool {
    error.status == 431 || error.status == 413 || error.message.contains("exceeds")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = input.first else { return 0 }
    let cutCount = Int(first & 0x0F)
    guard input.count > cutCount else { return 0 }
    let pieces = input[1..<1 + cutCount].map { $0 == 0 ? 256 : Int($0) }
    let stream = Array(input[(1 + cutCount)...])

    // 2. Cutting the stream anywhere changes nothing; nor does feeding a short one (128 bytes) one byte at a time.
    let whole = parse(stream, pieces: [])
    let cut = parse(stream, pieces: pieces)
    check(whole == cut, "the cut stream parsed differently: \(whole) vs \(cut)")
    if stream.count <= 128 {
        let bytewise = parse(stream, pieces: Array(repeating: 1, count: stream.count))
        check(whole == bytewise, "the stream fed byte by byte parsed differently: \(whole) vs \(bytewise)")
    }

    // 3 and 4. Each accepted request is within the limits and is the reference's reading.
    var position = 0
    for request in whole.requests {
        check(request.target.utf8.count + request.method.utf8.count + 10 <= fuzzLimits.requestLineBytes, "request line over the limit")
        check(request.headers.count <= fuzzLimits.headerFields, "more header fields than the limit")
        // Scalars, not UTF-8: a byte that is not UTF-8 is one U+FFFD (three bytes) in the value.
        check(request.headers.reduce(0) { $0 + $1.unicodeScalars.count + 2 } <= fuzzLimits.headerBytes + request.headers.count, "header section over the limit")
        check(request.body.count <= fuzzLimits.bodyBytes, "body over the limit")
        switch ReferenceReading.read(stream, at: position) {
        case .request(let expected, let next):
            check(expected == request, "the parser read \(request), the reference \(expected)")
            position = next
        case .incomplete:
            fatalError("the parser accepted \(request) where the reference needs more bytes")
        case .refused:
            fatalError("the parser accepted \(request) where the reference refuses the bytes")
        }
    }
    // What follows the accepted requests: the parser's error must match a refusal (or a limit), and a request the
    // reference reads complete must not leave the parser waiting.
    switch ReferenceReading.read(stream, at: position) {
    case .request(let expected, _):
        check(whole.error.map(isLimit) ?? false, "the reference reads \(expected) where the parser says \(String(describing: whole.error))")
    case .incomplete:
        if let error = whole.error { check(isLimit(error), "the parser refused (\(error)) a request the reference finds incomplete but valid so far") }
    case .refused:
        check(whole.error != nil, "the parser waits for more bytes where the reference refuses them")
    }
    return 0
}
