/// Validates a JSON document strictly (RFC 8259, UTF-8) and returns the scalar members of its top-level object,
/// skipping nested values without building them.
///
/// Intake needs only a few top-level fields of each webhook (`id`, `type`, `event_type`, ...); decoding the whole
/// document into Foundation objects cost more CPU than verifying the signature and committing the event together.
/// Stateless and thread-safe.
public enum JSONObjectScanner {
    /// A top-level member's value. Numbers keep their text exactly as sent.
    public enum Value: Equatable, Sendable {
        case string(String)
        case number(String)
        case bool(Bool)
        case null
        /// An object or array (validated, not decoded).
        case nested
    }

    /// Nesting deeper than this is rejected (and bounds recursion).
    static let maxDepth = 256

    /// The top-level members, or `nil` if `bytes` is not one valid JSON object (surrounding whitespace allowed).
    /// A repeated key keeps its last value.
    public static func topLevelMembers(_ bytes: [UInt8]) -> [String: Value]? {
        bytes.withUnsafeBufferPointer { buffer in
            var scanner = Scanner(bytes: buffer)
            return scanner.document()
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func document() -> [String: Value]? {
            skipWhitespace()
            guard peek() == UInt8(ascii: "{") else { return nil }
            index += 1
            var members: [String: Value] = [:]
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                index += 1
            } else {
                while true {
                    skipWhitespace()
                    guard let key = string(decode: true) else { return nil }
                    skipWhitespace()
                    guard peek() == UInt8(ascii: ":") else { return nil }
                    index += 1
                    skipWhitespace()
                    guard let value = value(depth: 1) else { return nil }
                    members[key] = value
                    skipWhitespace()
                    if peek() == UInt8(ascii: ",") { index += 1; continue }
                    guard peek() == UInt8(ascii: "}") else { return nil }
                    index += 1
                    break
                }
            }
            skipWhitespace()
            return index == bytes.count ? members : nil
        }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0a, 0x0d: index += 1
                default: return
                }
            }
        }

        /// Parses any value; nested containers are validated and reported as `.nested`.
        mutating func value(depth: Int) -> Value? {
            guard let byte = peek() else { return nil }
            switch byte {
            case UInt8(ascii: "\""):
                return string(decode: depth == 1).map { .string($0) }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                return container(depth: depth) ? .nested : nil
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default: return number().map { .number($0) }
            }
        }

        mutating func container(depth: Int) -> Bool {
            guard depth < JSONObjectScanner.maxDepth else { return false }
            let isObject = bytes[index] == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if peek() == close { index += 1; return true }
            while true {
                skipWhitespace()
                if isObject {
                    guard string(decode: false) != nil else { return false }
                    skipWhitespace()
                    guard peek() == UInt8(ascii: ":") else { return false }
                    index += 1
                    skipWhitespace()
                }
                guard value(depth: depth + 1) != nil else { return false }
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                guard peek() == close else { return false }
                index += 1
                return true
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        mutating func number() -> String? {
            let start = index
            if peek() == UInt8(ascii: "-") { index += 1 }
            guard let first = peek(), isDigit(first) else { return nil }
            index += 1
            if first != UInt8(ascii: "0") { while let byte = peek(), isDigit(byte) { index += 1 } }
            if peek() == UInt8(ascii: ".") {
                index += 1
                guard let byte = peek(), isDigit(byte) else { return nil }
                while let byte = peek(), isDigit(byte) { index += 1 }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                index += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
                guard let byte = peek(), isDigit(byte) else { return nil }
                while let byte = peek(), isDigit(byte) { index += 1 }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

        /// Parses a string starting at its opening quote. With `decode` false it only validates and returns "".
        mutating func string(decode: Bool) -> String? {
            guard peek() == UInt8(ascii: "\"") else { return nil }
            index += 1
            let start = index
            var escaped = false
            // Fast scan: find the closing quote, validating control characters and UTF-8 along the way.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    index += 1
                    guard let next = peek() else { return nil }
                    switch next {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        guard index + 4 < bytes.count, (1...4).allSatisfy({ hexValue(bytes[index + $0]) != nil }) else { return nil }
                        index += 5
                    default:
                        return nil
                    }
                    continue
                }
                if byte < 0x80 {
                    index += 1
                } else {
                    guard let length = utf8SequenceLength(at: index) else { return nil }
                    index += length
                }
            }
            guard index < bytes.count else { return nil }
            let end = index
            index += 1  // closing quote
            guard decode else { return "" }
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
            return escaped ? unescape(raw) : String(decoding: raw, as: UTF8.self)
        }

        func hexValue(_ byte: UInt8) -> UInt32? {
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

        func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
            var scalars = String.UnicodeScalarView()
            var utf8: [UInt8] = []
            var position = 0
            func flush() {
                if !utf8.isEmpty { scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars); utf8.removeAll() }
            }
            func hex4(_ at: Int) -> UInt32 {
                (0..<4).reduce(0) { $0 << 4 | hexValue(raw[at + $1])! }
            }
            while position < raw.count {
                let byte = raw[position]
                guard byte == UInt8(ascii: "\\") else { utf8.append(byte); position += 1; continue }
                let kind = raw[position + 1]
                position += 2
                switch kind {
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var code = hex4(position)
                    position += 4
                    if (0xD800...0xDBFF).contains(code), position + 5 < raw.count + 0, raw[position] == UInt8(ascii: "\\"),
                       raw[position + 1] == UInt8(ascii: "u") {
                        let low = hex4(position + 2)
                        if (0xDC00...0xDFFF).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            position += 6
                        }
                    }
                    flush()
                    scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")  // lone surrogates become U+FFFD, as in Foundation
                default: utf8.append(kind)  // \" \\ \/
                }
            }
            flush()
            return String(scalars)
        }
    }
}
