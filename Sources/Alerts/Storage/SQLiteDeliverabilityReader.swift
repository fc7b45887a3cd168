import SQLite
import Store

/// Reads deliverability rates from the contacts' Instantly activity (`contact_activity`, which keeps every
/// activity's time, campaign and sending account; an erased person's rows stay, anonymous, so rates do not change
/// when someone is erased). Events count by their own time (Instantly's `timestamp`) in the window
/// `(now - window, now]`. Used by the deliverability watch (per event and in the maintenance pass), `/metrics`, and
/// the report.
///
/// Not thread-safe: one reader per thread. A reader made with `init(sharing:)` (as `SQLiteWorkflowStore.deliverabilityReader()`
/// does) shares that connection and lives no longer than it.
public final class SQLiteDeliverabilityReader: DeliverabilityRatesReading {
    private let database: SQLiteDatabase
    private let ownsConnection: Bool

    /// Opens a connection of its own to an existing database (migrating it if needed); `close()` closes it.
    public init(path: String) throws {
        database = try StoreConnection.openExisting(path: path)
        ownsConnection = true
    }

    /// Reads on `database`, a connection opened by `StoreConnection` that its owner closes (`close()` leaves it open).
    public init(sharing database: SQLiteDatabase) {
        self.database = database
        ownsConnection = false
    }

    /// Closes the reader's own connection (a shared one is left open).
    public func close() {
        if ownsConnection { database.close() }
    }

    /// Every account and every campaign with at least `minimumSent` emails sent in the window, accounts first, each
    /// scope sorted by key.
    /// - Parameters:
    ///   - windowMilliseconds: how far back from `now` activity counts (the deliverability window, 7 days by default).
    ///   - now: the window's end, Unix milliseconds.
    /// - Complexity: per scope, the distinct keys found by one index seek each, then per key and kind one range of
    ///   the scope's `(key, kind, occurred_at)` index counted: no sort of the window's rows (a `GROUP BY` over the
    ///   time range sorted every row of the window by its key in a temporary B-tree: about 25 ms per scope for 7 days
    ///   on a 1,000,000-row table, against a few here).
    public func rates(windowMilliseconds: Int64, now: Int64, minimumSent: Int = 0) throws -> [DeliverabilityRates] {
        var result: [DeliverabilityRates] = []
        for scope in DeliverabilityRates.Scope.allCases {
            let (column, index) = (scope.column, scope.index)
            let count = { (kind: String) in
                "(SELECT count(*) FROM contact_activity INDEXED BY \(index) WHERE \(column) = keys.key AND kind = '\(kind)' "
                    + "AND occurred_at > ?1 AND occurred_at <= ?2)"
            }
            // SQLite-specific: `INDEXED BY`, `AS MATERIALIZED` (each count computed once). The keys come from a
            // recursive walk of the index (the next key after the last one), in `BINARY` order as `ORDER BY` gives;
            // a key with none of the four kinds in the window is left out, as a `GROUP BY` over the window would.
            let statement = try database.prepare("""
                WITH RECURSIVE keys (key) AS (
                    SELECT min(\(column)) FROM contact_activity INDEXED BY \(index) WHERE \(column) IS NOT NULL
                    UNION ALL
                    SELECT (SELECT min(\(column)) FROM contact_activity INDEXED BY \(index) WHERE \(column) > keys.key)
                    FROM keys WHERE keys.key IS NOT NULL),
                counts AS MATERIALIZED (
                    SELECT key, \(count("sent")) AS sent, \(count("bounced")) AS bounced,
                           \(count("unsubscribed")) AS unsubscribed, \(count("replied")) AS replied
                    FROM keys WHERE key IS NOT NULL)
                SELECT key, sent, bounced, unsubscribed, replied FROM counts
                WHERE sent + bounced + unsubscribed + replied > 0 AND sent >= ?3 ORDER BY key
                """)
            try statement.bind(1, now - windowMilliseconds)
            try statement.bind(2, now)
            try statement.bind(3, Int64(minimumSent))
            while try statement.step() {
                result.append(DeliverabilityRates(scope: scope, key: statement.string(0) ?? "", sent: Int(statement.int(1)),
                                                  bounced: Int(statement.int(2)), unsubscribed: Int(statement.int(3)),
                                                  replied: Int(statement.int(4))))
            }
        }
        return result
    }

    /// One account's or campaign's counts in the window (zeros when it has none).
    /// - Complexity: an index range per activity kind: cheap enough to run after every event.
    public func rates(scope: DeliverabilityRates.Scope, key: String, windowMilliseconds: Int64, now: Int64) throws -> DeliverabilityRates {
        let statement = try database.prepare("""
            SELECT kind, count(*) FROM contact_activity
            WHERE \(scope.column) = ?1 AND kind IN \(AlertRows.deliverabilityKinds) AND occurred_at > ?2 AND occurred_at <= ?3 GROUP BY kind
            """)
        try statement.bind(1, key)
        try statement.bind(2, now - windowMilliseconds)
        try statement.bind(3, now)
        var rates = DeliverabilityRates(scope: scope, key: key, sent: 0, bounced: 0, unsubscribed: 0, replied: 0)
        while try statement.step() {
            let count = Int(statement.int(1))
            AlertRows.setCount(count, ofKind: statement.string(0), in: &rates)
        }
        return rates
    }
}

extension DeliverabilityRates.Scope {
    /// The `contact_activity` column the scope groups by.
    var column: String { self == .account ? "account" : "campaign_id" }
    /// The index on (`column`, kind, occurred_at) (migration 9; the account's is partial: `account IS NOT NULL`).
    var index: String { self == .account ? "contact_activity_by_account" : "contact_activity_by_campaign_time" }
}
