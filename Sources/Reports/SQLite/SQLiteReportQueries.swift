import Store
import SQLite

/// The report's queries on SQLite (`ReportQueries`): the email activity tallied per contact and campaign, the payment
/// history, links and rollout cohorts, and per-contact lookups by index. It only reads: the connection `init(path:)` opens is `query_only`, and as a WAL reader it
/// never blocks the daemon.
///
/// SQLite-specific constructs (see docs/storage.md): `INDEXED BY` and a unary `+` that choose the index, an
/// application-defined function, lookups passed as one JSON array (`json_each`, `->>`), `sqlite_master`, and
/// `PRAGMA temp_store/cache_size/mmap_size`.
///
/// Not thread-safe: one instance (one SQLite connection) per thread or request.
public final class SQLiteReportQueries: ReportQueries {
    private let database: SQLiteDatabase
    private let ownsDatabase: Bool

    /// Opens the database at `path` for reading (`ReadingConnection`); `close()` closes it.
    /// - Throws: `StoreError.missingDatabase` when there is none, `StoreError.newerSchema`, or SQLite's error.
    public convenience init(path: String) throws {
        self.init(database: try ReadingConnection.open(path: path), ownsDatabase: true)
    }

    /// Reads through an open connection the caller owns (and keeps open while the queries are used).
    public convenience init(database: SQLiteDatabase) {
        self.init(database: database, ownsDatabase: false)
    }

    private init(database: SQLiteDatabase, ownsDatabase: Bool) {
        self.database = database
        self.ownsDatabase = ownsDatabase
        // SQLite-specific: the queries' temporary B-trees in memory, with room for the pages they read; the file is
        // memory-mapped (up to 1 GiB), so the range scans read its pages in place instead of one pread and copy each.
        try? database.execute("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824")
    }

    deinit { close() }

    public func close() {
        if ownsDatabase { database.close() }
    }

    public func campaignNames() throws -> [String: String] {
        var names: [String: String] = [:]
        try rows("SELECT id, name FROM campaigns", []) { names[$0.string(0) ?? ""] = $0.string(1) }
        return names
    }

    /// Reads, for each campaign (and the campaign-less rows) and each activity kind present, the contact ids of one
    /// period range of the covering index `contact_activity_by_campaign_time (campaign_id, kind, occurred_at,
    /// contact_id)`, and counts them per contact in flat arrays indexed by contact id (ids are the `contacts` rowids).
    /// The campaigns and kinds come from seeks along the same index. Every range is read in one read transaction, so
    /// the pass sees one snapshot. A row costs one integer: no campaign id compared, no kind decoded, no
    /// sort (the time index's one range cost twice as much, and a `GROUP BY` sorted every row in a temporary B-tree);
    /// the ids are handed to the tally by a function SQLite calls from its own loop, not stepped out row by row.
    /// SQLite-specific: `INDEXED BY`, a read transaction on a `query_only` connection, an application-defined function.
    /// Runs its own read transaction: call it outside any transaction of a shared connection (as PostgreSQL's).
    /// - Complexity: O(rows in the period + seeks per campaign and kind); memory O(max contact id) once, reused per
    ///   campaign.
    public func forEachActivity(since: Int64, until: Int64, _ body: (ReportActivityRow) throws -> Void) throws {
        try database.readTransaction { try readActivity(since: since, until: until, body) }
    }

