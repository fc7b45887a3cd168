import Outbound
import Store

/// A workflow rule from the configuration: a trigger and the ordered steps it starts.
///
/// A rule with a `contactFilter` (its `if:`) starts only for a contact that passes it, evaluated after the event
/// has been applied to the contact. Each step runs as its own job; a step's output is stored, and the next step is queued in the same transaction
/// that marks the step done (`JobQueue.succeed`), so a crash between steps resumes where it stopped. A rule with
/// `oncePer` runs at most once per distinct value of that template (for instance once per lead email), however
/// often its trigger fires. A value type; thread-safe.
public struct Rule: Sendable, Equatable {
    public var name: String
    public var trigger: Trigger
    /// When set, the flow's identity: the same rendered value (trimmed, lower-cased) never starts a second flow.
    public var oncePer: Template?
    /// The rule's `if:` compiled against the contacts tables; `nil`: no test of the contact.
    public var contactFilter: SegmentQuery?
    /// How many flows the rule may start per contact in any 24 hours (`max_runs_per_day`): `nil` for the
    /// configuration-wide `contacts.max_rule_runs_per_day`, 0 for no limit (rules on payments, which must never
    /// miss one).
    public var maxRunsPerDay: Int?
    public var steps: [Step]

    public init(name: String, trigger: Trigger, oncePer: Template? = nil, contactFilter: SegmentQuery? = nil,
                maxRunsPerDay: Int? = nil, steps: [Step]) {
        self.name = name
        self.trigger = trigger
        self.oncePer = oncePer
        self.contactFilter = contactFilter
        self.maxRunsPerDay = maxRunsPerDay
        self.steps = steps
    }

    public func step(named name: String) -> (index: Int, step: Step)? {
        guard let index = steps.firstIndex(where: { $0.name == name }) else { return nil }
        return (index, steps[index])
    }
}

/// What starts a rule: an event from `source` of one of `eventTypes` whose fields pass every condition, or a
/// contact entering or leaving a segment (`segmentChange`; once per entry).
public struct Trigger: Sendable, Equatable {
    public var source: EventSource
    public var eventTypes: [String]
    /// Conditions over `event.` paths, all of which must hold.
    public var conditions: [Condition]
    /// Set for `on: {segment_entered: name}` or `{segment_left: name}`; `source`, `eventTypes` and `conditions`
    /// are then unused.
    public var segmentChange: SegmentChange?

    public init(source: EventSource, eventTypes: [String], conditions: [Condition] = []) {
        self.source = source
        self.eventTypes = eventTypes
        self.conditions = conditions
    }

    /// A trigger on a contact entering (`entered: true`) or leaving a segment.
    public static func segment(_ name: String, entered: Bool) -> Trigger {
        var trigger = Trigger(source: .instantly, eventTypes: [])
        trigger.segmentChange = SegmentChange(segment: name, entered: entered)
        return trigger
    }

    /// Whether an event of `type` with body `event` starts the rule.
    public func matches(type: String, event: JSONValue) -> Bool {
        guard segmentChange == nil, eventTypes.contains(type) else { return false }
        let context = JSONValue.object(["event": event])
        return conditions.allSatisfy { $0.holds(in: context) }
    }
}

/// A contact entering or leaving a named segment.
public struct SegmentChange: Sendable, Equatable, CustomStringConvertible {
    public var segment: String
    public var entered: Bool

    public init(segment: String, entered: Bool) {
        self.segment = segment
        self.entered = entered
    }

    public var description: String { "\(entered ? "segment_entered" : "segment_left"): \(segment)" }
}

/// A test of one value in the workflow context (`event.campaign_id`, `steps.link.metadata.hookyard_rule`).
public struct Condition: Sendable, Equatable, CustomStringConvertible {
    public enum Test: Sendable, Equatable {
        /// Equal, loosely (`JSONValue.matches`): `1` = `"1"`, `true` = `"true"`.
        case equals(JSONValue)
        case notEquals(JSONValue)
        case oneOf([JSONValue])
        case noneOf([JSONValue])
        /// `true`: the path has a non-null value; `false`: it has none.
        case exists(Bool)
    }

    public var path: [String]
    public var test: Test

    public init(path: [String], test: Test) {
        self.path = path
        self.test = test
    }

    public func holds(in context: JSONValue) -> Bool {
        let value = context[path: path].flatMap { $0.isNull ? nil : $0 }
        switch test {
        case .exists(let expected): return (value != nil) == expected
        case .equals(let expected): return value.map { $0.matches(expected) } ?? expected.isNull
        case .notEquals(let expected): return !(value.map { $0.matches(expected) } ?? expected.isNull)
        case .oneOf(let options): return value.map { value in options.contains { value.matches($0) } } ?? false
        case .noneOf(let options): return value.map { value in !options.contains { value.matches($0) } } ?? true
        }
    }

    public var description: String {
        let name = path.joined(separator: ".")
        switch test {
        case .equals(let value): return "\(name) = \(value.serialized())"
        case .notEquals(let value): return "\(name) != \(value.serialized())"
        case .oneOf(let values): return "\(name) in \(JSONValue.array(values).serialized())"
        case .noneOf(let values): return "\(name) not in \(JSONValue.array(values).serialized())"
        case .exists(let expected): return expected ? "\(name) exists" : "\(name) is missing"
        }
    }
}

/// One step of a rule: an action, its arguments (templates), and conditions that must hold for it to run
/// (when they do not, the flow ends there, recorded as skipped).
public struct Step: Sendable, Equatable {
    public var name: String
    public var action: String
    public var arguments: [String: Argument]
    public var conditions: [Condition]

    public init(name: String, action: String, arguments: [String: Argument], conditions: [Condition] = []) {
        self.name = name
        self.action = action
        self.arguments = arguments
        self.conditions = conditions
    }
}

/// An action argument as configured: a template, a fixed value, or a list or map of arguments.
public indirect enum Argument: Sendable, Equatable {
    case template(Template)
    case value(JSONValue)
    case list([Argument])
    case map([String: Argument])

    /// Fills every template from `context`. - Throws: `Template.TemplateError`.
    public func render(in context: JSONValue) throws(Template.TemplateError) -> JSONValue {
        switch self {
        case .template(let template): return try template.render(in: context)
        case .value(let value): return value
        case .list(let items):
            var values: [JSONValue] = []
            for item in items { values.append(try item.render(in: context)) }
            return .array(values)
        case .map(let members):
            var values: [String: JSONValue] = [:]
            for (key, member) in members { values[key] = try member.render(in: context) }
            return .object(values)
        }
    }

    /// Every template inside, depth first.
    public var templates: [Template] {
        switch self {
        case .template(let template): [template]
        case .value: []
        case .list(let items): items.flatMap(\.templates)
        case .map(let members): members.keys.sorted().flatMap { members[$0]!.templates }
        }
    }
}
