import Contacts
import Foundation
import HookyardFoundation
import MCP
import StrictJSON

/// What a tool answers: a short text for people and the assistant, and the same facts as structured content (a
/// JSON object) for programs. A value.
public struct ToolOutput: Sendable, Equatable {
    public var text: String
    public var structured: Value

    public init(text: String, structured: Value) {
        self.text = text
        self.structured = structured
    }

    /// The MCP result: one text block and `structuredContent`.
    var result: CallTool.Result {
        CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: Optional.some(structured))
    }
}

extension Value {
    /// `JSONValue` (the store's and the contacts' JSON) as an MCP value.
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .integer(let number): self = .int(Int(number))
        case .number(let number): self = .double(number)
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map(Value.init))
        case .object(let members): self = .object(members.mapValues(Value.init))
        }
    }

    /// Parses JSON text (a stored body, a job's input or output); text that is not JSON stays a string.
    static func parsingJSON(_ text: String) -> Value {
        guard let parsed = try? JSONValue.parse(text) else { return .string(text) }
        return Value(parsed)
    }

    /// An optional as a value: `nil` is JSON null.
    static func optional(_ text: String?) -> Value { text.map(Value.string) ?? .null }
    static func optional(_ number: Int64?) -> Value { number.map { .int(Int($0)) } ?? .null }
    static func time(_ milliseconds: Int64?) -> Value { milliseconds.map { .string(ToolText.isoTime($0)) } ?? .null }
    static func int64(_ number: Int64) -> Value { .int(Int(number)) }

    /// Serialises the value as compact JSON (keys sorted), for a text block.
    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// How tools write times, amounts and columns in their text. Stateless.
enum ToolText {
    static func isoTime(_ milliseconds: Int64) -> String { ISO8601Timestamp.string(milliseconds) }

    static func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
}

/// The opaque cursors listings hand out: the listing's name and where the next page starts, base64url-encoded so
/// that clients treat them as opaque. Stateless.
enum ToolCursor {
    static func make(_ listing: String, _ parts: [Int64]) -> String {
        let raw = ([listing] + parts.map(String.init)).joined(separator: ":")
        return Data(raw.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The numbers of a cursor made for `listing` with `count` parts. - Throws: `ToolError.invalidCursor`.
    static func read(_ cursor: String, listing: String, count: Int) throws -> [Int64] {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let raw = String(data: data, encoding: .utf8) else {
            throw ToolError.invalidCursor(cursor)
        }
        let fields = raw.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == count + 1, fields[0] == listing else { throw ToolError.invalidCursor(cursor) }
        let numbers = fields.dropFirst().compactMap { Int64($0) }
        guard numbers.count == count else { throw ToolError.invalidCursor(cursor) }
        return numbers
    }
}
