import MCP

/// The JSON schemas of the tools' inputs, written once here so every tool's arguments read alike. Stateless.
enum ToolSchema {
    static func object(_ properties: [String: Value], required: [String] = []) -> Value {
        var schema: [String: Value] = ["type": "object", "properties": .object(properties), "additionalProperties": false]
        if !required.isEmpty { schema["required"] = .array(required.map(Value.string)) }
        return .object(schema)
    }

    static func string(_ description: String) -> Value {
        ["type": "string", "description": .string(description)]
    }

    static func choice(_ description: String, _ values: [String]) -> Value {
        ["type": "string", "enum": .array(values.map(Value.string)), "description": .string(description)]
    }

    static func integer(_ description: String, minimum: Int? = nil, maximum: Int? = nil) -> Value {
        var schema: [String: Value] = ["type": "integer", "description": .string(description)]
        if let minimum { schema["minimum"] = .int(minimum) }
        if let maximum { schema["maximum"] = .int(maximum) }
        return .object(schema)
    }

    static func boolean(_ description: String) -> Value {
        ["type": "boolean", "description": .string(description)]
    }

    static func limit(standard: Int, maximum: Int) -> Value {
        integer("How many to return (default \(standard), at most \(maximum)).", minimum: 1, maximum: maximum)
    }

    static let cursor = string("The nextCursor of the previous page, to read the next one.")
    static let time = string("YYYY-MM-DD (UTC midnight), ISO 8601, or Unix milliseconds.")
}
