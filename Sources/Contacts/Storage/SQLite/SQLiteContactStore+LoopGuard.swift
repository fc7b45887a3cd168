import SQLite
import Store

/// The loop guard: what keeps Hookyard from reacting to its own writes, or starting a rule for one person again and
/// again.
extension SQLiteContactStore {
    /// Records that `rule` wrote to Instantly for `email` at `at` (the contact is created if missing, first seen
    /// `at`); the latest time per contact and rule is kept. One transaction.
    /// - Throws: `ContactStorageError.emptyEmail` for a blank address, or `SQLiteError`.
    public func recordOwnWrite(email: String, rule: String, at: Int64) throws {
        try database.transaction {
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: at, now: at)
            try run("""
                INSERT INTO own_writes (contact_id, rule, at) VALUES (?1, ?2, ?3)
                ON CONFLICT (contact_id, rule) DO UPDATE SET at = max(at, excluded.at)
                """, contact.id, rule, at)
        }
    }

    /// When `rule` last wrote to Instantly for `email`, or `nil` if it never did.
    public func lastOwnWrite(email: String, rule: String) throws -> Int64? {
        try firstRow("""
            SELECT o.at FROM own_writes o JOIN contacts c ON c.id = o.contact_id WHERE c.email = ? AND o.rule = ?
            """, ContactObservation.normalise(email: email), rule) { $0.int(0) }
    }

    /// Decides, atomically (one transaction), whether `rule` may start `flow` for `email` at `now`: a flow already
    /// admitted is admitted again (a re-run is not a new run); otherwise the flow is admitted and recorded only if
    /// the rule started fewer than `maxPerDay` flows for this contact (0: no limit), and fewer than
    /// `maxTotalPerDay` for everyone (`nil`: no limit), in the 24 hours before `now`. The contact is created if
    /// missing.
    /// - Throws: `ContactStorageError.emptyEmail` for a blank address (of a flow not admitted before), or `SQLiteError`.
    public func admitRuleRun(rule: String, email: String, flow: String, now: Int64, maxPerDay: Int,
                             maxTotalPerDay: Int? = nil, eventID: Int64? = nil) throws -> RuleRunAdmission {
        try database.transaction {
            if try firstRow("SELECT 1 FROM rule_runs WHERE flow = ?", flow, row: { _ in true }) == true { return .admitted }
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: now,
                                                  now: now)
            if maxPerDay > 0 {
                let recent = try firstRow("""
                    SELECT count(*) FROM rule_runs WHERE contact_id = ? AND rule = ? AND at > ?
                    """, contact.id, rule, now - 86_400_000) { $0.int(0) } ?? 0
                guard recent < maxPerDay else { return .contactCap }
            }
            if let maxTotalPerDay {
                let total = try firstRow("SELECT count(*) FROM rule_runs WHERE rule = ? AND at > ?", rule, now - 86_400_000) {
                    $0.int(0)
                } ?? 0
                guard total < maxTotalPerDay else {
                    try insertHoldback(rule: rule, contactID: contact.id, reason: "max_per_day", eventID: eventID, at: now)
                    return .ruleCap
                }
            }
            try run("INSERT INTO rule_runs (flow, rule, contact_id, at) VALUES (?, ?, ?, ?)", flow, rule, contact.id, now)
            return .admitted
        }
    }

    /// Counts `email` as held back by `rule` for `reason` (`rollout`: outside the rule's share), once per rule,
    /// contact and reason. The contact is created if missing. One transaction.
    public func recordHoldback(rule: String, email: String, reason: String, eventID: Int64?, at: Int64) throws {
        try database.transaction {
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: at, now: at)
            try insertHoldback(rule: rule, contactID: contact.id, reason: reason, eventID: eventID, at: at)
        }
    }

    /// Contacts each rule held back, per reason (`rollout`, `max_per_day`), and contacts it ran for.
    public func holdbackCounts() throws -> [(rule: String, reason: String, contacts: Int)] {
        try rows("""
            SELECT rule, reason, count(*) FROM rule_holdbacks GROUP BY rule, reason
            UNION ALL SELECT rule, 'ran', count(DISTINCT contact_id) FROM rule_runs GROUP BY rule
            ORDER BY 1, 2
            """) { row in
            (rule: try row.requiredString(0, column: "rule_holdbacks.rule"),
             reason: try row.requiredString(1, column: "rule_holdbacks.reason"), contacts: Int(row.int(2)))
        }
    }

    private func insertHoldback(rule: String, contactID: Int64, reason: String, eventID: Int64?, at: Int64) throws {
        try run("""
            INSERT INTO rule_holdbacks (rule, contact_id, reason, event_id, at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (rule, contact_id, reason) DO NOTHING
            """, rule, contactID, reason, eventID, at)
    }

    /// Why Instantly actions must skip `email` (`unsubscribed` or `bounced`, the first that happened), or `nil`.
    public func doNotContact(email: String) throws -> String? {
        try firstRow("SELECT do_not_contact FROM contacts WHERE email = ?", ContactObservation.normalise(email: email)) {
            $0.string(0)
        } ?? nil
    }
}
