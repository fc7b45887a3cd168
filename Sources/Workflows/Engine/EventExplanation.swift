import Foundation
import HookyardFoundation
import Store
import StrictJSON

/// Why an event did or did not make something happen: for each configured rule, whether its trigger matched and
/// why not (`Trigger.evaluate`, the function the engine matches with), the decision the engine recorded when it
/// processed the event (started a flow, held it back by its `if:`, the loop guard, rollout or a cap, or no
/// `once_per` value), and the steps that ran with their outcome. `hookyard explain` and the MCP tool
/// `explain_event` show this same value.
///
/// The holds are read from what the engine recorded (its `process_event` output), never judged again now: a
/// contact's segments, caps and rollout may have changed since. A value; thread-safe.
public struct EventExplanation: Sendable {
    public var event: StoredEvent
    /// The `process_event` job: its state says whether the engine has decided yet.
    public var processJob: Job?
    /// The contact the event was applied to, as recorded.
    public var contactID: Int64?
    /// Segment changes the event caused, as recorded (`entered vip (#1)`).
    public var segmentChanges: [String]
    public var rules: [RuleExplanation]

    /// One rule's story for the event.
    public struct RuleExplanation: Sendable {
        public var rule: String
        public var trigger: String
        /// The trigger's verdict: matched, or why not (`nil` reason when it matched).
        public var triggerMatched: Bool
        public var triggerReason: String?
        /// The `where:` conditions tested, with whether each held.
        public var conditions: [(condition: String, holds: Bool)]
        /// The engine's recorded decision: `started`, `held`, `skipped` (no once_per value), or `none` (not recorded:
        /// the rule did not match, the event is not processed yet, or the rule was added since).
        public var decision: String
        /// Why it was held or skipped, as recorded.
        public var reason: String?
        /// The flow the rule started (`once:ada@example.com`, `event:12`, with `dry-run:` in dry-run).
        public var flow: String?
        /// When the flow's first step belongs to another event: a `once_per` flow that had already started (it
        /// never runs twice), with that event's id.
        public var flowStartedBy: Int64?
        /// The steps of the flow that ran or wait, in the rule's order.
        public var steps: [StepOutcome]
        /// One sentence: what happened and why.
        public var summary: String
    }

    /// What became of one step.
    public struct StepOutcome: Sendable {
        public var step: String
        public var action: String
        /// `nil` when no job exists for it (the flow ended before it, or it is not created yet).
        public var jobID: Int64?
        public var state: String
        public var attempts: Int
        public var detail: String?
    }

