import HookyardFoundation
import Store
import SQLite

/// Writes report data straight into the SQLite store's tables (`ReportDataWriting`), the way the daemon would have left them: an `events` row for
/// every Instantly activity and Stripe payment (with its `contact_activity` or `contact_payments` row), contacts,
/// campaign names, payment links sent, subscriptions, rule runs and holdbacks, jobs and admin actions. `finish()`
/// then computes what the daemon derives as it applies events (first and last campaign, counters, payment status, the
/// campaigns stored on each payment). For generated data only (`hookyard demo seed`, the report benchmark, tests).
///
/// Calls only prepare-once statements; the caller groups them in transactions (`database.transaction`).
/// Not thread-safe: one writer per connection and thread.
public final class SQLiteReportDataWriter: ReportDataWriting {

    public let database: SQLiteDatabase
    /// Events written so far (what `events` rows this writer added).
    public private(set) var eventsWritten = 0
    private var emails: [Int64: String] = [:]
    private var nextKey = 0
    private let insertEvent: SQLiteStatement
    private let insertContact: SQLiteStatement
    private let insertActivity: SQLiteStatement
    private let insertPayment: SQLiteStatement
    private let insertLink: SQLiteStatement

    /// Whether `close()` closes `database` (opened by `init(path:keyPrefix:)`).
    private let ownsDatabase: Bool

    /// Opens (creating and migrating it if needed) the file at `path` with a `LoadingConnection`; `close()` closes it.
    public convenience init(path: String, keyPrefix: String = "demo:") throws {
        try self.init(database: try LoadingConnection.open(path: path), keyPrefix: keyPrefix, ownsDatabase: true)
    }

    /// - Parameter keyPrefix: the start of every event's dedup key (`demo:` marks the demo dataset).
    public convenience init(database: SQLiteDatabase, keyPrefix: String = "demo:") throws {
        try self.init(database: database, keyPrefix: keyPrefix, ownsDatabase: false)
    }

