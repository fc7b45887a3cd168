import Foundation
import HTTPServer
import StrictJSON

/// A JSON document as a value, for the fake provider APIs: parsed from request bodies, built into response bodies.
/// (Named apart from Outbound's and Workflows' `JSONValue` so test files can import those modules too.)
///
/// Numbers are `Double` (integral values are written without a fraction); objects are unordered and written with
/// their keys sorted, so the same value always gives the same text. Literals build values:
/// `["plan": "pro", "seats": 3, "trial": false, "coupon": nil]`.
public enum TestJSON: Sendable, Equatable, Codable, CustomStringConvertible,
    ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([TestJSON])
    case object([String: TestJSON])

    /// Parses a complete JSON text.
    /// - Throws: `DecodingError` when `bytes` is not JSON.
    public init(parsing bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(TestJSON.self, from: Data(bytes))
    }

    /// `.string(value)`, or `.null` for `nil`.
    public init(_ value: String?) { self = value.map(TestJSON.string) ?? .null }

    /// `.number(value)`, or `.null` for `nil`.
    public init(_ value: Int?) { self = value.map { .number(Double($0)) } ?? .null }

    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: TestJSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TestJSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([TestJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: TestJSON].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Compact JSON text, object keys sorted.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    public var description: String { text }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 { out += String(Int64(value)) } else { out += "\(value)" }
        case .string(let value): out += JSONText.quote(value)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                out += JSONText.quote(key) + ":"
                members[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    /// The member `key` of an object; `nil` for a missing member or a value that is not an object.
    public subscript(key: String) -> TestJSON? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number, when it is integral.
    public var intValue: Int? {
        if case .number(let value) = self, value.rounded() == value, abs(value) < 1e15 { return Int(value) }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var arrayValue: [TestJSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: TestJSON]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// A string, number, boolean or null (not an array or object).
    public var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }
}
