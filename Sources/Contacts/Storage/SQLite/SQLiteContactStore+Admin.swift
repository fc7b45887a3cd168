import Foundation
import HookyardFoundation
import SQLite
import Store

/// Erasure (a data subject's request) and payload retention.
extension SQLiteContactStore {
    /// Erases the person with this email (normalised with `EmailAddress.normalized`): afterwards no copy of the
    /// address remains in any table, the database file or its write-ahead log, and a later event naming the address
    /// starts a new contact.
    ///
    /// "Names the address" means what `AddressMatcher` finds: the whole address in any letter case (Unicode), NFC or
    /// NFD, also JSON-escaped (`\u0040`) or percent-encoded (`%40`). In one transaction: the bodies of their events
    /// (those applied to them, those pending for their Stripe customers, and any whose body names the address) are
    /// emptied (`pruned_at` set); jobs of those events, and any job whose input, output, error or key names the
    /// address, lose their input, output and error (a flow still running for them stops at its next step); attempt
    /// errors of those jobs or naming the address become `erased`; purchases lose the email; observations pending for
    /// their customers and rule runs naming the address are deleted; their activity and payments stay as anonymous
    /// rows (no contact, no event) for campaign and revenue reports; the contact is deleted with everything that
    /// belongs to it (registrations and lead fields included). Then every other text column of every table (read from
    /// the schema: alerts' messages and context, event headers, holdbacks, link URLs, campaign names, anything a later
    /// migration adds) is searched, and each value naming the address has the address replaced by `[erased]` (a value
    /// under a unique index, or a blob, is replaced whole) (`otherRedacted`). After the commit, with `secure_delete`
    /// on for this connection, `VACUUM` rewrites the file and a truncating checkpoint empties the WAL; then the whole
    /// database is searched again and what still names the address is returned in `remaining` (empty when erasure
    /// is complete). A crash before the commit erases nothing; after it, calling `erase` again finishes the job.
    /// - Complexity: reads every text value of every table twice: O(database size); `VACUUM` needs free disk space
    ///   of the database's size and blocks other writers while it runs.
    /// `pruned_at` of the redacted events is the current time.
    /// - Returns: what was changed, or `nil` when there is no contact with this email and nothing in the database
    ///   names it (nothing is changed).
    public func erase(email: String) throws -> ContactErasure? {
        guard let email = Self.normalisedEmail(email) else { return nil }
        try database.execute("PRAGMA secure_delete = ON")
        let now = WallClock.nowMilliseconds()
        let address = AddressMatcher(email)
        func column(_ table: String, _ name: String, blob: Bool = false) -> TextColumn {
            TextColumn(table: table, name: name, isBlob: blob, isUnique: false)
        }
        let erased: ContactErasure? = try database.transaction {
            // The contact keyed by the address, and any whose stored spelling of it predates normalisation.
            let contactIDs = try rows(naming: address, in: column("contacts", "email")).map(\.rowID)
            if contactIDs.isEmpty, try occurrences(ofEmail: email).isEmpty { return nil }
            let contacts = Self.jsonArray(contactIDs)
            var eventIDs = Set(try rows("""
                SELECT event_id FROM contact_events WHERE contact_id IN (SELECT value FROM json_each(?1))
                """, contacts) { $0.int(0) })
            eventIDs.formUnion(try rows("""
                SELECT event_id FROM contact_pending
                WHERE customer_id IN (SELECT customer_id FROM contact_customers WHERE contact_id IN (SELECT value FROM json_each(?1)))
                """, contacts) { $0.int(0) })
            eventIDs.formUnion(try rows(naming: address, in: column("events", "body", blob: true)).map(\.rowID))
            let events = Self.jsonArray(eventIDs)
            let eventsRedacted = try run("""
                UPDATE events SET body = x'', pruned_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))
                """, events, now)
            var jobIDs = Set(try rows("SELECT id FROM jobs WHERE event_id IN (SELECT value FROM json_each(?1))", events) { $0.int(0) })
            for name in ["input", "output", "last_error"] {
                jobIDs.formUnion(try rows(naming: address, in: column("jobs", name)).map(\.rowID))
            }
            // A key naming the address (a `once_per` flow) becomes unique to the job instead.
            let keysNamingThem = try rows(naming: address, in: column("jobs", "idempotency_key")).map(\.rowID)
            jobIDs.formUnion(keysNamingThem)
            let jobs = Self.jsonArray(jobIDs)
            let jobsRedacted = try run("""
                UPDATE jobs SET input = NULL, output = '{"erased":true}',
                    last_error = CASE WHEN last_error IS NULL THEN NULL ELSE 'erased' END,
                    idempotency_key = CASE WHEN id IN (SELECT value FROM json_each(?2)) THEN 'erased:' || id ELSE idempotency_key END
                WHERE id IN (SELECT value FROM json_each(?1))
                """, jobs, Self.jsonArray(keysNamingThem))
            let attemptIDs = try rows(naming: address, in: column("job_attempts", "error")).map(\.rowID)
            let attemptsRedacted = try run("""
                UPDATE job_attempts SET error = 'erased'
                WHERE error IS NOT NULL AND (job_id IN (SELECT value FROM json_each(?1)) OR id IN (SELECT value FROM json_each(?2)))
                """, jobs, Self.jsonArray(attemptIDs))
            let purchaseIDs = try rows(naming: address, in: column("purchases", "email")).map(\.rowID)
            let purchasesAnonymised = try run("""
                UPDATE purchases SET email = NULL WHERE email = ?1 OR id IN (SELECT value FROM json_each(?2))
                """, email, Self.jsonArray(purchaseIDs))
            let pendingDeleted = try run("""
                DELETE FROM contact_pending
                WHERE customer_id IN (SELECT customer_id FROM contact_customers WHERE contact_id IN (SELECT value FROM json_each(?1)))
                """, contacts)
            let runs = try rows(naming: address, in: column("rule_runs", "flow")).map(\.rowID)
            try run("DELETE FROM rule_runs WHERE rowid IN (SELECT value FROM json_each(?1))", Self.jsonArray(runs))
            let activityAnonymised = try run("""
                UPDATE contact_activity SET event_id = NULL WHERE contact_id IN (SELECT value FROM json_each(?1))
                """, contacts)
            let paymentsAnonymised = try run("""
                UPDATE contact_payments SET event_id = NULL WHERE contact_id IN (SELECT value FROM json_each(?1))
                """, contacts)
            // Cascades to leads, customers, applied events, segments, transitions, own writes, rule runs,
            // registrations and lead fields; activity, payments, holdbacks and links keep their rows with no contact.
            try run("DELETE FROM contacts WHERE id IN (SELECT value FROM json_each(?1))", contacts)
            // Everything else: alerts, headers, holdbacks, campaign names, link URLs, admin actions, later tables.
            let otherRedacted = try redactRemaining(address, skipping: ["events.body"])
            return ContactErasure(contactID: contactIDs.first, eventsRedacted: eventsRedacted, jobsRedacted: jobsRedacted,
                                  attemptsRedacted: attemptsRedacted, purchasesAnonymised: purchasesAnonymised,
                                  pendingDeleted: pendingDeleted, activityAnonymised: activityAnonymised,
                                  paymentsAnonymised: paymentsAnonymised, walTruncated: false, otherRedacted: otherRedacted)
        }
        guard var erasure = erased else { return nil }
        try WriteLock.withLock {
            try database.execute("VACUUM")
            try database.checkpoint(mode: .truncate)
        }
        erasure.walTruncated = walIsEmpty()
        // The claim is checked, not assumed: search every text column of every table once more.
        erasure.remaining = try occurrences(ofEmail: email)
        return erasure
    }