    private init(database: SQLiteDatabase, keyPrefix: String, ownsDatabase: Bool) throws {
        self.database = database
        self.keyPrefix = keyPrefix
        self.ownsDatabase = ownsDatabase
        // SQLite-specific: `CAST` between BLOB and TEXT.
        insertEvent = try database.prepare("""
            INSERT INTO events (source, dedup_key, event_id, type, received_at, body, headers)
            VALUES (?1, ?2, ?3, ?4, ?5, CAST(?6 AS BLOB), '{}')
            """)
        insertContact = try database.prepare("INSERT INTO contacts (email, first_seen_at, updated_at) VALUES (?1, ?2, ?2)")
        insertActivity = try database.prepare("""
            INSERT INTO contact_activity (contact_id, event_id, kind, campaign_id, occurred_at, account)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        insertPayment = try database.prepare("""
            INSERT INTO contact_payments (contact_id, event_id, reference, kind, amount, currency, occurred_at, tier,
                link_campaign, payment_link, link_rule)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """)
        insertLink = try database.prepare("""
            INSERT INTO payment_links_sent (link_id, url, contact_id, campaign_id, rule, job_id, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)
            """)
    }

    private let keyPrefix: String

    /// Runs `body` in a transaction of `database` (every call writes at once; nothing is buffered).
    public func transaction<R>(_ body: () throws -> R) throws -> R { try database.transaction(body) }

    /// Nothing to do: every call writes at once.
    public func flush() throws {}

    /// Closes the database when `init(path:keyPrefix:)` opened it.
    public func close() {
        if ownsDatabase { database.close() }
    }

    /// A campaign's name as Instantly's events carry it.
    public func campaign(id: String, name: String, at: Int64) throws {
        // SQLite-specific: upsert `ON CONFLICT ... DO UPDATE ... excluded.`.
        let statement = try database.prepare("""
            INSERT INTO campaigns (id, name, updated_at) VALUES (?1, ?2, ?3)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
            """)
        try statement.bind(1, id)
        try statement.bind(2, name)
        try statement.bind(3, at)
        try statement.run()
    }

    /// A new contact. - Returns: its id.
    @discardableResult
    public func contact(email: String, firstSeenAt: Int64) throws -> Int64 {
        try insertContact.bind(1, email)
        try insertContact.bind(2, firstSeenAt)
        try insertContact.run()
        let id = database.lastInsertRowID
        emails[id] = email
        return id
    }

    /// An Instantly activity (`sent`, `opened`, `clicked`, `replied`, `bounced`, `unsubscribed`, ...) of a contact
    /// (`nil`: an erased one) in a campaign, with its event.
    /// `account`: the sending mailbox (`email_account`), for the deliverability figures.
    public func activity(contact: Int64?, kind: String, campaign: String?, at: Int64, account: String? = nil) throws {
        let type = ReportDataBodies.instantlyTypes[kind] ?? kind
        let body = ReportDataBodies.activity(type: type, at: at, campaign: campaign, account: account,
                                             email: contact.flatMap { emails[$0] })
        let event = try event(source: "instantly", type: type, at: at, body: body)
        try Self.bind(insertActivity, 1, contact)
        try insertActivity.bind(2, event)
        try insertActivity.bind(3, kind)
        try insertActivity.bind(4, campaign)
        try insertActivity.bind(5, at)
        try insertActivity.bind(6, account)
        try insertActivity.run()
    }

    /// A Stripe payment, invoice or refund of a contact (`nil`: an erased one), with its event. `amount` in minor
    /// units, positive (a refund's is stored negated, as the charge's refunded total). `linkCampaign`, `paymentLink`
    /// and `rule` are what the payment link's metadata named.
    public func payment(contact: Int64?, kind: ReportDataPaymentKind, reference: String, amount: Int64, currency: String, at: Int64,
                        tier: String? = nil, linkCampaign: String? = nil, paymentLink: String? = nil, rule: String? = nil) throws {
        let (type, body) = ReportDataBodies.payment(kind: kind, reference: reference, amount: amount, currency: currency, at: at)
        let event = try event(source: "stripe", type: type, at: at, body: body, eventID: "evt_\(reference)")
        try Self.bind(insertPayment, 1, contact)
        try insertPayment.bind(2, event)
        try insertPayment.bind(3, reference)
        try insertPayment.bind(4, kind.rawValue)
        try insertPayment.bind(5, kind == .refund ? -amount : amount)
        try insertPayment.bind(6, currency)
        try insertPayment.bind(7, at)
        try insertPayment.bind(8, tier)
        try insertPayment.bind(9, linkCampaign)
        try insertPayment.bind(10, paymentLink)
        try insertPayment.bind(11, rule)
        try insertPayment.run()
    }

    /// A payment link a rule created for a contact.
    public func linkSent(id: String, contact: Int64?, campaign: String?, rule: String, at: Int64) throws {
        try insertLink.bind(1, id)
        try insertLink.bind(2, "https://buy.stripe.com/test_\(id)")
        try Self.bind(insertLink, 3, contact)
        try insertLink.bind(4, campaign)
        try insertLink.bind(5, rule)
        try insertLink.bind(6, at)
        try insertLink.run()
    }

    /// The contact's subscription as last seen: its status (active, canceled, ...) since `at`.
    public func subscription(contact: Int64, id: String, status: String, tier: String?, at: Int64) throws {
        try execute("""
            UPDATE contacts SET subscription_id = ?2, subscription_status = ?3, subscription_tier = ?4, subscription_at = ?5
            WHERE id = ?1
            """, [.integer(contact), .text(id), .text(status), tier.map(SQLValue.text) ?? .null, .integer(at)])
    }

    /// A flow a rule started for a contact.
    public func ruleRun(rule: String, contact: Int64, at: Int64) throws {
        try execute("INSERT INTO rule_runs (flow, rule, contact_id, at) VALUES (?1, ?2, ?3, ?4)",
                    [.text("\(rule):\(keyPrefix)\(contact):\(at)"), .text(rule), .integer(contact), .integer(at)])
    }

    /// A contact a rule held back (`rollout`: the control group; `max_per_day`).
    public func holdback(rule: String, contact: Int64?, reason: String = "rollout", at: Int64) throws {
        try execute("INSERT INTO rule_holdbacks (rule, contact_id, reason, at) VALUES (?1, ?2, ?3, ?4)",
                    [.text(rule), contact.map(SQLValue.integer) ?? .null, .text(reason), .integer(at)])
    }

    /// A job of `kind` in `state` (for a dead job: its last error), caused by a new event. - Returns: its id.
    @discardableResult
    public func job(kind: String, state: String, error: String? = nil, at: Int64) throws -> Int64 {
        let event = try event(source: "stripe", type: "invoice.payment_failed", at: at,
                              body: #"{"type":"invoice.payment_failed","created":\#(at / 1000)}"#)
        try execute("""
            INSERT INTO jobs (event_id, kind, state, attempts, next_run_at, last_error, idempotency_key, created_at, updated_at)
            VALUES (?1, ?2, ?3, 8, ?4, ?5, ?6, ?4, ?4)
            """, [.integer(event), .text(kind), .text(state), .integer(at), error.map(SQLValue.text) ?? .null,
                  .text("\(keyPrefix)job:\(event)")])
        return database.lastInsertRowID
    }

    /// An admin's `retry`, `retry_all` or `discard` of jobs.
    public func adminAction(_ action: String, jobID: Int64?, count: Int = 1, at: Int64) throws {
        try execute("INSERT INTO admin_actions (action, job_id, count, at) VALUES (?1, ?2, ?3, ?4)",
                    [.text(action), jobID.map(SQLValue.integer) ?? .null, .integer(Int64(count)), .integer(at)])
    }

    /// What the daemon derives while applying events, for every contact at once: first and last campaign (and when),
    /// activity counters, last engagement, do-not-contact, payment status and tier, and each payment's first and last campaign (the link campaign,
    /// else the last touch ever before it), as `ContactStore` stores them. Run once after loading, in a transaction.
    /// Marks the database as the demo dataset: the `demo_data` table (one row: seed, contacts, time).
    /// SQLite-specific: `STRICT` table.
    public func markDemoData(table: String, seed: UInt64, contacts: Int, at now: Int64) throws {
        // SQLite-specific: `STRICT` table.
        try database.execute("""
            CREATE TABLE \(table) (id INTEGER PRIMARY KEY CHECK (id = 1), seed INTEGER NOT NULL,
                contacts INTEGER NOT NULL, created_at INTEGER NOT NULL) STRICT;
            INSERT INTO \(table) VALUES (1, \(Int64(bitPattern: seed)), \(contacts), \(now));
            """)
    }

    /// What an existing database at `path` holds, read-only: whether it has the demo marker table `markerTable`, its
    /// real events (dedup keys not starting `demo:`), and, unless it is a demo database, its contacts.
    /// SQLite-specific: `sqlite_master`.
    public static func existingData(path: String, markerTable: String) throws -> (demo: Bool, events: Int, contacts: Int) {
        let existing = try SQLiteDatabase(path: path, readOnly: true)
        defer { existing.close() }
        // SQLite-specific: `sqlite_master`.
        let statement = try existing.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        var tables = Set<String>()
        while try statement.step() { tables.insert(statement.string(0) ?? "") }
        let demo = tables.contains(markerTable)
        let events = tables.contains("events")
            ? Int(try existing.scalarInt("SELECT count(*) FROM events WHERE dedup_key NOT LIKE 'demo:%'") ?? 0) : 0
        let contacts = tables.contains("contacts") && !demo ? Int(try existing.scalarInt("SELECT count(*) FROM contacts") ?? 0) : 0
        return (demo, events, contacts)
    }

    public func finish() throws {
        try database.execute("""
            UPDATE contacts SET sent = a.sent, opened = a.opened, clicked = a.clicked, replied = a.replied,
                bounced = a.bounced, unsubscribed = a.unsubscribed, meeting_booked = a.meeting_booked,
                last_engagement_at = a.engaged
            FROM (SELECT contact_id, sum(kind = 'sent') AS sent, sum(kind = 'opened') AS opened, sum(kind = 'clicked') AS clicked,
                         sum(kind = 'replied') AS replied, sum(kind = 'bounced') AS bounced,
                         sum(kind = 'unsubscribed') AS unsubscribed, sum(kind = 'meeting_booked') AS meeting_booked,
                         max(CASE WHEN kind IN ('opened', 'clicked', 'replied', 'meeting_booked') THEN occurred_at END) AS engaged
                  FROM contact_activity WHERE contact_id IS NOT NULL GROUP BY contact_id) AS a
            WHERE contacts.id = a.contact_id;
            UPDATE contacts SET
                first_campaign = (SELECT campaign_id FROM contact_activity t WHERE t.contact_id = contacts.id
                                  AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at, t.id LIMIT 1),
                first_campaign_at = (SELECT min(occurred_at) FROM contact_activity t WHERE t.contact_id = contacts.id
                                     AND t.campaign_id IS NOT NULL),
                last_campaign = (SELECT campaign_id FROM contact_activity t WHERE t.contact_id = contacts.id
                                 AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1),
                last_campaign_at = (SELECT max(occurred_at) FROM contact_activity t WHERE t.contact_id = contacts.id
                                    AND t.campaign_id IS NOT NULL),
                do_not_contact = CASE WHEN unsubscribed > 0 THEN 'unsubscribed' WHEN bounced > 0 THEN 'bounced' END;
            UPDATE contact_payments SET
                first_campaign = (SELECT first_campaign FROM contacts c WHERE c.id = contact_payments.contact_id),
                last_campaign = coalesce(link_campaign, (SELECT t.campaign_id FROM contact_activity t
                    WHERE t.contact_id = contact_payments.contact_id AND t.occurred_at <= contact_payments.occurred_at
                    AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1))
            WHERE contact_id IS NOT NULL;
            UPDATE contacts SET
                payment_status = CASE
                    WHEN subscription_status IN ('active', 'trialing', 'paused') THEN 'customer'
                    WHEN subscription_status IN ('past_due', 'unpaid') THEN 'past_due'
                    WHEN subscription_status IN ('canceled', 'incomplete_expired') THEN 'canceled'
                    WHEN EXISTS (SELECT 1 FROM contact_payments p WHERE p.contact_id = contacts.id AND p.kind = 'payment')
                        OR (SELECT total(amount) FROM contact_payments p
                            WHERE p.contact_id = contacts.id AND p.kind IN ('payment', 'invoice')) > 0 THEN 'customer'
                    ELSE 'prospect' END,
                tier = coalesce(subscription_tier, (SELECT tier FROM contact_payments p
                    WHERE p.contact_id = contacts.id AND p.kind <> 'refund' AND p.tier IS NOT NULL
                    ORDER BY p.occurred_at DESC, p.id DESC LIMIT 1))
            WHERE id IN (SELECT contact_id FROM contact_payments) OR subscription_status IS NOT NULL;
            """)
    }

    /// Erases contacts the way `ContactStore.erase` leaves them for reports: their events' bodies emptied (pruned at
    /// `at`), their activity and payments kept without contact or event, the contact deleted with what belongs to it.
    public func erase(contacts ids: [Int64], at: Int64) throws {
        for id in ids {
            // SQLite-specific: blob literal `x''`.
            try execute("""
                UPDATE events SET body = x'', pruned_at = ?2 WHERE id IN (
                    SELECT event_id FROM contact_activity WHERE contact_id = ?1
                    UNION ALL SELECT event_id FROM contact_payments WHERE contact_id = ?1)
                """, [.integer(id), .integer(at)])
            try execute("UPDATE contact_activity SET event_id = NULL WHERE contact_id = ?1", [.integer(id)])
            try execute("UPDATE contact_payments SET event_id = NULL WHERE contact_id = ?1", [.integer(id)])
            try execute("DELETE FROM contacts WHERE id = ?1", [.integer(id)])
            emails[id] = nil
        }
    }

    // MARK: Helpers

    private func event(source: String, type: String, at: Int64, body: String, eventID: String? = nil) throws -> Int64 {
        nextKey += 1
        try insertEvent.bind(1, source)
        try insertEvent.bind(2, "\(keyPrefix)\(nextKey)")
        try insertEvent.bind(3, eventID)
        try insertEvent.bind(4, type)
        try insertEvent.bind(5, at)
        try insertEvent.bind(6, body)
        try insertEvent.run()
        eventsWritten += 1
        return database.lastInsertRowID
    }

    /// A value bound to a one-off statement.
    enum SQLValue {
        case integer(Int64)
        case text(String)
        case null
    }

    private static func bind(_ statement: SQLiteStatement, _ index: Int32, _ value: Int64?) throws {
        if let value { try statement.bind(index, value) } else { try statement.bind(index, nil as String?) }
    }

    private func execute(_ sql: String, _ values: [SQLValue]) throws {
        let statement = try database.prepare(sql)
        for (index, value) in values.enumerated() {
            switch value {
            case .integer(let number): try statement.bind(Int32(index + 1), number)
            case .text(let text): try statement.bind(Int32(index + 1), text)
            case .null: try statement.bind(Int32(index + 1), nil as String?)
            }
        }
        try statement.run()
    }
}
