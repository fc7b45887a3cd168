/// Validates a JSON document and returns the scalar members of its top-level object, skipping nested values
/// without building them.
///
/// Intake needs only a few top-level fields of each webhook (`id`, `type`, `event_type`, ...); decoding the whole
/// document cost more CPU than verifying the signature and committing the event together. The grammar is
/// `JSONReader`'s, the one `JSONValue.parse` (the workers) uses: a body this accepts, the workers parse, and the
/// members it returns are the values `JSONValue.parse` gives for them. Stateless and thread-safe.
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

    /// Nesting deeper than this is rejected (and bounds recursion); the top-level object is the first level.
    public static let maxDepth = JSONReader.maxDepth

    /// The top-level members, or `nil` if `bytes` is not one valid JSON object (surrounding whitespace allowed).
    /// A repeated key keeps its last value.
    public static func topLevelMembers(_ bytes: [UInt8]) -> [String: Value]? {
        try? scan(bytes)
    }

    /// The top-level members of the JSON object `bytes`. - Throws: `JSONValue.ParseError` saying what is wrong and
    /// at which byte (the same error `JSONValue.parse` gives for the same bytes, when the top level is an object).
    public static func scan(_ bytes: [UInt8]) throws(JSONValue.ParseError) -> [String: Value] {
        let result: Result<[String: Value], JSONValue.ParseError> = bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONReader(bytes: buffer)
            do throws(JSONValue.ParseError) {
                return .success(try members(&reader))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func members(_ reader: inout JSONReader) throws(JSONValue.ParseError) -> [String: Value] {
        reader.skipSpace()
        guard reader.peek() == UInt8(ascii: "{") else {
            throw reader.fail(reader.peek() == nil ? "empty body; expected a JSON object" : "expected a JSON object")
        }
        try reader.enter()
        reader.index += 1
        var members: [String: Value] = [:]
        reader.skipSpace()
        if reader.peek() == UInt8(ascii: "}") {
            reader.index += 1
        } else {
            while true {
                reader.skipSpace()
                guard reader.peek() == UInt8(ascii: "\"") else { throw reader.fail("expected a member name") }
                let key = try reader.string(decode: true)
                reader.skipSpace()
                guard reader.peek() == UInt8(ascii: ":") else { throw reader.fail("expected ':'") }
                reader.index += 1
                reader.skipSpace()
                members[key] = try member(&reader)
                reader.skipSpace()
                guard let byte = reader.peek() else { throw reader.fail("unexpected end of input") }
                if byte == UInt8(ascii: ",") { reader.index += 1; continue }
                if byte == UInt8(ascii: "}") { reader.index += 1; break }
                throw reader.fail("expected ',' or '}'")
            }
        }
        try reader.end()
        return members
    }

    private static func member(_ reader: inout JSONReader) throws(JSONValue.ParseError) -> Value {
        switch reader.peek() {
        case UInt8(ascii: "\"")?: return .string(try reader.string(decode: true))
        case UInt8(ascii: "-")?, (UInt8(ascii: "0")...UInt8(ascii: "9"))?: return .number(try reader.numberText())
        case UInt8(ascii: "{")?, UInt8(ascii: "[")?:
            _ = try reader.value(build: false)
            return .nested
        default:
            switch try reader.value(build: false) {
            case .bool(let flag): return .bool(flag)
            default: return .null
            }
        }
    }
}
