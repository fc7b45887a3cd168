import Foundation
import HookyardFoundation
import SQLite
import Store

/// `ContactStorage` on SQLite. The contacts: one record per normalised email, updated from observations of stored events, with engagement,
/// payment status and segment membership derived from what was observed, the loop guard workflows consult, and the
/// reading, export and erasure operations of the CLI.
///
/// Every call that writes is one transaction (`BEGIN IMMEDIATE` under the process's `WriteLock`): a crash leaves
/// each contact either before or after a whole observation, never half-way. Applying an observation is idempotent
/// per event (`contact_events` records it in the same transaction), so a worker that crashed after applying and
/// retries the event changes nothing twice. Contact state is derived from the stored events, which `SQLiteEventWriter`
/// commits durably; a contact update lost to a power cut is re-applied when the event's job runs again.
///
/// Not thread-safe: one `SQLiteContactStore` (one SQLite connection) per worker thread or CLI command. Statements used
/// on the hot path are compiled once per connection and reused. Every SQL statement about contacts is in this file and
/// its `SQLiteContactStore+…` extensions (and `SegmentCompiler`, which writes segments' SQL for them).
///
/// SQLite-specific SQL a second engine must translate: upserts (`ON CONFLICT … DO UPDATE/DO NOTHING`, `excluded.`),
/// `RETURNING`, the two-argument scalar `max(a, b)` (PostgreSQL's `GREATEST`), `total()`, id lists bound as one JSON
/// array and read with `json_each` (erasure), `json_valid`/`json_type`/`json_extract` and `group_concat` (timeline,
/// export), `rowid` (address search, pruning cursor, customer order), the catalog functions `pragma_table_info`,
/// `pragma_index_list`, `pragma_index_info` and `sqlite_schema` (address search walks every table), and in erasure
/// `PRAGMA secure_delete`, `VACUUM` and a truncating WAL checkpoint.
public final class SQLiteContactStore: ContactStorage {
    /// The connection this store uses; readers made from the store (a deliverability reader) share it.
    public let database: SQLiteDatabase
    /// Whether `close()` closes `database` (`false` when it was lent by the caller).
    private let ownsConnection: Bool
    /// The last segment list evaluated and its combined SQL (the worker passes the same list on every apply).
    var segmentSQLCache: (segments: [SegmentQuery], sql: String)?
    /// Where the next `prunePayloads` call continues scanning (row id); 0 starts over.
    var pruneCursor: Int64 = 0
    let decoder = JSONDecoder()
    let encoder = JSONEncoder()

    /// Opens an existing database (created by `SQLiteEventWriter`) and migrates it if needed.
    /// - Parameter durableCommits: `true` (the default, for the CLI): each change is fsynced before the call
    ///   returns. Workers pass `false` (`synchronous=NORMAL`): a commit survives a crash of the process, and after a
    ///   power loss the last few contact updates may be rolled back. Contact state is derived from events that
    ///   `SQLiteEventWriter` stores durably; a rolled-back update is applied again when the event's job runs again (the
    ///   job's own completion is rolled back with it).
    /// - Throws: `StoreError.missingDatabase`, `StoreError.newerSchema`, or SQLite's error.
    public init(path: String, durableCommits: Bool = true) throws {
        database = try StoreConnection.openExisting(path: path, durableCommits: durableCommits)
        ownsConnection = true
    }

    /// A store on an existing connection, shared with other storage on the same thread (a worker's job queue and
    /// workflow records). The connection must already be open on a migrated database (`StoreConnection.openExisting`);
    /// its `synchronous` setting decides durability as in `init(path:durableCommits:)`. It stays the caller's: `close()`
    /// leaves it open.
    /// - Important: the store and everything else using `database` must stay on one thread at a time.
    public init(database: SQLiteDatabase) {
        self.database = database
        ownsConnection = false
    }

    /// Closes the connection when this store opened it (its cached statements go with it); later calls throw. On a
    /// lent connection it does nothing: the statements stay cached on the connection for its other users.
    /// Safe to call twice.
    public func close() {
        if ownsConnection { database.close() }
    }

    // MARK: Statements

