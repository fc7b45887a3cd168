import Outbound
import StrictJSON

/// A string with `{{ path }}` placeholders, filled from a workflow context when a step runs.
///
/// A path starts at one of the context's roots: `event` (the webhook body as received: `event.lead_email`,
/// `event.data.object.id`), `contact` (the contact the flow is for, as `ContactJSON` renders it, read when the
/// step runs: `contact.tier`, `contact.email`), `steps` (earlier steps' outputs: `steps.link.url`), or `catalog`
/// (the configured catalog: `catalog.webinar.starts_at`, `catalog.webinar.tiers.vip.amount`). A template that is exactly one
/// placeholder keeps the value's JSON type (a number stays a number); otherwise the values' texts are joined into
/// a string. `{{ steps.team-link.url || steps.solo-link.url }}` takes the first of its paths that has a value
/// (for a choice made by `when:` steps); a quoted text last is the value when none has one:
/// `{{ event.data.object.trial_end || '' }}`. `${VAR}` environment references are expanded when the configuration is loaded, not here.
/// A value type; thread-safe.
public struct Template: Sendable, Equatable, CustomStringConvertible {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case placeholder([String])
        /// `{{ a || b }}`: the first path with a (non-null) value; `{{ a || 'text' }}`: else the text.
        case firstOf([[String]], fallback: String?)
    }

    public let parts: [Part]
    /// The text as written in the configuration.
    public let source: String

    /// Why a template cannot be parsed or filled.
    public struct TemplateError: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var description: String { message }
    }

    /// The roots a path may start at.
    public static let roots: Set<String> = ["event", "contact", "steps", "catalog"]

    /// Parses `text`. - Throws: `TemplateError` for an unclosed `{{`, an empty placeholder, a path with empty
    /// segments or characters other than letters, digits, `_` and `-`, or a path that does not start at a root.
    public init(parsing text: String) throws(TemplateError) {
        source = text
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw TemplateError(message: "'{{' without a closing '}}' in \"\(text)\"")
            }
            let expression = rest[open.upperBound..<close.lowerBound].trimmingWhitespace()
            guard !expression.isEmpty else { throw TemplateError(message: "empty '{{ }}' in \"\(text)\"") }
            var alternatives: [[String]] = []
            var fallback: String?
            for alternative in expression.components(separatedBy: "||") {
                let trimmed = Substring(alternative).trimmingWhitespace()
                guard fallback == nil else {
                    throw TemplateError(message: "'{{ \(expression) }}': a quoted text can only be the last choice")
                }
                if let quote = trimmed.first, quote == "'" || quote == "\"", trimmed.count >= 2, trimmed.last == quote, !alternatives.isEmpty {
                    fallback = String(trimmed.dropFirst().dropLast())
                    continue
                }
                let path = trimmed.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard path.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } }) else {
                    throw TemplateError(message: "'{{ \(expression) }}': '\(trimmed)' is not a path like event.lead_email or steps.link.url")
                }
                guard Self.roots.contains(path[0]) else {
                    throw TemplateError(message: "'{{ \(expression) }}' must start with event., contact., steps. or catalog.")
                }
                guard path.count >= 2, path[0] != "steps" || path.count >= 3 else {
                    throw TemplateError(message: "'{{ \(expression) }}' names no field (e.g. event.lead_email, steps.link.url)")
                }
                alternatives.append(path)
            }
            parts.append(alternatives.count == 1 && fallback == nil ? .placeholder(alternatives[0]) : .firstOf(alternatives, fallback: fallback))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
    }

    /// A template with no placeholders.
    public init(literal text: String) {
        source = text
        parts = text.isEmpty ? [] : [.literal(text)]
    }

    public var description: String { source }

    /// The placeholder paths, in order.
    public var paths: [[String]] {
        parts.flatMap { part -> [[String]] in
            switch part {
            case .literal: []
            case .placeholder(let path): [path]
            case .firstOf(let paths, _): paths
            }
        }
    }

    /// The steps the template reads (`steps.<name>...`).
    public var stepsReferenced: [String] {
        paths.filter { $0[0] == "steps" }.map { $0[1] }
    }

    /// Fills the placeholders from `context` (an object with `event` and `steps`).
    /// - Throws: `TemplateError` naming the first path that has no value (or is `null`).
    public func render(in context: JSONValue) throws(TemplateError) -> JSONValue {
        if parts.count == 1, case .placeholder(let path) = parts[0] { return try Self.lookup(path, in: context) }
        if parts.count == 1, case .firstOf(let paths, let fallback) = parts[0] { return try Self.first(paths, fallback, in: context) }
        var text = ""
        for part in parts {
            switch part {
            case .literal(let literal): text += literal
            case .placeholder(let path): text += try Self.lookup(path, in: context).text
            case .firstOf(let paths, let fallback): text += try Self.first(paths, fallback, in: context).text
            }
        }
        return .string(text)
    }

    private static func first(_ paths: [[String]], _ fallback: String?, in context: JSONValue) throws(TemplateError) -> JSONValue {
        for path in paths {
            if let value = context[path: path], !value.isNull { return value }
        }
        if let fallback { return .string(fallback) }
        throw TemplateError(message: "{{ \(paths.map { $0.joined(separator: ".") }.joined(separator: " || ")) }}: none has a value")
    }

    private static func lookup(_ path: [String], in context: JSONValue) throws(TemplateError) -> JSONValue {
        guard let value = context[path: path], !value.isNull else {
            throw TemplateError(message: "{{ \(path.joined(separator: ".")) }} has no value")
        }
        return value
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return text
    }
}
