import SQLite
import Store

/// Reading contacts for the CLI and the admin API: one contact, lists and counts by segment, a contact's timeline,
/// and the export of everything held about a person. Reads run outside transactions (each statement sees one
/// committed state of the database).
extension SQLiteContactStore {
    /// The contact with this id, every field filled in, or `nil`.
    public func contact(id: Int64) throws -> Contact? {
        guard var contact = try firstRow("SELECT \(ContactRows.contactColumns) FROM contacts c WHERE c.id = ?", id,
                                         row: Self.contactRow) else { return nil }
        try complete(&contact)
        return contact
    }

    /// Contacts that pass `filter`, most recently updated first, at most `limit`, after `filter.after`. Each contact is
    /// read completely (a few indexed queries per contact).
    /// - Throws: `ContactStorageError.segmentQuery` or `SQLiteError`.
    public func contacts(matching filter: ContactFilter, limit: Int, now: Int64) throws -> [Contact] {
        var conditions: [String] = []
        var arguments: [any SQLBindable] = []
        if let query = filter.segment {
            conditions.append("(\(try Self.boundSQL(query)))")
            arguments += Self.arguments(query, now: now)
        }
        if let paymentStatus = filter.paymentStatus {
            conditions.append("c.payment_status = ?")
            arguments.append(paymentStatus.rawValue)
        }
        if let engagement = filter.engagement {
            conditions.append("c.engagement = ?")
            arguments.append(engagement.rawValue)
        }
        if let campaign = filter.campaign {
            conditions.append("c.id IN (SELECT contact_id FROM contact_leads WHERE campaign_id = ?)")
            arguments.append(campaign)
        }
        if let text = filter.addressContains {
            // SQLite-specific: `instr` (PostgreSQL: `strpos`); addresses are stored normalised (lower case).
            conditions.append("instr(c.email, ?) > 0")
            arguments.append(text.lowercased())
        }
        if let after = filter.after {
            conditions.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            arguments += [after.updatedAt, after.updatedAt, after.id] as [any SQLBindable]
        }
        arguments.append(limit)
        let where_ = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        var contacts = try segmentRows(filter.segment, """
            SELECT \(ContactRows.contactColumns) FROM contacts c \(where_) ORDER BY c.updated_at DESC, c.id DESC LIMIT ?
            """, arguments: arguments, row: Self.contactRow)
        for index in contacts.indices { try complete(&contacts[index]) }
        return contacts
    }

    /// How many contacts match `query` at `now`.
    /// - Throws: `ContactStorageError.segmentQuery` or `SQLiteError`.
    public func count(matching query: SegmentQuery, now: Int64) throws -> Int {
        let sql = "SELECT count(*) FROM contacts c WHERE (\(try Self.boundSQL(query)))"
        return Int(try segmentRows(query, sql, arguments: Self.arguments(query, now: now)) { $0.int(0) }.first ?? 0)
    }

    /// Runs a statement built around `query`, naming the segment when its SQL does not compile.
    private func segmentRows<R>(_ query: SegmentQuery?, _ sql: String, arguments: [any SQLBindable],
                                row: (SQLiteStatement) throws -> R) throws -> [R] {
        do {
            return try rows(sql, arguments: arguments, row: row)
        } catch let error as SQLiteError {
            if let query, let message = compiles("SELECT (\(try Self.boundSQL(query))) FROM contacts c") {
                throw ContactStorageError.segmentQuery(name: query.name, message: message)
            }
            throw error
        }
    }

