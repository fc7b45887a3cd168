import PostgreSQL
import Store

/// The loop guard on PostgreSQL: own writes, rule admission under caps, holdbacks, do-not-contact.
extension PostgreSQLContactStore {
    /// Records that `rule` wrote to Instantly for `email` at `at`, keeping the latest time per contact and rule
    /// (`ON CONFLICT … GREATEST`, atomic on its own). One transaction.
    public func recordOwnWrite(email: String, rule: String, at: Int64) throws {
        try connection.transaction {
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: at, now: at)
            try run("""
                INSERT INTO own_writes (contact_id, rule, at) VALUES ($1, $2, $3)
                ON CONFLICT (contact_id, rule) DO UPDATE SET at = GREATEST(own_writes.at, excluded.at)
                """, contact.id, rule, at)
        }
    }

    /// When `rule` last wrote to Instantly for `email`, or `nil` if it never did.
    public func lastOwnWrite(email: String, rule: String) throws -> Int64? {
        try firstRow("""
            SELECT o.at FROM own_writes o JOIN contacts c ON c.id = o.contact_id WHERE c.email = $1 AND o.rule = $2
            """, ContactObservation.normalise(email: email), rule) { try $0.int(0) }
    }

    /// Decides, atomically, whether `rule` may start `flow` for `email` at `now`, as the SQLite store does.
    ///
    /// Two nodes deciding at once: the contact's row is held (`findOrCreateContact`) while its runs are counted, so
    /// the per-contact cap holds; with `maxTotalPerDay`, an advisory lock keyed by the rule serialises the count of
    /// everyone's runs; the flow is looked up again under those locks and recorded with `ON CONFLICT (flow) DO
    /// NOTHING`, so one flow is admitted once and a re-run is admitted again.
    public func admitRuleRun(rule: String, email: String, flow: String, now: Int64, maxPerDay: Int,
                             maxTotalPerDay: Int? = nil, eventID: Int64? = nil) throws -> RuleRunAdmission {
        try connection.transaction {
            let admittedBefore = "SELECT 1 FROM rule_runs WHERE flow = $1"
            if try firstRow(admittedBefore, flow, row: { _ in true }) == true { return .admitted }
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: now,
                                                  now: now)
            if maxTotalPerDay != nil { try advisoryLock("rule:\(rule)") }
            if try firstRow(admittedBefore, flow, row: { _ in true }) == true { return .admitted }
            if maxPerDay > 0 {
                let recent = try firstRow("""
                    SELECT count(*) FROM rule_runs WHERE contact_id = $1 AND rule = $2 AND at > $3
                    """, contact.id, rule, now - 86_400_000) { try $0.int(0) } ?? 0
                guard recent < maxPerDay else { return .contactCap }
            }
            if let maxTotalPerDay {
                let total = try firstRow("SELECT count(*) FROM rule_runs WHERE rule = $1 AND at > $2", rule,
                                         now - 86_400_000) { try $0.int(0) } ?? 0
                guard total < maxTotalPerDay else {
                    try insertHoldback(rule: rule, contactID: contact.id, reason: "max_per_day", eventID: eventID, at: now)
                    return .ruleCap
                }
            }
            try run("INSERT INTO rule_runs (flow, rule, contact_id, at) VALUES ($1, $2, $3, $4) ON CONFLICT (flow) DO NOTHING",
                    flow, rule, contact.id, now)
            return .admitted
        }
    }

    /// Counts `email` as held back by `rule` for `reason`, once per rule, contact and reason (`ON CONFLICT DO
    /// NOTHING`). The contact is created if missing. One transaction.
    public func recordHoldback(rule: String, email: String, reason: String, eventID: Int64?, at: Int64) throws {
        try connection.transaction {
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
            (rule: try row.string(0), reason: try row.string(1), contacts: Int(try row.int(2)))
        }
    }

    private func insertHoldback(rule: String, contactID: Int64, reason: String, eventID: Int64?, at: Int64) throws {
        try run("""
            INSERT INTO rule_holdbacks (rule, contact_id, reason, event_id, at) VALUES ($1, $2, $3, $4::bigint, $5)
            ON CONFLICT (rule, contact_id, reason) DO NOTHING
            """, rule, contactID, reason, eventID, at)
    }

    /// Why Instantly actions must skip `email` (`unsubscribed` or `bounced`, the first that happened), or `nil`.
    public func doNotContact(email: String) throws -> String? {
        try firstRow("SELECT do_not_contact FROM contacts WHERE email = $1", ContactObservation.normalise(email: email)) {
            $0.optionalString(0)
        } ?? nil
    }
}
