import Contacts
import Foundation
import Intake
import Outbound
import Store
import StrictJSON
import Workflows
import Yams

/// Reads the `rules:` list of the configuration into `Rule`s, expanding `${VAR}` from the environment, and reports
/// every problem with file, line and key (`rules[0].steps[1].with.price`). Checks against the action catalog are
/// `RuleValidator`'s; this type places its findings on the line they come from.
///
/// ```yaml
/// rules:
///   - name: lead-to-sale
///     on:
///       source: instantly
///       event: lead_interested            # or a list
///       where:                            # event fields; all must hold
///         campaign_id: {in: "${INSTANTLY_OUTREACH_CAMPAIGN_IDS}"}
///     once_per: "{{ event.lead_email }}"
///     steps:
///       - name: customer
///         action: stripe.find_or_create_customer
///         if: {steps.x.y: {exists: true}}   # optional; full paths
///         with: {email: "{{ event.lead_email }}"}
/// ```
public struct RuleReader: EnvironmentExpandingReader {
    public let file: String
    public let environment: [String: String]
    /// The configured segments, which `segment_entered`/`segment_left` and `if:` may name.
    public let segments: SegmentCompiler
    public var knownSegments: Set<String> { Set(segments.definitions.map(\.name)) }
    /// `contacts.lead_fields`: lead fields the configuration says Instantly sends, known besides Instantly's
    /// documented webhook fields.
    public let leadFields: [String]
    public var issues: [ConfigurationIssue] = []
    /// What is valid but probably not meant: a path into an Instantly event that names no documented field
    /// (`check-config` prints them as warnings; they never fail a load).
    public var warnings: [ConfigurationIssue] = []
    /// Line of each key path read, for placing `RuleValidator`'s problems.
    private var lines: [String: Int] = [:]

    public static let ruleKeys = ["name", "on", "if", "once_per", "max_runs_per_day", "rollout", "max_per_day", "steps"]
    public static let triggerKeys = ["source", "event", "where", "segment_entered", "segment_left"]
    public static let stepKeys = ["name", "action", "with", "if", "when", "unless", "after", "at"]

    public init(file: String, environment: [String: String], segments: SegmentCompiler = SegmentCompiler(), leadFields: [String] = []) {
        self.file = file
        self.environment = environment
        self.segments = segments
        self.leadFields = leadFields
    }

    private mutating func note(_ key: String, _ node: Node) {
        if let line = node.mark?.line { lines[key] = line }
    }

    public mutating func read(_ node: Node) -> [Rule] {
        guard let sequence = node.sequence else {
            issue(node, "rules", "must be a list of rules")
            return []
        }
        var rules: [Rule] = []
        for (index, ruleNode) in sequence.enumerated() {
            if let rule = readRule(ruleNode, key: "rules[\(index)]") { rules.append(rule) }
        }
        guard issues.isEmpty else { return rules }
        for problem in RuleValidator.problems(in: rules) {
            issues.append(ConfigurationIssue(origin: file, line: line(for: problem.key), key: problem.key, message: problem.message))
        }
        return rules
    }

    /// The line of `key`, or of its closest enclosing key that was read.
    private func line(for key: String) -> Int? {
        var candidate = key
        while true {
            if let line = lines[candidate] { return line }
            guard let cut = candidate.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            candidate = String(candidate[..<cut])
        }
    }

    /// The mapping at `key`, noted for line lookups, or `nil` with an issue naming what it should hold.
    private mutating func mapping(_ node: Node, key: String, holding fields: String) -> Node.Mapping? {
        note(key, node)
        guard let mapping = node.mapping else {
            issue(node, key, "must be a mapping with \(fields)")
            return nil
        }
        return mapping
    }

