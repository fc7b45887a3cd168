import Contacts
import Foundation
import Outbound
import Store
import StrictJSON

/// A workflow rule from the configuration: a trigger and the ordered steps it starts.
///
/// A rule with a `contactFilter` (its `if:`) starts only for a contact that passes it, evaluated after the event
/// has been applied to the contact. Each step runs as its own job; a step's output is stored, and the next step is queued in the same transaction
/// that marks the step done (`SQLiteJobQueue.succeed`), so a crash between steps resumes where it stopped. A rule with
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
    /// Staged rollout (`rollout: 10%`): the share of contacts, 0 to 100, the rule starts for; the same contacts
    /// stay in (`Rollout.includes`). The others are held back and counted. `nil`: everyone.
    public var rolloutPercent: Double?
    /// At most this many flows a day for everyone (`max_per_day`); the contacts over it are held back and counted.
    public var maxPerDay: Int?
    public var steps: [Step]

    public init(name: String, trigger: Trigger, oncePer: Template? = nil, contactFilter: SegmentQuery? = nil,
                maxRunsPerDay: Int? = nil, rolloutPercent: Double? = nil, maxPerDay: Int? = nil, steps: [Step]) {
        self.name = name
        self.trigger = trigger
        self.oncePer = oncePer
        self.contactFilter = contactFilter
        self.maxRunsPerDay = maxRunsPerDay
        self.rolloutPercent = rolloutPercent
        self.maxPerDay = maxPerDay
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
        evaluate(source: source, type: type, event: event).matched
    }

    /// The trigger's decision on an event of `source` and `type` with body `event` (as rules read it), with why
    /// not: the engine's matching (`matches`) and `hookyard explain` use this one function.
    public func evaluate(source eventSource: EventSource, type: String, event: JSONValue) -> TriggerEvaluation {
        if let segmentChange {
            return TriggerEvaluation(matched: false, reason: "starts on \(segmentChange), not on events", conditions: [])
        }
        guard eventSource == source else {
            return TriggerEvaluation(matched: false, reason: "listens to \(source.rawValue) events, this is \(eventSource.rawValue)", conditions: [])
        }
        guard eventTypes.contains(type) else {
            return TriggerEvaluation(matched: false, reason: "listens to \(eventTypes.joined(separator: ", ")), not \(type)", conditions: [])
        }
        let context = JSONValue.object(["event": event])
        var results: [(condition: Condition, holds: Bool)] = []
        for condition in conditions {
            let holds = condition.holds(in: context)
            results.append((condition, holds))
            // As before: the first condition that fails decides (the rest are not needed).
            if !holds {
                let actual = context[path: condition.path].map { $0.serialized() } ?? "nothing"
                return TriggerEvaluation(matched: false, reason: "where: \(condition) does not hold (the event has \(actual))",
                                         conditions: results)
            }
        }
        return TriggerEvaluation(matched: true, reason: nil, conditions: results)
    }
}

/// What a trigger decided about one event: matched, or the first reason it did not, with the `where:` conditions
/// tested so far. A value.
public struct TriggerEvaluation: Sendable {
    public var matched: Bool
    public var reason: String?
    public var conditions: [(condition: Condition, holds: Bool)]
}

extension Rule {
    /// The `once_per` key of this rule for `event` (as rules read it): the rendered value, trimmed and lower-cased;
    /// `nil` when it renders to nothing (the engine then skips the rule for the event).
    public func oncePerKey(in event: JSONValue) -> String? {
        guard let oncePer, let value = try? oncePer.render(in: .object(["event": event])) else { return nil }
        let key = value.text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        return key.isEmpty ? nil : key
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
/// A list value (`contact.segments`) is tested by its items: `equals`/`in` hold when some item
/// matches, `not`/`not_in` when none does.
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
        if case .array(let items)? = value, !Self.isExistence(test) {
            switch test {
            case .equals(let expected): return items.contains { $0.matches(expected) }
            case .notEquals(let expected): return !items.contains { $0.matches(expected) }
            case .oneOf(let options): return items.contains { item in options.contains { item.matches($0) } }
            case .noneOf(let options): return !items.contains { item in options.contains { item.matches($0) } }
            case .exists: break
            }
        }
        switch test {
        case .exists(let expected): return (value != nil) == expected
        case .equals(let expected): return value.map { $0.matches(expected) } ?? expected.isNull
        case .notEquals(let expected): return !(value.map { $0.matches(expected) } ?? expected.isNull)
        case .oneOf(let options): return value.map { value in options.contains { value.matches($0) } } ?? false
        case .noneOf(let options): return value.map { value in !options.contains { value.matches($0) } } ?? true
        }
    }

