import Outbound
import Yams

/// Shared by the readers of the configuration's structured sections (rules, segments): `${VAR}` expansion and
/// YAML's plain scalars as JSON values. Stateless.
enum EnvironmentExpansion {
    /// Replaces `${NAME}` with the environment's value, `${NAME:-default}` with the default when it is unset or
    /// empty. An unset or empty variable without a default is a problem naming it.
    /// - Returns: the expanded text (`nil` when there were problems) and the problems.
    static func expand(_ text: String, environment: [String: String]) -> (text: String?, problems: [String]) {
        guard text.contains("${") else { return (text, []) }
        var result = ""
        var rest = Substring(text)
        var problems: [String] = []
        while let open = rest.range(of: "${") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                return (nil, ["'${' without a closing '}'"])
            }
            let reference = String(rest[open.upperBound..<close])
            let parts = reference.components(separatedBy: ":-")
            let name = parts[0]
            let fallback = parts.count > 1 ? parts.dropFirst().joined(separator: ":-") : nil
            if let value = environment[name], !value.isEmpty {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                problems.append("environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: close)...]
        }
        result += rest
        return (problems.isEmpty ? result : nil, problems)
    }

    /// YAML's plain booleans, numbers and null as JSON values; `nil` for other scalars (text).
    static func plainValue(_ node: Node) -> JSONValue? {
        if node.null != nil { return .null }
        if let flag = node.bool { return .bool(flag) }
        if let number = node.int { return .integer(Int64(number)) }
        if let number = node.float { return .number(number) }
        return nil
    }
}
