import PostgreSQL
import Store

/// The report's queries on PostgreSQL (`ReportQueries`): the same aggregates as `SQLiteReportQueries`, with the same
/// results, so a report reads the same on either engine. It only reads: a connection `init(url:password:)` opens is
/// switched to read-only transactions, and the activity is read through a cursor in a read-only transaction, so it
/// never blocks the nodes' writes (MVCC).
///
/// PostgreSQL-specific constructs (see docs/storage.md): `count(*) FILTER` and `bool_or` where SQLite sums booleans,
/// `least` for SQLite's two-argument `min`, `NULLS FIRST` where SQLite sorts NULL first by itself, `to_regclass`
/// for `sqlite_master`, and exact `numeric` sums where SQLite needs `MoneySum`'s split sums; a total that does not
/// fit 64 bits is `nil` on both engines, and an implausible amount is left out of totals on both.
///
/// Not thread-safe: one instance (one connection) per thread or request.
public final class PostgreSQLReportQueries: ReportQueries {
    private let connection: PostgreSQLConnection
    private let ownsConnection: Bool
    /// Rows fetched per round trip while streaming the activity (10,000; tests make it small to cross batches).
    var activityBatchRows = 10_000

    /// Opens a connection of its own, in read-only mode (`default_transaction_read_only`); `close()` closes it.
    /// - Throws: `StoreError.newerSchema`, or `PostgreSQLError`.
    public convenience init(url: String, password: String?) throws {
        let connection = try PostgreSQLStoreConnection.open(url: url, password: password, applicationName: "hookyard report")
        // PostgreSQL-specific: a session whose transactions cannot write (SQLite: `PRAGMA query_only`).
        try connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        self.init(connection: connection, ownsConnection: true)
    }

    /// Reads through an open connection the caller owns (and keeps open while the queries are used).
    public convenience init(connection: PostgreSQLConnection) {
        self.init(connection: connection, ownsConnection: false)
    }

    private init(connection: PostgreSQLConnection, ownsConnection: Bool) {
        self.connection = connection
        self.ownsConnection = ownsConnection
    }

    deinit { close() }

    public func close() {
        if ownsConnection { connection.close() }
    }

    public func campaignNames() throws -> [String: String] {
        var names: [String: String] = [:]
        for row in try connection.query("SELECT id, name FROM campaigns").rows { names[try row.string(0)] = try row.string(1) }
        return names
    }

    /// PostgreSQL-specific: the rows stream through a cursor (`DECLARE … CURSOR`, `FETCH`) in a read-only
    /// transaction, a batch at a time, instead of one result held whole; `count(*) FILTER` and `bool_or` for SQLite's
    /// boolean sums; `NULLS FIRST` puts the contact-less rows first, as SQLite orders NULL. Runs its own transaction:
    /// call it outside any transaction of a shared connection.
    public func forEachActivity(since: Int64, until: Int64, _ body: (ReportActivityRow) throws -> Void) throws {
        try connection.transaction {
            try connection.execute("SET TRANSACTION READ ONLY")
            // Integers only, so the text can carry them (a cursor's DECLARE takes no parameters).
            try connection.execute("""
                DECLARE report_activity NO SCROLL CURSOR FOR
                SELECT contact_id, campaign_id, count(*) FILTER (WHERE kind = 'sent'), bool_or(kind = 'opened'),
                       bool_or(kind = 'clicked'), bool_or(kind = 'replied')
                FROM contact_activity
                WHERE occurred_at >= \(since) AND occurred_at < \(until)
                GROUP BY contact_id, campaign_id ORDER BY contact_id NULLS FIRST, campaign_id NULLS FIRST
                """)
            while true {
                let batch = try connection.execute("FETCH FORWARD \(activityBatchRows) FROM report_activity")
                for row in batch.rows {
                    try body(ReportActivityRow(contactID: try row.optionalInt(0), campaign: row.optionalString(1),
                                               sent: Int(try row.int(2)), opened: try row.bool(3), clicked: try row.bool(4),
                                               replied: try row.bool(5)))
                }
                if batch.count < activityBatchRows { break }
            }
            try connection.execute("CLOSE report_activity")
        }
    }

