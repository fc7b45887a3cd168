import Foundation
import HookyardFoundation
import PostgreSQL
import Store

/// `ContactStorage` on PostgreSQL: the same contacts, segments, loop guard, registrations, reading, export, erasure
/// and pruning as `SQLiteContactStore`, call for call, on a database several nodes share.
///
/// Every call that writes is one transaction (`BEGIN` … checked `COMMIT`, READ COMMITTED): a crash leaves each contact
/// either before or after a whole call. Applying an observation is idempotent per event (`contact_events`).
///
/// Concurrency between nodes (several connections), per read-modify-write:
/// - Applying an event: a transaction-level advisory lock keyed by the event id (`lockEvent`) makes two nodes
///   applying the same event take turns, so the second finds the first's `contact_events` row and changes nothing.
/// - A Stripe customer (apply naming one, `linkCustomer`): an advisory lock keyed by the customer id, taken before
///   the contact's row, so an observation kept pending for an unlinked customer and the link that applies pending
///   observations cannot miss each other, and two nodes cannot both apply one pending observation.
/// - A contact (every change to one person: counters, subscription, leads, segments and their transitions, the loop
///   guard, registrations): `findOrCreateContact` inserts with `ON CONFLICT (email) DO NOTHING` (two nodes creating
///   the same new address get one contact) and then holds the contact's row with `SELECT … FOR UPDATE` until the
///   commit, so each person's changes are applied one transaction at a time and none is lost.
/// - Per-rule caps (`admitRuleRun` with `maxTotalPerDay`): an advisory lock keyed by the rule; a flow is recorded
///   with `ON CONFLICT (flow) DO NOTHING`. Registrations: an advisory lock keyed by the product (seat counting in
///   order), and `ON CONFLICT DO NOTHING` on the reference and (contact, product).
/// - Payments, campaigns, lead fields, own writes, holdbacks: `INSERT … ON CONFLICT` on their unique keys.
/// Locks are always taken in the order event, customer, product, contact row(s) by id, rule, so two transactions
/// never wait on each other in a cycle.
///
/// Not thread-safe: one `PostgreSQLContactStore` (one connection) per worker thread or CLI command. Statements are
/// prepared once per connection (`PostgreSQLConnection.query`), except those whose text varies (`queryOnce`).
public final class PostgreSQLContactStore: ContactStorage {
    /// The connection this store uses.
    public let connection: PostgreSQLConnection
    /// Whether `close()` closes `connection` (`false` when it was lent by the caller).
    private let ownsConnection: Bool
    /// The last segment list evaluated and its combined SQL (the worker passes the same list on every apply).
    var segmentSQLCache: (segments: [SegmentQuery], sql: String)?
    /// Queries already checked to compile on this connection (`checkCompiles`).
    var compiledQueries: [SegmentQuery] = []
    /// Where the next `prunePayloads` call continues scanning (event id); 0 starts over.
    var pruneCursor: Int64 = 0
    let decoder = JSONDecoder()
    let encoder = JSONEncoder()

    /// A store on an existing connection, open on a migrated database (`PostgreSQLStoreConnection.open`), shared
    /// with other storage of the same worker. It stays the caller's: `close()` leaves it open.
    public init(connection: PostgreSQLConnection) {
        self.connection = connection
        ownsConnection = false
    }

    /// Opens its own connection (`PostgreSQLStoreConnection.open`, which migrates the schema), closed by `close()`.
    /// - Parameter durableCommits: `false` commits with `synchronous_commit = off`, as workers' SQLite connections
    ///   use `synchronous=NORMAL`: contact state is re-derived from durably stored events.
    /// - Throws: `StoreError.newerSchema` or `PostgreSQLError`.
    public convenience init(url: String, password: String?, durableCommits: Bool = true) throws {
        let connection = try PostgreSQLStoreConnection.open(url: url, password: password,
                                                            applicationName: "hookyard-contacts",
                                                            durableCommits: durableCommits)
        self.init(connection: connection, owns: true)
    }

    private init(connection: PostgreSQLConnection, owns: Bool) {
        self.connection = connection
        ownsConnection = owns
    }

    /// Closes the connection when this store opened it; later calls throw. Safe to call twice.
    public func close() {
        if ownsConnection { connection.close() }
    }

    // MARK: Statements