    private func readActivity(since: Int64, until: Int64, _ body: (ReportActivityRow) throws -> Void) throws {
        let index = "contact_activity INDEXED BY contact_activity_by_campaign_time"
        let firstCampaign = try database.prepare("SELECT min(campaign_id) FROM \(index) WHERE campaign_id IS NOT NULL")
        let nextCampaign = try database.prepare("SELECT min(campaign_id) FROM \(index) WHERE campaign_id > ?1")
        // `IS` matches the campaign-less rows for a NULL campaign too, and seeks the index as `=` does.
        let firstKind = try database.prepare("SELECT min(kind) FROM \(index) WHERE campaign_id IS ?1")
        let nextKind = try database.prepare("SELECT min(kind) FROM \(index) WHERE campaign_id IS ?1 AND kind > ?2")
        /// The value `statement` finds with `bindings` (a `min(...)` seek), or `nil` when there is none.
        func seek(_ statement: SQLiteStatement, _ bindings: [String?]) throws -> String? {
            defer { statement.reset() }
            for (position, value) in bindings.enumerated() { try statement.bind(Int32(position + 1), value) }
            return try statement.step() ? statement.string(0) : nil
        }

        let campaigns = try ActivityTally.campaigns { after in
            try after.map { try seek(nextCampaign, [$0]) } ?? seek(firstCampaign, [])
        }
        let maximumContact = try database.scalarInt("SELECT max(id) FROM contacts") ?? 0
        let tally = ActivityTally(maximumContact: maximumContact)
        // SQLite-specific: an application-defined function consumes each range's contact ids inside one statement,
        // so a range costs one `step()` instead of one per row (about half the time of stepping the rows out).
        try database.withFunction("hookyard_report_tally", argumentCount: 1, { arguments in
            tally.add(contact: arguments.isNull(0) ? nil : arguments.int(0))
        }) {
            let contacts = try database.prepare("""
                SELECT count(hookyard_report_tally(contact_id)) FROM \(index)
                WHERE campaign_id IS ?1 AND kind = ?2 AND occurred_at >= ?3 AND occurred_at < ?4
                """)
            try tally.read(campaigns, nextKind: { campaign, after in
                try after.map { try seek(nextKind, [campaign, $0]) } ?? seek(firstKind, [campaign])
            }, readRange: { campaign, kind in
                try contacts.bind(1, campaign)
                try contacts.bind(2, kind)
                try contacts.bind(3, since)
                try contacts.bind(4, until)
                while try contacts.step() {}
                contacts.reset()
            }, body)
        }
    }

    /// One statement over the whole table: a report's `until` is usually now, so the rows before it are nearly all of
    /// them, and a scan in rowid order reads them at half the cost of the time index's range (`+` keeps SQLite from
    /// choosing it). Each row's link rule and link flag are looked up only where the row itself does not carry them,
    /// and the contact by its primary key.
    public func paymentHistory(until: Int64) throws -> [ReportPaymentRecord] {
        var result: [ReportPaymentRecord] = []
        // Few distinct values: kinds, currencies, tiers, campaigns, rules, statuses (reused, not allocated per row).
        var kinds = SQLiteTextReuse(), currencies = SQLiteTextReuse(), tiers = SQLiteTextReuse()
        var campaigns = SQLiteTextReuse(capacity: 64), rules = SQLiteTextReuse(), statuses = SQLiteTextReuse()
        try rows("""
            \(ReportPaymentRecord.selectFromPaymentsAndContacts)
            WHERE +p.occurred_at < ?1
            """, [until]) { row in
            guard let kind = row.string(2, reusing: &kinds).flatMap(ReportPaymentRecord.Kind.init(rawValue:)) else {
                throw row.decodingError(ReportPaymentRecord.Kind.self, column: 2)
            }
            guard let currency = row.string(4, reusing: &currencies) else { throw row.decodingError(String.self, column: 4) }
            result.append(ReportPaymentRecord(
                id: row.int(0), contactID: row.optionalInt(1), kind: kind, amount: row.int(3), currency: currency,
                occurredAt: row.int(5), reference: try row.requiredString(6), tier: row.string(7, reusing: &tiers),
                linkCampaign: row.string(8, reusing: &campaigns), paymentLink: row.string(9), linkRule: row.string(10, reusing: &rules),
                viaLink: row.int(11) != 0, storedFirstTouch: row.string(12), storedLastTouch: row.string(13),
                contact: row.int(14) == 0 ? nil : ReportPayer(
                    firstCampaign: row.string(15, reusing: &campaigns), firstCampaignAt: row.optionalInt(16),
                    subscriptionStatus: row.string(17, reusing: &statuses), subscriptionAt: row.optionalInt(18))))
        }
        return result
    }