    /// The statement for `sql`, compiled once per connection (`cachedStatement(sql:)`); reset and unbound.
    private func statement(_ sql: String) throws -> SQLiteStatement { try database.cachedStatement(sql: sql) }

    /// Runs `sql` (which returns no rows, or rows nobody reads) with `arguments` bound in order from `?1`.
    /// - Returns: the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ arguments: any SQLBindable...) throws -> Int {
        try run(sql, arguments: arguments)
    }

    @discardableResult
    func run(_ sql: String, arguments: [any SQLBindable]) throws -> Int {
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        while try statement.step() {}
        return database.changes
    }

    /// Every row of `sql`, mapped by `row`.
    func rows<R>(_ sql: String, _ arguments: any SQLBindable..., row: (SQLiteStatement) throws -> R) throws -> [R] {
        try rows(sql, arguments: arguments, row: row)
    }

    func rows<R>(_ sql: String, arguments: [any SQLBindable], row: (SQLiteStatement) throws -> R) throws -> [R] {
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        var result: [R] = []
        while try statement.step() { result.append(try row(statement)) }
        return result
    }

    /// The first row of `sql`, mapped by `row`, or `nil` when there is none.
    func firstRow<R>(_ sql: String, _ arguments: any SQLBindable..., row: (SQLiteStatement) throws -> R) throws -> R? {
        try firstRow(sql, arguments: arguments, row: row)
    }

    func firstRow<R>(_ sql: String, arguments: [any SQLBindable], row: (SQLiteStatement) throws -> R) throws -> R? {
        let statement = try statement(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        guard try statement.step() else { return nil }
        return try row(statement)
    }

    /// Compiles `sql` without keeping it, to tell which of several queries a failed compilation came from.
    func compiles(_ sql: String) -> String? {
        do {
            _ = try database.prepare(sql)
            return nil
        } catch {
            return error.message
        }
    }

    static func normalisedEmail(_ email: String?) -> String? {
        EmailAddress.normalizedOrNil(email)
    }

    // MARK: Updating

    /// Applies what one stored event says about one person, in one transaction, and returns what changed.
    ///
    /// Idempotent per `observation.eventID`: an event applied before (or kept pending) changes nothing and returns
    /// `alreadyApplied` with the segment transitions recorded for it. The contact is the one the Stripe customer id
    /// is linked to, else the one with the (normalised) email, created if missing. An event naming only an unlinked
    /// customer id is kept pending and applied when that customer is linked (by a later event naming both, or by
    /// `linkCustomer`); an event naming no one is only recorded as applied. Every comparison with stored state uses
    /// `occurredAt`, so events may arrive in any order: counts add up, the latest interest, campaign and
    /// subscription state win (see `applySubscription`), refunds keep the largest cumulative amount. Engagement,
    /// payment status, tier and segment membership are recomputed at `now`; each segment entered or left is recorded
    /// (queued, so the caller starts its rules) and returned.
    /// - Complexity: a dozen indexed statements plus one evaluating every segment for this contact.
    /// - Throws: `SQLiteError` (nothing is written), or `ContactStorageError` for a segment that cannot be evaluated
    ///   or a pending observation that cannot be read.
    public func apply(_ observation: ContactObservation, policy: EngagementPolicy, segments: [SegmentQuery],
                      now: Int64) throws -> ContactChange {
        try database.transaction {
            if let earlier = try earlierApplication(of: observation.eventID) { return earlier }
            let email = Self.normalisedEmail(observation.email)
            let contactID: Int64
            var created = false
            if let customer = observation.stripeCustomerID, let linked = try contactLinked(toCustomer: customer) {
                contactID = linked
            } else if let email {
                let found = try findOrCreateContact(email: email, firstSeenAt: observation.occurredAt, now: now)
                contactID = found.id
                created = found.created
            } else if let customer = observation.stripeCustomerID {
                try keepPending(observation, customerID: customer, now: now)
                return ContactChange(contactID: nil, email: nil, alreadyApplied: false, created: false, pending: true,
                                     transitions: [])
            } else {
                try recordApplied(eventID: observation.eventID, contactID: nil, now: now)
                return ContactChange(contactID: nil, email: nil, alreadyApplied: false, created: false, pending: false,
                                     transitions: [])
            }
            var transitions: [SegmentTransition] = []
            if let customer = observation.stripeCustomerID, email != nil, try link(customerID: customer, to: contactID) {
                transitions += try applyPending(customerID: customer, to: contactID, policy: policy, segments: segments,
                                                now: now)
            }
            try recordApplied(eventID: observation.eventID, contactID: contactID, now: now)
            try applyEffects(of: observation, to: contactID)
            let contactEmail = try updateDerived(contactID: contactID, policy: policy, now: now)
            transitions += try updateSegments(contactID: contactID, email: contactEmail, segments: segments, now: now,
                                              queued: true, cause: { observation.eventID })
            return ContactChange(contactID: contactID, email: contactEmail, alreadyApplied: false, created: created,
                                 pending: false, transitions: transitions)
        }
    }

    /// Links a Stripe customer a workflow found or created for `email` to that contact (created if missing, first
    /// seen `now`), applies the observations that waited for this customer (oldest first), and recomputes the
    /// contact's derived state and segments, in one transaction.
    ///
    /// Transitions caused by a pending observation carry its event id; others carry `eventID` (the event whose
    /// workflow made the link; it is not recorded as applied). Idempotent: linking again applies nothing new and
    /// returns `alreadyApplied: true`. A customer already linked to another contact stays with it.
    /// - Throws: `SQLiteError` (nothing is written) or `ContactStorageError` (`emptyEmail` for a blank address).
    public func linkCustomer(email: String, customerID: String, eventID: Int64, policy: EngagementPolicy,
                             segments: [SegmentQuery], now: Int64) throws -> ContactChange {
        try database.transaction {
            let normalised = ContactObservation.normalise(email: email)
            let found = try findOrCreateContact(email: normalised, firstSeenAt: now, now: now)
            let linkedBefore = try contactLinked(toCustomer: customerID)
            var transitions: [SegmentTransition] = []
            if try link(customerID: customerID, to: found.id) {
                transitions += try applyPending(customerID: customerID, to: found.id, policy: policy, segments: segments,
                                                now: now)
            }
            let contactEmail = try updateDerived(contactID: found.id, policy: policy, now: now)
            // Unqueued, as for pending observations: a rerun of the step that linked finds nothing new to return.
            transitions += try updateSegments(contactID: found.id, email: contactEmail, segments: segments, now: now,
                                              queued: false, cause: { eventID })
            return ContactChange(contactID: found.id, email: contactEmail, alreadyApplied: linkedBefore == found.id,
                                 created: found.created, pending: false, transitions: transitions)
        }
    }

    /// Records that `email` is lead `leadID` in `campaignID` (creating the contact if missing, first seen `now`),
    /// replacing a lead id stored before, and re-evaluates the contact's segments (campaign membership may have
    /// changed), in one transaction. Its segment changes carry `eventID` (the event whose workflow added or moved
    /// the lead) and are left unqueued for the maintenance pass as well, like those of `linkCustomer`.
    /// - Returns: the segment changes.
    /// - Throws: `ContactStorageError.emptyEmail` for a blank address, or `SQLiteError`.
    @discardableResult
    public func linkLead(email: String, campaignID: String, leadID: String, eventID: Int64, segments: [SegmentQuery],
                         now: Int64) throws -> [SegmentTransition] {
        try database.transaction {
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: now,
                                                  now: now)
            try run("""
                INSERT INTO contact_leads (contact_id, campaign_id, lead_id, first_seen_at) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (contact_id, campaign_id) DO UPDATE SET lead_id = excluded.lead_id
                """, contact.id, campaignID, leadID, now)
            let email = try firstRow("SELECT email FROM contacts WHERE id = ?", contact.id) {
                try $0.requiredString(0, column: "contacts.email")
            } ?? ""
            return try updateSegments(contactID: contact.id, email: email, segments: segments, now: now, queued: false,
                                      cause: { eventID })
        }
    }

    /// Forgets the contact's lead in `campaignID` (it was removed from that campaign) and re-evaluates segments.
    /// Nothing happens for an unknown address or a campaign the contact has no lead in.
    /// - Returns: the segment changes.
    @discardableResult
    public func unlinkLead(email: String, campaignID: String, eventID: Int64, segments: [SegmentQuery], now: Int64) throws -> [SegmentTransition] {
        try database.transaction {
            guard let contactID = try contactID(email: ContactObservation.normalise(email: email)) else { return [] }
            guard try run("DELETE FROM contact_leads WHERE contact_id = ? AND campaign_id = ?", contactID, campaignID) > 0 else { return [] }
            let email = try firstRow("SELECT email FROM contacts WHERE id = ?", contactID) {
                try $0.requiredString(0, column: "contacts.email")
            } ?? ""
            return try updateSegments(contactID: contactID, email: email, segments: segments, now: now, queued: false,
                                      cause: { eventID })
        }
    }

    // MARK: Steps of an update (inside a transaction)

    /// What an event already applied (or pending) did, or `nil` when it is new.
    private func earlierApplication(of eventID: Int64) throws -> ContactChange? {
        let earlier = try firstRow("""
            SELECT 0, ce.contact_id, c.email FROM contact_events ce LEFT JOIN contacts c ON c.id = ce.contact_id
            WHERE ce.event_id = ?1
            UNION ALL
            SELECT 1, NULL, NULL FROM contact_pending WHERE event_id = ?1
            """, eventID) { row in (pending: row.int(0) == 1, contactID: row.isNull(1) ? nil : row.int(1), email: row.string(2)) }
        guard let earlier else { return nil }
        if earlier.pending {
            return ContactChange(contactID: nil, email: nil, alreadyApplied: true, created: false, pending: true,
                                 transitions: [])
        }
        let transitions = try rows("""
            SELECT t.contact_id, c.email, t.segment, t.entered, t.entry, t.event_id FROM segment_transitions t
            JOIN contacts c ON c.id = t.contact_id WHERE t.event_id = ? ORDER BY t.id
            """, eventID, row: Self.transition)
        return ContactChange(contactID: earlier.contactID, email: earlier.email, alreadyApplied: true, created: false,
                             pending: false, transitions: transitions)
    }

    /// Maps columns 0-5: `contact_id, email, segment, entered, entry, event_id` of a transition.
    static func transition(_ row: SQLiteStatement) throws -> SegmentTransition {
        SegmentTransition(contactID: row.int(0), email: try row.requiredString(1, column: "contacts.email"),
                          segment: try row.requiredString(2, column: "segment_transitions.segment"),
                          entered: row.int(3) != 0, entry: Int(row.int(4)), eventID: row.int(5))
    }

    private func contactLinked(toCustomer customerID: String) throws -> Int64? {
        try firstRow("SELECT contact_id FROM contact_customers WHERE customer_id = ?", customerID) { $0.int(0) }
    }

    /// The contact with this (normalised) email, created with `firstSeenAt` when missing.
    /// - Throws: `ContactStorageError.emptyEmail` for an empty address.
    func findOrCreateContact(email: String, firstSeenAt: Int64, now: Int64) throws -> (id: Int64, created: Bool) {
        guard !email.isEmpty else { throw ContactStorageError.emptyEmail }
        if let id = try contactID(email: email) { return (id, false) }
        let id = try firstRow("""
            INSERT INTO contacts (email, first_seen_at, updated_at) VALUES (?, ?, ?) RETURNING id
            """, email, firstSeenAt, now) { $0.int(0) }
        return (id ?? database.lastInsertRowID, true)
    }

    /// The id of the contact with this (normalised) email, if there is one: one index lookup.
    public func contactID(email: String) throws -> Int64? {
        try firstRow("SELECT id FROM contacts WHERE email = ?", email) { $0.int(0) }
    }

    /// The email of the contact a Stripe customer id is linked to, if any: one index lookup.
    public func email(ofCustomer customerID: String) throws -> String? {
        try firstRow("""
            SELECT c.email FROM contact_customers k JOIN contacts c ON c.id = k.contact_id WHERE k.customer_id = ?
            """, customerID) { try $0.requiredString(0, column: "contacts.email") }
    }

    /// - Returns: `true` when the customer was not linked to any contact before.
    private func link(customerID: String, to contactID: Int64) throws -> Bool {
        try run("""
            INSERT INTO contact_customers (customer_id, contact_id) VALUES (?, ?) ON CONFLICT (customer_id) DO NOTHING
            """, customerID, contactID) == 1
    }

    private func recordApplied(eventID: Int64, contactID: Int64?, now: Int64) throws {
        try run("INSERT INTO contact_events (event_id, contact_id, applied_at) VALUES (?, ?, ?)", eventID, contactID, now)
    }

    private func keepPending(_ observation: ContactObservation, customerID: String, now: Int64) throws {
        let json = String(decoding: try encoder.encode(observation), as: UTF8.self)
        try run("""
            INSERT INTO contact_pending (event_id, customer_id, observation, created_at) VALUES (?, ?, ?, ?)
            """, observation.eventID, customerID, json, now)
    }

    /// Applies (oldest first) and deletes the observations that waited for `customerID`, now linked to `contactID`;
    /// each one's segment transitions carry its own event id.
    private func applyPending(customerID: String, to contactID: Int64, policy: EngagementPolicy,
                              segments: [SegmentQuery], now: Int64) throws -> [SegmentTransition] {
        let stored = try rows("SELECT event_id, observation FROM contact_pending WHERE customer_id = ?", customerID) {
            (eventID: $0.int(0), json: try $0.requiredString(1, column: "contact_pending.observation"))
        }
        guard !stored.isEmpty else { return [] }
        var observations: [ContactObservation] = []
        for (eventID, json) in stored {
            do {
                var observation = try decoder.decode(ContactObservation.self, from: Data(json.utf8))
                observation.eventID = eventID
                observations.append(observation)
            } catch {
                throw ContactStorageError.unreadablePendingObservation(eventID: eventID, message: "\(error)")
            }
        }
        observations.sort { ($0.occurredAt, $0.eventID) < ($1.occurredAt, $1.eventID) }
        try run("DELETE FROM contact_pending WHERE customer_id = ?", customerID)
        var transitions: [SegmentTransition] = []
        for observation in observations {
            try recordApplied(eventID: observation.eventID, contactID: contactID, now: now)
            try applyEffects(of: observation, to: contactID)
            let email = try updateDerived(contactID: contactID, policy: policy, now: now)
            // Unqueued: the caller starts their rules, and the maintenance pass does it again (harmlessly: flow keys
            // are unique) should the caller crash before, since applying its own event again will not return these.
            transitions += try updateSegments(contactID: contactID, email: email, segments: segments, now: now,
                                              queued: false, cause: { observation.eventID })
        }
        return transitions
    }

    /// Records the observation's lead, activity, interest, lead fields, payment and subscription on the contact (not
    /// the derived columns).
    private func applyEffects(of observation: ContactObservation, to contactID: Int64) throws {
        let at = observation.occurredAt
        if observation.source == .instantly, let campaign = observation.campaignID {
            try run("""
                INSERT INTO contact_leads (contact_id, campaign_id, lead_id, first_seen_at) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (contact_id, campaign_id) DO UPDATE SET lead_id = coalesce(lead_id, excluded.lead_id),
                    first_seen_at = min(first_seen_at, excluded.first_seen_at)
                """, contactID, campaign, observation.leadID, at)
        }
        if observation.source == .instantly, let campaign = observation.campaignID, let name = observation.campaignName {
            // The latest name by event time, for reports.
            try run("""
                INSERT INTO campaigns (id, name, updated_at) VALUES (?1, ?2, ?3)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
                WHERE excluded.updated_at >= campaigns.updated_at
                """, campaign, name, at)
        }
        if let activity = observation.activity {
            try run("""
                INSERT INTO contact_activity (contact_id, event_id, kind, campaign_id, occurred_at, account) VALUES (?, ?, ?, ?, ?, ?)
                """, contactID, observation.eventID, activity.rawValue, observation.campaignID, at, observation.account)
        }
        let engaging = ContactRows.isEngaging(observation)
        let doNotContact = ContactRows.doNotContactReason(observation)
        let campaignTouch = ContactRows.campaignTouch(observation)
        // Counters, first seen, engagement time, do-not-contact, first and last campaign, interest and product
        // interest in one statement; each "latest wins" column changes only for a time at or after the stored one.
        try run("""
            UPDATE contacts SET
                sent = sent + (?2 IS 'sent'), opened = opened + (?2 IS 'opened'), clicked = clicked + (?2 IS 'clicked'),
                replied = replied + (?2 IS 'replied'), bounced = bounced + (?2 IS 'bounced'),
                unsubscribed = unsubscribed + (?2 IS 'unsubscribed'),
                meeting_booked = meeting_booked + (?2 IS 'meeting_booked'),
                first_seen_at = min(first_seen_at, ?1),
                last_engagement_at = CASE WHEN ?3 THEN max(coalesce(last_engagement_at, ?1), ?1)
                                     ELSE last_engagement_at END,
                do_not_contact = coalesce(do_not_contact, ?4),
                first_campaign = CASE WHEN ?5 IS NOT NULL AND (first_campaign_at IS NULL OR ?1 < first_campaign_at)
                                 THEN ?5 ELSE first_campaign END,
                first_campaign_at = CASE WHEN ?5 IS NOT NULL AND (first_campaign_at IS NULL OR ?1 < first_campaign_at)
                                    THEN ?1 ELSE first_campaign_at END,
                last_campaign = CASE WHEN ?5 IS NOT NULL AND (last_campaign_at IS NULL OR ?1 >= last_campaign_at)
                                THEN ?5 ELSE last_campaign END,
                last_campaign_at = CASE WHEN ?5 IS NOT NULL AND (last_campaign_at IS NULL OR ?1 >= last_campaign_at)
                                   THEN ?1 ELSE last_campaign_at END,
                interest_status = CASE WHEN ?6 IS NOT NULL AND (interest_at IS NULL OR ?1 >= interest_at)
                                  THEN ?6 ELSE interest_status END,
                interest_at = CASE WHEN ?6 IS NOT NULL AND (interest_at IS NULL OR ?1 >= interest_at)
                              THEN ?1 ELSE interest_at END,
                product_interest = CASE WHEN ?7 IS NOT NULL AND (product_interest_at IS NULL OR ?1 >= product_interest_at)
                                   THEN ?7 ELSE product_interest END,
                product_interest_at = CASE WHEN ?7 IS NOT NULL AND (product_interest_at IS NULL OR ?1 >= product_interest_at)
                                      THEN ?1 ELSE product_interest_at END
            WHERE id = ?8
            """, at, observation.activity?.rawValue, engaging, doNotContact, campaignTouch, observation.interestStatus,
            observation.productInterest, contactID)
        for (name, value) in (observation.leadFields ?? [:]).sorted(by: { $0.key < $1.key }) {
            // Latest wins per field, by the event's own time; an older event changes nothing.
            try run("""
                INSERT INTO contact_lead_fields (contact_id, name, value, at, event_id) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT (contact_id, name) DO UPDATE SET value = excluded.value, at = excluded.at,
                    event_id = excluded.event_id
                WHERE excluded.at >= contact_lead_fields.at
                """, contactID, name, value, at, observation.eventID)
        }
        if let payment = observation.payment {
            try record(payment, eventID: observation.eventID, occurredAt: at, contactID: contactID)
        }
        if let subscription = observation.subscription {
            try applySubscription(subscription, occurredAt: at, contactID: contactID)
        }
    }

    /// Records a payment or invoice once per reference, crediting the contact's first campaign and the last
    /// campaign that touched them before it (or the one its metadata names); a refund row holds the charge's largest
    /// cumulative refund seen, negated, whatever order the refund events arrive in.
    private func record(_ payment: ObservedPayment, eventID: Int64, occurredAt: Int64, contactID: Int64) throws {
        let insert = """
            INSERT INTO contact_payments (contact_id, event_id, reference, kind, amount, currency, occurred_at, price_id,
                product_id, tier, first_campaign, last_campaign, link_campaign, payment_link, link_rule)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, (SELECT first_campaign FROM contacts WHERE id = ?1),
                coalesce(?11, (SELECT campaign_id FROM contact_activity WHERE contact_id = ?1 AND occurred_at <= ?7
                               AND campaign_id IS NOT NULL ORDER BY occurred_at DESC, id DESC LIMIT 1)), ?11, ?12, ?13)
            """
        let onConflict = payment.kind == .refund ? """
            ON CONFLICT (kind, reference) DO UPDATE SET
                occurred_at = CASE WHEN excluded.amount < amount THEN excluded.occurred_at ELSE occurred_at END,
                event_id = CASE WHEN excluded.amount < amount THEN excluded.event_id ELSE event_id END,
                amount = min(amount, excluded.amount)
            """ : "ON CONFLICT (kind, reference) DO NOTHING"
        try run(insert + "\n" + onConflict, contactID, eventID, payment.reference, payment.kind.rawValue,
                payment.kind == .refund ? Self.negated(payment.amount) : payment.amount, payment.currency, occurredAt,
                payment.priceID, payment.productID, payment.tier, payment.campaignID, payment.paymentLink, payment.rule)
    }

    /// A refund's amount as the negative row it is stored as; the one `Int64` without a negation (a refund of
    /// -9223372036854775808, nonsense from outside) clamps to `Int64.max` rather than trap, and the report's
    /// plausibility check (`MoneySum`) then leaves it out with a note.
    static func negated(_ amount: Int64) -> Int64 {
        let (negative, overflow) = Int64(0).subtractingReportingOverflow(amount)
        return overflow ? .max : negative
    }

    /// Stores the subscription state unless the stored one is newer: an older event, or one of the same time with a
    /// lower-ranked status, changes nothing; a subscription that ended never comes back to life; the end of a
    /// different subscription does not replace a live one (a customer who switched plans stays a customer). For the
    /// same subscription, fields the event leaves out keep their stored values.
    private func applySubscription(_ subscription: ObservedSubscription, occurredAt: Int64, contactID: Int64) throws {
        let stored = try firstRow("""
            SELECT subscription_id, subscription_status, subscription_price, subscription_product, subscription_tier,
                subscription_period_end, subscription_at FROM contacts WHERE id = ?
            """, contactID) { row in
            ContactRows.StoredSubscription(
                id: row.string(0), status: row.string(1) ?? "", price: row.string(2), product: row.string(3),
                tier: row.string(4), periodEnd: row.isNull(5) ? nil : row.int(5), at: row.isNull(6) ? nil : row.int(6))
        }
        guard let stored, let write = ContactRows.subscriptionWrite(subscription, occurredAt: occurredAt, over: stored) else {
            return
        }
        try run("""
            UPDATE contacts SET subscription_id = ?2, subscription_status = ?3, subscription_price = ?4,
                subscription_product = ?5, subscription_tier = ?6, subscription_period_end = ?7, subscription_at = ?8
            WHERE id = ?1
            """, contactID, write.id, write.status, write.price, write.product, write.tier, write.periodEnd, occurredAt)
    }

    /// Recomputes payment status, tier, engagement and `updated_at`. - Returns: the contact's email.
    func updateDerived(contactID: Int64, policy: EngagementPolicy, now: Int64) throws -> String {
        let level = try engagement(contactID: contactID, policy: policy, now: now)
        let email = try firstRow("""
            UPDATE contacts SET
                payment_status = CASE
                    WHEN subscription_status IN ('active', 'trialing', 'paused') THEN 'customer'
                    WHEN subscription_status IN ('past_due', 'unpaid') THEN 'past_due'
                    WHEN subscription_status IN ('canceled', 'incomplete_expired') THEN 'canceled'
                    WHEN EXISTS (SELECT 1 FROM contact_payments WHERE contact_id = ?1 AND kind = 'payment')
                        OR (SELECT total(amount) FROM contact_payments
                            WHERE contact_id = ?1 AND kind IN ('payment', 'invoice')) > 0 THEN 'customer'
                    ELSE 'prospect' END,
                tier = coalesce(subscription_tier, (SELECT tier FROM contact_payments
                    WHERE contact_id = ?1 AND kind <> 'refund' AND tier IS NOT NULL
                    ORDER BY occurred_at DESC, id DESC LIMIT 1)),
                engagement = ?2, updated_at = ?3
            WHERE id = ?1 RETURNING email
            """, contactID, level.rawValue, now) { try $0.requiredString(0, column: "contacts.email") }
        return email ?? ""
    }

    /// The contact's engagement over the policy's window ending at `now`.
    func engagement(contactID: Int64, policy: EngagementPolicy, now: Int64) throws -> EngagementLevel {
        var counts: [ContactActivity: Int] = [:]
        _ = try rows("""
            SELECT kind, count(*) FROM contact_activity WHERE contact_id = ? AND occurred_at >= ? GROUP BY kind
            """, contactID, now - policy.windowMilliseconds) { row in
            counts[try row.decode(ContactActivity.self, 0, column: "contact_activity.kind")] = Int(row.int(1))
        }
        return policy.level(counts: counts)
    }
}

