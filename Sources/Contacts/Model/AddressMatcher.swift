import Foundation
import HookyardFoundation
import Store

/// Finds one email address in stored text the way erasure needs it: in Unicode case-insensitive form (the text folded
/// per scalar with Unicode's full lower-case mapping, the address as `EmailAddress.normalized` gives it, in NFC and in
/// NFD), also where it is written with JSON escapes (`\u0040`, `\u00eb`, surrogate pairs, `\/`) or percent-encoded
/// (`%40`, `%C3%AB`, as in form bodies and URLs), up to two levels deep (`%2540`, `\\u0040`), and only where it stands
/// as a whole address, so erasing `ann@example.com` leaves `joann@example.com` and `ann@example.com.au` alone.
///
/// `ranges(in:)` gives the spans of the original text that spell the address (an escape sequence is spanned whole), so
/// `redacting(_:)` can replace them and leave the rest of a message or JSON document readable and valid. A value type;
/// thread-safe. Text that is plain ASCII without `\` or `%` takes a byte-level path; anything else is decoded.
struct AddressMatcher {
    /// The normalised address.
    let address: String
    /// The address's scalars, NFC and (when different) NFD.
    private let terms: [[Unicode.Scalar]]
    /// The address's bytes when it is ASCII (the byte-level path's only term).
    private let asciiTerm: [UInt8]?

    init(_ email: String) {
        address = EmailAddress.normalized(email)
        var terms = [Array(address.unicodeScalars)]
        let decomposed = Array(address.decomposedStringWithCanonicalMapping.unicodeScalars)
        if decomposed != terms[0] { terms.append(decomposed) }
        self.terms = terms
        asciiTerm = address.unicodeScalars.allSatisfy(\.isASCII) ? Array(address.utf8) : nil
    }

    /// Whether `text` names the address.
    func isNamed(in text: String?) -> Bool {
        guard let text, !address.isEmpty else { return false }
        return !ranges(in: text, firstOnly: true).isEmpty
    }

    /// `text` with every span that spells the address replaced by `replacement`; `nil` when it names no address.
    func redacting(_ text: String, with replacement: String = "[erased]") -> String? {
        let spans = ranges(in: text, firstOnly: false)
        guard !spans.isEmpty else { return nil }
        let scalars = Array(text.unicodeScalars)
        var result = String.UnicodeScalarView()
        var position = 0
        for span in spans {
            result.append(contentsOf: scalars[position..<span.lowerBound])
            result.append(contentsOf: replacement.unicodeScalars)
            position = span.upperBound
        }
        result.append(contentsOf: scalars[position...])
        return String(result)
    }