    /// The same attribution as `SQLiteReportQueries.attributedPayments` (see there), in the period's time order.
    public func attributedPayments(since: Int64, until: Int64, lookbackMilliseconds: Int64,
                                   withRule: Bool) throws -> [ReportPaymentRow] {
        let rule = withRule ? """
            coalesce(a.link_rule, (SELECT l.rule FROM payment_links_sent l WHERE l.link_id = a.payment_link),
                     (SELECT r.rule FROM rule_runs r WHERE r.contact_id = a.contact_id AND r.at <= a.at AND r.at >= a.at - $3
                      ORDER BY r.at DESC LIMIT 1))
            """ : "NULL::text"
        let rows = try connection.query("""
            WITH p AS (
                SELECT p.*, CASE WHEN p.kind = 'refund' AND p.contact_id IS NOT NULL THEN
                    (SELECT q.id FROM contact_payments q WHERE q.contact_id = p.contact_id AND q.kind <> 'refund'
                     AND q.currency = p.currency AND q.occurred_at <= p.occurred_at ORDER BY q.occurred_at DESC, q.id DESC LIMIT 1)
                    END AS sale
                FROM contact_payments p WHERE p.occurred_at >= $1 AND p.occurred_at < $2),
            a AS (
                SELECT p.id, p.contact_id, p.kind, p.amount, p.currency, p.occurred_at, p.first_campaign, p.last_campaign,
                       coalesce(s.occurred_at, p.occurred_at) AS at, coalesce(s.id, p.id) AS sale_id,
                       CASE WHEN s.id IS NULL THEN p.link_campaign ELSE s.link_campaign END AS link_campaign,
                       CASE WHEN s.id IS NULL THEN p.payment_link ELSE s.payment_link END AS payment_link,
                       CASE WHEN s.id IS NULL THEN p.link_rule ELSE s.link_rule END AS link_rule,
                       CASE WHEN s.id IS NULL THEN p.tier ELSE s.tier END AS tier,
                       CASE WHEN s.id IS NULL THEN p.reference ELSE s.reference END AS reference,
                       p.reference AS own_reference
                FROM p LEFT JOIN contact_payments s ON s.id = p.sale)
            SELECT a.contact_id, a.kind, a.amount, a.currency, a.occurred_at, a.tier,
                   CASE WHEN a.contact_id IS NULL THEN a.first_campaign
                        ELSE coalesce(CASE WHEN c.first_campaign_at <= a.at THEN c.first_campaign END, a.link_campaign) END,
                   CASE WHEN a.contact_id IS NULL THEN a.last_campaign
                        ELSE coalesce(a.link_campaign,
                             (SELECT t.campaign_id FROM contact_activity t WHERE t.contact_id = a.contact_id AND t.occurred_at <= a.at
                              AND t.occurred_at >= a.at - $3 AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1)) END,
                   a.payment_link IS NOT NULL OR a.link_campaign IS NOT NULL
                       OR EXISTS (SELECT 1 FROM purchases u WHERE u.reference = a.reference AND u.payment_link IS NOT NULL),
                   a.kind <> 'refund' AND a.contact_id IS NOT NULL AND NOT EXISTS (
                       SELECT 1 FROM contact_payments q WHERE q.contact_id = a.contact_id AND q.kind <> 'refund'
                       AND (q.occurred_at < a.occurred_at OR (q.occurred_at = a.occurred_at AND q.id < a.id))),
                   CASE WHEN c.first_campaign_at <= a.at THEN c.first_campaign_at END,
                   \(rule), a.own_reference
            FROM a LEFT JOIN contacts c ON c.id = a.contact_id
            ORDER BY a.occurred_at, a.id
            """, [since, until, lookbackMilliseconds])
        return try rows.rows.map { row in
            let firstPurchase = try row.bool(9)
            let occurredAt = try row.int(4)
            // Both times are stored as received: a difference that does not fit is no duration.
            let sinceTouch = try row.optionalInt(10).map { occurredAt.subtractingReportingOverflow($0) }
            return ReportPaymentRow(
                contactID: try row.optionalInt(0), reference: try row.string(12), kind: try row.string(1),
                amount: try row.int(2), currency: try row.string(3), occurredAt: occurredAt, firstTouch: row.optionalString(6),
                lastTouch: row.optionalString(7), tier: row.optionalString(5), rule: row.optionalString(11), viaLink: try row.bool(8),
                firstPurchase: firstPurchase,
                timeToFirstPurchase: firstPurchase && sinceTouch?.overflow == false ? sinceTouch?.partialValue : nil)
        }
    }

