import Jobs
import Outbound
import StrictJSON

/// `instantly.remove_lead`: finds the lead in the campaign and deletes it; no lead (never added, removed by hand, or
/// by an earlier attempt whose answer was lost) is `removed: false` without a write. The engine unlinks the lead
/// from the contact. A value; thread-safe.
struct InstantlyRemoveLead: Action {
    let spec = ActionCatalog.Spec(
        name: "instantly.remove_lead", provider: .instantly, required: ["email", "campaign"], optional: [],
        outputs: ["lead_id", "removed"],
        summary: "Removes a lead from a campaign (finds it, then DELETE /api/v2/leads/{id}); no such lead is removed: false, without a write.")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        return try provider { () throws(ProviderFailure) in
            guard let lead = try context.instantly.findLead(email: email, campaign: campaign) else {
                return .object(["lead_id": .null, "removed": .bool(false)])
            }
            _ = try context.instantly.deleteLead(id: lead.id)
            return .object(["lead_id": .string(lead.id), "removed": .bool(true)])
        }
    }

    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] {
        guard result["removed"] == .bool(true), let campaign = arguments["campaign"]?.text, !campaign.isEmpty else { return [] }
        return [.leadRemoved(campaign: campaign)]
    }
}