// MARK: - Row decoding

/// A value read back from a row that this build cannot mean: text that is no case of its enum, or NULL in a column
/// that is never NULL. Reading stops with this error, naming the column and the value, instead of guessing a default.
/// A value type; thread-safe.
/// - Note: the contact store's own helper until the SQLite module's shared throwing decode replaces it.
struct ImpossibleStoredValue: Error, CustomStringConvertible, Equatable {
    /// `table.column`.
    let column: String
    /// The stored text; `nil` for NULL.
    let value: String?

    var description: String {
        "\(column) holds \(value.map { "'\($0)'" } ?? "NULL"), which this build cannot read"
    }
}

extension SQLiteStatement {
    /// The text of result column `index`, which is never NULL.
    /// - Parameter column: `table.column`, for the error.
    /// - Throws: `ImpossibleStoredValue` when it is NULL.
    func requiredString(_ index: Int32, column: String) throws(ImpossibleStoredValue) -> String {
        guard let text = string(index) else { throw ImpossibleStoredValue(column: column, value: nil) }
        return text
    }

    /// The case of `Value` whose raw value is the text of result column `index`.
    /// - Parameter column: `table.column`, for the error.
    /// - Throws: `ImpossibleStoredValue` when the text is NULL or no case's raw value.
    func decode<Value: RawRepresentable>(_ type: Value.Type, _ index: Int32,
                                         column: String) throws(ImpossibleStoredValue) -> Value where Value.RawValue == String {
        let text = string(index)
        guard let text, let value = Value(rawValue: text) else { throw ImpossibleStoredValue(column: column, value: text) }
        return value
    }
}