    private mutating func readRule(_ node: Node, key: String) -> Rule? {
        guard let mapping = mapping(node, key: key, holding: "name, on and steps") else { return nil }
        var name: String?
        var trigger: Trigger?
        var oncePer: Template?
        var contactFilter: SegmentQuery?
        var maxRunsPerDay: Int?
        var maxPerDay: Int?
        var rolloutPercent: Double?
        var steps: [Step] = []
        var sawSteps = false
        for (keyNode, value) in mapping {
            let field = keyNode.string ?? ""
            let path = "\(key).\(field)"
            note(path, keyNode)
            switch field {
            case "name": name = ruleName(value, path)
            case "on": trigger = readTrigger(value, key: path)
            case "once_per":
                if let text = scalarText(value, path) { oncePer = template(text, value, path) }
            case "max_runs_per_day":
                int(value, path, min: 0) { maxRunsPerDay = $0 }
            case "max_per_day":
                int(value, path, min: 1) { maxPerDay = $0 }
            case "rollout":
                guard let text = scalarText(value, path) else { continue }
                let number = text.hasSuffix("%") ? String(text.dropLast()).trimmingCharacters(in: .whitespaces) : text
                guard let percent = Double(number), percent >= 0, percent <= 100 else {
                    issue(value, path, "'\(text)' is not a share of contacts such as 10% (0% to 100%)")
                    continue
                }
                rolloutPercent = percent
            case "if":
                contactFilter = contactTest(value, path)
            case "steps":
                sawSteps = true
                guard let sequence = value.sequence else {
                    issue(value, path, "must be a list of steps")
                    continue
                }
                for (index, stepNode) in sequence.enumerated() {
                    if let step = readStep(stepNode, key: "\(path)[\(index)]") { steps.append(step) }
                }
            default: issue(keyNode, path, "unknown key (a rule has \(Self.ruleKeys.joined(separator: ", ")))"
                           + ClosestMatch.suggestion(for: field, among: Self.ruleKeys))
            }
        }
        if name == nil { issue(node, "\(key).name", "every rule needs a name") }
        if trigger == nil, !mapping.keys.contains(where: { $0.string == "on" }) { issue(node, "\(key).on", "every rule needs a trigger (on:)") }
        if !sawSteps { issue(node, "\(key).steps", "every rule needs steps") }
        guard let name, let trigger else { return nil }
        let rule = Rule(name: name, trigger: trigger, oncePer: oncePer, contactFilter: contactFilter, maxRunsPerDay: maxRunsPerDay,
                        rolloutPercent: rolloutPercent, maxPerDay: maxPerDay, steps: steps)
        if trigger.source == .instantly, trigger.segmentChange == nil { checkInstantlyFields(rule, key: key) }
        return rule
    }

    /// Warns of each path into the event (`where:`, `once_per`, templates in `with:` and `at:`, step `if:`/`when:`)
    /// whose field is neither one Instantly documents for its webhooks (`InstantlyEvent.documentedFields`) nor a
    /// configured lead field, naming the closest. A warning, not an error: lead fields and custom variables arrive
    /// as top-level keys of their own, and Instantly may add fields.
    private mutating func checkInstantlyFields(_ rule: Rule, key: String) {
        for condition in rule.trigger.conditions {
            let written = condition.path.dropFirst()
            let conditionKey = "\(key).on.where.\(written.joined(separator: "."))"
            if written.first == "event", written.count > 1 {
                let field = written.dropFirst().first!
                warn(conditionKey, "where: paths start inside the event, so this reads event.\(written.joined(separator: ".")), "
                     + "which Instantly never sends; write `\(Self.knownInstantlyField(field, leadFields) ?? field)` without event.")
                continue
            }
            checkEventPath(condition.path, at: conditionKey)
        }
        if let oncePer = rule.oncePer { checkEventPaths(oncePer, at: "\(key).once_per") }
        for (index, step) in rule.steps.enumerated() {
            let stepKey = "\(key).steps[\(index)]"
            for (label, conditions) in [("if", step.conditions), ("when", step.skipConditions)] {
                for condition in conditions {
                    checkEventPath(condition.path, at: "\(stepKey).\(label).\(condition.path.joined(separator: "."))")
                }
            }
            if case .at(let template, _)? = step.schedule { checkEventPaths(template, at: "\(stepKey).at") }
            for (name, argument) in step.arguments.sorted(by: { $0.key < $1.key }) {
                checkEventPaths(argument, at: "\(stepKey).with.\(name)")
            }
        }
    }

    private mutating func checkEventPaths(_ argument: Argument, at key: String) {
        switch argument {
        case .value: break
        case .template(let template): checkEventPaths(template, at: key)
        case .list(let items): for (index, item) in items.enumerated() { checkEventPaths(item, at: "\(key)[\(index)]") }
        case .map(let members): for (name, member) in members.sorted(by: { $0.key < $1.key }) { checkEventPaths(member, at: "\(key).\(name)") }
        }
    }

