import Outbound
import StrictJSON
import Yams

/// Shared by the readers of the configuration's structured sections (rules, segments): `${VAR}` expansion and
/// YAML's plain scalars as JSON values. Stateless.
public enum EnvironmentExpansion {
    /// Replaces `${NAME}` with the environment's value, `${NAME:-default}` with the default when it is unset or
    /// empty. An unset or empty variable without a default is a problem naming it.
    /// - Returns: the expanded text (`nil` when there were problems) and the problems.
    public static func expand(_ text: String, environment: [String: String]) -> (text: String?, problems: [String]) {
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
    public static func plainValue(_ node: Node) -> JSONValue? {
        if node.null != nil { return .null }
        if let flag = node.bool { return .bool(flag) }
        if let number = node.int { return .integer(Int64(number)) }
        if let number = node.float { return .number(number) }
        return nil
    }
}

/// A reader of one part of the configuration file: it collects every problem with file, line and key rather
/// than stopping at the first. The shared scalar readers below report through `issues`.
public protocol ConfigurationSectionReader {
    var file: String { get }
    var issues: [ConfigurationIssue] { get set }
}

extension ConfigurationSectionReader {
    public mutating func issue(_ node: Node?, _ key: String, _ message: String) {
        issues.append(ConfigurationIssue(origin: file, line: node?.mark?.line, key: key, message: message))
    }

    /// A whole number of at least `min`, handed to `set`; otherwise an issue at `key`.
    /// Every whole number is at most `max` (default `wholeNumberLimit`), so no duration, size or product computed
    /// from it can overflow.
    public mutating func int(_ node: Node, _ key: String, min: Int, max: Int = wholeNumberLimit, _ set: (Int) -> Void) {
        guard let value = node.int else { return issue(node, key, "must be a whole number") }
        guard value >= min else { return issue(node, key, "must be at least \(min)") }
        guard value <= max else { return issue(node, key, "must be at most \(max)") }
        set(value)
    }

    /// A finite number of at least `min`, handed to `set`; otherwise an issue at `key`.
    public mutating func number(_ node: Node, _ key: String, min: Double, _ set: (Double) -> Void) {
        guard let value = node.float ?? node.int.map(Double.init), value.isFinite else { return issue(node, key, "must be a number") }
        guard value >= min else { return issue(node, key, "must be at least \(ConfigurationLoader.format(min))") }
        set(value)
    }
}

/// A section reader whose values may name environment variables (`${VAR}`): rules, contacts, segments.
public protocol EnvironmentExpandingReader: ConfigurationSectionReader {
    var environment: [String: String] { get }
}

extension EnvironmentExpandingReader {
    /// A scalar's text with `${VAR}` expanded (`EnvironmentExpansion`), each problem reported at `key`.
    public mutating func scalarText(_ node: Node, _ key: String) -> String? {
        guard let scalar = node.scalar else {
            issue(node, key, "must be a single value")
            return nil
        }
        let (expanded, problems) = EnvironmentExpansion.expand(scalar.string, environment: environment)
        for problem in problems { issue(node, key, problem) }
        return expanded
    }

    /// A whole number of at least `min`, handed to `set`, also from `${VAR}` (`seats: ${EVENT_SEATS:-50}`).
    public mutating func int(_ node: Node, _ key: String, min: Int, max: Int = wholeNumberLimit, _ set: (Int) -> Void) {
        guard let scalar = node.scalar, scalar.string.contains("${") else {
            guard let value = node.int else { return issue(node, key, "must be a whole number") }
            guard value >= min else { return issue(node, key, "must be at least \(min)") }
            guard value <= max else { return issue(node, key, "must be at most \(max)") }
            return set(value)
        }
        guard let text = scalarText(node, key) else { return }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            return issue(node, key, "'\(text)' must be a whole number")
        }
        guard value >= min else { return issue(node, key, "must be at least \(min)") }
        guard value <= max else { return issue(node, key, "must be at most \(max)") }
        set(value)
    }
}

/// The largest whole number the configuration accepts unless a key says otherwise (2,147,483,647): seconds, days
/// and milliseconds up to it still fit 64 bits once converted to milliseconds and added to a time.
public let wholeNumberLimit = Int(Int32.max)
