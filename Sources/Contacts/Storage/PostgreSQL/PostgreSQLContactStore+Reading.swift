import Foundation
import PostgreSQL
import Store

/// Reading contacts on PostgreSQL: one contact, lists and counts by segment, a contact's timeline, and the export of
/// everything held about a person. Reads outside a transaction see one committed state per statement.
extension PostgreSQLContactStore {
    /// The contact with this id, every field filled in, or `nil`.
    public func contact(id: Int64) throws -> Contact? {
        guard var contact = try firstRow("SELECT \(ContactRows.contactColumns) FROM contacts c WHERE c.id = $1", id,
                                         row: Self.contactRow) else { return nil }
        try complete(&contact)
        return contact
    }

    /// Contacts that pass `filter`, most recently updated first, at most `limit`, after `filter.after`.
    /// - Throws: `ContactStorageError.segmentQuery` or `PostgreSQLError`.
    public func contacts(matching filter: ContactFilter, limit: Int, now: Int64) throws -> [Contact] {
        var conditions: [String] = []
        var arguments: [any PostgreSQLEncodable] = []
        var next = 1
        if let query = filter.segment {
            let expression = try Self.numberedSQL(query, from: &next)
            conditions.append("(" + expression + ")")
            arguments += Self.arguments(query, now: now)
        }
        if let paymentStatus = filter.paymentStatus {
            conditions.append("c.payment_status = $\(next)::text")
            next += 1
            arguments.append(paymentStatus.rawValue)
        }
        if let engagement = filter.engagement {
            conditions.append("c.engagement = $\(next)::text")
            next += 1
            arguments.append(engagement.rawValue)
        }
        if let campaign = filter.campaign {
            conditions.append("c.id IN (SELECT contact_id FROM contact_leads WHERE campaign_id = $\(next)::text)")
            next += 1
            arguments.append(campaign)
        }
        if let text = filter.addressContains {
            // PostgreSQL-specific: `strpos` for SQLite's `instr` (a plain substring test, no pattern, so no LIKE case
            // rules to match); addresses are stored normalised (lower case).
            conditions.append("strpos(c.email, $\(next)::text) > 0")
            next += 1
            arguments.append(text.lowercased())
        }
        if let after = filter.after {
            conditions.append("(c.updated_at < $\(next)::bigint OR (c.updated_at = $\(next)::bigint AND c.id < $\(next + 1)::bigint))")
            next += 2
            arguments += [after.updatedAt, after.id] as [any PostgreSQLEncodable]
        }
        let limitPlaceholder = "$\(next)::bigint"
        arguments.append(limit)
        let where_ = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        if let query = filter.segment { try checkCompiles([query]) }
        var contacts = try rows("""
            SELECT \(ContactRows.contactColumns) FROM contacts c \(where_) ORDER BY c.updated_at DESC, c.id DESC
            LIMIT \(limitPlaceholder)
            """, arguments: arguments, once: filter.segment != nil, row: Self.contactRow)
        for index in contacts.indices { try complete(&contacts[index]) }
        return contacts
    }

    /// How many contacts match `query` at `now`.
    /// - Throws: `ContactStorageError.segmentQuery` or `PostgreSQLError`.
    public func count(matching query: SegmentQuery, now: Int64) throws -> Int {
        var next = 1
        let expression = try Self.numberedSQL(query, from: &next)
        let sql = "SELECT count(*) FROM contacts c WHERE (" + expression + ")"
        try checkCompiles([query])
        return Int(try rows(sql, arguments: Self.arguments(query, now: now), once: true) { try $0.int(0) }.first ?? 0)
    }