    private mutating func checkEventPaths(_ template: Template, at key: String) {
        for path in template.paths { checkEventPath(path, at: key) }
    }

    private mutating func checkEventPath(_ path: [String], at key: String) {
        guard path.count >= 2, path[0] == "event" else { return }
        let field = path[1]
        guard !InstantlyEvent.documentedFields.contains(field), !leadFields.contains(field) else { return }
        let known = Self.knownInstantlyField(field, leadFields).map { "; did you mean `\($0)`? If not, and" }
            ?? " (Instantly's are \(InstantlyEvent.documentedFields.joined(separator: ", "))). If"
        warn(key, "event.\(field) is not a field Instantly documents for its webhooks\(known) it is one of your leads' own "
             + "fields or a custom variable (those arrive as top-level fields too), name it in contacts.lead_fields (which "
             + "also keeps it per contact).")
    }

    /// The documented Instantly field or configured lead field closest to `field`, if one is close.
    private static func knownInstantlyField(_ field: String, _ leadFields: [String]) -> String? {
        ClosestMatch.closest(to: field, among: InstantlyEvent.documentedFields + leadFields)
    }

    /// Records a warning once (a field read twice in one template is one mistake).
    private mutating func warn(_ key: String, _ message: String) {
        let warning = ConfigurationIssue(origin: file, line: line(for: key), key: key, message: message)
        if !warnings.contains(warning) { warnings.append(warning) }
    }

    /// A test of the contact (a rule's `if:`, a step's `unless:`), compiled against the configured segments.
    private mutating func contactTest(_ node: Node, _ key: String) -> SegmentQuery? {
        var predicates = ContactPredicateReader(file: file, environment: environment)
        let predicate = predicates.read(node, key: key)
        issues += predicates.issues
        guard let predicate else { return nil }
        do {
            return try segments.compile(predicate, name: key)
        } catch {
            issue(node, key, error.message)
            return nil
        }
    }

