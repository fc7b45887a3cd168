import Foundation
import HookyardFoundation
import MCP

/// A tool call's arguments, read against the tool's input schema. Every problem becomes an MCP `invalid params`
/// error (JSON-RPC -32602) whose message names the argument and what was expected, so an assistant can correct its
/// call. A value; thread-safe.
public struct ToolInput: Sendable {
    public let tool: String
    public let values: [String: Value]

    public init(tool: String, values: [String: Value]?) {
        self.tool = tool
        self.values = values ?? [:]
    }

    /// Refuses arguments the tool does not take (a misspelt filter would otherwise be ignored silently).
    func expectOnly(_ names: Set<String>) throws {
        let unknown = values.keys.filter { !names.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw ToolError.invalidArgument(tool, unknown[0], "is not an argument of \(tool) (it takes: \(names.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ name: String) throws -> String? {
        switch values[name] {
        case nil, .null?: return nil
        case .string(let text)?:
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw ToolError.invalidArgument(tool, name, "must not be empty") }
            return trimmed
        case let other?: throw ToolError.invalidArgument(tool, name, "must be a string, not \(Self.kind(other))")
        }
    }

    /// The `id` argument of the event tools: a row id given as a number or a string, an `evt_...` id or a dedup key.
    func eventReference() throws -> String {
        if case .int(let number)? = values["id"] { return String(number) }
        return try requiredString("id")
    }

    func requiredString(_ name: String) throws -> String {
        guard let value = try string(name) else { throw ToolError.invalidArgument(tool, name, "is required") }
        return value
    }

    func integer(_ name: String) throws -> Int64? {
        switch values[name] {
        case nil, .null?: return nil
        case .int(let number)?: return Int64(number)
        case .double(let number)? where number.rounded() == number && abs(number) < 9e15: return Int64(number)
        case .string(let text)? where Int64(text) != nil: return Int64(text)
        case let other?: throw ToolError.invalidArgument(tool, name, "must be an integer, not \(Self.kind(other))")
        }
    }

    func boolean(_ name: String) throws -> Bool? {
        switch values[name] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case let other?: throw ToolError.invalidArgument(tool, name, "must be true or false, not \(Self.kind(other))")
        }
    }

    /// One of `allowed`, or nil when absent.
    func choice(_ name: String, _ allowed: [String]) throws -> String? {
        guard let value = try string(name) else { return nil }
        guard allowed.contains(value) else {
            throw ToolError.invalidArgument(tool, name, "'\(value)' is not one of \(allowed.joined(separator: ", "))")
        }
        return value
    }

    /// A page size: `limit` when given (1...maximum), else `standard`.
    func limit(standard: Int, maximum: Int) throws -> Int {
        guard let value = try integer("limit") else { return standard }
        guard value >= 1, value <= Int64(maximum) else {
            throw ToolError.invalidArgument(tool, "limit", "must be between 1 and \(maximum), not \(value)")
        }
        return Int(value)
    }

    /// A time: Unix milliseconds, `YYYY-MM-DD` (UTC midnight) or ISO 8601.
    func time(_ name: String) throws -> Int64? {
        if case .int(let number)? = values[name] { return Int64(number) }
        guard let text = try string(name) else { return nil }
        if let milliseconds = Int64(text) { return milliseconds }
        guard let parsed = ToolTime.parse(text) else {
            throw ToolError.invalidArgument(tool, name, "'\(text)' is not a date: use YYYY-MM-DD, ISO 8601 or Unix milliseconds")
        }
        return parsed
    }

    static func kind(_ value: Value) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .data: "data"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Times as tools read and write them. Stateless.
enum ToolTime {
    /// `YYYY-MM-DD` (UTC midnight) or an ISO 8601 timestamp, in Unix milliseconds; `nil` for anything else.
    static func parse(_ text: String) -> Int64? {
        if text.count == 10 { return ISO8601Timestamp.milliseconds(text + "T00:00:00Z") }
        return ISO8601Timestamp.milliseconds(text)
    }

    static func now() -> Int64 { WallClock.nowMilliseconds() }
}

/// Why a tool call was refused or failed, said so that the caller can act on it. Each case becomes an MCP error:
/// bad or unknown input is `invalid params` (-32602), a storage failure `internal error` (-32603). A value.
public enum ToolError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An argument is missing, of the wrong type or out of range.
    case invalidArgument(String, String, String)
    /// The thing named does not exist: `what` (`contact`, `event`, `job`, `segment`, `rule`), the reference given and
    /// a hint.
    case notFound(what: String, reference: String, hint: String)
    /// A cursor that this server did not hand out for this listing.
    case invalidCursor(String)
    /// The database or configuration could not be read.
    case storage(String)
    /// A write refused as it stands (a job in the wrong state, an expired confirmation token).
    case refused(String)

    public var description: String {
        switch self {
        case .invalidArgument(let tool, let name, let problem): "\(tool): argument '\(name)' \(problem)"
        case .notFound(let what, let reference, let hint): "unknown \(what) '\(reference)'\(hint.isEmpty ? "" : ": \(hint)")"
        case .invalidCursor(let cursor): "invalid cursor '\(cursor)': pass the nextCursor of the previous page unchanged"
        case .storage(let message): "could not read the database: \(message)"
        case .refused(let message): message
        }
    }

    /// The MCP error the client receives.
    var mcpError: MCPError {
        switch self {
        case .storage: .internalError(description)
        default: .invalidParams(description)
        }
    }
}