    /// The contact's history, newest first, at most `limit` entries, as the SQLite store lists it.
    public func timeline(contactID: Int64, limit: Int) throws -> [ContactTimelineEntry] {
        // PostgreSQL-specific: numbers are cast to text before `||`; the skipped job's reason is read from its output
        // here rather than with SQLite's `json_valid`/`json_extract` (PostgreSQL 15 has no `IS JSON`, and a cast of
        // invalid JSON to jsonb would fail the whole statement).
        try rows("""
            SELECT at, kind, reference, detail, output FROM (
                SELECT e.received_at AS at, 'event'::text AS kind, e.id::text AS reference,
                    e.source || ' ' || e.type AS detail, NULL::text AS output, 0 AS rank, e.id AS sequence
                FROM contact_events ce JOIN events e ON e.id = ce.event_id WHERE ce.contact_id = $1
                UNION ALL
                SELECT p.occurred_at, 'payment', p.reference, p.kind || ' ' || p.amount::text || ' ' || p.currency, NULL,
                    1, p.id
                FROM contact_payments p WHERE p.contact_id = $1
                UNION ALL
                SELECT p.created_at, 'purchase', p.reference, p.amount::text || ' ' || p.currency || ' ' || p.rule, NULL,
                    2, p.id
                FROM purchases p WHERE p.email = (SELECT email FROM contacts WHERE id = $1)
                UNION ALL
                SELECT j.updated_at, 'job', j.id::text, j.kind || ' ' || j.state,
                    CASE WHEN j.state = 'skipped' THEN j.output END, 3, j.id
                FROM jobs j WHERE j.event_id IN (SELECT event_id FROM contact_events WHERE contact_id = $1)
                UNION ALL
                SELECT t.at, 'segment', t.segment,
                    CASE WHEN t.entered <> 0 THEN 'entered #' || t.entry::text ELSE 'left' END, NULL, 4, t.id
                FROM segment_transitions t WHERE t.contact_id = $1
                UNION ALL
                SELECT r.registered_at, 'registration', r.reference, r.product, NULL, 5, r.id
                FROM contact_registrations r WHERE r.contact_id = $1
            ) AS timeline ORDER BY at DESC, rank DESC, sequence DESC LIMIT $2
            """, contactID, limit) { row in
            var detail = try row.string(3)
            if let output = row.optionalString(4), let reason = Self.skippedReason(output) { detail += " (\(reason))" }
            return ContactTimelineEntry(at: try row.int(0), kind: try row.value(ContactTimelineEntry.Kind.self, 1),
                                        reference: try row.string(2), detail: detail)
        }
    }

    /// `output.skipped` when `output` is a JSON object whose `skipped` is a string (SQLite's `json_type = 'text'`).
    static func skippedReason(_ output: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else { return nil }
        return object["skipped"] as? String
    }

