import Store
import SQLite

/// The report's queries on SQLite (`ReportQueries`): a handful of aggregates over the contacts' activity, payments,
/// links and rule runs. It only reads: the connection `init(path:)` opens is `query_only`, and as a WAL reader it
/// never blocks the daemon.
///
/// SQLite-specific constructs (see docs/storage.md): `INDEXED BY`, `AS MATERIALIZED`, `count(*) FILTER (...)`,
/// boolean expressions summed as integers, `min(a, b)` as a scalar, `sqlite_master`, `PRAGMA temp_store/cache_size/mmap_size`,
/// and `MoneySum`'s split 64-bit sums.
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

        var campaigns: [String?] = [nil]
        var campaign = try seek(firstCampaign, [])
        while let found = campaign {
            campaigns.append(found)
            campaign = try seek(nextCampaign, [found])
        }
        let maximumContact = try database.scalarInt("SELECT max(id) FROM contacts") ?? 0
        let tally = ActivityTally(denseContacts: Int(clamping: min(max(maximumContact + 1, 0), 1 << 24)))
        // SQLite-specific: an application-defined function consumes each range's contact ids inside one statement,
        // so a range costs one `step()` instead of one per row (about half the time of stepping the rows out).
        try database.withFunction("hookyard_report_tally", argumentCount: 1, { arguments in
            tally.add(contact: arguments.isNull(0) ? nil : arguments.int(0))
        }) {
            let contacts = try database.prepare("""
                SELECT count(hookyard_report_tally(contact_id)) FROM \(index)
                WHERE campaign_id IS ?1 AND kind = ?2 AND occurred_at >= ?3 AND occurred_at < ?4
                """)
            for campaign in campaigns {
                var kind = try seek(firstKind, [campaign])
                while let found = kind {
                    try contacts.bind(1, campaign)
                    try contacts.bind(2, found)
                    try contacts.bind(3, since)
                    try contacts.bind(4, until)
                    tally.kind = ActivityTally.Kind(found)
                    while try contacts.step() {}
                    contacts.reset()
                    kind = try seek(nextKind, [campaign, found])
                }
                try tally.flush(campaign: campaign, body)
            }
        }
    }

    /// One campaign's activity per contact while `forEachActivity` reads its ranges: per contact id, a sent count and
    /// flags in buffers allocated once per pass (ids outside them, and the contact-less rows, in a dictionary), and the
    /// contacts touched, so `flush` reports and clears only those. `add` runs once per activity row, called by SQLite
    /// through the pass's SQL function: plain buffers, so a row costs no reference counting or exclusivity check.
    /// Not thread-safe: one pass, on one thread.
    private final class ActivityTally {
        enum Kind: UInt8 {
            case sent, opened, clicked, replied, other

            init(_ kind: String) {
                switch kind {
                case "sent": self = .sent
                case "opened": self = .opened
                case "clicked": self = .clicked
                case "replied": self = .replied
                default: self = .other
                }
            }
        }

        /// Flags of `Group.flags`: touched (any activity), opened, clicked, replied.
        private static let touchedFlag: UInt8 = 1, openedFlag: UInt8 = 2, clickedFlag: UInt8 = 4, repliedFlag: UInt8 = 8

        private struct Group {
            var sent = 0
            var flags: UInt8 = 0
        }

        /// The kind of the range being read: what `add` counts.
        var kind = Kind.other
        private let dense: UnsafeMutableBufferPointer<Group>
        /// The contacts touched in the campaign so far, `touchedCount` of them, in `dense`.
        private let touched: UnsafeMutableBufferPointer<Int32>
        private var touchedCount = 0
        private var others: [Int64?: Group] = [:]

        init(denseContacts: Int) {
            dense = .allocate(capacity: denseContacts)
            dense.initialize(repeating: Group())
            touched = .allocate(capacity: denseContacts)
            touched.initialize(repeating: 0)
        }

        deinit {
            dense.deallocate()
            touched.deallocate()
        }

        func add(contact: Int64?) {
            if let contact, contact >= 0, contact < dense.count {
                let slot = Int(contact)
                if dense[slot].flags == 0 {
                    touched[touchedCount] = Int32(slot)
                    touchedCount += 1
                }
                Self.apply(kind, to: &dense[slot])
            } else {
                Self.apply(kind, to: &others[contact, default: Group()])
            }
        }

        private static func apply(_ kind: Kind, to group: inout Group) {
            group.flags |= touchedFlag
            switch kind {
            case .sent: group.sent += 1
            case .opened: group.flags |= openedFlag
            case .clicked: group.flags |= clickedFlag
            case .replied: group.flags |= repliedFlag
            case .other: break
            }
        }

        private static func row(_ contact: Int64?, _ campaign: String?, _ group: Group) -> ReportActivityRow {
            ReportActivityRow(contactID: contact, campaign: campaign, sent: group.sent, opened: group.flags & openedFlag != 0,
                              clicked: group.flags & clickedFlag != 0, replied: group.flags & repliedFlag != 0)
        }

        /// Passes one row per contact touched in `campaign` to `body`, and clears the tally for the next campaign.
        func flush(campaign: String?, _ body: (ReportActivityRow) throws -> Void) throws {
            for index in 0..<touchedCount {
                let slot = Int(touched[index])
                try body(Self.row(Int64(slot), campaign, dense[slot]))
                dense[slot] = Group()
            }
            touchedCount = 0
            for (contact, group) in others { try body(Self.row(contact, campaign, group)) }
            others.removeAll(keepingCapacity: true)
        }
    }

    /// A refund is attributed to the contact's latest sale in its currency at or before it; last touch = the link's
    /// campaign, else the latest touch within the lookback; first touch = the earliest touch at or before, else the
    /// link's campaign; an erased contact's row keeps the campaigns stored with it.
    public func attributedPayments(since: Int64, until: Int64, lookbackMilliseconds: Int64,
                                   withRule: Bool) throws -> [ReportPaymentRow] {
        let rule = withRule ? """
            coalesce(a.link_rule, (SELECT l.rule FROM payment_links_sent l WHERE l.link_id = a.payment_link),
                     (SELECT r.rule FROM rule_runs r WHERE r.contact_id = a.contact_id AND r.at <= a.at AND r.at >= a.at - ?3
                      ORDER BY r.at DESC LIMIT 1))
            """ : "NULL"
        var result: [ReportPaymentRow] = []
        try rows("""
            WITH p AS (
                SELECT p.*, CASE WHEN p.kind = 'refund' AND p.contact_id IS NOT NULL THEN
                    (SELECT q.id FROM contact_payments q WHERE q.contact_id = p.contact_id AND q.kind <> 'refund'
                     AND q.currency = p.currency AND q.occurred_at <= p.occurred_at ORDER BY q.occurred_at DESC, q.id DESC LIMIT 1)
                    END AS sale
                FROM contact_payments p WHERE p.occurred_at >= ?1 AND p.occurred_at < ?2),
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
                              AND t.occurred_at >= a.at - ?3 AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1)) END,
                   a.payment_link IS NOT NULL OR a.link_campaign IS NOT NULL
                       OR EXISTS (SELECT 1 FROM purchases u WHERE u.reference = a.reference AND u.payment_link IS NOT NULL),
                   a.kind <> 'refund' AND a.contact_id IS NOT NULL AND NOT EXISTS (
                       SELECT 1 FROM contact_payments q WHERE q.contact_id = a.contact_id AND q.kind <> 'refund'
                       AND (q.occurred_at < a.occurred_at OR (q.occurred_at = a.occurred_at AND q.id < a.id))),
                   CASE WHEN c.first_campaign_at <= a.at THEN c.first_campaign_at END,
                   \(rule), a.own_reference
            FROM a LEFT JOIN contacts c ON c.id = a.contact_id
            """, [since, until, lookbackMilliseconds]) { row in
            let firstPurchase = row.int(9) != 0
            let occurredAt = row.int(4)
            // Both times are stored as received: a difference that does not fit is no duration.
            let sinceTouch = row.isNull(10) ? nil : occurredAt.subtractingReportingOverflow(row.int(10))
            result.append(ReportPaymentRow(
                contactID: row.isNull(0) ? nil : row.int(0), reference: row.string(12) ?? "", kind: row.string(1) ?? "",
                amount: row.int(2), currency: row.string(3) ?? "", occurredAt: occurredAt, firstTouch: row.string(6),
                lastTouch: row.string(7), tier: row.string(5), rule: row.string(11), viaLink: row.int(8) != 0,
                firstPurchase: firstPurchase,
                timeToFirstPurchase: firstPurchase && sinceTouch?.overflow == false ? sinceTouch?.partialValue : nil))
        }
        return result
    }

    /// Clicked: the link's contact has a `clicked` activity in the link's campaign (any campaign for a link without
    /// one) at or after its creation and before `until`. Paid: a payment or invoice before `until` carries the
    /// link's id, or the contact paid at or after its creation within the lookback (and before `until`).
    /// SQLite-specific: `min(?2, ...)` as a two-argument scalar (PostgreSQL: `least`).
    public func linksSent(since: Int64, until: Int64, lookbackMilliseconds: Int64) throws -> [ReportLinkRow] {
        var links: [ReportLinkRow] = []
        try rows("""
            SELECT l.contact_id, l.campaign_id, l.rule,
                   EXISTS (SELECT 1 FROM contact_activity t WHERE t.contact_id = l.contact_id AND t.occurred_at >= l.created_at
                           AND t.occurred_at < ?2 AND t.kind = 'clicked' AND (l.campaign_id IS NULL OR t.campaign_id = l.campaign_id)),
                   EXISTS (SELECT 1 FROM contact_payments q WHERE q.payment_link = l.link_id AND q.kind <> 'refund' AND q.occurred_at < ?2)
                   OR EXISTS (SELECT 1 FROM contact_payments q WHERE q.contact_id = l.contact_id AND q.kind <> 'refund'
                              AND q.occurred_at >= l.created_at AND q.occurred_at < min(?2, l.created_at + ?3))
            FROM payment_links_sent l WHERE l.created_at >= ?1 AND l.created_at < ?2
            """, [since, until, lookbackMilliseconds]) { row in
            links.append(ReportLinkRow(contactID: row.isNull(0) ? nil : row.int(0), campaign: row.string(1), rule: row.string(2) ?? "",
                                       clicked: row.int(3) != 0, paid: row.int(4) != 0))
        }
        return links
    }

    /// The acquisition source is the first-touch campaign of the customer's first payment or invoice before `until`,
    /// else its link campaign, else direct; erased contacts' rows are left out.
    /// SQLite-specific: `AS MATERIALIZED`, `MoneySum`'s split sums (SQLite's `sum` fails on 64-bit overflow).
    public func lifetimeValueRows(until: Int64) throws -> [ReportLifetimeValueRow] {
        var result: [ReportLifetimeValueRow] = []
        try rows("""
            WITH firsts AS (
                SELECT contact_id, min(occurred_at) AS t FROM contact_payments
                WHERE kind <> 'refund' AND contact_id IS NOT NULL AND occurred_at < ?1 GROUP BY contact_id),
            source AS MATERIALIZED (
                SELECT f.contact_id, coalesce(CASE WHEN c.first_campaign_at <= f.t THEN c.first_campaign END,
                    (SELECT q.link_campaign FROM contact_payments q WHERE q.contact_id = f.contact_id AND q.kind <> 'refund'
                     AND q.occurred_at = f.t ORDER BY q.id LIMIT 1), 'direct') AS source
                FROM firsts f JOIN contacts c ON c.id = f.contact_id)
            SELECT s.source, NULL, count(*), 0, 0, 0 FROM source s GROUP BY s.source
            UNION ALL
            SELECT s.source, p.currency, count(DISTINCT p.contact_id),
                   \(MoneySum.sqlParts(of: "CASE WHEN \(MoneySum.sqlPlausible("p.amount")) THEN p.amount ELSE 0 END")),
                   sum(NOT \(MoneySum.sqlPlausible("p.amount")))
            FROM source s JOIN contact_payments p ON p.contact_id = s.contact_id AND p.occurred_at < ?1 GROUP BY s.source, p.currency
            """, [until]) { row in
            result.append(ReportLifetimeValueRow(source: row.string(0) ?? ReportBuilder.direct, currency: row.string(1),
                                                 count: Int(row.int(2)), revenue: MoneySum.combine(high: row.int(3), low: row.int(4)),
                                                 implausible: Int(row.int(5))))
        }
        return result
    }

    /// Subscribers (a paid invoice before `until`) by onboarding sequence (the campaign of their first `sent` at or
    /// after their first invoice and before `until`, else none). SQLite-specific: `count(*) FILTER`.
    public func churnRows(since: Int64, until: Int64) throws -> [(sequence: String, base: Int, churned: Int)] {
        var result: [(sequence: String, base: Int, churned: Int)] = []
        try rows("""
            WITH subscribers AS (
                SELECT contact_id, min(occurred_at) AS first_invoice FROM contact_payments
                WHERE kind = 'invoice' AND contact_id IS NOT NULL AND occurred_at < ?2 GROUP BY contact_id),
            onboarded AS (
                SELECT coalesce((SELECT t.campaign_id FROM contact_activity t WHERE t.contact_id = s.contact_id
                                 AND t.occurred_at >= s.first_invoice AND t.occurred_at < ?2 AND t.kind = 'sent'
                                 AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at, t.id LIMIT 1), 'none') AS sequence,
                       c.subscription_status IN ('canceled', 'incomplete_expired') AS ended, c.subscription_at AS ended_at
                FROM subscribers s JOIN contacts c ON c.id = s.contact_id)
            SELECT sequence, count(*) FILTER (WHERE NOT (ended AND ended_at < ?1)),
                   count(*) FILTER (WHERE ended AND ended_at >= ?1 AND ended_at < ?2)
            FROM onboarded GROUP BY sequence
            """, [since, until]) { row in
            result.append((row.string(0) ?? "none", Int(row.int(1)), Int(row.int(2))))
        }
        return result
    }

    /// Rules that held anyone back by rollout in the period: treated and control contacts, and those who paid after
    /// their first run or holdback. SQLite-specific: `sum(EXISTS ...)` adds booleans as integers.
    public func controlGroupRows(since: Int64, until: Int64) throws -> [(rule: String, control: Bool, size: Int, converted: Int)] {
        var result: [(rule: String, control: Bool, size: Int, converted: Int)] = []
        try rows("""
            WITH held AS (
                SELECT rule, contact_id, min(at) AS at FROM rule_holdbacks
                WHERE reason = 'rollout' AND contact_id IS NOT NULL AND at >= ?1 AND at < ?2 GROUP BY rule, contact_id),
            ran AS (
                SELECT rule, contact_id, min(at) AS at FROM rule_runs
                WHERE at >= ?1 AND at < ?2 AND rule IN (SELECT rule FROM held) GROUP BY rule, contact_id),
            groups AS (SELECT 0 AS control, * FROM ran UNION ALL SELECT 1, * FROM held)
            SELECT rule, control, count(*), sum(EXISTS (SELECT 1 FROM contact_payments q WHERE q.contact_id = g.contact_id
                                                        AND q.kind <> 'refund' AND q.occurred_at > g.at AND q.occurred_at < ?2))
            FROM groups g GROUP BY rule, control
            """, [since, until]) { row in
            result.append((row.string(0) ?? "", row.int(1) == 1, Int(row.int(2)), Int(row.int(3))))
        }
        return result
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
