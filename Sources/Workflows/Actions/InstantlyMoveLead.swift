import Jobs
import Outbound
import StrictJSON

/// `instantly.move_lead`: moves a lead to another campaign and waits for Instantly's background job; skips when it
/// is already there. The engine links the lead to the contact in the new campaign. A value; thread-safe.
struct InstantlyMoveLead: Action {
    let spec = ActionCatalog.Spec(
        name: "instantly.move_lead", provider: .instantly, required: ["email", "from_campaign", "to_campaign"], optional: [],
        outputs: ["lead_id", "moved"],
        summary: "Moves a lead to another campaign and waits for Instantly's background job; skips when it is already there.")

    var linksContact: Bool { true }

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let email = try arguments.string("email")
        let from = try arguments.string("from_campaign")
        let to = try arguments.string("to_campaign")
        guard from != to else { throw Arguments.failure("from_campaign and to_campaign are the same campaign (\(from))") }
        let found = try provider { () throws(ProviderFailure) in try context.instantly.findLead(email: email, campaign: from) }
        guard let lead = found else {
            // Already moved (by an earlier attempt whose answer was lost, or by hand)?
            let moved = try provider { () throws(ProviderFailure) in try context.instantly.findLead(email: email, campaign: to) }
            if let moved {
                return .object(["lead_id": .string(moved.id), "moved": .bool(false)])
            }
            throw Arguments.failure("Instantly has no lead \(email) in campaign \(from) or \(to)")
        }
        var job = try provider { () throws(ProviderFailure) in try context.instantly.moveLead(id: lead.id, fromCampaign: from, toCampaign: to) }
        if !job.isFinished {
            _ = try runner.waitForInstantly { () throws(JobFailure) -> Bool in
                job = try provider { () throws(ProviderFailure) in try context.instantly.backgroundJob(id: job.id) }
                return job.isFinished
            }
        }
        guard job.isFinished else {
            throw JobFailure(message: "Instantly is still moving lead \(email) (background job \(job.id), status \(job.status)); will check again",
                             retryable: true, retryAfterMilliseconds: 5_000, cause: .provider)
        }
        guard job.succeeded else {
            throw JobFailure(message: "Instantly's background job \(job.id) moving lead \(email) ended with status \(job.status)",
                             retryable: true, cause: .provider)
        }
        return .object(["lead_id": .string(lead.id), "moved": .bool(true)])
    }

    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] {
        ActionLearning.lead(result, campaign: arguments["to_campaign"] ?? arguments["campaign"])
    }
}