// MARK: - Binding

/// A Swift value a `SQLiteContactStore` statement binds as a parameter.
protocol SQLBindable {
    func bind(to statement: SQLiteStatement, at index: Int32) throws
}

extension Int64: SQLBindable {
    func bind(to statement: SQLiteStatement, at index: Int32) throws { try statement.bind(index, self) }
}

extension Int: SQLBindable {
    func bind(to statement: SQLiteStatement, at index: Int32) throws { try statement.bind(index, Int64(self)) }
}

extension Bool: SQLBindable {
    func bind(to statement: SQLiteStatement, at index: Int32) throws { try statement.bind(index, self ? 1 : 0 as Int64) }
}

extension String: SQLBindable {
    func bind(to statement: SQLiteStatement, at index: Int32) throws { try statement.bind(index, self) }
}

extension Optional: SQLBindable where Wrapped: SQLBindable {
    func bind(to statement: SQLiteStatement, at index: Int32) throws {
        switch self {
        case .some(let value): try value.bind(to: statement, at: index)
        case .none: try statement.bind(index, nil as String?)
        }
    }
}

extension SQLiteStatement {
    /// Binds `arguments` to parameters 1, 2, ... in order.
    func bind(_ arguments: [any SQLBindable]) throws {
        for (offset, argument) in arguments.enumerated() { try argument.bind(to: self, at: Int32(offset + 1)) }
    }
}
