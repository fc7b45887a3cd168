/// The loop guard: what keeps Hookyard from reacting to its own writes, or starting a rule for one person again and
/// again.
extension ContactStore {
    /// Records that `rule` wrote to Instantly for `email` at `at` (the contact is created if missing, first seen
    /// `at`); the latest time per contact and rule is kept. One transaction.
    /// - Throws: `ContactStoreError.emptyEmail` for a blank address, or `SQLiteError`.
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
    /// the rule started fewer than `maxPerDay` flows for this contact in the 24 hours before `now`. The contact is
    /// created if missing.
    /// - Returns: `true` when the flow may run.
    /// - Throws: `ContactStoreError.emptyEmail` for a blank address (of a flow not admitted before), or `SQLiteError`.
    public func admitRuleRun(rule: String, email: String, flow: String, now: Int64, maxPerDay: Int) throws -> Bool {
        try database.transaction {
            if try firstRow("SELECT 1 FROM rule_runs WHERE flow = ?", flow, row: { _ in true }) == true { return true }
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: now,
                                                  now: now)
            let recent = try firstRow("""
                SELECT count(*) FROM rule_runs WHERE contact_id = ? AND rule = ? AND at > ?
                """, contact.id, rule, now - 86_400_000) { $0.int(0) } ?? 0
            guard recent < maxPerDay else { return false }
            try run("INSERT INTO rule_runs (flow, rule, contact_id, at) VALUES (?, ?, ?, ?)", flow, rule, contact.id, now)
            return true
        }
    }

    /// Why Instantly actions must skip `email` (`unsubscribed` or `bounced`, the first that happened), or `nil`.
    public func doNotContact(email: String) throws -> String? {
        try firstRow("SELECT do_not_contact FROM contacts WHERE email = ?", ContactObservation.normalise(email: email)) {
            $0.string(0)
        } ?? nil
    }
}