    /// Explains `event` (with its body) against `rules`, from the jobs it caused (`jobs`, oldest first) and a lookup
    /// of a job by idempotency key (a `once_per` flow started by an earlier event).
    public static func explain(_ event: StoredEvent, rules: [Rule], jobs: [Job], jobByKey: (String) throws -> Job?) rethrows -> EventExplanation {
        let body: JSONValue? = event.body.isEmpty ? nil : try? JSONValue.parse(event.body)
        let view = body.map { StoredEventReading.ruleView(source: event.source, type: event.type, body: $0) }
        let processJob = jobs.first { $0.kind == "process_event" }
        let output = processJob?.output.flatMap { try? JSONValue.parse($0) }
        var recorded: [String: JSONValue] = [:]
        for entry in Self.array(output?["matched"]) {
            if let rule = entry["rule"]?.stringValue { recorded[rule] = entry }
        }
        let segmentChanges = Self.array(output?["segments"]).compactMap { $0.stringValue }
        var explanations: [RuleExplanation] = []
        for rule in rules {
            let trigger = rule.trigger.segmentChange.map(\.description)
                ?? "\(rule.trigger.source.rawValue) \(rule.trigger.eventTypes.joined(separator: "|"))"
            let evaluation: TriggerEvaluation
            if let view {
                evaluation = rule.trigger.evaluate(source: event.source, type: event.type, event: view)
            } else {
                evaluation = TriggerEvaluation(matched: false, reason: "the event's body was pruned (retention) or erased", conditions: [])
            }
            var explanation = RuleExplanation(
                rule: rule.name, trigger: trigger, triggerMatched: evaluation.matched, triggerReason: evaluation.reason,
                conditions: evaluation.conditions.map { ("\($0.condition)", $0.holds) }, decision: "none", reason: nil, flow: nil,
                flowStartedBy: nil, steps: [], summary: "")
            if let entry = recorded[rule.name] {
                if let flow = entry["flow"]?.stringValue {
                    explanation.decision = "started"
                    explanation.flow = flow
                } else if let held = entry["held"]?.stringValue {
                    explanation.decision = "held"
                    explanation.reason = held
                } else if let skipped = entry["skipped"]?.stringValue {
                    explanation.decision = "skipped"
                    explanation.reason = skipped
                }
            }
            if let flow = explanation.flow {
                let flowJobs = rule.steps.map { step in (step, jobs.first { $0.idempotencyKey == "flow:\(rule.name):\(flow):\(step.name)" }) }
                if flowJobs.allSatisfy({ $0.1 == nil }), let first = rule.steps.first,
                   let earlier = try jobByKey("flow:\(rule.name):\(flow):\(first.name)") {
                    explanation.flowStartedBy = earlier.eventID
                }
                explanation.steps = flowJobs.map { step, job in
                    guard let job else {
                        return StepOutcome(step: step.name, action: step.action, jobID: nil, state: "not run", attempts: 0, detail: nil)
                    }
                    let detail = Job.skipReason(of: job) ?? job.lastError ?? Self.requestsNote(job)
                    let state = job.state == .queued && job.nextRunAt > (processJob?.updatedAt ?? 0) ? "waiting" : job.state.rawValue
                    return StepOutcome(step: step.name, action: step.action, jobID: job.id, state: state, attempts: job.attempts, detail: detail)
                }
            }
            explanation.summary = summary(explanation, processed: processJob)
            explanations.append(explanation)
        }
        return EventExplanation(event: event, processJob: processJob,
                                contactID: Self.integer(output?["contact_id"]), segmentChanges: segmentChanges, rules: explanations)
    }