    /// Everything held about the person with this email (normalised), or `nil` when there is no such contact, as
    /// the SQLite store exports it.
    public func export(email: String) throws -> ContactExport? {
        guard let contact = try self.contact(email: email) else { return nil }
        let id = contact.id
        // PostgreSQL-specific: `string_agg` for `group_concat`.
        let events = try rows("""
            SELECT e.id, e.source, e.event_id, e.dedup_key, e.type, e.received_at, e.body, e.headers, length(e.body),
                (SELECT string_agg(state, ',') FROM jobs WHERE idempotency_key = 'event:' || e.id::text)
            FROM contact_events ce JOIN events e ON e.id = ce.event_id WHERE ce.contact_id = $1 ORDER BY e.id
            """, id) { row in
            StoredEvent(id: try row.int(0), source: try row.value(EventSource.self, 1),
                        eventID: row.optionalString(2), dedupKey: try row.string(3), type: try row.string(4),
                        receivedAt: try row.int(5), body: try row.bytes(6), headersJSON: try row.string(7),
                        bodyBytes: Int(try row.int(8)),
                        jobStates: row.optionalString(9).map { $0.split(separator: ",").map(String.init) } ?? [])
        }
        var attempts: [Int64: [JobAttempt]] = [:]
        _ = try rows("""
            SELECT job_id, attempt, worker, started_at, finished_at, outcome, status, error FROM job_attempts
            WHERE job_id IN (SELECT id FROM jobs WHERE event_id IN (SELECT event_id FROM contact_events WHERE contact_id = $1))
            ORDER BY id
            """, id) { row in
            attempts[try row.int(0), default: []].append(JobAttempt(
                attempt: Int(try row.int(1)), worker: try row.string(2), startedAt: try row.int(3),
                finishedAt: try row.optionalInt(4), outcome: row.optionalString(5),
                status: try row.optionalInt(6).map { Int($0) }, error: row.optionalString(7)))
        }
        let jobs = try rows("""
            SELECT id, event_id, kind, state, attempts, next_run_at, lease_owner, lease_expires_at, last_error,
                idempotency_key, input, output, created_at, updated_at
            FROM jobs WHERE event_id IN (SELECT event_id FROM contact_events WHERE contact_id = $1) ORDER BY id
            """, id) { row in
            let job = Job(id: try row.int(0), eventID: try row.int(1), kind: try row.string(2),
                          state: try row.value(JobState.self, 3), attempts: Int(try row.int(4)),
                          nextRunAt: try row.int(5), leaseOwner: row.optionalString(6),
                          leaseExpiresAt: try row.optionalInt(7), lastError: row.optionalString(8),
                          idempotencyKey: try row.string(9), input: row.optionalString(10),
                          output: row.optionalString(11), createdAt: try row.int(12), updatedAt: try row.int(13))
            return ContactExport.JobRecord(job: job, attempts: attempts[job.id] ?? [])
        }
        let payments = try rows("""
            SELECT reference, kind, amount, currency, occurred_at, tier, first_campaign, last_campaign, event_id
            FROM contact_payments WHERE contact_id = $1 ORDER BY occurred_at, id
            """, id) { row in
            ContactPayment(reference: try row.string(0), kind: try row.value(ObservedPayment.Kind.self, 1),
                           amount: try row.int(2), currency: try row.string(3), occurredAt: try row.int(4),
                           tier: row.optionalString(5), firstCampaign: row.optionalString(6),
                           lastCampaign: row.optionalString(7), eventID: try row.optionalInt(8))
        }
        let purchases = try rows("""
            SELECT event_id, reference, email, amount, currency, campaign_id, payment_link, rule FROM purchases
            WHERE email = $1 ORDER BY id
            """, contact.email) { row in
            Purchase(eventID: try row.int(0), reference: try row.string(1), email: row.optionalString(2),
                     amount: try row.int(3), currency: try row.string(4), campaignID: row.optionalString(5),
                     paymentLink: row.optionalString(6), rule: try row.string(7))
        }
        let transitions = try rows("""
            SELECT t.contact_id, c.email, t.segment, t.entered, t.entry, t.event_id, t.at FROM segment_transitions t
            JOIN contacts c ON c.id = t.contact_id WHERE t.contact_id = $1 ORDER BY t.id
            """, id) { row in
            ContactExport.RecordedTransition(transition: try Self.transition(row), at: try row.int(6))
        }
        let activity = try rows("""
            SELECT kind, campaign_id, occurred_at, event_id FROM contact_activity WHERE contact_id = $1
            ORDER BY occurred_at, id
            """, id) { row in
            ContactExport.Activity(kind: try row.string(0), campaignID: row.optionalString(1),
                                   occurredAt: try row.int(2), eventID: try row.optionalInt(3))
        }
        let ruleRuns = try rows("SELECT flow, rule, at FROM rule_runs WHERE contact_id = $1 ORDER BY at, flow", id) { row in
            ContactExport.RuleRun(flow: try row.string(0), rule: try row.string(1), at: try row.int(2))
        }
        var ownWrites: [String: Int64] = [:]
        _ = try rows("SELECT rule, at FROM own_writes WHERE contact_id = $1", id) { row in
            ownWrites[try row.string(0)] = try row.int(1)
        }
        var export = ContactExport(contact: contact, events: events, jobs: jobs, payments: payments, purchases: purchases,
                                   transitions: transitions, activity: activity, ruleRuns: ruleRuns, ownWrites: ownWrites)
        export.holdbacks = try rows("SELECT rule, reason, at FROM rule_holdbacks WHERE contact_id = $1 ORDER BY at", id) { row in
            (rule: try row.string(0), reason: try row.string(1), at: try row.int(2))
        }
        export.registrations = try registrations(contactID: id)
        return export
    }

