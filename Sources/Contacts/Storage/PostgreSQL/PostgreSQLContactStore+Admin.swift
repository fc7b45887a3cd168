import Foundation
import HookyardFoundation
import PostgreSQL
import Store

/// Erasure (a data subject's request) and payload retention on PostgreSQL.
extension PostgreSQLContactStore {
    /// Erases the person with this email, as `SQLiteContactStore.erase` does, in one transaction: the same rows are
    /// emptied, anonymised, deleted and redacted, and the whole database is searched again afterwards (`remaining`).
    ///
    /// PostgreSQL-specific: there is no file to rewrite. Old row versions stay in the table files until VACUUM
    /// reuses their space, and the write-ahead log keeps the changes until its segments are recycled (or in an
    /// archive), so `walTruncated` is always `false`; the operator's retention of WAL archives and backups decides
    /// when the last copy is gone. The contacts found are locked (`FOR UPDATE`, in id order) before anything is
    /// changed, so an event being applied to them on another node finishes first, and one arriving later creates a
    /// new contact.
    public func erase(email: String) throws -> ContactErasure? {
        guard let email = Self.normalisedEmail(email) else { return nil }
        let now = WallClock.nowMilliseconds()
        let address = AddressMatcher(email)
        func column(_ table: String, _ name: String, blob: Bool = false, key: String = "id") -> TextColumn {
            TextColumn(table: table, name: name, isBlob: blob, isUnique: false, rowKey: key)
        }
        func ids(_ found: [(rowKey: String, text: String)]) -> [Int64] { found.compactMap { Int64($0.rowKey) } }
        let erased: ContactErasure? = try connection.transaction {
            let contactIDs = ids(try rows(naming: address, in: column("contacts", "email"))).sorted()
            if contactIDs.isEmpty, try occurrences(ofEmail: email).isEmpty { return nil }
            let contacts = Self.array(contactIDs)
            try run("SELECT id FROM contacts WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", contacts)
            var eventIDs = Set(try rows("""
                SELECT event_id FROM contact_events WHERE contact_id = ANY($1::bigint[])
                """, contacts) { try $0.int(0) })
            eventIDs.formUnion(try rows("""
                SELECT event_id FROM contact_pending
                WHERE customer_id IN (SELECT customer_id FROM contact_customers WHERE contact_id = ANY($1::bigint[]))
                """, contacts) { try $0.int(0) })
            eventIDs.formUnion(ids(try rows(naming: address, in: column("events", "body", blob: true))))
            let events = Self.array(eventIDs.sorted())
            let eventsRedacted = try run("""
                UPDATE events SET body = ''::bytea, pruned_at = $2 WHERE id = ANY($1::bigint[])
                """, events, now)
            var jobIDs = Set(try rows("SELECT id FROM jobs WHERE event_id = ANY($1::bigint[])", events) { try $0.int(0) })
            for name in ["input", "output", "last_error"] {
                jobIDs.formUnion(ids(try rows(naming: address, in: column("jobs", name))))
            }
            let keysNamingThem = ids(try rows(naming: address, in: column("jobs", "idempotency_key")))
            jobIDs.formUnion(keysNamingThem)
            let jobs = Self.array(jobIDs.sorted())
            let jobsRedacted = try run("""
                UPDATE jobs SET input = NULL, output = '{"erased":true}',
                    last_error = CASE WHEN last_error IS NULL THEN NULL ELSE 'erased' END,
                    idempotency_key = CASE WHEN id = ANY($2::bigint[]) THEN 'erased:' || id::text ELSE idempotency_key END
                WHERE id = ANY($1::bigint[])
                """, jobs, Self.array(keysNamingThem))
            let attemptIDs = ids(try rows(naming: address, in: column("job_attempts", "error")))
            let attemptsRedacted = try run("""
                UPDATE job_attempts SET error = 'erased'
                WHERE error IS NOT NULL AND (job_id = ANY($1::bigint[]) OR id = ANY($2::bigint[]))
                """, jobs, Self.array(attemptIDs))
            let purchaseIDs = ids(try rows(naming: address, in: column("purchases", "email")))
            let purchasesAnonymised = try run("""
                UPDATE purchases SET email = NULL WHERE email = $1 OR id = ANY($2::bigint[])
                """, email, Self.array(purchaseIDs))
            let pendingDeleted = try run("""
                DELETE FROM contact_pending
                WHERE customer_id IN (SELECT customer_id FROM contact_customers WHERE contact_id = ANY($1::bigint[]))
                """, contacts)
            let runs = try rows(naming: address, in: column("rule_runs", "flow", key: "flow")).map(\.rowKey)
            for flow in runs { try run("DELETE FROM rule_runs WHERE flow = $1", flow) }
            let activityAnonymised = try run("""
                UPDATE contact_activity SET event_id = NULL WHERE contact_id = ANY($1::bigint[])
                """, contacts)
            let paymentsAnonymised = try run("""
                UPDATE contact_payments SET event_id = NULL WHERE contact_id = ANY($1::bigint[])
                """, contacts)
            try run("DELETE FROM contacts WHERE id = ANY($1::bigint[])", contacts)
            let otherRedacted = try redactRemaining(address, skipping: ["events.body"])
            return ContactErasure(contactID: contactIDs.first, eventsRedacted: eventsRedacted, jobsRedacted: jobsRedacted,
                                  attemptsRedacted: attemptsRedacted, purchasesAnonymised: purchasesAnonymised,
                                  pendingDeleted: pendingDeleted, activityAnonymised: activityAnonymised,
                                  paymentsAnonymised: paymentsAnonymised, walTruncated: false, otherRedacted: otherRedacted)
        }
        guard var erasure = erased else { return nil }
        erasure.remaining = try occurrences(ofEmail: email)
        return erasure
    }

    /// Empties the bodies of at most `limit` events received before `cutoff` whose jobs are all finished, as the
    /// SQLite store does, continuing where the previous call on this store stopped.
    ///
    /// PostgreSQL-specific: candidate events are locked with `FOR UPDATE SKIP LOCKED`, so two nodes pruning at once
    /// each empty different events and neither waits; an event skipped because another node holds it is that
    /// node's to prune (or is found again on the next pass).
    public func prunePayloads(olderThan cutoff: Int64, limit: Int, now: Int64) throws -> Int {
        let pruned = try connection.transaction {
            try rows("""
                UPDATE events SET body = ''::bytea, pruned_at = $3 WHERE id IN (
                    SELECT e.id FROM events e
                    WHERE e.id > $4 AND e.received_at < $1 AND length(e.body) > 0
                        AND e.id NOT IN (SELECT event_id FROM jobs WHERE state IN ('queued', 'running', 'retrying', 'dead'))
                    ORDER BY e.id LIMIT $2 FOR UPDATE SKIP LOCKED)
                RETURNING id
                """, cutoff, limit, now, pruneCursor) { try $0.int(0) }
        }
        pruneCursor = pruned.count < limit ? 0 : pruned.max() ?? 0
        return pruned.count
    }
}
