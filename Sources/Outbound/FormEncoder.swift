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