    /// Runs `sql` (prepared once per connection) with `$1`, `$2`, … bound to `arguments`.
    /// - Returns: the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ arguments: any PostgreSQLEncodable...) throws -> Int {
        try connection.query(sql, arguments).changedRows
    }

    /// Every row of `sql`, mapped by `row`.
    func rows<R>(_ sql: String, _ arguments: any PostgreSQLEncodable..., row: (PostgreSQLRow) throws -> R) throws -> [R] {
        try rows(sql, arguments: arguments, row: row)
    }

    func rows<R>(_ sql: String, arguments: [any PostgreSQLEncodable], once: Bool = false,
                 row: (PostgreSQLRow) throws -> R) throws -> [R] {
        let result = once ? try connection.queryOnce(sql, arguments) : try connection.query(sql, arguments)
        return try result.rows.map(row)
    }

    /// The first row of `sql`, mapped by `row`, or `nil` when there is none.
    func firstRow<R>(_ sql: String, _ arguments: any PostgreSQLEncodable..., row: (PostgreSQLRow) throws -> R) throws -> R? {
        guard let first = try connection.query(sql, arguments).first else { return nil }
        return try row(first)
    }

    static func normalisedEmail(_ email: String?) -> String? {
        EmailAddress.normalizedOrNil(email)
    }

    // MARK: Locks (inside a transaction)

    /// PostgreSQL-specific: a transaction-level advisory lock on `key` in the contacts' own name space (hashed to
    /// 64 bits), released by the commit or rollback.
    func advisoryLock(_ key: String) throws {
        try run("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", "hookyard.contacts." + key)
    }

    /// Holds the contact's row until the commit. - Returns: whether the contact exists.
    @discardableResult
    func lockContact(_ id: Int64) throws -> Bool {
        try firstRow("SELECT id FROM contacts WHERE id = $1 FOR UPDATE", id) { _ in true } ?? false
    }

    // MARK: Updating

    /// Applies what one stored event says about one person, in one transaction, and returns what changed. The same
    /// contract as `SQLiteContactStore.apply(_:policy:segments:now:)`; see the type's comment for what protects it
    /// when two nodes apply events for the same person (or the same event) at once.
    public func apply(_ observation: ContactObservation, policy: EngagementPolicy, segments: [SegmentQuery],
                      now: Int64) throws -> ContactChange {
        try connection.transaction {
            try checkCompiles(segments)
            try advisoryLock("event:\(observation.eventID)")
            if let earlier = try earlierApplication(of: observation.eventID) { return earlier }
            let email = Self.normalisedEmail(observation.email)
            if let customer = observation.stripeCustomerID { try advisoryLock("customer:\(customer)") }
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

    /// Links a Stripe customer to the contact with `email` (created if missing) and applies the observations kept
    /// pending for it, as `SQLiteContactStore.linkCustomer`. Protected by the customer's advisory lock, then the
    /// contact's row lock.
    public func linkCustomer(email: String, customerID: String, eventID: Int64, policy: EngagementPolicy,
                             segments: [SegmentQuery], now: Int64) throws -> ContactChange {
        try connection.transaction {
            try checkCompiles(segments)
            let normalised = ContactObservation.normalise(email: email)
            guard !normalised.isEmpty else { throw ContactStorageError.emptyEmail }
            try advisoryLock("customer:\(customerID)")
            let found = try findOrCreateContact(email: normalised, firstSeenAt: now, now: now)
            // Read without a lock: this transaction holds the customer's lock, and holding a second contact's row here
            // could wait in a cycle with another link.
            let linkedBefore = try firstRow("SELECT contact_id FROM contact_customers WHERE customer_id = $1", customerID) {
                try $0.int(0)
            }
            var transitions: [SegmentTransition] = []
            if try link(customerID: customerID, to: found.id) {
                transitions += try applyPending(customerID: customerID, to: found.id, policy: policy, segments: segments,
                                                now: now)
            }
            let contactEmail = try updateDerived(contactID: found.id, policy: policy, now: now)
            transitions += try updateSegments(contactID: found.id, email: contactEmail, segments: segments, now: now,
                                              queued: false, cause: { eventID })
            return ContactChange(contactID: found.id, email: contactEmail, alreadyApplied: linkedBefore == found.id,
                                 created: found.created, pending: false, transitions: transitions)
        }
    }

    /// Records that `email` is lead `leadID` in `campaignID`, as `SQLiteContactStore.linkLead`, under the contact's
    /// row lock.
    @discardableResult
    public func linkLead(email: String, campaignID: String, leadID: String, eventID: Int64, segments: [SegmentQuery],
                         now: Int64) throws -> [SegmentTransition] {
        try connection.transaction {
            try checkCompiles(segments)
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: now,
                                                  now: now)
            try run("""
                INSERT INTO contact_leads (contact_id, campaign_id, lead_id, first_seen_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT (contact_id, campaign_id) DO UPDATE SET lead_id = excluded.lead_id
                """, contact.id, campaignID, leadID, now)
            let email = try contactEmail(contact.id)
            return try updateSegments(contactID: contact.id, email: email, segments: segments, now: now, queued: false,
                                      cause: { eventID })
        }
    }

    /// Forgets the contact's lead in `campaignID` and re-evaluates segments, as `SQLiteContactStore.unlinkLead`,
    /// under the contact's row lock.
    @discardableResult
    public func unlinkLead(email: String, campaignID: String, eventID: Int64, segments: [SegmentQuery],
                           now: Int64) throws -> [SegmentTransition] {
        try connection.transaction {
            try checkCompiles(segments)
            guard let contactID = try firstRow("SELECT id FROM contacts WHERE email = $1 FOR UPDATE",
                                               ContactObservation.normalise(email: email), row: { try $0.int(0) })
            else { return [] }
            guard try run("DELETE FROM contact_leads WHERE contact_id = $1 AND campaign_id = $2", contactID,
                          campaignID) > 0 else { return [] }
            let email = try contactEmail(contactID)
            return try updateSegments(contactID: contactID, email: email, segments: segments, now: now, queued: false,
                                      cause: { eventID })
        }
    }

    // MARK: Steps of an update (inside a transaction)

    /// The contact's email (the row exists: the caller holds it).
    func contactEmail(_ id: Int64) throws -> String {
        try firstRow("SELECT email FROM contacts WHERE id = $1", id) { try $0.string(0) } ?? ""
    }

    /// What an event already applied (or pending) did, or `nil` when it is new.
    private func earlierApplication(of eventID: Int64) throws -> ContactChange? {
        let earlier = try firstRow("""
            SELECT 0, ce.contact_id, c.email FROM contact_events ce LEFT JOIN contacts c ON c.id = ce.contact_id
            WHERE ce.event_id = $1
            UNION ALL
            SELECT 1, NULL, NULL FROM contact_pending WHERE event_id = $1
            """, eventID) { row in
            (pending: try row.int(0) == 1, contactID: try row.optionalInt(1), email: row.optionalString(2))
        }
        guard let earlier else { return nil }
        if earlier.pending {
            return ContactChange(contactID: nil, email: nil, alreadyApplied: true, created: false, pending: true,
                                 transitions: [])
        }
        let transitions = try rows("""
            SELECT t.contact_id, c.email, t.segment, t.entered, t.entry, t.event_id FROM segment_transitions t
            JOIN contacts c ON c.id = t.contact_id WHERE t.event_id = $1 ORDER BY t.id
            """, eventID, row: Self.transition)
        return ContactChange(contactID: earlier.contactID, email: earlier.email, alreadyApplied: true, created: false,
                             pending: false, transitions: transitions)
    }

    /// Maps columns 0-5: `contact_id, email, segment, entered, entry, event_id` of a transition.
    static func transition(_ row: PostgreSQLRow) throws -> SegmentTransition {
        SegmentTransition(contactID: try row.int(0), email: try row.string(1), segment: try row.string(2),
                          entered: try row.int(3) != 0, entry: Int(try row.int(4)), eventID: try row.int(5))
    }

    /// The contact the customer is linked to, its row held until the commit.
    private func contactLinked(toCustomer customerID: String) throws -> Int64? {
        try firstRow("""
            SELECT c.id FROM contact_customers k JOIN contacts c ON c.id = k.contact_id WHERE k.customer_id = $1
            FOR UPDATE OF c
            """, customerID) { try $0.int(0) }
    }

    /// The contact with this (normalised) email, created with `firstSeenAt` when missing, its row held until the
    /// commit. Two nodes creating the same address at once: `ON CONFLICT (email) DO NOTHING` makes the second wait
    /// for the first's commit and then find its row. An existing contact is looked up first, so no identity value is
    /// spent on it (ids match SQLite's for the same sequence of calls).
    /// - Throws: `ContactStorageError.emptyEmail` for an empty address.
    func findOrCreateContact(email: String, firstSeenAt: Int64, now: Int64) throws -> (id: Int64, created: Bool) {
        guard !email.isEmpty else { throw ContactStorageError.emptyEmail }
        let lookup = "SELECT id FROM contacts WHERE email = $1 FOR UPDATE"
        // Loops only when another node erased the contact between its insert and this lookup.
        while true {
            if let id = try firstRow(lookup, email, row: { try $0.int(0) }) { return (id, false) }
            if let id = try firstRow("""
                INSERT INTO contacts (email, first_seen_at, updated_at) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING
                RETURNING id
                """, email, firstSeenAt, now, row: { try $0.int(0) }) {
                return (id, true)
            }
        }
    }

    /// The id of the contact with this (normalised) email, if there is one: one index lookup.
    public func contactID(email: String) throws -> Int64? {
        try firstRow("SELECT id FROM contacts WHERE email = $1", email) { try $0.int(0) }
    }

    /// The email of the contact a Stripe customer id is linked to, if any: one index lookup.
    public func email(ofCustomer customerID: String) throws -> String? {
        try firstRow("""
            SELECT c.email FROM contact_customers k JOIN contacts c ON c.id = k.contact_id WHERE k.customer_id = $1
            """, customerID) { try $0.string(0) }
    }

    /// - Returns: `true` when the customer was not linked to any contact before (`ON CONFLICT DO NOTHING`).
    private func link(customerID: String, to contactID: Int64) throws -> Bool {
        try run("""
            INSERT INTO contact_customers (customer_id, contact_id) VALUES ($1, $2) ON CONFLICT (customer_id) DO NOTHING
            """, customerID, contactID) == 1
    }

    private func recordApplied(eventID: Int64, contactID: Int64?, now: Int64) throws {
        try run("INSERT INTO contact_events (event_id, contact_id, applied_at) VALUES ($1, $2::bigint, $3)",
                eventID, contactID, now)
    }

    private func keepPending(_ observation: ContactObservation, customerID: String, now: Int64) throws {
        let json = String(decoding: try encoder.encode(observation), as: UTF8.self)
        try run("""
            INSERT INTO contact_pending (event_id, customer_id, observation, created_at) VALUES ($1, $2, $3, $4)
            """, observation.eventID, customerID, json, now)
    }

    /// Applies (oldest first) and deletes the observations that waited for `customerID`, now linked to `contactID`;
    /// each one's segment transitions carry its own event id. The caller holds the customer's advisory lock.
    private func applyPending(customerID: String, to contactID: Int64, policy: EngagementPolicy,
                              segments: [SegmentQuery], now: Int64) throws -> [SegmentTransition] {
        let stored = try rows("SELECT event_id, observation FROM contact_pending WHERE customer_id = $1", customerID) {
            (eventID: try $0.int(0), json: try $0.string(1))
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
        try run("DELETE FROM contact_pending WHERE customer_id = $1", customerID)
        var transitions: [SegmentTransition] = []
        for observation in observations {
            try recordApplied(eventID: observation.eventID, contactID: contactID, now: now)
            try applyEffects(of: observation, to: contactID)
            let email = try updateDerived(contactID: contactID, policy: policy, now: now)
            transitions += try updateSegments(contactID: contactID, email: email, segments: segments, now: now,
                                              queued: false, cause: { observation.eventID })
        }
        return transitions
    }

    /// Records the observation's lead, activity, interest, lead fields, payment and subscription on the contact (not
    /// the derived columns). The caller holds the contact's row.
    private func applyEffects(of observation: ContactObservation, to contactID: Int64) throws {
        let at = observation.occurredAt
        if observation.source == .instantly, let campaign = observation.campaignID {
            // PostgreSQL-specific: the existing row's columns are named by table in `DO UPDATE`; LEAST for min(a, b).
            try run("""
                INSERT INTO contact_leads (contact_id, campaign_id, lead_id, first_seen_at) VALUES ($1, $2, $3::text, $4)
                ON CONFLICT (contact_id, campaign_id) DO UPDATE SET
                    lead_id = coalesce(contact_leads.lead_id, excluded.lead_id),
                    first_seen_at = LEAST(contact_leads.first_seen_at, excluded.first_seen_at)
                """, contactID, campaign, observation.leadID, at)
        }
        if observation.source == .instantly, let campaign = observation.campaignID, let name = observation.campaignName {
            try run("""
                INSERT INTO campaigns (id, name, updated_at) VALUES ($1, $2, $3)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
                WHERE excluded.updated_at >= campaigns.updated_at
                """, campaign, name, at)
        }
        if let activity = observation.activity {
            try run("""
                INSERT INTO contact_activity (contact_id, event_id, kind, campaign_id, occurred_at, account)
                VALUES ($1, $2, $3, $4::text, $5, $6::text)
                """, contactID, observation.eventID, activity.rawValue, observation.campaignID, at, observation.account)
        }
        let engaging = ContactRows.isEngaging(observation)
        let doNotContact = ContactRows.doNotContactReason(observation)
        let campaignTouch = ContactRows.campaignTouch(observation)
        // PostgreSQL-specific: a boolean counts as 1 only once cast (`::int`); LEAST/GREATEST for min/max(a, b).
        try run("""
            UPDATE contacts SET
                sent = sent + ($2::text IS NOT DISTINCT FROM 'sent')::int,
                opened = opened + ($2::text IS NOT DISTINCT FROM 'opened')::int,
                clicked = clicked + ($2::text IS NOT DISTINCT FROM 'clicked')::int,
                replied = replied + ($2::text IS NOT DISTINCT FROM 'replied')::int,
                bounced = bounced + ($2::text IS NOT DISTINCT FROM 'bounced')::int,
                unsubscribed = unsubscribed + ($2::text IS NOT DISTINCT FROM 'unsubscribed')::int,
                meeting_booked = meeting_booked + ($2::text IS NOT DISTINCT FROM 'meeting_booked')::int,
                first_seen_at = LEAST(first_seen_at, $1),
                last_engagement_at = CASE WHEN $3::boolean THEN GREATEST(coalesce(last_engagement_at, $1), $1)
                                     ELSE last_engagement_at END,
                do_not_contact = coalesce(do_not_contact, $4::text),
                first_campaign = CASE WHEN $5::text IS NOT NULL AND (first_campaign_at IS NULL OR $1 < first_campaign_at)
                                 THEN $5::text ELSE first_campaign END,
                first_campaign_at = CASE WHEN $5::text IS NOT NULL AND (first_campaign_at IS NULL OR $1 < first_campaign_at)
                                    THEN $1 ELSE first_campaign_at END,
                last_campaign = CASE WHEN $5::text IS NOT NULL AND (last_campaign_at IS NULL OR $1 >= last_campaign_at)
                                THEN $5::text ELSE last_campaign END,
                last_campaign_at = CASE WHEN $5::text IS NOT NULL AND (last_campaign_at IS NULL OR $1 >= last_campaign_at)
                                   THEN $1 ELSE last_campaign_at END,
                interest_status = CASE WHEN $6::text IS NOT NULL AND (interest_at IS NULL OR $1 >= interest_at)
                                  THEN $6::text ELSE interest_status END,
                interest_at = CASE WHEN $6::text IS NOT NULL AND (interest_at IS NULL OR $1 >= interest_at)
                              THEN $1 ELSE interest_at END,
                product_interest = CASE WHEN $7::text IS NOT NULL AND (product_interest_at IS NULL OR $1 >= product_interest_at)
                                   THEN $7::text ELSE product_interest END,
                product_interest_at = CASE WHEN $7::text IS NOT NULL AND (product_interest_at IS NULL OR $1 >= product_interest_at)
                                      THEN $1 ELSE product_interest_at END
            WHERE id = $8
            """, at, observation.activity?.rawValue, engaging, doNotContact, campaignTouch, observation.interestStatus,
            observation.productInterest, contactID)
        for (name, value) in (observation.leadFields ?? [:]).sorted(by: { $0.key < $1.key }) {
            try run("""
                INSERT INTO contact_lead_fields (contact_id, name, value, at, event_id) VALUES ($1, $2, $3, $4, $5)
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

    /// Records a payment or invoice once per reference (`ON CONFLICT (kind, reference)`), as the SQLite store does;
    /// a refund row holds the charge's largest cumulative refund seen, negated.
    private func record(_ payment: ObservedPayment, eventID: Int64, occurredAt: Int64, contactID: Int64) throws {
        let insert = """
            INSERT INTO contact_payments (contact_id, event_id, reference, kind, amount, currency, occurred_at, price_id,
                product_id, tier, first_campaign, last_campaign, link_campaign, payment_link, link_rule)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text, $9::text, $10::text, (SELECT first_campaign FROM contacts WHERE id = $1),
                coalesce($11::text, (SELECT campaign_id FROM contact_activity WHERE contact_id = $1 AND occurred_at <= $7
                               AND campaign_id IS NOT NULL ORDER BY occurred_at DESC, id DESC LIMIT 1)), $11::text,
                $12::text, $13::text)
            """
        let onConflict = payment.kind == .refund ? """
            ON CONFLICT (kind, reference) DO UPDATE SET
                occurred_at = CASE WHEN excluded.amount < contact_payments.amount THEN excluded.occurred_at
                              ELSE contact_payments.occurred_at END,
                event_id = CASE WHEN excluded.amount < contact_payments.amount THEN excluded.event_id
                           ELSE contact_payments.event_id END,
                amount = LEAST(contact_payments.amount, excluded.amount)
            """ : "ON CONFLICT (kind, reference) DO NOTHING"
        try run(insert + "\n" + onConflict, contactID, eventID, payment.reference, payment.kind.rawValue,
                payment.kind == .refund ? SQLiteContactStore.negated(payment.amount) : payment.amount, payment.currency,
                occurredAt, payment.priceID, payment.productID, payment.tier, payment.campaignID, payment.paymentLink,
                payment.rule)
    }

    /// Stores the subscription state unless the stored one is newer, as the SQLite store does. The caller holds the
    /// contact's row, so the read and the write see no one else's change in between.
    private func applySubscription(_ subscription: ObservedSubscription, occurredAt: Int64, contactID: Int64) throws {
        let stored = try firstRow("""
            SELECT subscription_id, subscription_status, subscription_price, subscription_product, subscription_tier,
                subscription_period_end, subscription_at FROM contacts WHERE id = $1
            """, contactID) { row in
            ContactRows.StoredSubscription(
                id: row.optionalString(0), status: row.optionalString(1) ?? "", price: row.optionalString(2),
                product: row.optionalString(3), tier: row.optionalString(4), periodEnd: try row.optionalInt(5),
                at: try row.optionalInt(6))
        }
        guard let stored, let write = ContactRows.subscriptionWrite(subscription, occurredAt: occurredAt, over: stored) else {
            return
        }
        try run("""
            UPDATE contacts SET subscription_id = $2, subscription_status = $3, subscription_price = $4::text,
                subscription_product = $5::text, subscription_tier = $6::text, subscription_period_end = $7::bigint,
                subscription_at = $8
            WHERE id = $1
            """, contactID, write.id, write.status, write.price, write.product, write.tier, write.periodEnd, occurredAt)
    }

    /// Recomputes payment status, tier, engagement and `updated_at`. - Returns: the contact's email.
    func updateDerived(contactID: Int64, policy: EngagementPolicy, now: Int64) throws -> String {
        let level = try engagement(contactID: contactID, policy: policy, now: now)
        // PostgreSQL-specific: `coalesce(sum(), 0)` for SQLite's `total()`.
        let email = try firstRow("""
            UPDATE contacts SET
                payment_status = CASE
                    WHEN subscription_status IN ('active', 'trialing', 'paused') THEN 'customer'
                    WHEN subscription_status IN ('past_due', 'unpaid') THEN 'past_due'
                    WHEN subscription_status IN ('canceled', 'incomplete_expired') THEN 'canceled'
                    WHEN EXISTS (SELECT 1 FROM contact_payments WHERE contact_id = $1 AND kind = 'payment')
                        OR (SELECT coalesce(sum(amount), 0) FROM contact_payments
                            WHERE contact_id = $1 AND kind IN ('payment', 'invoice')) > 0 THEN 'customer'
                    ELSE 'prospect' END,
                tier = coalesce(subscription_tier, (SELECT tier FROM contact_payments
                    WHERE contact_id = $1 AND kind <> 'refund' AND tier IS NOT NULL
                    ORDER BY occurred_at DESC, id DESC LIMIT 1)),
                engagement = $2, updated_at = $3
            WHERE id = $1 RETURNING email
            """, contactID, level.rawValue, now) { try $0.string(0) }
        return email ?? ""
    }

    /// The contact's engagement over the policy's window ending at `now`.
    func engagement(contactID: Int64, policy: EngagementPolicy, now: Int64) throws -> EngagementLevel {
        var counts: [ContactActivity: Int] = [:]
        _ = try rows("""
            SELECT kind, count(*) FROM contact_activity WHERE contact_id = $1 AND occurred_at >= $2 GROUP BY kind
            """, contactID, now - policy.windowMilliseconds) { row in
            counts[try row.value(ContactActivity.self, 0)] = Int(try row.int(1))
        }
        return policy.level(counts: counts)
    }
}