    /// Whether the database's WAL file is absent or empty.
    private func walIsEmpty() -> Bool {
        let attributes = try? FileManager.default.attributesOfItem(atPath: database.path + "-wal")
        return (attributes?[.size] as? NSNumber)?.int64Value ?? 0 == 0
    }

    private static func jsonArray<S: Sequence>(_ ids: S) -> String where S.Element == Int64 {
        "[" + ids.map(String.init).joined(separator: ",") + "]"
    }

    /// Empties (`body = x''`, `pruned_at = now`) the bodies of at most `limit` events received before `cutoff`
    /// whose jobs are all finished (none queued, running, retrying or dead), in one short transaction. Call it in a
    /// loop until it returns less than `limit`. Scanning continues where the previous call on this connection
    /// stopped and starts over after a call that found fewer than `limit`, so one pass costs O(events) in total.
    /// - Returns: how many bodies were emptied.
    public func prunePayloads(olderThan cutoff: Int64, limit: Int, now: Int64) throws -> Int {
        // Freed bytes are zeroed, not left in free pages.
        try database.execute("PRAGMA secure_delete = ON")
        let pruned = try database.transaction {
            try rows("""
                UPDATE events SET body = x'', pruned_at = ?3 WHERE id IN (
                    SELECT e.id FROM events e
                    WHERE e.id > ?4 AND e.received_at < ?1 AND length(e.body) > 0
                        AND e.id NOT IN (SELECT event_id FROM jobs WHERE state IN ('queued', 'running', 'retrying', 'dead'))
                    ORDER BY e.id LIMIT ?2)
                RETURNING id
                """, cutoff, limit, now, pruneCursor) { $0.int(0) }
        }
        pruneCursor = pruned.count < limit ? 0 : pruned.max() ?? 0
        return pruned.count
    }
}
