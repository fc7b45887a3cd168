/// A value in a Stripe request body: form-encoded with bracketed nesting (`metadata[lead_email]=a%40b.com`,
/// `line_items[0][price]=price_123`), as Stripe's API expects.
public indirect enum FormValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    case string(String)
    case array([FormValue])
    /// Ordered, so the encoded body is deterministic (the same idempotent request is byte-for-byte the same).
    case object([(String, FormValue)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .string(String(value)) }
    public init(booleanLiteral value: Bool) { self = .string(value ? "true" : "false") }
    public init(arrayLiteral elements: FormValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, FormValue)...) { self = .object(elements) }

    public static func == (lhs: FormValue, rhs: FormValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

/// Encodes `FormValue`s as `application/x-www-form-urlencoded`. Stateless and thread-safe.
public enum FormEncoder {
    /// `key=value&...` for the top-level fields, in order.
    public static func encode(_ fields: [(String, FormValue)]) -> String {
        var pairs: [String] = []
        for (key, value) in fields { flatten(key, value, into: &pairs) }
        return pairs.joined(separator: "&")
    }

    private static func flatten(_ key: String, _ value: FormValue, into pairs: inout [String]) {
        switch value {
        case .string(let text):
            pairs.append(percentEncode(key) + "=" + percentEncode(text))
        case .array(let items):
            for (index, item) in items.enumerated() { flatten("\(key)[\(index)]", item, into: &pairs) }
        case .object(let members):
            for (name, member) in members { flatten("\(key)[\(name)]", member, into: &pairs) }
        }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`); UTF-8 for the rest.
    public static func percentEncode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reads an `application/x-www-form-urlencoded` body back into its pairs, in order (`+` is a space), to show what a
/// recorded Stripe request carried. Stateless and thread-safe.
public enum FormDecoder {
    /// The body's `(key, value)` pairs, percent-decoded; nil when it is not a form (an empty pair, a pair without
    /// `=`, a malformed `%` escape, or bytes that are not UTF-8 once decoded).
    public static func decode(_ body: String) -> [(key: String, value: String)]? {
        guard !body.isEmpty else { return [] }
        var pairs: [(key: String, value: String)] = []
        for pair in body.split(separator: "&", omittingEmptySubsequences: false) {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex,
                  let key = percentDecode(pair[..<equals]), let value = percentDecode(pair[pair.index(after: equals)...]) else { return nil }
            pairs.append((key, value))
        }
        return pairs
    }

    private static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                return nil  // not form text (a form encodes these)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
