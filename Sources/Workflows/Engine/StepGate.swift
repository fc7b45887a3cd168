import Contacts
import HookyardFoundation
import Jobs
import Outbound
import StrictJSON

/// The engine's decision on one step before its action runs, in the order the step runner has always checked:
/// the `unless:` guard on the contact (the flow ends), the `if:` conditions (the flow ends), the `when:` conditions
/// (this step alone is skipped), the arguments rendered, and for an Instantly action the do-not-contact check on the
/// lead's address (the flow ends). `StepRunner` runs steps with it and `FlowDryRun` previews them with it, so a dry
/// run decides exactly as the workers do. A value.
enum StepGate {
    /// Run the action with `arguments`; `leadEmail` is the Instantly lead it writes to (the loop guard records it).
    case run(arguments: [String: JSONValue], leadEmail: String?)
    /// The step is skipped and the flow ends there.
    case endFlow(reason: String)
    /// The step alone is skipped; the flow goes on with the next.
    case skipStep(reason: String)

    /// Decides `step` in `context` (`event`, `steps`, `contact`, `catalog`).
    /// - Parameters:
    ///   - unlessHolds: whether the contact now matches the step's `unless:` guard (`false` without a guard or contact).
    ///   - doNotContact: why Instantly actions must skip an address (`unsubscribed`, `bounced`), or `nil`.
    static func decide(_ step: Step, context: JSONValue, unlessHolds: () throws(JobFailure) -> Bool,
                       doNotContact: (String) throws(JobFailure) -> String?) throws(JobFailure) -> StepGate {
        if step.unless != nil, try unlessHolds() {
            return .endFlow(reason: "unless: the contact now matches the step's guard")
        }
        if let failed = step.conditions.first(where: { !$0.holds(in: context) }) {
            return .endFlow(reason: "if: condition \(failed) does not hold")
        }
        if let failed = step.skipConditions.first(where: { !$0.holds(in: context) }) {
            return .skipStep(reason: "when: condition \(failed) does not hold")
        }
        var rendered: [String: JSONValue] = [:]
        for (name, argument) in step.arguments {
            do {
                rendered[name] = try argument.render(in: context)
            } catch {
                throw JobFailure.invalidJob("step '\(step.name)' argument '\(name)': \(error)")
            }
        }
        let leadEmail = rendered["email"].map { ContactObservation.normalise(email: $0.text) }
        if ActionCatalog.spec(step.action)?.provider == .instantly, let leadEmail, !leadEmail.isEmpty {
            // Unsubscribed or bounced people get no more email from any rule; this is not configurable.
            if let reason = try doNotContact(leadEmail) {
                return .endFlow(reason: "do-not-contact: the contact \(reason)")
            }
            return .run(arguments: rendered, leadEmail: leadEmail)
        }
        return .run(arguments: rendered, leadEmail: nil)
    }
}
