import Jobs
import Outbound
import StrictJSON

/// `instantly.set_interest_status`: sets a lead's interest status and waits until the lead shows it; skips when
/// already set. A value; thread-safe.
struct InstantlySetInterestStatus: Action {
    let spec = ActionCatalog.Spec(
        name: "instantly.set_interest_status", provider: .instantly, required: ["email", "campaign", "status"], optional: [],
        outputs: ["changed", "interest_value"],
        summary: "Sets a lead's interest status (interested, meeting_booked, meeting_completed, won, out_of_office, not_interested, wrong_person, lost, no_show, or the number) and waits until the lead shows it; skips when already set.")

    /// Instantly's interest status values by name.
    static let interestStatuses: [String: Int] = [
        "interested": 1, "meeting_booked": 2, "meeting_completed": 3, "won": 4, "closed": 4, "out_of_office": 0,
        "not_interested": -1, "wrong_person": -2, "lost": -3, "no_show": -4,
    ]

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        let status = try arguments.value("status")
        let value: Int
        if let number = status.int64Value {
            value = Int(number)
        } else if let named = Self.interestStatuses[status.text.lowercased()] {
            value = named
        } else {
            throw Arguments.failure("argument 'status': '\(status.text)' is not an interest status (\(Self.interestStatuses.keys.sorted().joined(separator: ", ")), or a number)")
        }
        let lead = try provider { () throws(ProviderFailure) in try context.instantly.findLead(email: email, campaign: campaign) }
        if lead?.interestStatus == value {
            return .object(["changed": .bool(false), "interest_value": .integer(Int64(value))])
        }
        try provider { () throws(ProviderFailure) in try context.instantly.updateInterestStatus(email: email, campaign: campaign, value: value) }
        // Instantly applies the status in the background (202). Wait until the lead shows it, so the next step
        // (typically a move to another campaign) runs after it; if it does not show in time, check again later
        // (the retry reads the state first and does not post twice once it shows). In dry-run nothing was sent, and
        // the made-up lead never shows a status: there is nothing to wait for.
        if lead != nil, !context.instantlyDryRun {
            let shown = try runner.waitForInstantly { () throws(JobFailure) -> Bool in
                let current = try provider { () throws(ProviderFailure) in try context.instantly.findLead(email: email, campaign: campaign) }
                guard let current else { return true }
                return current.interestStatus == value
            }
            guard shown else {
                throw JobFailure(message: "Instantly has not applied interest status \(value) to \(email) yet; will check again",
                                 retryable: true, retryAfterMilliseconds: 5_000, cause: .provider)
            }
        }
        return .object(["changed": .bool(true), "interest_value": .integer(Int64(value))])
    }
}