    /// The contact's history, newest first, at most `limit` entries: the events applied to them, those events' jobs
    /// (at their last change), their payments, purchases recorded for their email, their segment transitions and
    /// their registrations. Entries of the same time list registrations first, then segment changes, jobs,
    /// purchases, payments and events.
    /// - Complexity: index lookups of the jobs of each of their events.
    public func timeline(contactID: Int64, limit: Int) throws -> [ContactTimelineEntry] {
        try rows("""
            SELECT at, kind, reference, detail FROM (
                SELECT e.received_at AS at, 'event' AS kind, CAST(e.id AS TEXT) AS reference,
                    e.source || ' ' || e.type AS detail, 0 AS rank, e.id AS sequence
                FROM contact_events ce JOIN events e ON e.id = ce.event_id WHERE ce.contact_id = ?1
                UNION ALL
                SELECT p.occurred_at, 'payment', p.reference, p.kind || ' ' || p.amount || ' ' || p.currency, 1, p.id
                FROM contact_payments p WHERE p.contact_id = ?1
                UNION ALL
                SELECT p.created_at, 'purchase', p.reference, p.amount || ' ' || p.currency || ' ' || p.rule, 2, p.id
                FROM purchases p WHERE p.email = (SELECT email FROM contacts WHERE id = ?1)
                UNION ALL
                SELECT j.updated_at, 'job', CAST(j.id AS TEXT), j.kind || ' ' || j.state
                    || CASE WHEN j.state = 'skipped' AND json_valid(j.output) AND json_type(j.output, '$.skipped') = 'text'
                            THEN ' (' || json_extract(j.output, '$.skipped') || ')' ELSE '' END, 3, j.id
                FROM jobs j WHERE j.event_id IN (SELECT event_id FROM contact_events WHERE contact_id = ?1)
                UNION ALL
                SELECT t.at, 'segment', t.segment, CASE WHEN t.entered THEN 'entered #' || t.entry ELSE 'left' END, 4, t.id
                FROM segment_transitions t WHERE t.contact_id = ?1
                UNION ALL
                SELECT r.registered_at, 'registration', r.reference, r.product, 5, r.id
                FROM contact_registrations r WHERE r.contact_id = ?1
            ) ORDER BY at DESC, rank DESC, sequence DESC LIMIT ?2
            """, contactID, limit) { row in
            ContactTimelineEntry(at: row.int(0), kind: try row.decode(ContactTimelineEntry.Kind.self, 1, column: "timeline.kind"),
                                 reference: try row.requiredString(2, column: "timeline.reference"),
                                 detail: try row.requiredString(3, column: "timeline.detail"))
        }
    }