    /// The same clicks and payments as `SQLiteReportQueries.linksSent` (see there), in creation order.
    /// PostgreSQL-specific: `least` for SQLite's two-argument `min`.
    public func linksSent(since: Int64, until: Int64, lookbackMilliseconds: Int64) throws -> [ReportLinkRow] {
        try connection.query("""
            SELECT l.contact_id, l.campaign_id, l.rule,
                   EXISTS (SELECT 1 FROM contact_activity t WHERE t.contact_id = l.contact_id AND t.occurred_at >= l.created_at
                           AND t.occurred_at < $2 AND t.kind = 'clicked' AND (l.campaign_id IS NULL OR t.campaign_id = l.campaign_id)),
                   EXISTS (SELECT 1 FROM contact_payments q WHERE q.payment_link = l.link_id AND q.kind <> 'refund' AND q.occurred_at < $2)
                   OR EXISTS (SELECT 1 FROM contact_payments q WHERE q.contact_id = l.contact_id AND q.kind <> 'refund'
                              AND q.occurred_at >= l.created_at AND q.occurred_at < least($2, l.created_at + $3))
            FROM payment_links_sent l WHERE l.created_at >= $1 AND l.created_at < $2
            ORDER BY l.created_at, l.link_id
            """, [since, until, lookbackMilliseconds]).rows.map { row in
            ReportLinkRow(contactID: try row.optionalInt(0), campaign: row.optionalString(1), rule: try row.string(2),
                          clicked: try row.bool(3), paid: try row.bool(4))
        }
    }

    /// The same sources as `SQLiteReportQueries.lifetimeValueRows` (see there).
    /// PostgreSQL-specific: `sum(bigint)` is an exact `numeric`, so the total needs no split; a total outside the
    /// 64-bit range is read as `nil`, as `MoneySum.combine` gives on SQLite, and implausible amounts
    /// (`MoneySum.plausibleLimit`) are counted apart and left out, as there.
    public func lifetimeValueRows(until: Int64) throws -> [ReportLifetimeValueRow] {
        let limit = MoneySum.plausibleLimit
        let plausible = "p.amount BETWEEN -\(limit) AND \(limit)"
        return try connection.query("""
            WITH firsts AS (
                SELECT contact_id, min(occurred_at) AS t FROM contact_payments
                WHERE kind <> 'refund' AND contact_id IS NOT NULL AND occurred_at < $1 GROUP BY contact_id),
            source AS MATERIALIZED (
                SELECT f.contact_id, coalesce(CASE WHEN c.first_campaign_at <= f.t THEN c.first_campaign END,
                    (SELECT q.link_campaign FROM contact_payments q WHERE q.contact_id = f.contact_id AND q.kind <> 'refund'
                     AND q.occurred_at = f.t ORDER BY q.id LIMIT 1), 'direct') AS source
                FROM firsts f JOIN contacts c ON c.id = f.contact_id),
            revenue AS (
                SELECT s.source, p.currency, count(DISTINCT p.contact_id) AS payers,
                       coalesce(sum(p.amount) FILTER (WHERE \(plausible)), 0) AS total,
                       count(*) FILTER (WHERE NOT (\(plausible))) AS implausible
                FROM source s JOIN contact_payments p ON p.contact_id = s.contact_id AND p.occurred_at < $1
                GROUP BY s.source, p.currency)
            SELECT s.source, NULL::text, count(*), 0::bigint, 0::bigint FROM source s GROUP BY s.source
            UNION ALL
            SELECT source, currency, payers,
                   CASE WHEN total BETWEEN -9223372036854775808 AND 9223372036854775807 THEN total::bigint END, implausible
            FROM revenue
            """, [until]).rows.map { row in
            let currency = row.optionalString(1)
            let revenue = try row.optionalInt(3)
            // Only a currency row's total can be out of range (NULL); the customers row's is always 0.
            if currency == nil && revenue == nil { throw row.decodingError(Int64.self, 3) }
            return ReportLifetimeValueRow(source: try row.string(0), currency: currency, count: Int(try row.int(2)),
                                          revenue: revenue, implausible: Int(try row.int(4)))
        }
    }

