import HookyardFoundation
import PostgreSQL
import Store

/// Writes report data straight into the PostgreSQL store's tables (`ReportDataWriting`), the same rows as
/// `SQLiteReportDataWriter` writes for the same calls: the same ids (contacts and events numbered in call order from
/// a fresh database), event bodies, dedup keys and derived columns. For generated data only (`hookyard demo seed`,
/// the report benchmark, tests).
///
/// PostgreSQL-specific, for speed: rows are buffered per table and written as multi-row `INSERT`s (unprepared,
/// `queryOnce`, since their text varies with the row count), at most `batchRows` rows each; the ids the calls return
/// (contacts, events) are reserved from the tables' identity sequences a block at a time, so a row is written
/// without a round trip of its own. Buffers are written in foreign-key order before any other statement, and by
/// `flush()`; `transaction { }` flushes before its `COMMIT`, so use it (not the connection's) to group calls.
///
/// Not thread-safe: one writer per connection and thread.
public final class PostgreSQLReportDataWriter: ReportDataWriting {
    public let connection: PostgreSQLConnection
    /// Events written so far (what `events` rows this writer added).
    public private(set) var eventsWritten = 0
    /// The most rows one `INSERT` carries (PostgreSQL allows 65,535 parameters per statement).
    public static let batchRows = 1_000
    private let keyPrefix: String
    private var emails: [Int64: String] = [:]
    private var nextKey = 0
    private var eventIDs = IdentityBlock(table: "events")
    private var contactIDs = IdentityBlock(table: "contacts")
    /// Buffers in foreign-key order: a table's rows are written after those they refer to.
    private var contacts = RowBuffer(table: "contacts", columns: ["id", "email", "first_seen_at", "updated_at"])
    private var events = RowBuffer(table: "events", columns: ["id", "source", "dedup_key", "event_id", "type", "received_at", "body", "headers"])
    private var activity = RowBuffer(table: "contact_activity", columns: ["contact_id", "event_id", "kind", "campaign_id", "occurred_at", "account"])
    private var payments = RowBuffer(table: "contact_payments", columns: ["contact_id", "event_id", "reference", "kind", "amount", "currency",
                                                                         "occurred_at", "tier", "link_campaign", "payment_link", "link_rule"])
    private var links = RowBuffer(table: "payment_links_sent", columns: ["link_id", "url", "contact_id", "campaign_id", "rule", "created_at"])
    private var ruleRuns = RowBuffer(table: "rule_runs", columns: ["flow", "rule", "contact_id", "at"])
    private var holdbacks = RowBuffer(table: "rule_holdbacks", columns: ["rule", "contact_id", "reason", "at"])
    /// Subscription changes by contact, the last one winning (each sets all four columns), in call order.
    private var subscriptions: [Int64: [PostgreSQLValue]] = [:]
    private var subscriptionOrder: [Int64] = []

    private let ownsConnection: Bool

    /// Opens a connection of its own (migrating the schema if needed) that commits with `synchronous_commit = off`,
    /// as SQLite's `LoadingConnection` loads without waiting for the disk; `close()` closes it.
    public convenience init(url: String, password: String?, keyPrefix: String = "demo:") throws {
        self.init(connection: try PostgreSQLStoreConnection.open(url: url, password: password, applicationName: "hookyard demo",
                                                                 durableCommits: false),
                  keyPrefix: keyPrefix, ownsConnection: true)
    }

    /// Writes on `connection` (migrated), which its owner closes.
    /// - Parameter keyPrefix: the start of every event's dedup key (`demo:` marks the demo dataset).
    public convenience init(connection: PostgreSQLConnection, keyPrefix: String = "demo:") {
        self.init(connection: connection, keyPrefix: keyPrefix, ownsConnection: false)
    }

    private init(connection: PostgreSQLConnection, keyPrefix: String, ownsConnection: Bool) {
        self.connection = connection
        self.keyPrefix = keyPrefix
        self.ownsConnection = ownsConnection
    }

    /// Closes the connection when the writer opened it (buffered rows not yet flushed are dropped). Safe to call twice.
    public func close() {
        if ownsConnection { connection.close() }
    }

