import PostgreSQL
import Store

/// The report's queries on PostgreSQL (`ReportQueries`): the same rows and lookups as `SQLiteReportQueries`, so a
/// report reads the same on either engine. It only reads: a connection `init(url:password:)` opens is switched to
/// read-only transactions, and the activity is read in one read-only transaction, so it never blocks the nodes'
/// writes (MVCC).
///
/// PostgreSQL-specific constructs (see docs/storage.md): `array_agg` where SQLite hands the activity's ids to an SQL
/// function, a batch of lookups as arrays unnested `WITH ORDINALITY` (SQLite: one JSON array), and `to_regclass` for
/// `sqlite_master`.
///
/// Not thread-safe: one instance (one connection) per thread or request.
public final class PostgreSQLReportQueries: ReportQueries {
    private let connection: PostgreSQLConnection
    private let ownsConnection: Bool

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

    /// The same pass as `SQLiteReportQueries.forEachActivity`: for each campaign (and the campaign-less rows) and each
    /// activity kind present, the period's contact ids of one range of the covering index
    /// `contact_activity_by_campaign_time (campaign_id, kind, occurred_at, contact_id)` (an index-only scan), sent as
    /// one `bigint[]` (`array_agg`) and tallied per contact in Swift (`ActivityTally`). The campaigns and kinds come
    /// from `min()` seeks along the same index. Grouping the period's rows by contact and campaign in SQL sorted them
    /// all in the server instead: about twice the time. One read-only, repeatable-read transaction, so every range
    /// sees one snapshot; call it outside any transaction of a shared connection.
    /// PostgreSQL-specific: `array_agg`, `REPEATABLE READ`, `IS NULL` as an index condition.
    /// - Complexity: O(rows in the period + seeks per campaign and kind); memory O(max contact id) once, and one
    ///   range's ids at a time.
    public func forEachActivity(since: Int64, until: Int64, _ body: (ReportActivityRow) throws -> Void) throws {
        try connection.transaction {
            try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            let campaigns = try ActivityTally.campaigns { after in
                let sql = "SELECT min(campaign_id) FROM contact_activity" + (after == nil ? "" : " WHERE campaign_id > $1")
                return try connection.query(sql, after.map { [$0] } ?? []).first?.optionalString(0)
            }
            let tally = ActivityTally(maximumContact: try connection.query("SELECT max(id) FROM contacts").first?.optionalInt(0) ?? 0)
            /// The range's condition on the campaign, and its parameters: `IS NULL` and `=` are both index conditions
            /// (`IS NOT DISTINCT FROM` is not).
            func matching(_ campaign: String?) -> (sql: String, parameters: [any PostgreSQLEncodable]) {
                campaign.map { ("campaign_id = $1", [$0]) } ?? ("campaign_id IS NULL", [])
            }
            try tally.read(campaigns, nextKind: { campaign, after in
                let (match, parameters) = matching(campaign)
                let sql = "SELECT min(kind) FROM contact_activity WHERE \(match)"
                    + (after == nil ? "" : " AND kind > $\(parameters.count + 1)")
                return try connection.query(sql, parameters + (after.map { [$0] } ?? [])).first?.optionalString(0)
            }, readRange: { campaign, kind in
                let (match, parameters) = matching(campaign)
                let next = parameters.count + 1
                let ids = try connection.query("""
                    SELECT array_agg(contact_id) FROM contact_activity
                    WHERE \(match) AND kind = $\(next) AND occurred_at >= $\(next + 1) AND occurred_at < $\(next + 2)
                    """, parameters + [kind, since, until])
                try ids.first?.forEachIntegerInArray(0) { tally.add(contact: $0) }
            }, body)
        }
    }

    /// The same rows as `SQLiteReportQueries.paymentHistory` (see there).
    public func paymentHistory(until: Int64) throws -> [ReportPaymentRecord] {
        try connection.query("""
            \(ReportPaymentRecord.selectFromPaymentsAndContacts)
            WHERE p.occurred_at < $1
            """, [until]).rows.map { row in
            guard let kind = ReportPaymentRecord.Kind(rawValue: try row.string(2)) else {
                throw row.decodingError(ReportPaymentRecord.Kind.self, 2)
            }
            return ReportPaymentRecord(
                id: try row.int(0), contactID: try row.optionalInt(1), kind: kind, amount: try row.int(3), currency: try row.string(4),
                occurredAt: try row.int(5), reference: try row.string(6), tier: row.optionalString(7), linkCampaign: row.optionalString(8),
                paymentLink: row.optionalString(9), linkRule: row.optionalString(10), viaLink: try row.bool(11),
                storedFirstTouch: row.optionalString(12), storedLastTouch: row.optionalString(13),
                contact: try row.bool(14) ? ReportPayer(
                    firstCampaign: row.optionalString(15), firstCampaignAt: try row.optionalInt(16),
                    subscriptionStatus: row.optionalString(17), subscriptionAt: try row.optionalInt(18)) : nil)
        }
    }

    /// Runs the lookup's subquery once per window in one round trip: the windows travel as three arrays, unnested in
    /// order. PostgreSQL-specific: `unnest … WITH ORDINALITY`, `text[]` cast to `bigint[]`.
    public func lookUp(_ lookup: ReportLookup, _ lookups: [ReportContactWindow]) throws -> [String?] {
        let rows = try connection.query("""
            SELECT (\(lookup.subquery)) FROM unnest($1::text[]::bigint[], $2::text[]::bigint[], $3::text[]::bigint[])
                WITH ORDINALITY AS x(contact, since, through, n)
            ORDER BY x.n
            """, [PostgreSQLValue.textArray(lookups.map { String($0.contact) }), PostgreSQLValue.textArray(lookups.map { String($0.from) }),
                  PostgreSQLValue.textArray(lookups.map { String($0.through) })])
        return rows.rows.map { $0.optionalString(0) }
    }

    /// The same links as `SQLiteReportQueries.paymentLinks`, in creation order.
    public func paymentLinks(since: Int64, until: Int64) throws -> [ReportLinkRecord] {
        try connection.query("""
            SELECT l.link_id, l.contact_id, l.campaign_id, l.rule, l.created_at,
                   EXISTS (SELECT 1 FROM contact_activity t WHERE t.contact_id = l.contact_id AND t.occurred_at >= l.created_at
                           AND t.occurred_at < $2 AND t.kind = 'clicked' AND (l.campaign_id IS NULL OR t.campaign_id = l.campaign_id))
            FROM payment_links_sent l WHERE l.created_at >= $1 AND l.created_at < $2
            ORDER BY l.created_at, l.link_id
            """, [since, until]).rows.map { row in
            ReportLinkRecord(linkID: try row.string(0), contactID: try row.optionalInt(1), campaign: row.optionalString(2),
                             rule: try row.string(3), createdAt: try row.int(4), clicked: try row.bool(5))
        }
    }

    /// The same entries as `SQLiteReportQueries.rolloutEntries`.
    public func rolloutEntries(since: Int64, until: Int64) throws -> [ReportRolloutEntry] {
        try connection.query("""
            WITH held AS (
                SELECT rule, contact_id, at FROM rule_holdbacks
                WHERE reason = 'rollout' AND contact_id IS NOT NULL AND at >= $1 AND at < $2)
            SELECT rule, true, contact_id, at FROM held
            UNION ALL
            SELECT rule, false, contact_id, at FROM rule_runs WHERE rule IN (SELECT rule FROM held) AND at >= $1 AND at < $2
            """, [since, until]).rows.map { row in
            ReportRolloutEntry(rule: try row.string(0), control: try row.bool(1), contactID: try row.int(2), at: try row.int(3))
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
