import Foundation

/// Erasure (a data subject's request) and payload retention.
extension ContactStore {
    /// Erases the person with this email (normalised): afterwards no byte of the address remains in the database
    /// file or its write-ahead log, and a later event naming the address starts a new contact.
    ///
    /// In one transaction: the bodies of their events (those applied to them, those pending for their Stripe
    /// customers, and any whose body contains the address, ignoring ASCII case) are emptied (`pruned_at` set);
    /// jobs of those events, and any job whose input, output, error or key names the address, lose their input,
    /// output and error (a flow still running for them stops at its next step); attempt errors of those jobs or naming
    /// the address become `erased`; purchases lose the email; observations pending for their customers and rule runs
    /// naming the address are deleted; their activity and payments stay as anonymous rows (no contact, no event) for
    /// campaign and revenue reports; then the contact is deleted with everything that belongs to it (registrations and
    /// lead fields included, so a product's registration count no longer counts them). After the commit,
    /// with `secure_delete` on for this connection, `VACUUM` rewrites the file and a truncating checkpoint empties
    /// the WAL. A crash before the commit erases nothing; after it, calling `erase` again finishes the job
    /// (it returns `nil` once the contact is gone: run `VACUUM` by hand then).
    /// - Complexity: reads every event body and every job: O(database size); `VACUUM` needs free disk space of the
    ///   database's size and blocks other writers while it runs.
    /// `pruned_at` of the redacted events is the current time.
    /// - Returns: what was changed, or `nil` when there is no contact with this email (nothing is changed).
    public func erase(email: String) throws -> ContactErasure? {
        guard let email = Self.normalisedEmail(email) else { return nil }
        try database.execute("PRAGMA secure_delete = ON")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let erased: ContactErasure? = try database.transaction {
            guard let contactID = try contactID(email: email) else { return nil }
            var eventIDs = Set(try rows("SELECT event_id FROM contact_events WHERE contact_id = ?", contactID) { $0.int(0) })
            eventIDs.formUnion(try rows("""
                SELECT event_id FROM contact_pending
                WHERE customer_id IN (SELECT customer_id FROM contact_customers WHERE contact_id = ?)
                """, contactID) { $0.int(0) })
            let address = AddressMatcher(email)
            eventIDs.formUnion(try rows("SELECT id, CAST(body AS TEXT) FROM events WHERE \(address.prefilter("CAST(body AS TEXT)"))",
                                        arguments: address.terms) { row in address.isNamed(in: row.string(1)) ? row.int(0) : nil }
                .compactMap { $0 })
            let events = Self.jsonArray(eventIDs)
            let eventsRedacted = try run("""
                UPDATE events SET body = x'', pruned_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))
                """, events, now)
            let jobText = "coalesce(input, '') || ' ' || coalesce(output, '') || ' ' || coalesce(last_error, '') || ' ' || idempotency_key"
            var jobIDs = Set(try rows("SELECT id FROM jobs WHERE event_id IN (SELECT value FROM json_each(?1))", events) { $0.int(0) })
            jobIDs.formUnion(try rows("SELECT id, \(jobText) FROM jobs WHERE \(address.prefilter(jobText))",
                                      arguments: address.terms) { row in address.isNamed(in: row.string(1)) ? row.int(0) : nil }
                .compactMap { $0 })
            let jobs = Self.jsonArray(jobIDs)
            // A key naming the address (a `once_per` flow) becomes unique to the job instead.
            let keysNamingThem = Self.jsonArray(try rows("SELECT id, idempotency_key FROM jobs WHERE id IN (SELECT value FROM json_each(?1))",
                                                         jobs) { row in address.isNamed(in: row.string(1)) ? row.int(0) : nil }.compactMap { $0 })
            let jobsRedacted = try run("""
                UPDATE jobs SET input = NULL, output = '{"erased":true}',
                    last_error = CASE WHEN last_error IS NULL THEN NULL ELSE 'erased' END,
                    idempotency_key = CASE WHEN id IN (SELECT value FROM json_each(?2)) THEN 'erased:' || id ELSE idempotency_key END
                WHERE id IN (SELECT value FROM json_each(?1))
                """, jobs, keysNamingThem)
            let attemptIDs = try rows("SELECT id, error FROM job_attempts WHERE error IS NOT NULL AND \(address.prefilter("error"))",
                                      arguments: address.terms) { row in address.isNamed(in: row.string(1)) ? row.int(0) : nil }.compactMap { $0 }
            let attemptsRedacted = try run("""
                UPDATE job_attempts SET error = 'erased'
                WHERE error IS NOT NULL AND (job_id IN (SELECT value FROM json_each(?1)) OR id IN (SELECT value FROM json_each(?2)))
                """, jobs, Self.jsonArray(attemptIDs))
            let purchasesAnonymised = try run("UPDATE purchases SET email = NULL WHERE lower(trim(email)) = ?", email)
            let pendingDeleted = try run("""
                DELETE FROM contact_pending
                WHERE customer_id IN (SELECT customer_id FROM contact_customers WHERE contact_id = ?)
                """, contactID)
            let runs = try rows("SELECT flow FROM rule_runs WHERE \(address.prefilter("flow"))", arguments: address.terms) { row in
                address.isNamed(in: row.string(0)) ? row.string(0) : nil
            }.compactMap { $0 }
            for flow in runs { try run("DELETE FROM rule_runs WHERE flow = ?", flow) }
            let activityAnonymised = try run("UPDATE contact_activity SET event_id = NULL WHERE contact_id = ?", contactID)
            let paymentsAnonymised = try run("UPDATE contact_payments SET event_id = NULL WHERE contact_id = ?", contactID)
            // Cascades to leads, customers, applied events, segments, transitions, own writes, rule runs,
            // registrations and lead fields; activity and payments keep their rows with no contact.
            try run("DELETE FROM contacts WHERE id = ?", contactID)
            return ContactErasure(contactID: contactID, eventsRedacted: eventsRedacted, jobsRedacted: jobsRedacted,
                                  attemptsRedacted: attemptsRedacted, purchasesAnonymised: purchasesAnonymised,
                                  pendingDeleted: pendingDeleted, activityAnonymised: activityAnonymised,
                                  paymentsAnonymised: paymentsAnonymised, walTruncated: false)
        }
        guard var erasure = erased else { return nil }
        try WriteLock.withLock {
            try database.execute("VACUUM")
            try database.checkpoint(mode: .truncate)
        }
        erasure.walTruncated = walIsEmpty()
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

/// Finds an email address in stored text the way erasure needs: ignoring case, also percent-encoded (as in form
/// bodies and URLs), and only where it stands as a whole address, so erasing `ann@example.com` leaves
/// `joann@example.com` and `ann@example.com.au` alone. SQL's `instr` narrows the rows (`prefilter`); `isNamed`
/// decides. (SQLite's `lower` folds ASCII only: an address written with non-ASCII capitals can escape the filter.)
struct AddressMatcher {
    /// The address lower-cased, and its percent-encoded form when that differs.
    let terms: [String]

    init(_ email: String) {
        let lower = email.lowercased()
        var encoded = ""
        for byte in lower.utf8 {
            if Self.isLetterOrDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "~") {
                encoded.append(Character(UnicodeScalar(byte)))
            } else {
                encoded += String(format: "%%%02x", byte)
            }
        }
        terms = encoded == lower ? [lower] : [lower, encoded]
    }

    /// A condition over `column` that holds for every row naming the address (and some that do not), with one
    /// `?` per term.
    func prefilter(_ column: String) -> String {
        "(" + terms.map { _ in "instr(lower(\(column)), ?) > 0" }.joined(separator: " OR ") + ")"
    }

    func isNamed(in text: String?) -> Bool {
        guard let text = text?.lowercased() else { return false }
        let characters = Array(text.utf8)
        for term in terms {
            let needle = Array(term.utf8)
            var start = 0
            while start + needle.count <= characters.count {
                if characters[start..<(start + needle.count)].elementsEqual(needle),
                   !Self.continuesLocalPart(start > 0 ? characters[start - 1] : nil),
                   !Self.continuesDomain(characters, after: start + needle.count) {
                    return true
                }
                start += 1
            }
        }
        return false
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Whether `byte`, just before a match, makes the match the tail of a longer local part (`jo` + `ann@...`).
    private static func continuesLocalPart(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return isLetterOrDigit(byte) || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "%"), UInt8(ascii: "+"),
                                         UInt8(ascii: "-")].contains(byte)
    }

    /// Whether the text after a match makes it the head of a longer domain (`example.com` + `.au`, `-mail`).
    private static func continuesDomain(_ characters: [UInt8], after end: Int) -> Bool {
        guard end < characters.count else { return false }
        let next = characters[end]
        if isLetterOrDigit(next) || next == UInt8(ascii: "-") { return true }
        // A full stop ends a sentence unless a label follows it.
        return next == UInt8(ascii: ".") && end + 1 < characters.count && isLetterOrDigit(characters[end + 1])
    }
}