    private static func array(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let items)? = value { return items }
        return []
    }

    private static func integer(_ value: JSONValue?) -> Int64? {
        if case .integer(let number)? = value { return number }
        return nil
    }

    /// `3 requests recorded (dry-run)` for a step that ran in dry-run.
    private static func requestsNote(_ job: Job) -> String? {
        guard let output = job.output.flatMap({ try? JSONValue.parse($0) }), output["dry_run"] == .bool(true) else { return nil }
        let count = Self.array(output["requests"]).count
        return "dry-run: \(count) request\(count == 1 ? "" : "s") recorded, none sent"
    }

    private static func summary(_ rule: RuleExplanation, processed: Job?) -> String {
        if !rule.triggerMatched {
            if rule.decision == "started" || rule.decision == "held" {
                return "started on a segment change this event caused"
            }
            return "not triggered: \(rule.triggerReason ?? "no match")"
        }
        switch rule.decision {
        case "held": return "triggered, but held back: \(rule.reason ?? "")"
        case "skipped": return "triggered, but skipped: \(rule.reason ?? "")"
        case "started":
            if let earlier = rule.flowStartedBy {
                return "triggered, but its flow \(rule.flow ?? "") had already started from event #\(earlier): once_per runs a flow once, so no step ran again"
            }
            let ran = rule.steps.filter { $0.state == "succeeded" }.count
            let skipped = rule.steps.first { $0.state == "skipped" }
            let failing = rule.steps.first { $0.state == "dead" || $0.state == "retrying" }
            var text = "started flow \(rule.flow ?? ""): \(ran) of \(rule.steps.count) steps succeeded"
            if let skipped { text += "; \(skipped.step) skipped (\(skipped.detail ?? ""))" }
            if let failing { text += "; \(failing.step) is \(failing.state) (\(failing.detail ?? ""))" }
            if let waiting = rule.steps.first(where: { $0.state == "waiting" || $0.state == "queued" }) { text += "; \(waiting.step) waits" }
            return text
        default:
            guard let processed else { return "triggered, but the event has no process_event job" }
            switch processed.state {
            case .succeeded: return "triggered now, but the engine recorded no decision for it (the rule was added or changed after the event was processed)"
            case .dead: return "triggered, but processing the event failed: \(processed.lastError ?? "dead")"
            default: return "triggered; the event is not processed yet (process_event is \(processed.state.rawValue))"
            }
        }
    }

    /// The explanation as text: one block per rule, matched rules first.
    public var text: String {
        var lines = ["event #\(event.id): \(event.source.rawValue) \(event.type), received \(ISO8601Timestamp.string(event.receivedAt))"
                     + (event.eventID.map { " (\($0))" } ?? "")]
        if let processJob {
            lines.append("processed: \(processJob.state.rawValue) (job #\(processJob.id))"
                         + (contactID.map { ", contact \($0)" } ?? "")
                         + (segmentChanges.isEmpty ? "" : ", segments: \(segmentChanges.joined(separator: ", "))"))
        } else {
            lines.append("processed: no process_event job")
        }
        for rule in rules.sorted(by: { ($0.triggerMatched ? 0 : 1, $0.rule) < ($1.triggerMatched ? 0 : 1, $1.rule) }) {
            lines.append("rule \(rule.rule) (on \(rule.trigger)): \(rule.summary)")
            for condition in rule.conditions {
                lines.append("  where \(condition.condition): \(condition.holds ? "holds" : "does not hold")")
            }
            for step in rule.steps {
                lines.append("  step \(step.step) (\(step.action)): \(step.state)" + (step.jobID.map { ", job #\($0)" } ?? "")
                             + (step.attempts > 1 ? ", \(step.attempts) attempts" : "") + (step.detail.map { ": \($0)" } ?? ""))
            }
        }
        if rules.isEmpty { lines.append("no rule is configured") }
        return lines.joined(separator: "\n")
    }

    /// The explanation as JSON.
    public var json: JSONValue {
        .object([
            "event": .object(["id": .integer(event.id), "source": .string(event.source.rawValue), "type": .string(event.type),
                              "event_id": event.eventID.map(JSONValue.string) ?? .null,
                              "received_at": .string(ISO8601Timestamp.string(event.receivedAt))]),
            "processed": processJob.map { .string($0.state.rawValue) } ?? .null,
            "contact_id": contactID.map(JSONValue.integer) ?? .null,
            "segment_changes": .array(segmentChanges.map(JSONValue.string)),
            "rules": .array(rules.map { rule in
                .object([
                    "rule": .string(rule.rule), "trigger": .string(rule.trigger), "triggered": .bool(rule.triggerMatched),
                    "trigger_reason": rule.triggerReason.map(JSONValue.string) ?? .null,
                    "conditions": .array(rule.conditions.map { .object(["condition": .string($0.condition), "holds": .bool($0.holds)]) }),
                    "decision": .string(rule.decision), "reason": rule.reason.map(JSONValue.string) ?? .null,
                    "flow": rule.flow.map(JSONValue.string) ?? .null,
                    "flow_started_by_event": rule.flowStartedBy.map(JSONValue.integer) ?? .null,
                    "steps": .array(rule.steps.map { step in
                        .object(["step": .string(step.step), "action": .string(step.action), "job_id": step.jobID.map(JSONValue.integer) ?? .null,
                                 "state": .string(step.state), "attempts": .integer(Int64(step.attempts)),
                                 "detail": step.detail.map(JSONValue.string) ?? .null])
                    }),
                    "summary": .string(rule.summary),
                ])
            }),
        ])
    }
}
