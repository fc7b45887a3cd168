import Foundation
import Outbound
import Workflows
import Yams

/// One `http_targets:` entry: where `http.post` sends, and the secret it signs with.
public struct HTTPTargetSettings: Sendable, Equatable {
    public var name: String
    public var url: String
    public var secret: String
    /// Requests per second to this target, spaced evenly.
    public var maxRequestsPerSecond: Double = 10
}

/// Reads `http_targets:`, expanding `${VAR}`, and places `RuleValidator.httpTargetProblems` on the line of the
/// step's `target`.
///
/// ```yaml
/// http_targets:
///   fulfilment:
///     url: "https://fulfil.example.com/hooks/hookyard"
///     secret: "${FULFILMENT_SECRET}"   # or FULFILMENT_SECRET_FILE, or a systemd credential FULFILMENT_SECRET
///     max_rps: 10                      # optional
/// ```
public struct HTTPTargetsReader: EnvironmentExpandingReader {
    public let file: String
    public let environment: [String: String]
    public var issues: [ConfigurationIssue] = []

    public mutating func read(_ node: Node) -> [HTTPTargetSettings] {
        guard let mapping = node.mapping else {
            issue(node, "http_targets", "must be a mapping of target names to {url, secret}")
            return []
        }
        var targets: [HTTPTargetSettings] = []
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            let key = "http_targets.\(name)"
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                issue(keyNode, key, "a target name may only have letters, digits, '_' and '-'")
                continue
            }
            guard let fields = value.mapping else {
                issue(value, key, "must be a mapping with url and secret")
                continue
            }
            var url: String?
            var secret: String?
            var target = HTTPTargetSettings(name: name, url: "", secret: "")
            for (fieldNode, fieldValue) in fields {
                let field = fieldNode.string ?? ""
                let path = "\(key).\(field)"
                switch field {
                case "url":
                    guard let text = scalarText(fieldValue, path) else { continue }
                    if HTTPTarget.split(url: text) == nil {
                        issue(fieldValue, path, "'\(text)' is not an http:// or https:// URL with a host")
                    } else {
                        url = text
                    }
                case "secret": secret = readSecret(fieldValue, path)
                case "max_rps": number(fieldValue, path, min: 0.01) { target.maxRequestsPerSecond = $0 }
                default: issue(fieldNode, path, "unknown key (a target has url, secret and max_rps)")
                }
            }
            let missing = [url == nil && !fields.keys.contains { $0.string == "url" } ? "url" : nil,
                           secret == nil && !fields.keys.contains { $0.string == "secret" } ? "secret" : nil].compactMap { $0 }
            if !missing.isEmpty { issue(value, key, "needs \(missing.joined(separator: " and "))") }
            guard let url, let secret else { continue }
            target.url = url
            target.secret = secret
            targets.append(target)
        }
        return targets
    }

    /// `${NAME}` alone is looked up like the other secrets (`NAME`, `NAME_FILE`, `$CREDENTIALS_DIRECTORY/NAME`);
    /// anything else is expanded as usual. An empty secret is a problem.
    private mutating func readSecret(_ node: Node, _ key: String) -> String? {
        guard let scalar = node.scalar else {
            issue(node, key, "must be a single value")
            return nil
        }
        let text = scalar.string
        var secret: String?
        if text.hasPrefix("${"), text.hasSuffix("}"), case let name = String(text.dropFirst(2).dropLast()),
           !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            do {
                guard let secrets = try SecretResolver.resolve(name, environment: environment) else {
                    issue(node, key, "environment variable \(name) is not set (nor \(name)_FILE, nor a credential \(name))")
                    return nil
                }
                guard secrets.count == 1 else {
                    issue(node, key, "\(name) must hold one secret, not a comma-separated list")
                    return nil
                }
                secret = secrets[0]
            } catch {
                issues.append(error)
                return nil
            }
        } else {
            secret = scalarText(node, key)
        }
        if let value = secret, value.isEmpty {
            issue(node, key, "must not be empty")
            return nil
        }
        return secret
    }

    /// `RuleValidator.httpTargetProblems` and `catalogProblems`, each on the line of the key it names inside `rules`.
    public static func ruleIssues(rules: [Rule], rulesNode: Node, targets: [HTTPTargetSettings], catalog: Catalog, file: String) -> [ConfigurationIssue] {
        (RuleValidator.httpTargetProblems(in: rules, httpTargets: Set(targets.map(\.name)))
            + RuleValidator.catalogProblems(in: rules, catalog: catalog)).map { problem in
            ConfigurationIssue(origin: file, line: line(of: problem.key, in: rulesNode), key: problem.key, message: problem.message)
        }
    }

    /// The line of a key path such as `rules[0].steps[1].with.target` inside the `rules:` node (that of its closest
    /// enclosing key found).
    public static func line(of key: String, in rulesNode: Node) -> Int? {
        var components: [String] = []
        for part in key.split(separator: ".") {
            var text = Substring(part)
            if let bracket = text.firstIndex(of: "[") {
                components.append(String(text[..<bracket]))
                text = text[bracket...]
                while let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]") {
                    components.append(String(text[open...close]))
                    text = text[text.index(after: close)...]
                }
            } else {
                components.append(String(text))
            }
        }
        guard components.first == "rules" else { return nil }
        var node = rulesNode
        var line = node.mark?.line
        for component in components.dropFirst() {
            if component.hasPrefix("["), let index = Int(component.dropFirst().dropLast()) {
                guard let items = node.sequence, index < items.count else { break }
                node = items[index]
                line = node.mark?.line ?? line
            } else {
                guard let mapping = node.mapping, let entry = mapping.first(where: { $0.key.string == component }) else { break }
                line = entry.key.mark?.line ?? line
                node = entry.value
            }
        }
        return line
    }
}
