/// The one JSON grammar of Hookyard: intake's `JSONObjectScanner` and the workers' `JSONValue.parse` both read
/// through this type, so a body intake accepts is a body the workers can parse, with the same decoded values.
///
/// Rules (RFC 8259, plus what RFC 8259 leaves to the implementation):
/// - UTF-8 only, and well-formed: overlong forms, encoded surrogates (`ED A0 80`), code points above U+10FFFF and
///   cut sequences are errors. No byte-order mark.
/// - Unescaped control characters (U+0000–U+001F) inside strings are errors; escaped ones (`\u0000`) are decoded.
/// - A `\uD800`–`\uDFFF` escape that is not half of a high–low pair (a lone surrogate, e.g. a reply snippet cut
///   mid-emoji) is decoded as U+FFFD, the replacement character; it is not an error.
/// - Numbers: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; an integer that fits `Int64` is an integer, anything
///   else a `Double`, and a number whose magnitude a `Double` cannot hold (`1e400`) is an error.
/// - At most `maxDepth` nested arrays and objects; a repeated object key keeps its last value.
///
/// A value type over borrowed bytes, used by one thread; errors carry the byte offset.
struct JSONReader {
    /// Nesting deeper than this is an error (and bounds recursion).
    static let maxDepth = 256

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func fail(_ message: String) -> JSONValue.ParseError { JSONValue.ParseError(offset: index, message: message) }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Fails unless only whitespace is left.
    mutating func end() throws(JSONValue.ParseError) {
        skipSpace()
        guard index == bytes.count else { throw fail("unexpected text after the value") }
    }

    // MARK: Values

    /// Parses any value. With `build` false, arrays and objects are validated only and returned as `.null`, and
    /// strings inside them are not decoded.
    mutating func value(build: Bool) throws(JSONValue.ParseError) -> JSONValue {
        guard let byte = peek() else { throw fail("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try object(build: build)
        case UInt8(ascii: "["): return try array(build: build)
        case UInt8(ascii: "\""): return .string(try string(decode: build))
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let text = try numberText()
            // `numberText` has checked the range: the value exists.
            return build ? (JSONValue.decodeNumber(text) ?? .null) : .null
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONValue.ParseError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("expected \(word)") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw fail("expected \(word)") }
        index += count
    }

    mutating func enter() throws(JSONValue.ParseError) {
        guard depth < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
        depth += 1
    }

    /// An object starting at its `{`. Member names are always decoded (a repeated key keeps its last value).
    mutating func object(build: Bool) throws(JSONValue.ParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members: [String: JSONValue] = [:]
        skipSpace()
        if peek() == UInt8(ascii: "}") { index += 1; return build ? .object(members) : .null }
        while true {
            skipSpace()
            guard peek() == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let key = try string(decode: build)
            skipSpace()
            guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipSpace()
            let member = try value(build: build)
            if build { members[key] = member }
            skipSpace()
            guard let byte = peek() else { throw fail("unexpected end of input") }
            if byte == UInt8(ascii: ",") { index += 1; continue }
            if byte == UInt8(ascii: "}") { index += 1; return build ? .object(members) : .null }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array(build: Bool) throws(JSONValue.ParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var items: [JSONValue] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") { index += 1; return build ? .array(items) : .null }
        while true {
            skipSpace()
            let item = try value(build: build)
            if build { items.append(item) }
            skipSpace()
            guard let byte = peek() else { throw fail("unexpected end of input") }
            if byte == UInt8(ascii: ",") { index += 1; continue }
            if byte == UInt8(ascii: "]") { index += 1; return build ? .array(items) : .null }
            throw fail("expected ',' or ']'")
        }
    }

    // MARK: Numbers

    /// The text of a number starting here, checked against the grammar and the range of `Double`.
    mutating func numberText() throws(JSONValue.ParseError) -> String {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw fail("expected a digit") }
        index += 1
        if first == UInt8(ascii: "0") {
            if let next = peek(), isDigit(next) { throw fail("leading zero") }
        } else {
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        var integral = true
        if peek() == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard let byte = peek(), isDigit(byte) else { throw fail("expected a digit after '.'") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            integral = false
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let byte = peek(), isDigit(byte) else { throw fail("expected an exponent") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        // Up to 18 digits always fit Int64; anything longer or with a fraction or exponent must fit a Double.
        if !(integral && index - start <= 18) && JSONValue.decodeNumber(text) == nil {
            index = start
            throw fail("number out of range")
        }
        return text
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    // MARK: Strings

    /// A string starting at its opening quote. With `decode` false it is validated only and "" returned.
    mutating func string(decode: Bool) throws(JSONValue.ParseError) -> String {
        index += 1
        let start = index
        var escaped = false
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw fail("control character in string (escape it as \\u00XX)") }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 1
                guard let next = peek() else { throw fail("unterminated escape") }
                switch next {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    guard index + 4 < bytes.count, (1...4).allSatisfy({ hexValue(bytes[index + $0]) != nil }) else {
                        throw fail("bad \\u escape (four hex digits expected)")
                    }
                    index += 5
                default:
                    throw fail("invalid escape")
                }
                continue
            }
            if byte < 0x80 {
                index += 1
            } else {
                guard let length = utf8SequenceLength(at: index) else { throw fail("invalid UTF-8") }
                index += length
            }
        }
        let end = index
        index += 1  // closing quote
        guard decode else { return "" }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
        return escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
    }

    func hexValue(_ byte: UInt8) -> UInt32? { Self.hexValue(byte) }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: UInt32(byte - 0x30)
        case 0x61...0x66: UInt32(byte - 0x61 + 10)
        case 0x41...0x46: UInt32(byte - 0x41 + 10)
        default: nil
        }
    }

    /// Length of the well-formed UTF-8 sequence at `position`, or `nil` (overlong, surrogate, out of range, cut).
    func utf8SequenceLength(at position: Int) -> Int? {
        let lead = bytes[position]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return nil
        }
        guard position + length <= bytes.count else { return nil }
        let second = bytes[position + 1]
        guard second >= lower && second <= upper else { return nil }
        for offset in 2..<max(2, length) where bytes[position + offset] & 0xC0 != 0x80 { return nil }
        return length
    }

    /// Decodes the body of a validated string (between its quotes). A `\u` escape of a surrogate that is not the
    /// high half of a high–low pair followed by its low half becomes U+FFFD.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var runStart = 0
        var position = 0
        func flush(_ end: Int) {
            if end > runStart {
                scalars.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: raw[runStart..<end]), as: UTF8.self).unicodeScalars)
            }
        }
        func hex4(_ at: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 << 4 | hexValue(raw[at + $1])! }
        }
        while position < raw.count {
            guard raw[position] == UInt8(ascii: "\\") else { position += 1; continue }
            flush(position)
            let kind = raw[position + 1]
            position += 2
            switch kind {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = hex4(position)
                position += 4
                if (0xD800...0xDBFF).contains(code), position + 6 <= raw.count, raw[position] == UInt8(ascii: "\\"),
                   raw[position + 1] == UInt8(ascii: "u") {
                    let low = hex4(position + 2)
                    if (0xDC00...0xDFFF).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        position += 6
                    }
                }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")  // a lone surrogate
            default: scalars.append(Unicode.Scalar(kind))  // \" \\ \/
            }
            runStart = position
        }
        flush(raw.count)
        return String(scalars)
    }
}
