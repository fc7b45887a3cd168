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

    /// Decides `step` in `context` (`event`, `steps`, `contact`, `catalog`) for the contact `contactID` (`nil`: none,
    /// so an `unless:` guard does not hold), reading its segments and the do-not-contact list from `contacts`.
    /// - Parameter clock: the time the `unless:` guard is evaluated at, read only when the step has one.
    /// - Throws: `JobFailure.storage` when `contacts` cannot be read, `.invalidJob` for an argument that cannot render.
    static func decide(_ step: Step, context: JSONValue, contactID: Int64?, contacts: any ContactStorage,
                       clock: () -> Int64) throws(JobFailure) -> StepGate {
        if let unless = step.unless, let contactID {
            let holds: Bool
            do {
                holds = try contacts.evaluate(contactID: contactID, queries: [unless], now: clock()).first == true
            } catch {
                throw JobFailure.storage("checking step \(step.name)'s unless:", error)
            }
            if holds { return .endFlow(reason: "unless: the contact now matches the step's guard") }
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
            let reason: String?
            do {
                reason = try contacts.doNotContact(email: leadEmail)
            } catch {
                throw JobFailure.storage("checking do-not-contact", error)
            }
            if let reason {
                return .endFlow(reason: "do-not-contact: the contact \(reason)")
            }
            return .run(arguments: rendered, leadEmail: leadEmail)
        }
        return .run(arguments: rendered, leadEmail: nil)
    }
}
