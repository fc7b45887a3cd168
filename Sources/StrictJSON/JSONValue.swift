/// A JSON document as a value: provider request and response bodies, the events rules read, and step outputs.
///
/// Parsing is strict RFC 8259 (no trailing commas, no comments, no leading zeros; see `JSONReader` for the rules
/// shared with intake); numbers keep the distinction
/// between integers and fractions that the text made, so `1` renders back as `1`, not `1.0`. Serialisation sorts
/// object keys, so the same value always gives the same bytes. A value type; thread-safe.
public enum JSONValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Why a text is not JSON, with the byte offset.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var offset: Int
        public var message: String
        public var description: String { "invalid JSON at byte \(offset): \(message)" }
    }

    /// Parses one JSON document (any value at the top level) by the rules of `JSONReader`, the grammar intake's
    /// `JSONObjectScanner` uses too: strict RFC 8259 and UTF-8, a lone surrogate escape decoded as U+FFFD, numbers
    /// beyond a `Double` refused. - Throws: `ParseError`.
    public static func parse<Bytes: Collection>(_ bytes: Bytes) throws(ParseError) -> JSONValue where Bytes.Element == UInt8 {
        let array = Array(bytes)
        let result: Result<JSONValue, ParseError> = array.withUnsafeBufferPointer { buffer in
            var reader = JSONReader(bytes: buffer)
            do throws(ParseError) {
                reader.skipSpace()
                let value = try reader.value(build: true)
                try reader.end()
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public static func parse(_ text: String) throws(ParseError) -> JSONValue { try parse(Array(text.utf8)) }

    // MARK: Access

    /// The member at `path` (object keys; array indexes as decimal strings), or `nil` if any step is missing.
    public subscript(path path: some Sequence<String>) -> JSONValue? {
        var current = self
        for key in path {
            switch current {
            case .object(let members):
                guard let next = members[key] else { return nil }
                current = next
            case .array(let items):
                guard let index = Int(key), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The text a template puts in place of this value: strings as they are, numbers and booleans as JSON writes
    /// them, `null` as the empty string, arrays and objects as compact JSON.
    public var text: String {
        switch self {
        case .null: ""
        case .string(let string): string
        default: serialized()
        }
    }

    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    public var int64Value: Int64? {
        switch self {
        case .integer(let value): value
        case .number(let value) where value.rounded() == value && abs(value) < 9e15: Int64(value)
        case .string(let text): Int64(text)
        default: nil
        }
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// Loose equality for rule conditions: numbers compare numerically (`1` = `1.0` = `"1"`), everything else by
    /// its template text (`true` = `"true"`).
    public func matches(_ other: JSONValue) -> Bool {
        if let left = numeric, let right = other.numeric { return left == right }
        return text == other.text
    }

    private var numeric: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        case .string(let text): Double(text).flatMap { $0.isFinite ? $0 : nil }
        default: nil
        }
    }

    // MARK: Serialisation

    public var description: String { serialized() }

    /// The compact JSON text as UTF-8, as a request body.
    public var bytes: [UInt8] { Array(serialized().utf8) }

    /// Compact JSON with object keys sorted.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .integer(let value): out += String(value)
        case .number(let value):
            if value.isFinite, value.rounded() == value, abs(value) < 1e15 { out += String(Int64(value)) } else if value.isFinite { out += "\(value)" } else { out += "null" }
        case .string(let value): Self.quote(value, into: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                Self.quote(key, into: &out)
                out += ":"
                members[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ text: String, into out: inout String) {
        out += JSONText.quote(text)
    }

    // MARK: Parsing

    /// The value of a number's text that the grammar accepted: an integer when it has no fraction or exponent and
    /// fits `Int64`, else a finite `Double`; `nil` when the magnitude is beyond a `Double` (`1e400`).
    public static func decodeNumber(_ text: String) -> JSONValue? {
        let integral = !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        if integral, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text), value.isFinite else { return nil }
        return .number(value)
    }
}
