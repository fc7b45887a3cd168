/// One statement parameter (`$1`, `$2`, …). Integers, doubles and booleans go to the server in their text form with
/// their type named (`int8`, `float8`, `bool`), so `$1 + 1` means what it says; text goes untyped, so the server gives
/// it the type its place needs (`text`, `jsonb`); bytes go in binary as `bytea`, never escaped; a list of texts goes as
/// a `text[]` in PostgreSQL's array literal form, every element quoted and escaped (`$1[2]`, `unnest($1)`).
///
/// PostgreSQL refuses a NUL character inside text (SQLSTATE 22021); such a value fails its statement with that
/// error rather than being cut short.
public enum PostgreSQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case double(Double)
    case bool(Bool)
    case text(String)
    case bytes([UInt8])
    /// A `text[]`; an empty list is an empty array.
    case textArray([String])

    /// The type OID libpq passes with the parameter (0: let the server infer it from the statement).
    var typeOID: UInt32 {
        switch self {
        case .null, .text: 0
        case .integer: 20     // int8
        case .double: 701     // float8
        case .bool: 16        // bool
        case .bytes: 17       // bytea
        case .textArray: 1009 // text[] (_text)
        }
    }

    /// 1 for binary (bytes), 0 for text.
    var format: Int32 {
        if case .bytes = self { return 1 }
        return 0
    }

    /// The bytes libpq sends: the text form, NUL-terminated, or the raw bytes; `nil` for NULL.
    var wireBytes: [UInt8]? {
        switch self {
        case .null: return nil
        case .integer(let value): return Array(String(value).utf8) + [0]
        case .double(let value):
            // PostgreSQL spells the non-finite values its own way.
            if value.isNaN { return Array("NaN".utf8) + [0] }
            if value.isInfinite { return Array((value > 0 ? "Infinity" : "-Infinity").utf8) + [0] }
            return Array("\(value)".utf8) + [0]
        case .bool(let value): return Array((value ? "t" : "f").utf8) + [0]
        case .text(let value): return Array(value.utf8) + [0]
        case .bytes(let value): return value
        case .textArray(let elements): return Array(Self.arrayLiteral(elements).utf8) + [0]
        }
    }

    /// PostgreSQL's text form of an array, `{"a","b \"c\""}`: each element in double quotes, its backslashes and
    /// double quotes escaped with a backslash, so no element is read as NULL, split at a comma or trimmed.
    static func arrayLiteral(_ elements: [String]) -> String {
        var literal = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { literal += "," }
            literal += "\""
            for character in element.unicodeScalars {
                if character == "\\" || character == "\"" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        return literal + "}"
    }
}

extension PostgreSQLValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByNilLiteral,
                           ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
}

/// A Swift value that can be a statement parameter: `Int64`, `Int`, `Double`, `Bool`, `String`, `[UInt8]` (bytea),
/// an optional of one (`nil` is NULL), or a `PostgreSQLValue` itself.
public protocol PostgreSQLEncodable {
    var postgreSQLValue: PostgreSQLValue { get }
}

extension PostgreSQLValue: PostgreSQLEncodable { public var postgreSQLValue: PostgreSQLValue { self } }
extension Int64: PostgreSQLEncodable { public var postgreSQLValue: PostgreSQLValue { .integer(self) } }
extension Int: PostgreSQLEncodable { public var postgreSQLValue: PostgreSQLValue { .integer(Int64(self)) } }
extension Double: PostgreSQLEncodable { public var postgreSQLValue: PostgreSQLValue { .double(self) } }
extension Bool: PostgreSQLEncodable { public var postgreSQLValue: PostgreSQLValue { .bool(self) } }
extension String: PostgreSQLEncodable { public var postgreSQLValue: PostgreSQLValue { .text(self) } }
extension Substring: PostgreSQLEncodable { public var postgreSQLValue: PostgreSQLValue { .text(String(self)) } }
extension Array: PostgreSQLEncodable where Element == UInt8 { public var postgreSQLValue: PostgreSQLValue { .bytes(self) } }
extension Optional: PostgreSQLEncodable where Wrapped: PostgreSQLEncodable {
    public var postgreSQLValue: PostgreSQLValue { self?.postgreSQLValue ?? .null }
}
