import MCP

/// Prompts for the common questions: diagnosing one lead, and revenue this month. Stateless.
public enum HookyardPrompts {
    static let list: [Prompt] = [
        Prompt(name: "diagnose_lead", title: "Diagnose a lead",
               description: "Why did or didn't a person get what the flows should have sent them (payment link, tag, email)?",
               arguments: [.init(name: "email", description: "The person's email address.", required: true)]),
        Prompt(name: "revenue_this_month", title: "Revenue this month",
               description: "Which campaigns made the most revenue this month, and how that compares with last month."),
    ]

    /// The messages of prompt `name`. - Throws: `MCPError.invalidParams` for an unknown prompt or a missing argument.
    static func get(_ name: String, arguments: [String: String]?) throws -> GetPrompt.Result {
        switch name {
        case "diagnose_lead":
            guard let email = arguments?["email"], !email.isEmpty else {
                throw MCPError.invalidParams("prompt diagnose_lead: argument 'email' is required")
            }
            return GetPrompt.Result(description: "Diagnose \(email)", messages: [.user(.text(text: """
                Diagnose the lead \(email) in Hookyard. 1) Call get_contact with email "\(email)": note payment status, \
                segments, campaigns and the timeline. 2) Call list_events with email "\(email)" to see every webhook \
                that concerned them, and get_event on the ones that matter to see the jobs they caused. 3) For any job \
                that is dead, skipped or retrying, call get_job: read its attempts, errors and skip reason (and, in \
                dry-run, the requests it recorded). 4) Call get_config to compare with the rules that should have run \
                (their triggers, conditions, caps and rollout). Answer: what happened to this person, what should have \
                happened, and the exact reason for any difference, citing event and job ids.
                """))])
        case "revenue_this_month":
            return GetPrompt.Result(description: "Revenue this month", messages: [.user(.text(text: """
                Call get_report for this month (since the first day of the current month, UTC) grouped by campaign with \
                last-touch attribution, and again for last month. Say which campaigns made the most revenue this month \
                (amounts in their currencies), how that compares with last month, and anything the report's notes \
                flag. Then call get_report by rule to say which workflows the revenue came through.
                """))])
        default:
            throw MCPError.invalidParams("unknown prompt '\(name)'; the prompts are: \(list.map(\.name).joined(separator: ", "))")
        }
    }
}