    /// Everything held about the person with this email (normalised), or `nil` when there is no such contact: the
    /// contact, every event applied to them with its full body, those events' jobs with every attempt, payments,
    /// purchases recorded for the email, segment transitions, activity, rule runs, own writes and registrations.
    public func export(email: String) throws -> ContactExport? {
        guard let contact = try self.contact(email: email) else { return nil }
        let id = contact.id
        let events = try rows("""
            SELECT e.id, e.source, e.event_id, e.dedup_key, e.type, e.received_at, e.body, e.headers, length(e.body),
                (SELECT group_concat(state, ',') FROM jobs WHERE idempotency_key = 'event:' || e.id)
            FROM contact_events ce JOIN events e ON e.id = ce.event_id WHERE ce.contact_id = ? ORDER BY e.id
            """, id) { row in
            StoredEvent(id: row.int(0), source: try row.decode(EventSource.self, 1, column: "events.source"),
                        eventID: row.string(2), dedupKey: try row.requiredString(3, column: "events.dedup_key"),
                        type: try row.requiredString(4, column: "events.type"),
                        receivedAt: row.int(5), body: row.blob(6), headersJSON: try row.requiredString(7, column: "events.headers"),
                        bodyBytes: Int(row.int(8)),
                        jobStates: row.string(9).map { $0.split(separator: ",").map(String.init) } ?? [])
        }
        var attempts: [Int64: [JobAttempt]] = [:]
        _ = try rows("""
            SELECT job_id, attempt, worker, started_at, finished_at, outcome, status, error FROM job_attempts
            WHERE job_id IN (SELECT id FROM jobs WHERE event_id IN (SELECT event_id FROM contact_events WHERE contact_id = ?))
            ORDER BY id
            """, id) { row in
            attempts[row.int(0), default: []].append(JobAttempt(
                attempt: Int(row.int(1)), worker: try row.requiredString(2, column: "job_attempts.worker"), startedAt: row.int(3),
                finishedAt: row.isNull(4) ? nil : row.int(4), outcome: row.string(5),
                status: row.isNull(6) ? nil : Int(row.int(6)), error: row.string(7)))
        }
        let jobs = try rows("""
            SELECT id, event_id, kind, state, attempts, next_run_at, lease_owner, lease_expires_at, last_error,
                idempotency_key, input, output, created_at, updated_at
            FROM jobs WHERE event_id IN (SELECT event_id FROM contact_events WHERE contact_id = ?) ORDER BY id
            """, id) { row in
            let job = Job(id: row.int(0), eventID: row.int(1), kind: try row.requiredString(2, column: "jobs.kind"),
                          state: try row.decode(JobState.self, 3, column: "jobs.state"), attempts: Int(row.int(4)),
                          nextRunAt: row.int(5), leaseOwner: row.string(6),
                          leaseExpiresAt: row.isNull(7) ? nil : row.int(7), lastError: row.string(8),
                          idempotencyKey: try row.requiredString(9, column: "jobs.idempotency_key"), input: row.string(10),
                          output: row.string(11),
                          createdAt: row.int(12), updatedAt: row.int(13))
            return ContactExport.JobRecord(job: job, attempts: attempts[job.id] ?? [])
        }
        let payments = try rows("""
            SELECT reference, kind, amount, currency, occurred_at, tier, first_campaign, last_campaign, event_id
            FROM contact_payments WHERE contact_id = ? ORDER BY occurred_at, id
            """, id) { row in
            ContactPayment(reference: try row.requiredString(0, column: "contact_payments.reference"),
                           kind: try row.decode(ObservedPayment.Kind.self, 1, column: "contact_payments.kind"),
                           amount: row.int(2), currency: try row.requiredString(3, column: "contact_payments.currency"),
                           occurredAt: row.int(4), tier: row.string(5),
                           firstCampaign: row.string(6), lastCampaign: row.string(7),
                           eventID: row.isNull(8) ? nil : row.int(8))
        }
        let purchases = try rows("""
            SELECT event_id, reference, email, amount, currency, campaign_id, payment_link, rule FROM purchases
            WHERE email = ? ORDER BY id
            """, contact.email) { row in
            Purchase(eventID: row.int(0), reference: try row.requiredString(1, column: "purchases.reference"),
                     email: row.string(2), amount: row.int(3),
                     currency: try row.requiredString(4, column: "purchases.currency"), campaignID: row.string(5),
                     paymentLink: row.string(6), rule: try row.requiredString(7, column: "purchases.rule"))
        }
        let transitions = try rows("""
            SELECT t.contact_id, c.email, t.segment, t.entered, t.entry, t.event_id, t.at FROM segment_transitions t
            JOIN contacts c ON c.id = t.contact_id WHERE t.contact_id = ? ORDER BY t.id
            """, id) { row in
            ContactExport.RecordedTransition(transition: try Self.transition(row), at: row.int(6))
        }
        let activity = try rows("""
            SELECT kind, campaign_id, occurred_at, event_id FROM contact_activity WHERE contact_id = ?
            ORDER BY occurred_at, id
            """, id) { row in
            ContactExport.Activity(kind: try row.requiredString(0, column: "contact_activity.kind"), campaignID: row.string(1),
                                   occurredAt: row.int(2),
                                   eventID: row.isNull(3) ? nil : row.int(3))
        }
        let ruleRuns = try rows("SELECT flow, rule, at FROM rule_runs WHERE contact_id = ? ORDER BY at, flow", id) { row in
            ContactExport.RuleRun(flow: try row.requiredString(0, column: "rule_runs.flow"),
                                  rule: try row.requiredString(1, column: "rule_runs.rule"), at: row.int(2))
        }
        var ownWrites: [String: Int64] = [:]
        _ = try rows("SELECT rule, at FROM own_writes WHERE contact_id = ?", id) { row in
            ownWrites[try row.requiredString(0, column: "own_writes.rule")] = row.int(1)
        }
        var export = ContactExport(contact: contact, events: events, jobs: jobs, payments: payments, purchases: purchases,
                                   transitions: transitions, activity: activity, ruleRuns: ruleRuns, ownWrites: ownWrites)
        export.holdbacks = try rows("SELECT rule, reason, at FROM rule_holdbacks WHERE contact_id = ? ORDER BY at", id) { row in
            (rule: try row.requiredString(0, column: "rule_holdbacks.rule"),
             reason: try row.requiredString(1, column: "rule_holdbacks.reason"), at: row.int(2))
        }
        export.registrations = try registrations(contactID: id)
        return export
    }