    /// The same churn as `SQLiteReportQueries.churnRows` (see there).
    public func churnRows(since: Int64, until: Int64) throws -> [(sequence: String, base: Int, churned: Int)] {
        try connection.query("""
            WITH subscribers AS (
                SELECT contact_id, min(occurred_at) AS first_invoice FROM contact_payments
                WHERE kind = 'invoice' AND contact_id IS NOT NULL AND occurred_at < $2 GROUP BY contact_id),
            onboarded AS (
                SELECT coalesce((SELECT t.campaign_id FROM contact_activity t WHERE t.contact_id = s.contact_id
                                 AND t.occurred_at >= s.first_invoice AND t.occurred_at < $2 AND t.kind = 'sent'
                                 AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at, t.id LIMIT 1), 'none') AS sequence,
                       c.subscription_status IN ('canceled', 'incomplete_expired') AS ended, c.subscription_at AS ended_at
                FROM subscribers s JOIN contacts c ON c.id = s.contact_id)
            SELECT sequence, count(*) FILTER (WHERE NOT (ended AND ended_at < $1)),
                   count(*) FILTER (WHERE ended AND ended_at >= $1 AND ended_at < $2)
            FROM onboarded GROUP BY sequence ORDER BY sequence
            """, [since, until]).rows.map { row in
            (try row.string(0), Int(try row.int(1)), Int(try row.int(2)))
        }
    }

    /// The same control groups as `SQLiteReportQueries.controlGroupRows` (see there).
    /// PostgreSQL-specific: `count(*) FILTER (WHERE EXISTS …)` for SQLite's `sum(EXISTS …)`.
    public func controlGroupRows(since: Int64, until: Int64) throws -> [(rule: String, control: Bool, size: Int, converted: Int)] {
        try connection.query("""
            WITH held AS (
                SELECT rule, contact_id, min(at) AS at FROM rule_holdbacks
                WHERE reason = 'rollout' AND contact_id IS NOT NULL AND at >= $1 AND at < $2 GROUP BY rule, contact_id),
            ran AS (
                SELECT rule, contact_id, min(at) AS at FROM rule_runs
                WHERE at >= $1 AND at < $2 AND rule IN (SELECT rule FROM held) GROUP BY rule, contact_id),
            groups AS (SELECT 0 AS control, * FROM ran UNION ALL SELECT 1, * FROM held)
            SELECT rule, control, count(*), count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM contact_payments q WHERE q.contact_id = g.contact_id
                       AND q.kind <> 'refund' AND q.occurred_at > g.at AND q.occurred_at < $2))
            FROM groups g GROUP BY rule, control ORDER BY rule, control
            """, [since, until]).rows.map { row in
            let control = try row.int(1)
            guard control == 0 || control == 1 else { throw row.decodingError(Bool.self, 1) }
            return (try row.string(0), control == 1, Int(try row.int(2)), Int(try row.int(3)))
        }
    }

    public func manualInterventions(since: Int64, until: Int64) throws -> (retried: Int, discarded: Int) {
        guard let row = try connection.query("""
            SELECT coalesce(sum(count) FILTER (WHERE action <> 'discard'), 0), coalesce(sum(count) FILTER (WHERE action = 'discard'), 0)
            FROM admin_actions WHERE at >= $1 AND at < $2
            """, [since, until]).first else { return (0, 0) }
        return (Int(try row.int(0)), Int(try row.int(1)))
    }

    public func deadJobCount() throws -> Int {
        Int(try connection.query("SELECT count(*) FROM jobs WHERE state = 'dead'").first?.int(0) ?? 0)
    }

    /// Filled by `hookyard demo seed` (its `demo_data` table). PostgreSQL-specific: `to_regclass` for `sqlite_master`.
    public func isSynthetic() throws -> Bool {
        try connection.query("SELECT to_regclass('demo_data') IS NOT NULL").first?.bool(0) ?? false
    }
}