    private static func isExistence(_ test: Test) -> Bool {
        if case .exists = test { return true }
        return false
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
/// (`if:`: when they do not, the flow ends there, recorded as skipped; `when:`: when they do not, this step alone
/// is skipped, recorded, and the flow goes on with the next). A step may be scheduled (`after:`, `at:`): its job
/// waits in the durable queue until then, and its `unless:` guard on the contact is checked when it runs.
public struct Step: Sendable, Equatable {
    public var name: String
    public var action: String
    public var arguments: [String: Argument]
    public var conditions: [Condition]
    /// `when:` conditions: when one does not hold, the step is skipped and the flow goes on (its output is
    /// `{"skipped": …}`).
    public var skipConditions: [Condition]
    /// When the step runs; `nil`: as soon as the step before it is done.
    public var schedule: StepSchedule?
    /// A test of the contact, checked when the step runs: when it holds, the step is skipped and the flow ends
    /// (for someone who since paid, left a segment or unsubscribed).
    public var unless: SegmentQuery?

    /// Every path the step reads when it runs: its arguments' templates and its `if:` and `when:` conditions
    /// (not `at:`, which is read when the step is queued).
    public var pathsRead: [[String]] {
        arguments.values.flatMap { $0.templates.flatMap(\.paths) } + (conditions + skipConditions).map(\.path)
    }

    public init(name: String, action: String, arguments: [String: Argument], conditions: [Condition] = [],
                skipConditions: [Condition] = [], schedule: StepSchedule? = nil, unless: SegmentQuery? = nil) {
        self.name = name
        self.action = action
        self.arguments = arguments
        self.conditions = conditions
        self.skipConditions = skipConditions
        self.schedule = schedule
        self.unless = unless
    }
}

/// When a scheduled step runs: a wait after the step before it (`after: 3d`), or a time read from the flow
/// (`at: "{{ event.data.object.trial_end }} - 2d"`) moved by an offset. A time already past runs at once.
public enum StepSchedule: Sendable, Equatable, CustomStringConvertible {
    case after(milliseconds: Int64)
    /// The template renders a time: Unix seconds (as Stripe sends them), Unix milliseconds, or ISO 8601 text.
    case at(Template, offsetMilliseconds: Int64)

    public var description: String {
        switch self {
        case .after(let milliseconds): "after \(Self.format(milliseconds))"
        case .at(let template, let offset):
            offset == 0 ? "at \(template)" : "at \(template) \(offset < 0 ? "-" : "+") \(Self.format(abs(offset)))"
        }
    }

    /// `3d`, `2h`, `90m`, `45s`, `1w`, or combinations (`1d12h`), as milliseconds; `nil` for anything else.
    public static func duration(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000]
        var total: Int64 = 0
        var number = ""
        var sawUnit = false
        for character in text.filter({ !$0.isWhitespace }) {
            if character.isASCII, character.isNumber {
                number.append(character)
            } else if let unit = units[character], let value = Int64(number), value <= 1_000_000 {
                // Each term is at most 10^6 weeks; a sum of many is checked and capped at that too.
                let (sum, overflow) = total.addingReportingOverflow(value * unit)
                guard !overflow, sum <= maximumDuration else { return nil }
                total = sum
                number = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        return sawUnit && number.isEmpty ? total : nil
    }

    /// The longest duration `duration` reads: 10^6 weeks (about 19,000 years), so a time plus it always fits.
    public static let maximumDuration: Int64 = 1_000_000 * 604_800_000

    /// The latest time an `at:` value may name: 9999-12-31T23:59:59.999Z (what ISO 8601 text can say).
    public static let latestTime: Int64 = 253_402_300_799_999

    public static func format(_ milliseconds: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000)] where milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds / 1000)s"
    }

    /// A rendered `at:` value as Unix milliseconds: numbers below 10^11 are seconds, larger ones milliseconds;
    /// text is ISO 8601 or a number. `nil` when it is no time, including one after `latestTime` (event data is
    /// outside data: 1e300 or Int64.max is refused, not converted).
    public static func time(of value: JSONValue, iso8601: (String) -> Int64?) -> Int64? {
        let number: Int64?
        switch value {
        case .integer(let integer): number = integer
        case .number(let double) where double.isFinite: number = Int64(exactly: double.rounded(.towardZero))
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let integer = Int64(trimmed) { number = integer } else { return iso8601(trimmed) }
        default: return nil
        }
        guard let number, number > 0 else { return nil }
        let milliseconds = number < 100_000_000_000 ? number * 1000 : number
        return milliseconds <= latestTime ? milliseconds : nil
    }
}

/// Staged rollout: whether a contact is in a rule's share. Deterministic (FNV-1a of the rule and the contact's
/// address), so the same people stay in as the share grows from 10 % to 50 %. Stateless.
public enum Rollout {
    /// `10%`, `12.5%`.
    public static func describe(_ percent: Double) -> String {
        percent.rounded() == percent ? "\(Int(percent))%" : "\(percent)%"
    }

    public static func includes(_ identity: String, rule: String, percent: Double) -> Bool {
        guard percent < 100 else { return true }
        guard percent > 0 else { return false }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (rule + "\u{0}" + identity).utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Double(hash % 10_000) < percent * 100
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