    /// Runs the lookup's subquery once per window inside one statement: the windows travel as one JSON array of
    /// `[contact, from, through]` triples, and each answer comes back with its position. About half the time of
    /// binding and stepping a statement per window. SQLite-specific: `json_each`, `->>` (3.38).
    public func lookUp(_ lookup: ReportLookup, _ lookups: [ReportContactWindow]) throws -> [String?] {
        var json = "["
        json.reserveCapacity(lookups.count * 36)
        for (position, lookup) in lookups.enumerated() {
            json += position == 0 ? "[" : ",["
            json += "\(lookup.contact),\(lookup.from),\(lookup.through)]"
        }
        json += "]"
        let statement = try database.prepare("""
            WITH x AS (SELECT j.key AS position, j.value ->> 0 AS contact, j.value ->> 1 AS since, j.value ->> 2 AS through
                       FROM json_each(?1) j)
            SELECT x.position, (\(lookup.subquery)) FROM x
            """)
        try statement.bind(1, json)
        var answers = [String?](repeating: nil, count: lookups.count)
        var values = SQLiteTextReuse(capacity: 64)
        while try statement.step() {
            let position = statement.int(0)
            guard position >= 0, position < answers.count else { throw statement.decodingError(Int.self, column: 0) }
            answers[Int(position)] = statement.string(1, reusing: &values)
        }
        return answers
    }

    public func paymentLinks(since: Int64, until: Int64) throws -> [ReportLinkRecord] {
        var links: [ReportLinkRecord] = []
        var campaigns = SQLiteTextReuse(capacity: 64), rules = SQLiteTextReuse()
        try rows("""
            SELECT l.link_id, l.contact_id, l.campaign_id, l.rule, l.created_at,
                   EXISTS (SELECT 1 FROM contact_activity t WHERE t.contact_id = l.contact_id AND t.occurred_at >= l.created_at
                           AND t.occurred_at < ?2 AND t.kind = 'clicked' AND (l.campaign_id IS NULL OR t.campaign_id = l.campaign_id))
            FROM payment_links_sent l WHERE l.created_at >= ?1 AND l.created_at < ?2
            """, [since, until]) { row in
            guard let rule = row.string(3, reusing: &rules) else { throw row.decodingError(String.self, column: 3) }
            links.append(ReportLinkRecord(linkID: try row.requiredString(0), contactID: row.optionalInt(1),
                                          campaign: row.string(2, reusing: &campaigns), rule: rule, createdAt: row.int(4),
                                          clicked: row.int(5) != 0))
        }
        return links
    }

    /// The runs by `rule_runs_by_rule (rule, at, contact_id)`, covering.
    public func rolloutEntries(since: Int64, until: Int64) throws -> [ReportRolloutEntry] {
        var entries: [ReportRolloutEntry] = []
        var rules = SQLiteTextReuse()
        try rows("""
            WITH held AS (
                SELECT rule, contact_id, at FROM rule_holdbacks
                WHERE reason = 'rollout' AND contact_id IS NOT NULL AND at >= ?1 AND at < ?2)
            SELECT rule, 1, contact_id, at FROM held
            UNION ALL
            SELECT rule, 0, contact_id, at FROM rule_runs WHERE rule IN (SELECT rule FROM held) AND at >= ?1 AND at < ?2
            """, [since, until]) { row in
            guard let rule = row.string(0, reusing: &rules) else { throw row.decodingError(String.self, column: 0) }
            entries.append(ReportRolloutEntry(rule: rule, control: row.int(1) == 1, contactID: row.int(2), at: row.int(3)))
        }
        return entries
    }

    /// SQLite-specific: `sum(...) FILTER`.
    public func manualInterventions(since: Int64, until: Int64) throws -> (retried: Int, discarded: Int) {
        var result = (retried: 0, discarded: 0)
        try rows("""
            SELECT coalesce(sum(count) FILTER (WHERE action <> 'discard'), 0), coalesce(sum(count) FILTER (WHERE action = 'discard'), 0)
            FROM admin_actions WHERE at >= ?1 AND at < ?2
            """, [since, until]) { result = (Int($0.int(0)), Int($0.int(1))) }
        return result
    }

    public func deadJobCount() throws -> Int { Int(try database.scalarInt("SELECT count(*) FROM jobs WHERE state = 'dead'") ?? 0) }

    /// Filled by `hookyard demo seed` (its `demo_data` table). SQLite-specific: `sqlite_master`.
    public func isSynthetic() throws -> Bool {
        try database.scalarInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'demo_data'") ?? 0 > 0
    }

    private func rows(_ sql: String, _ parameters: [Int64], _ body: (SQLiteStatement) throws -> Void) throws {
        let statement = try database.prepare(sql)
        for (index, value) in parameters.enumerated() { try statement.bind(Int32(index + 1), value) }
        while try statement.step() { try body(statement) }
    }
}
