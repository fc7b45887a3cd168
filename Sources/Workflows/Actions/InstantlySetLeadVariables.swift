import Jobs
import Outbound
import StrictJSON

/// `instantly.set_lead_variables`: reads the lead, merges, writes the whole set back (Instantly replaces it); skips
/// when already set. The engine links the lead to the contact. A value; thread-safe.
struct InstantlySetLeadVariables: Action {
    let spec = ActionCatalog.Spec(
        name: "instantly.set_lead_variables", provider: .instantly, required: ["email", "campaign", "variables"], optional: [],
        outputs: ["lead_id", "changed"],
        summary: "Sets custom variables on a lead: reads the lead, merges, writes the whole set back (Instantly replaces it); skips when already set.")

    var linksContact: Bool { true }

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        let wanted = try arguments.scalarMap("variables")
        let found = try provider { () throws(ProviderFailure) in try context.instantly.findLead(email: email, campaign: campaign) }
        guard let lead = found else {
            throw Arguments.failure("Instantly has no lead \(email) in campaign \(campaign)")
        }
        // PATCH replaces custom_variables as a whole: merge into what the lead has, and skip if nothing changes.
        let merged = lead.variables.merging(wanted) { _, new in new }
        guard merged != lead.variables else { return .object(["lead_id": .string(lead.id), "changed": .bool(false)]) }
        _ = try provider { () throws(ProviderFailure) in try context.instantly.replaceLeadVariables(id: lead.id, variables: merged) }
        return .object(["lead_id": .string(lead.id), "changed": .bool(true)])
    }

    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] {
        ActionLearning.lead(result, campaign: arguments["to_campaign"] ?? arguments["campaign"])
    }
}
