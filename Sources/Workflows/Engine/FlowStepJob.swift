import Contacts
import HookyardFoundation
import Jobs
import Outbound
import Store
import StrictJSON

/// The job of one step of a flow: keyed `flow:<rule>:<flow>:<step>` (unique in the queue, so a flow never runs a step
/// twice), its input naming rule, step, flow, contact and the earlier steps' outputs, due when the step's schedule
/// says. The event matcher makes a flow's first step with it, the step runner each next one. Stateless.
enum FlowStepJob {
    /// The job of `step`, due now, after its `after:`, or at its `at:` (rendered in `context`).
    /// - Throws: `JobFailure.invalidJob` when the `at:` time cannot be worked out.
    static func make(rule: Rule, step: Step, flow: String, outputs: [String: JSONValue], contact: String?, context: JSONValue,
                     now: Int64) throws(JobFailure) -> NewJob {
        var input: [String: JSONValue] = ["rule": .string(rule.name), "step": .string(step.name), "flow": .string(flow),
                                          "steps": .object(outputs)]
        if let contact { input["contact"] = .string(contact) }
        let runAt = try scheduledTime(of: step, context: context, now: now)
        if runAt > now { input["scheduled_for"] = ContactJSON.time(runAt) }
        return NewJob(kind: step.action, idempotencyKey: "flow:\(rule.name):\(flow):\(step.name)", input: JSONValue.object(input).serialized(),
                      runAt: runAt)
    }

    /// When `step` is due, given the flow so far: now, a wait after now (`after:`), or the time its `at:` renders
    /// to plus the offset (at once when that is past).
    static func scheduledTime(of step: Step, context: JSONValue, now: Int64) throws(JobFailure) -> Int64 {
        switch step.schedule {
        case nil: return now
        case .after(let milliseconds)?: return now + milliseconds
        case .at(let template, let offset)?:
            let value: JSONValue
            do {
                value = try template.render(in: context)
            } catch {
                throw JobFailure.invalidJob("step '\(step.name)' at: \(error)")
            }
            guard let time = StepSchedule.time(of: value, iso8601: ISO8601Timestamp.milliseconds) else {
                throw JobFailure.invalidJob("step '\(step.name)' at: \(template) gave \(value.serialized()), which is not a time (Unix seconds or ISO 8601)")
            }
            return max(now, time + offset)
        }
    }

    /// The event as rules read it: a Stripe event gains `hookyard` (`StripeObjectReading.ruleFields`: the facts
}