    // MARK: Row mapping

    /// Maps `ContactRows.contactColumns`; leads, customers, revenue and segments are filled by `complete`.
    /// - Throws: `ImpossibleStoredValue` for a column this build cannot read.
    private static func contactRow(_ row: SQLiteStatement) throws -> Contact {
        func optionalInt(_ column: Int32) -> Int64? { row.isNull(column) ? nil : row.int(column) }
        var counts: [ContactActivity: Int] = [:]
        let countColumns: [(ContactActivity, Int32)] = [
            (.sent, 4), (.opened, 5), (.clicked, 6), (.replied, 7), (.bounced, 8), (.unsubscribed, 9), (.meetingBooked, 10),
        ]
        for (activity, column) in countColumns { counts[activity] = Int(row.int(column)) }
        let subscription = try row.string(14).map { id in
            ContactSubscription(id: id, status: try row.requiredString(15, column: "contacts.subscription_status"),
                                priceID: row.string(16), productID: row.string(17),
                                tier: row.string(18), currentPeriodEnd: optionalInt(19))
        }
        return Contact(id: row.int(0), email: try row.requiredString(1, column: "contacts.email"), firstSeenAt: row.int(2),
                       lastEngagementAt: optionalInt(3), counts: counts, interestStatus: row.string(11),
                       paymentStatus: try row.decode(PaymentStatus.self, 12, column: "contacts.payment_status"),
                       engagement: try row.decode(EngagementLevel.self, 13, column: "contacts.engagement"),
                       subscription: subscription,
                       tier: row.string(20), productInterest: row.string(21), doNotContact: row.string(22),
                       firstCampaign: row.string(23), lastCampaign: row.string(24), updatedAt: row.int(25))
    }

    /// Fills in the contact's campaigns with their lead ids (empty while none was seen), customer ids (in link order), revenue per
    /// currency, current segments, registrations and lead fields.
    private func complete(_ contact: inout Contact) throws {
        var leads: [String: String] = [:]
        _ = try rows("SELECT campaign_id, lead_id FROM contact_leads WHERE contact_id = ?",
                     contact.id) { row in
            // A NULL lead id is a campaign whose lead id was not seen yet: empty, as documented on `Contact.leads`.
            leads[try row.requiredString(0, column: "contact_leads.campaign_id")] = row.string(1) ?? ""
        }
        contact.leads = leads
        contact.stripeCustomerIDs = try rows(
            "SELECT customer_id FROM contact_customers WHERE contact_id = ? ORDER BY rowid", contact.id) {
            try $0.requiredString(0, column: "contact_customers.customer_id")
        }
        var revenue: [String: Int64] = [:]
        var overflowed: [String] = []
        // Amounts are stored as received: summed in two halves (SQLite's sum() fails on overflow), combined checked.
        _ = try rows("SELECT currency, \(MoneySum.sqlParts(of: "amount")) FROM contact_payments WHERE contact_id = ? GROUP BY currency",
                     contact.id) { row in
            let currency = try row.requiredString(0, column: "contact_payments.currency")
            if let total = MoneySum.combine(high: row.int(1), low: row.int(2)) { revenue[currency] = total } else { overflowed.append(currency) }
        }
        contact.revenue = revenue
        contact.revenueOverflowed = overflowed.sorted()
        contact.segments = try rows(
            "SELECT segment FROM contact_segments WHERE contact_id = ? AND member = 1 ORDER BY segment", contact.id) {
            try $0.requiredString(0, column: "contact_segments.segment")
        }
        contact.registeredFor = try rows(
            "SELECT product FROM contact_registrations WHERE contact_id = ? ORDER BY product", contact.id) {
            try $0.requiredString(0, column: "contact_registrations.product")
        }
        var leadFields: [String: String] = [:]
        _ = try rows("SELECT name, value FROM contact_lead_fields WHERE contact_id = ?", contact.id) { row in
            leadFields[try row.requiredString(0, column: "contact_lead_fields.name")] =
                try row.requiredString(1, column: "contact_lead_fields.value")
        }
        contact.leadFields = leadFields
    }
}
