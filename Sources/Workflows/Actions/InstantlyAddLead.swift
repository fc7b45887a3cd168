import Jobs
import Outbound
import StrictJSON

/// `instantly.add_lead`: adds a lead to a campaign unless it is already there. The engine links the lead to the
/// contact. A value; thread-safe.
struct InstantlyAddLead: Action {
    let spec = ActionCatalog.Spec(
        name: "instantly.add_lead", provider: .instantly, required: ["email", "campaign"],
        optional: ["first_name", "last_name", "company_name", "variables"],
        outputs: ["lead_id", "created"],
        summary: "Adds a lead to a campaign unless it is already there.")

    var linksContact: Bool { true }

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        let found = try provider { () throws(ProviderFailure) in try context.instantly.findLead(email: email, campaign: campaign) }
        if let lead = found {
            return .object(["lead_id": .string(lead.id), "created": .bool(false)])
        }
        let firstName = try arguments.optionalString("first_name")
        let lastName = try arguments.optionalString("last_name")
        let companyName = try arguments.optionalString("company_name")
        let variables = try arguments.scalarMap("variables")
        let lead = try provider { () throws(ProviderFailure) in
            try context.instantly.createLead(campaign: campaign, email: email, firstName: firstName, lastName: lastName,
                                             companyName: companyName, variables: variables)
        }
        return .object(["lead_id": .string(lead.id), "created": .bool(true)])
    }

    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] {
        ActionLearning.lead(result, campaign: arguments["to_campaign"] ?? arguments["campaign"])
    }
}

extension ActionLearning {
    /// The lead `result` names (`lead_id`) in `campaign`, when both are known.
    static func lead(_ result: JSONValue, campaign: JSONValue?) -> [ActionLearning] {
        guard let lead = result["lead_id"]?.stringValue, let campaign = campaign?.text, !campaign.isEmpty else { return [] }
        return [.lead(campaign: campaign, id: lead)]
    }
}