    /// Runs `body` in a transaction and writes the buffered rows before committing. When it fails, the rows its calls
    /// buffered are dropped with the rolled-back ones, so a later transaction does not write half of them.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        do {
            return try connection.transaction {
                let result = try body()
                try flush()
                return result
            }
        } catch {
            for keyPath in Self.buffers { self[keyPath: keyPath].rows.removeAll() }
            subscriptions.removeAll()
            subscriptionOrder.removeAll()
            throw error
        }
    }

    /// The buffers in foreign-key order: a table's rows are written after those they refer to.
    private static var buffers: [ReferenceWritableKeyPath<PostgreSQLReportDataWriter, RowBuffer>] {
        [\.contacts, \.events, \.activity, \.payments, \.links, \.ruleRuns, \.holdbacks]
    }

    /// Writes every buffered row, in foreign-key order.
    public func flush() throws {
        for keyPath in Self.buffers {
            try self[keyPath: keyPath].write(connection)
        }
        if !subscriptionOrder.isEmpty {
            // PostgreSQL-specific: one `UPDATE … FROM (VALUES …)` for many contacts.
            var parameters: [any PostgreSQLEncodable] = []
            var rows: [String] = []
            for contact in subscriptionOrder {
                let values = subscriptions[contact] ?? []
                let base = parameters.count
                rows.append("($\(base + 1)::bigint, $\(base + 2)::text, $\(base + 3)::text, $\(base + 4)::text, $\(base + 5)::bigint)")
                parameters.append(contentsOf: values.map { $0 as any PostgreSQLEncodable })
            }
            try connection.queryOnce("""
                UPDATE contacts SET subscription_id = v.id, subscription_status = v.status, subscription_tier = v.tier,
                    subscription_at = v.at
                FROM (VALUES \(rows.joined(separator: ", "))) AS v (contact, id, status, tier, at) WHERE contacts.id = v.contact
                """, parameters)
            subscriptions.removeAll(keepingCapacity: true)
            subscriptionOrder.removeAll(keepingCapacity: true)
        }
    }

    /// A campaign's name as Instantly's events carry it.
    public func campaign(id: String, name: String, at: Int64) throws {
        try flush()
        try connection.query("""
            INSERT INTO campaigns (id, name, updated_at) VALUES ($1, $2, $3)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
            """, [id, name, at])
    }

    /// A new contact. - Returns: its id.
    @discardableResult
    public func contact(email: String, firstSeenAt: Int64) throws -> Int64 {
        let id = try contactIDs.next(connection)
        try append(\.contacts, [.integer(id), .text(email), .integer(firstSeenAt), .integer(firstSeenAt)])
        emails[id] = email
        return id
    }

    /// An Instantly activity of a contact (`nil`: an erased one) in a campaign, with its event (as the SQLite writer).
    public func activity(contact: Int64?, kind: String, campaign: String?, at: Int64, account: String? = nil) throws {
        let type = ReportDataBodies.instantlyTypes[kind] ?? kind
        let body = ReportDataBodies.activity(type: type, at: at, campaign: campaign, account: account,
                                                   email: contact.flatMap { emails[$0] })
        let event = try event(source: "instantly", type: type, at: at, body: body)
        try append(\.activity, [contact.postgreSQLValue, .integer(event), .text(kind), campaign.postgreSQLValue, .integer(at),
                                account.postgreSQLValue])
    }

    /// A Stripe payment, invoice or refund (as the SQLite writer: a refund's amount is stored negated).
    public func payment(contact: Int64?, kind: ReportDataPaymentKind, reference: String, amount: Int64, currency: String, at: Int64,
                        tier: String? = nil, linkCampaign: String? = nil, paymentLink: String? = nil, rule: String? = nil) throws {
        let (type, body) = ReportDataBodies.payment(kind: kind, reference: reference, amount: amount, currency: currency, at: at)
        let event = try event(source: "stripe", type: type, at: at, body: body, eventID: "evt_\(reference)")
        try append(\.payments, [contact.postgreSQLValue, .integer(event), .text(reference), .text(kind.rawValue),
                                .integer(kind == .refund ? -amount : amount), .text(currency), .integer(at), tier.postgreSQLValue,
                                linkCampaign.postgreSQLValue, paymentLink.postgreSQLValue, rule.postgreSQLValue])
    }

    /// A payment link a rule created for a contact.
    public func linkSent(id: String, contact: Int64?, campaign: String?, rule: String, at: Int64) throws {
        try append(\.links, [.text(id), .text("https://buy.stripe.com/test_\(id)"), contact.postgreSQLValue, campaign.postgreSQLValue,
                             .text(rule), .integer(at)])
    }

    /// The contact's subscription as last seen (written with the next flush, after the contact).
    public func subscription(contact: Int64, id: String, status: String, tier: String?, at: Int64) throws {
        if subscriptions[contact] == nil { subscriptionOrder.append(contact) }
        subscriptions[contact] = [.integer(contact), .text(id), .text(status), tier.postgreSQLValue, .integer(at)]
        if subscriptionOrder.count >= Self.batchRows { try flush() }
    }

    /// A flow a rule started for a contact.
    public func ruleRun(rule: String, contact: Int64, at: Int64) throws {
        try append(\.ruleRuns, [.text("\(rule):\(keyPrefix)\(contact):\(at)"), .text(rule), .integer(contact), .integer(at)])
    }

    /// A contact a rule held back (`rollout`: the control group; `max_per_day`).
    public func holdback(rule: String, contact: Int64?, reason: String = "rollout", at: Int64) throws {
        try append(\.holdbacks, [.text(rule), contact.postgreSQLValue, .text(reason), .integer(at)])
    }

    /// A job of `kind` in `state` (for a dead job: its last error), caused by a new event. - Returns: its id.
    @discardableResult
    public func job(kind: String, state: String, error: String? = nil, at: Int64) throws -> Int64 {
        let event = try event(source: "stripe", type: "invoice.payment_failed", at: at,
                              body: #"{"type":"invoice.payment_failed","created":\#(at / 1000)}"#)
        try flush()
        guard let row = try connection.query("""
            INSERT INTO jobs (event_id, kind, state, attempts, next_run_at, last_error, idempotency_key, created_at, updated_at)
            VALUES ($1, $2, $3, 8, $4, $5, $6, $4, $4) RETURNING id
            """, [event, kind, state, at, error, "\(keyPrefix)job:\(event)"]).first else {
            throw StoreError.corrupt("INSERT INTO jobs returned no id")
        }
        return try row.int(0)
    }

    /// An admin's `retry`, `retry_all` or `discard` of jobs.
    public func adminAction(_ action: String, jobID: Int64?, count: Int = 1, at: Int64) throws {
        try flush()
        try connection.query("INSERT INTO admin_actions (action, job_id, count, at) VALUES ($1, $2, $3, $4)",
                             [action, jobID, Int64(count), at])
    }

    /// Marks the database as the demo dataset: the table `table` (one row: seed, contacts, time).
    public func markDemoData(table: String, seed: UInt64, contacts: Int, at now: Int64) throws {
        try flush()
        let name = PostgreSQLConnection.quoteIdentifier(table)
        try connection.execute("""
            CREATE TABLE \(name) (id BIGINT PRIMARY KEY CHECK (id = 1), seed BIGINT NOT NULL,
                contacts BIGINT NOT NULL, created_at BIGINT NOT NULL);
            INSERT INTO \(name) VALUES (1, \(Int64(bitPattern: seed)), \(contacts), \(now));
            """)
    }

    /// What the database at `connection` holds: whether it has the demo marker table `markerTable`, its real events
    /// (dedup keys not starting `demo:`), and, unless it is a demo database, its contacts.
    /// PostgreSQL-specific: `to_regclass` for `sqlite_master`.
    public static func existingData(connection: PostgreSQLConnection, markerTable: String) throws -> (demo: Bool, events: Int, contacts: Int) {
        let demo = try connection.query("SELECT to_regclass($1::text) IS NOT NULL", [PostgreSQLConnection.quoteIdentifier(markerTable)])
            .first?.bool(0) ?? false
        let events = Int(try connection.query("SELECT count(*) FROM events WHERE dedup_key NOT LIKE 'demo:%'").first?.int(0) ?? 0)
        let contacts = demo ? 0 : Int(try connection.query("SELECT count(*) FROM contacts").first?.int(0) ?? 0)
        return (demo, events, contacts)
    }

    /// Empties a demo database (every table but the schema's own rows, identities restarted, the marker dropped) so
    /// that it can be seeded again from id 1. Only for a database `existingData` found to hold demo data alone.
    public static func clearDemoData(connection: PostgreSQLConnection, markerTable: String) throws {
        try connection.transaction {
            let tables = try connection.query("""
                SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
                AND tablename NOT IN ('schema_version', 'store_probe', $1::text) ORDER BY tablename
                """, [markerTable]).rows.map { PostgreSQLConnection.quoteIdentifier(try $0.string(0)) }
            if !tables.isEmpty { try connection.execute("TRUNCATE \(tables.joined(separator: ", ")) RESTART IDENTITY CASCADE") }
            try connection.execute("DROP TABLE IF EXISTS \(PostgreSQLConnection.quoteIdentifier(markerTable))")
        }
    }

    /// The same derivations as `SQLiteReportDataWriter.finish()`. PostgreSQL-specific: `count(*) FILTER` for
    /// SQLite's boolean sums, `coalesce(sum(…), 0)` for SQLite's `total()`.
    public func finish() throws {
        try flush()
        try connection.execute("""
            UPDATE contacts SET sent = a.sent, opened = a.opened, clicked = a.clicked, replied = a.replied,
                bounced = a.bounced, unsubscribed = a.unsubscribed, meeting_booked = a.meeting_booked,
                last_engagement_at = a.engaged
            FROM (SELECT contact_id, count(*) FILTER (WHERE kind = 'sent') AS sent, count(*) FILTER (WHERE kind = 'opened') AS opened,
                         count(*) FILTER (WHERE kind = 'clicked') AS clicked, count(*) FILTER (WHERE kind = 'replied') AS replied,
                         count(*) FILTER (WHERE kind = 'bounced') AS bounced, count(*) FILTER (WHERE kind = 'unsubscribed') AS unsubscribed,
                         count(*) FILTER (WHERE kind = 'meeting_booked') AS meeting_booked,
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
                        OR (SELECT coalesce(sum(amount), 0) FROM contact_payments p
                            WHERE p.contact_id = contacts.id AND p.kind IN ('payment', 'invoice')) > 0 THEN 'customer'
                    ELSE 'prospect' END,
                tier = coalesce(subscription_tier, (SELECT tier FROM contact_payments p
                    WHERE p.contact_id = contacts.id AND p.kind <> 'refund' AND p.tier IS NOT NULL
                    ORDER BY p.occurred_at DESC, p.id DESC LIMIT 1))
            WHERE id IN (SELECT contact_id FROM contact_payments) OR subscription_status IS NOT NULL;
            """)
    }

    /// Erases contacts the way `ContactStore.erase` leaves them for reports (as the SQLite writer): their events'
    /// bodies emptied (pruned at `at`), their activity and payments kept without contact or event, the contact
    /// deleted with what belongs to it.
    public func erase(contacts ids: [Int64], at: Int64) throws {
        try flush()
        for id in ids {
            try connection.query("""
                UPDATE events SET body = ''::bytea, pruned_at = $2 WHERE id IN (
                    SELECT event_id FROM contact_activity WHERE contact_id = $1
                    UNION ALL SELECT event_id FROM contact_payments WHERE contact_id = $1)
                """, [id, at])
            try connection.query("UPDATE contact_activity SET event_id = NULL WHERE contact_id = $1", [id])
            try connection.query("UPDATE contact_payments SET event_id = NULL WHERE contact_id = $1", [id])
            try connection.query("DELETE FROM contacts WHERE id = $1", [id])
            emails[id] = nil
        }
    }

    // MARK: Helpers

    private func event(source: String, type: String, at: Int64, body: String, eventID: String? = nil) throws -> Int64 {
        nextKey += 1
        let id = try eventIDs.next(connection)
        try append(\.events, [.integer(id), .text(source), .text("\(keyPrefix)\(nextKey)"), eventID.postgreSQLValue, .text(type),
                              .integer(at), .bytes(Array(body.utf8)), .text("{}")])
        eventsWritten += 1
        return id
    }

    /// Buffers a row; a full buffer writes every buffer (in order, so the rows it refers to are written first).
    private func append(_ buffer: ReferenceWritableKeyPath<PostgreSQLReportDataWriter, RowBuffer>, _ row: [PostgreSQLValue]) throws {
        self[keyPath: buffer].rows.append(row)
        if self[keyPath: buffer].rows.count >= Self.batchRows { try flush() }
    }

    /// Ids reserved from a table's identity sequence, handed out in ascending order.
    private struct IdentityBlock {
        let table: String
        var reserved: [Int64] = []
        var index = 0

        init(table: String) { self.table = table }

        mutating func next(_ connection: PostgreSQLConnection) throws -> Int64 {
            if index == reserved.count {
                // PostgreSQL-specific: a block of values from the identity's sequence in one round trip; values are
                // never handed out twice, so another writer (or node) never gets the same ids.
                reserved = try connection.query("""
                    SELECT nextval(pg_get_serial_sequence($1::text, 'id')) FROM generate_series(1, $2::bigint)
                    """, [table, Int64(PostgreSQLReportDataWriter.batchRows)]).rows.map { try $0.int(0) }.sorted()
                index = 0
            }
            defer { index += 1 }
            return reserved[index]
        }
    }

    /// A table's rows waiting to be written by one multi-row `INSERT`.
    private struct RowBuffer {
        let table: String
        let columns: [String]
        var rows: [[PostgreSQLValue]] = []

        init(table: String, columns: [String]) {
            self.table = table
            self.columns = columns
        }

        mutating func write(_ connection: PostgreSQLConnection) throws {
            guard !rows.isEmpty else { return }
            var parameters: [any PostgreSQLEncodable] = []
            parameters.reserveCapacity(rows.count * columns.count)
            var tuples: [String] = []
            tuples.reserveCapacity(rows.count)
            for row in rows {
                let base = parameters.count
                tuples.append("(" + (1...row.count).map { "$\(base + $0)" }.joined(separator: ", ") + ")")
                parameters.append(contentsOf: row.map { $0 as any PostgreSQLEncodable })
            }
            try connection.queryOnce("INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(tuples.joined(separator: ", "))",
                                     parameters)
            rows.removeAll(keepingCapacity: true)
        }
    }
}