    // MARK: Row mapping

    /// Maps `ContactRows.contactColumns`; leads, customers, revenue and segments are filled by `complete`.
    /// - Throws: `PostgreSQLDecodingError` for a value this build cannot read.
    private static func contactRow(_ row: PostgreSQLRow) throws -> Contact {
        var counts: [ContactActivity: Int] = [:]
        let countColumns: [(ContactActivity, Int)] = [
            (.sent, 4), (.opened, 5), (.clicked, 6), (.replied, 7), (.bounced, 8), (.unsubscribed, 9), (.meetingBooked, 10),
        ]
        for (activity, column) in countColumns { counts[activity] = Int(try row.int(column)) }
        let subscription = try row.optionalString(14).map { id in
            ContactSubscription(id: id, status: try row.string(15), priceID: row.optionalString(16),
                                productID: row.optionalString(17), tier: row.optionalString(18),
                                currentPeriodEnd: try row.optionalInt(19))
        }
        return Contact(id: try row.int(0), email: try row.string(1), firstSeenAt: try row.int(2),
                       lastEngagementAt: try row.optionalInt(3), counts: counts, interestStatus: row.optionalString(11),
                       paymentStatus: try row.value(PaymentStatus.self, 12),
                       engagement: try row.value(EngagementLevel.self, 13),
                       subscription: subscription,
                       tier: row.optionalString(20), productInterest: row.optionalString(21),
                       doNotContact: row.optionalString(22), firstCampaign: row.optionalString(23),
                       lastCampaign: row.optionalString(24), updatedAt: try row.int(25))
    }

    /// Fills in the contact's campaigns, customer ids, revenue per currency, current segments, registrations and
    /// lead fields.
    private func complete(_ contact: inout Contact) throws {
        var leads: [String: String] = [:]
        _ = try rows("SELECT campaign_id, lead_id FROM contact_leads WHERE contact_id = $1", contact.id) { row in
            leads[try row.string(0)] = row.optionalString(1) ?? ""
        }
        contact.leads = leads
        // PostgreSQL-specific: there is no rowid; `ctid` is the order rows were written in, as long as they are
        // never updated (links are only inserted and deleted) and the table's free space is not reused by VACUUM.
        contact.stripeCustomerIDs = try rows(
            "SELECT customer_id FROM contact_customers WHERE contact_id = $1 ORDER BY ctid", contact.id) {
            try $0.string(0)
        }
        var revenue: [String: Int64] = [:]
        var overflowed: [String] = []
        // PostgreSQL-specific: `sum(bigint)` is exact (numeric); a total outside Int64 is read as text and reported
        // as overflowed, as SQLite's checked two-halves sum does.
        _ = try rows("SELECT currency, sum(amount)::text FROM contact_payments WHERE contact_id = $1 GROUP BY currency",
                     contact.id) { row in
            let currency = try row.string(0)
            if let total = Int64(try row.string(1)) { revenue[currency] = total } else { overflowed.append(currency) }
        }
        contact.revenue = revenue
        contact.revenueOverflowed = overflowed.sorted()
        contact.segments = try rows(
            "SELECT segment FROM contact_segments WHERE contact_id = $1 AND member = 1 ORDER BY segment", contact.id) {
            try $0.string(0)
        }
        contact.registeredFor = try rows(
            "SELECT product FROM contact_registrations WHERE contact_id = $1 ORDER BY product", contact.id) {
            try $0.string(0)
        }
        var leadFields: [String: String] = [:]
        _ = try rows("SELECT name, value FROM contact_lead_fields WHERE contact_id = $1", contact.id) { row in
            leadFields[try row.string(0)] = try row.string(1)
        }
        contact.leadFields = leadFields
    }
}
