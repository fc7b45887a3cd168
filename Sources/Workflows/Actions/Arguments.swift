import Jobs
import Outbound
import StrictJSON

/// A step's rendered arguments, with typed accessors whose errors name the argument (invalid-job failures: a retry
/// renders the same arguments). A value.
struct Arguments {
    var values: [String: JSONValue]

    /// A step that cannot run with what it was given: not retryable.
    static func failure(_ message: String) -> JobFailure { .invalidJob(message) }

    func value(_ name: String) throws(JobFailure) -> JSONValue {
        guard let value = values[name], !value.isNull else { throw Self.failure("argument '\(name)' is missing") }
        return value
    }

    func string(_ name: String) throws(JobFailure) -> String {
        let value = try value(name)
        switch value {
        case .array, .object: throw Self.failure("argument '\(name)' must be text, not \(value.serialized())")
        default:
            let text = value.text
            guard !text.isEmpty else { throw Self.failure("argument '\(name)' is empty") }
            return text
        }
    }

    func optionalString(_ name: String) throws(JobFailure) -> String? {
        guard let value = values[name], !value.isNull else { return nil }
        return try string(name)
    }

    /// One text value or a list of them; `nil` when absent.
    func optionalStrings(_ name: String) throws(JobFailure) -> [String]? {
        guard let value = values[name], !value.isNull else { return nil }
        guard case .array(let items) = value else { return [try string(name)] }
        var texts: [String] = []
        for item in items {
            switch item {
            case .array, .object, .null: throw Self.failure("argument '\(name)' must be text or a list of text")
            default: texts.append(item.text)
            }
        }
        guard !texts.isEmpty else { throw Self.failure("argument '\(name)' is an empty list") }
        return texts
    }

    func optionalInt(_ name: String) throws(JobFailure) -> Int? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let number = value.int64Value else { throw Self.failure("argument '\(name)' must be a whole number, not \(value.serialized())") }
        return Int(number)
    }

    /// A map of text values, sorted by key (so requests are byte-for-byte the same on every attempt).
    func stringPairs(_ name: String) throws(JobFailure) -> [(String, String)] {
        guard let value = values[name], !value.isNull else { return [] }
        guard case .object(let members) = value else { throw Self.failure("argument '\(name)' must be a map") }
        var pairs: [(String, String)] = []
        for key in members.keys.sorted() {
            let member = members[key]!
            switch member {
            case .array, .object: throw Self.failure("argument '\(name).\(key)' must be text")
            default: pairs.append((key, member.text))
            }
        }
        return pairs
    }

    /// A map of Instantly custom-variable values (text, numbers, booleans, null; no lists or maps).
    func scalarMap(_ name: String) throws(JobFailure) -> [String: InstantlyValue] {
        guard let value = values[name], !value.isNull else { return [:] }
        guard case .object(let members) = value else { throw Self.failure("argument '\(name)' must be a map") }
        var result: [String: InstantlyValue] = [:]
        for (key, member) in members {
            switch member {
            case .null: result[key] = .null
            case .bool(let flag): result[key] = .bool(flag)
            case .integer(let number): result[key] = .number(Double(number))
            case .number(let number): result[key] = .number(number)
            case .string(let text): result[key] = .string(text)
            case .array, .object: throw Self.failure("argument '\(name).\(key)': Instantly custom variables must be text, numbers or booleans")
            }
        }
        return result
    }
}