    /// The spans (in unicode scalars of `text`) that spell the address, sorted and merged.
    func ranges(in text: String, firstOnly: Bool = false) -> [Range<Int>] {
        guard !address.isEmpty else { return [] }
        let plain = text.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "\\") && $0 != UInt8(ascii: "%") }
        if plain {
            guard let asciiTerm else { return [] }
            var text = text
            return text.withUTF8 { Self.asciiRanges(in: $0, of: asciiTerm, firstOnly: firstOnly) }
        }
        var stream = Array(text.unicodeScalars).enumerated().map { Unit(scalar: $0.element, start: $0.offset, end: $0.offset + 1) }
        var found: [Range<Int>] = []
        for level in 0...2 {
            if level > 0 {
                guard let decoded = Self.decoded(stream) else { break }
                stream = decoded
            }
            found += search(Self.folded(stream), for: terms, firstOnly: firstOnly)
            if firstOnly, !found.isEmpty { return found }
        }
        return merged(found)
    }

    /// The byte-level path for plain ASCII text (no `\\`, no `%`): byte offsets are scalar offsets.
    private static func asciiRanges(in bytes: UnsafeBufferPointer<UInt8>, of term: [UInt8], firstOnly: Bool) -> [Range<Int>] {
        @inline(__always) func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
        @inline(__always) func isAlnum(_ byte: UInt8) -> Bool {
            let lowered = lower(byte)
            return (0x61...0x7A).contains(lowered) || (0x30...0x39).contains(lowered)
        }
        let count = bytes.count
        let length = term.count
        guard length > 0, length <= count else { return [] }
        var found: [Range<Int>] = []
        var start = 0
        while start + length <= count {
            if lower(bytes[start]) == term[0] {
                var matched = 1
                while matched < length, lower(bytes[start + matched]) == term[matched] { matched += 1 }
                let end = start + length
                if matched == length {
                    let before = start > 0 ? bytes[start - 1] : 0x20
                    let continuesLocalPart = isAlnum(before) || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "%"),
                                                                 UInt8(ascii: "+"), UInt8(ascii: "-")].contains(before)
                    var continuesDomain = false
                    if end < count {
                        let next = bytes[end]
                        continuesDomain = isAlnum(next) || next == UInt8(ascii: "-")
                            || (next == UInt8(ascii: ".") && end + 1 < count && isAlnum(bytes[end + 1]))
                    }
                    if !continuesLocalPart, !continuesDomain {
                        found.append(start..<end)
                        if firstOnly { return found }
                        start = end
                        continue
                    }
                }
            }
            start += 1
        }
        return found
    }

    /// One scalar of a (decoded, folded) reading of the text, with the span of the original text it comes from.
    private struct Unit {
        var scalar: Unicode.Scalar
        var start: Int
        var end: Int
    }

    private func search(_ units: [Unit], for terms: [[Unicode.Scalar]], firstOnly: Bool) -> [Range<Int>] {
        var found: [Range<Int>] = []
        for term in terms where !term.isEmpty && term.count <= units.count {
            var start = 0
            while start + term.count <= units.count {
                if units[start].scalar == term[0], Self.matches(units, at: start, term),
                   !Self.continuesLocalPart(start > 0 ? units[start - 1].scalar : nil),
                   !Self.continuesDomain(units, after: start + term.count) {
                    found.append(units[start].start..<units[start + term.count - 1].end)
                    if firstOnly { return found }
                    start += term.count
                } else {
                    start += 1
                }
            }
        }
        return found
    }

    private static func matches(_ units: [Unit], at start: Int, _ term: [Unicode.Scalar]) -> Bool {
        for offset in 1..<term.count where units[start + offset].scalar != term[offset] { return false }
        return true
    }

    private func merged(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, range.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    /// Each scalar replaced by its full lower-case mapping (which may be several scalars, all spanning the original).
    private static func folded(_ units: [Unit]) -> [Unit] {
        var result: [Unit] = []
        result.reserveCapacity(units.count)
        for unit in units {
            if unit.scalar.isASCII {
                let value = unit.scalar.value
                result.append(value >= 0x41 && value <= 0x5A ? Unit(scalar: Unicode.Scalar(value + 0x20)!, start: unit.start, end: unit.end) : unit)
            } else {
                for scalar in unit.scalar.properties.lowercaseMapping.unicodeScalars {
                    result.append(Unit(scalar: scalar, start: unit.start, end: unit.end))
                }
            }
        }
        return result
    }

    private static let jsonEscapes: [Unicode.Scalar: Unicode.Scalar] = [
        "\"": "\"", "\\": "\\", "/": "/", "b": "\u{08}", "f": "\u{0C}", "n": "\n", "r": "\r", "t": "\t",
    ]

    /// One level of JSON string escapes and percent-encoding decoded; `nil` when there was nothing to decode.
    /// A lone surrogate or invalid UTF-8 decodes as U+FFFD (it cannot be part of an address).
    private static func decoded(_ units: [Unit]) -> [Unit]? {
        var result: [Unit] = []
        result.reserveCapacity(units.count)
        var changed = false
        var index = 0
        while index < units.count {
            let unit = units[index]
            if unit.scalar == "\\", index + 1 < units.count {
                let next = units[index + 1].scalar
                if next == "u", index + 5 < units.count, let code = hex(units, from: index + 2, count: 4) {
                    var end = index + 6
                    var value = code
                    if (0xD800...0xDBFF).contains(code), end + 5 < units.count, units[end].scalar == "\\",
                       units[end + 1].scalar == "u", let low = hex(units, from: end + 2, count: 4), (0xDC00...0xDFFF).contains(low) {
                        value = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        end += 6
                    }
                    result.append(Unit(scalar: Unicode.Scalar(value) ?? "\u{FFFD}", start: unit.start, end: units[end - 1].end))
                    index = end
                    changed = true
                    continue
                }
                if let escaped = jsonEscapes[next] {
                    result.append(Unit(scalar: escaped, start: unit.start, end: units[index + 1].end))
                    index += 2
                    changed = true
                    continue
                }
            }
            if unit.scalar == "%", index + 2 < units.count, hex(units, from: index + 1, count: 2) != nil {
                var bytes: [(byte: UInt32, start: Int, end: Int)] = []
                while index + 2 < units.count, units[index].scalar == "%", let byte = hex(units, from: index + 1, count: 2) {
                    bytes.append((byte, units[index].start, units[index + 2].end))
                    index += 3
                }
                appendUTF8(bytes, to: &result)
                changed = true
                continue
            }
            result.append(unit)
            index += 1
        }
        return changed ? result : nil
    }

    private static func appendUTF8(_ bytes: [(byte: UInt32, start: Int, end: Int)], to result: inout [Unit]) {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index].byte
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            if length > 0, index + length <= bytes.count,
               (1..<max(length, 1)).allSatisfy({ bytes[index + $0].byte & 0xC0 == 0x80 }) {
                var value = length == 1 ? lead : lead & (0xFF >> (length + 1))
                for offset in 1..<max(length, 1) where length > 1 { value = value << 6 | bytes[index + offset].byte & 0x3F }
                result.append(Unit(scalar: Unicode.Scalar(value) ?? "\u{FFFD}", start: bytes[index].start,
                                   end: bytes[index + length - 1].end))
                index += length
            } else {
                result.append(Unit(scalar: "\u{FFFD}", start: bytes[index].start, end: bytes[index].end))
                index += 1
            }
        }
    }

    private static func hex(_ units: [Unit], from start: Int, count: Int) -> UInt32? {
        var value: UInt32 = 0
        for index in start..<(start + count) {
            guard let digit = Character(units[index].scalar).hexDigitValue, units[index].scalar.isASCII else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private static func isLetterOrDigit(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let value = scalar.value
            return (0x61...0x7A).contains(value) || (0x41...0x5A).contains(value) || (0x30...0x39).contains(value)
        }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    /// Whether `scalar`, just before a match, makes the match the tail of a longer local part (`jo` + `ann@...`).
    private static func continuesLocalPart(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return isLetterOrDigit(scalar) || [".", "_", "%", "+", "-"].contains(scalar)
    }

    /// Whether the text after a match makes it the head of a longer domain (`example.com` + `.au`, `-mail`).
    private static func continuesDomain(_ units: [Unit], after end: Int) -> Bool {
        guard end < units.count else { return false }
        let next = units[end].scalar
        if isLetterOrDigit(next) || next == "-" { return true }
        // A full stop ends a sentence unless a label follows it.
        return next == "." && end + 1 < units.count && isLetterOrDigit(units[end + 1].scalar)
    }
}