    private mutating func ruleName(_ node: Node, _ key: String) -> String? {
        guard let text = scalarText(node, key) else { return nil }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            issue(node, key, "'\(text)' must be letters, digits, '-' or '_'")
            return nil
        }
        return text
    }

    private mutating func readTrigger(_ node: Node, key: String) -> Trigger? {
        guard let mapping = node.mapping else {
            issue(node, key, "must be a mapping with source, event and optional where")
            return nil
        }
        var source: EventSource?
        var types: [String] = []
        var conditions: [Condition] = []
        var segmentChange: SegmentChange?
        for (keyNode, value) in mapping {
            let field = keyNode.string ?? ""
            let path = "\(key).\(field)"
            note(path, keyNode)
            switch field {
            case "segment_entered", "segment_left":
                guard let name = ruleName(value, path) else { continue }
                if segmentChange != nil {
                    issue(keyNode, path, "a trigger has one segment_entered or segment_left")
                    continue
                }
                segmentChange = SegmentChange(segment: name, entered: field == "segment_entered")
            case "source":
                guard let text = scalarText(value, path) else { continue }
                guard let parsed = EventSource(rawValue: text) else {
                    issue(value, path, "'\(text)' is not one of \(EventSource.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                source = parsed
            case "event":
                let names = value.sequence.map { Array($0) } ?? [value]
                for nameNode in names {
                    guard let text = scalarText(nameNode, path) else { continue }
                    for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                        // Instantly's payload docs spell the click event link_clicked; intake stores email_link_clicked.
                        types.append(name == "link_clicked" ? "email_link_clicked" : name)
                    }
                }
                if types.isEmpty { issue(value, path, "names no event type") }
            case "where":
                conditions = readConditions(value, key: path, prefix: ["event"])
            default: issue(keyNode, path, "unknown key (a trigger has source, event, where; or segment_entered or segment_left)"
                           + ClosestMatch.suggestion(for: field, among: Self.triggerKeys))
            }
        }
        if let segmentChange {
            if source != nil || !types.isEmpty || !conditions.isEmpty {
                issue(node, key, "a segment trigger (\(segmentChange)) takes no source, event or where")
            }
            guard knownSegments.contains(segmentChange.segment) else {
                issue(node, key, "no segment is named '\(segmentChange.segment)' (segments: \(knownSegments.sorted().joined(separator: ", ")))")
                return nil
            }
            var trigger = Trigger.segment(segmentChange.segment, entered: segmentChange.entered)
            trigger.segmentChange = segmentChange
            return trigger
        }
        guard let source else {
            issue(node, "\(key).source", "needs a source: stripe or instantly")
            return nil
        }
        return Trigger(source: source, eventTypes: types, conditions: conditions)
    }

    private mutating func readStep(_ node: Node, key: String) -> Step? {
        guard let mapping = mapping(node, key: key, holding: "name, action and with") else { return nil }
        var name: String?
        var action: String?
        var arguments: [String: Argument] = [:]
        var conditions: [Condition] = []
        var skipConditions: [Condition] = []
        var unless: SegmentQuery?
        var schedule: StepSchedule?
        var sawSchedule = 0
        for (keyNode, value) in mapping {
            let field = keyNode.string ?? ""
            let path = "\(key).\(field)"
            note(path, keyNode)
            switch field {
            case "name": name = ruleName(value, path)
            case "action": action = scalarText(value, path)
            case "with":
                guard let members = value.mapping else {
                    issue(value, path, "must be a mapping of argument names to values")
                    continue
                }
                for (argumentKey, argumentValue) in members {
                    let argumentName = argumentKey.string ?? ""
                    note("\(path).\(argumentName)", argumentKey)
                    if let argument = readArgument(argumentValue, key: "\(path).\(argumentName)") { arguments[argumentName] = argument }
                }
            case "if":
                conditions = readConditions(value, key: path, prefix: [])
            case "when":
                skipConditions = readConditions(value, key: path, prefix: [])
            case "unless":
                unless = contactTest(value, path)
            case "after":
                guard let text = scalarText(value, path) else { continue }
                guard let milliseconds = StepSchedule.duration(text), milliseconds > 0 else {
                    issue(value, path, "'\(text)' is not a wait such as 30m, 2h, 3d or 1w")
                    continue
                }
                schedule = .after(milliseconds: milliseconds)
                sawSchedule += 1
            case "at":
                guard let text = scalarText(value, path) else { continue }
                if let parsed = scheduledTime(text, value, path) { schedule = parsed }
                sawSchedule += 1
            default: issue(keyNode, path, "unknown key (a step has \(Self.stepKeys.joined(separator: ", ")))"
                           + ClosestMatch.suggestion(for: field, among: Self.stepKeys))
            }
        }
        if sawSchedule > 1 { issue(node, key, "a step has after or at, not both") }
        if name == nil { issue(node, "\(key).name", "every step needs a name") }
        if action == nil { issue(node, "\(key).action", "every step needs an action") }
        guard let name, let action else { return nil }
        return Step(name: name, action: action, arguments: arguments, conditions: conditions, skipConditions: skipConditions,
                    schedule: schedule, unless: unless)
    }

    /// `"{{ event.data.object.trial_end }} - 2d"`: a template giving a time, then an optional offset.
    private mutating func scheduledTime(_ text: String, _ node: Node, _ key: String) -> StepSchedule? {
        var templateText = text.trimmingCharacters(in: .whitespaces)
        var offset: Int64 = 0
        if let close = templateText.range(of: "}}", options: .backwards) {
            let rest = templateText[close.upperBound...].trimmingCharacters(in: .whitespaces)
            if !rest.isEmpty {
                guard let sign = rest.first, sign == "+" || sign == "-",
                      let duration = StepSchedule.duration(String(rest.dropFirst())) else {
                    issue(node, key, "'\(rest)' after the time must be an offset such as - 2d or + 1h")
                    return nil
                }
                offset = sign == "-" ? -duration : duration
                templateText = String(templateText[..<close.upperBound])
            }
        }
        guard templateText.contains("{{") else {
            issue(node, key, "must name the time with a template, such as \"{{ event.data.object.trial_end }} - 2d\"")
            return nil
        }
        return template(templateText, node, key).map { .at($0, offsetMilliseconds: offset) }
    }

    private mutating func readArgument(_ node: Node, key: String) -> Argument? {
        switch node {
        case .scalar:
            if node.null != nil, node.scalar?.style == .plain { return .value(.null) }
            if node.scalar?.style == .plain, let value = plainValue(node) { return .value(value) }
            guard let text = scalarText(node, key) else { return nil }
            guard text.contains("{{") else { return .value(.string(text)) }
            return template(text, node, key).map(Argument.template)
        case .sequence(let sequence):
            var items: [Argument] = []
            for (index, item) in sequence.enumerated() {
                if let argument = readArgument(item, key: "\(key)[\(index)]") { items.append(argument) }
            }
            return .list(items)
        case .mapping(let mapping):
            var members: [String: Argument] = [:]
            for (memberKey, memberValue) in mapping {
                let name = memberKey.string ?? ""
                note("\(key).\(name)", memberKey)
                if let argument = readArgument(memberValue, key: "\(key).\(name)") { members[name] = argument }
            }
            return .map(members)
        case .alias:
            issue(node, key, "YAML aliases are not supported here")
            return nil
        }
    }

    /// Conditions from `{path: value}` or `{path: {op: value}}`; `prefix` is put before each path (`event` for `where`).
    private mutating func readConditions(_ node: Node, key: String, prefix: [String]) -> [Condition] {
        guard let mapping = node.mapping else {
            issue(node, key, "must be a mapping of field paths to values or tests (equals, not, in, not_in, exists)")
            return []
        }
        var conditions: [Condition] = []
        for (pathNode, value) in mapping {
            let pathText = pathNode.string ?? ""
            let conditionKey = "\(key).\(pathText)"
            note(conditionKey, pathNode)
            let segments = pathText.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !pathText.isEmpty, segments.allSatisfy({ !$0.isEmpty }) else {
                issue(pathNode, conditionKey, "'\(pathText)' is not a field path")
                continue
            }
            if prefix.isEmpty, !["event", "steps", "contact", "catalog"].contains(segments.first ?? "") {
                issue(pathNode, conditionKey, "'\(pathText)' must start with event., contact., steps. or catalog.")
                continue
            }
            let path = prefix + segments
            if let mapping = value.mapping {
                guard mapping.count == 1, let (operatorNode, operand) = mapping.first.map({ ($0.key, $0.value) }) else {
                    issue(value, conditionKey, "a test has exactly one of equals, not, in, not_in, exists")
                    continue
                }
                let name = operatorNode.string ?? ""
                switch name {
                case "equals": if let value = scalarValue(operand, conditionKey) { conditions.append(Condition(path: path, test: .equals(value))) }
                case "not": if let value = scalarValue(operand, conditionKey) { conditions.append(Condition(path: path, test: .notEquals(value))) }
                case "in": if let values = listValue(operand, conditionKey) { conditions.append(Condition(path: path, test: .oneOf(values))) }
                case "not_in": if let values = listValue(operand, conditionKey) { conditions.append(Condition(path: path, test: .noneOf(values))) }
                case "exists":
                    guard let flag = operand.bool else {
                        issue(operand, "\(conditionKey).exists", "must be true or false")
                        continue
                    }
                    conditions.append(Condition(path: path, test: .exists(flag)))
                default:
                    issue(operatorNode, "\(conditionKey).\(name)", "unknown test '\(name)' (equals, not, in, not_in, exists)")
                }
            } else if value.sequence != nil {
                if let values = listValue(value, conditionKey) { conditions.append(Condition(path: path, test: .oneOf(values))) }
            } else if let scalar = scalarValue(value, conditionKey) {
                conditions.append(Condition(path: path, test: .equals(scalar)))
            }
        }
        return conditions
    }

    /// A list from a YAML list or a comma-separated string (as `${VAR}` gives).
    private mutating func listValue(_ node: Node, _ key: String) -> [JSONValue]? {
        if let sequence = node.sequence {
            var values: [JSONValue] = []
            for item in sequence { if let value = scalarValue(item, key) { values.append(value) } }
            return values
        }
        guard let value = scalarValue(node, key) else { return nil }
        if case .string(let text) = value {
            return text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0.text != "" }
        }
        return [value]
    }

    private mutating func scalarValue(_ node: Node, _ key: String) -> JSONValue? {
        if node.scalar?.style == .plain, let value = plainValue(node) { return value }
        return scalarText(node, key).map(JSONValue.string)
    }

    private func plainValue(_ node: Node) -> JSONValue? { EnvironmentExpansion.plainValue(node) }

    private mutating func template(_ text: String, _ node: Node, _ key: String) -> Template? {
        do {
            return try Template(parsing: text)
        } catch {
            issue(node, key, error.message)
            return nil
        }
    }

}
