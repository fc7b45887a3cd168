import PostgreSQL
import Store

/// Reads deliverability rates from the contacts' Instantly activity on PostgreSQL (`DeliverabilityRatesReading`),
/// with the same queries, windows and ordering as `SQLiteDeliverabilityReader`: events count by their own time in
/// `(now - window, now]`; an erased person's rows stay, anonymous. It only reads.
///
/// Not thread-safe: one reader per thread. A reader made with `init(connection:)` shares that connection and lives
/// no longer than it.
public final class PostgreSQLDeliverabilityReader: DeliverabilityRatesReading {
    private let connection: PostgreSQLConnection
    private let ownsConnection: Bool

    /// Opens a connection of its own (migrating the schema if needed); `close()` closes it.
    public convenience init(url: String, password: String?, durableCommits: Bool = true) throws {
        self.init(connection: try PostgreSQLStoreConnection.open(url: url, password: password, durableCommits: durableCommits),
                  ownsConnection: true)
    }

    /// Reads on `connection`, which its owner closes (`close()` leaves it open).
    public convenience init(connection: PostgreSQLConnection) {
        self.init(connection: connection, ownsConnection: false)
    }

    private init(connection: PostgreSQLConnection, ownsConnection: Bool) {
        self.connection = connection
        self.ownsConnection = ownsConnection
    }

    /// Closes the reader's own connection (a shared one is left open).
    public func close() {
        if ownsConnection { connection.close() }
    }

    /// Every account and every campaign with at least `minimumSent` emails sent in the window, accounts first, each
    /// scope sorted by key (byte order: the columns are `COLLATE "C"`).
    public func rates(windowMilliseconds: Int64, now: Int64, minimumSent: Int = 0) throws -> [DeliverabilityRates] {
        var result: [DeliverabilityRates] = []
        for scope in DeliverabilityRates.Scope.allCases {
            let column = scope.column
            // PostgreSQL-specific: `count(*) FILTER (WHERE …)` (SQLite: booleans summed as integers).
            let rows = try connection.query("""
                SELECT \(column), count(*) FILTER (WHERE kind = 'sent'), count(*) FILTER (WHERE kind = 'bounced'),
                       count(*) FILTER (WHERE kind = 'unsubscribed'), count(*) FILTER (WHERE kind = 'replied')
                FROM contact_activity
                WHERE \(column) IS NOT NULL AND kind IN \(AlertRows.deliverabilityKinds) AND occurred_at > $1 AND occurred_at <= $2
                GROUP BY \(column) HAVING count(*) FILTER (WHERE kind = 'sent') >= $3 ORDER BY \(column)
                """, [now - windowMilliseconds, now, Int64(minimumSent)])
            for row in rows.rows {
                result.append(DeliverabilityRates(scope: scope, key: try row.string(0), sent: Int(try row.int(1)),
                                                  bounced: Int(try row.int(2)), unsubscribed: Int(try row.int(3)),
                                                  replied: Int(try row.int(4))))
            }
        }
        return result
    }

    /// One account's or campaign's counts in the window (zeros when it has none).
    public func rates(scope: DeliverabilityRates.Scope, key: String, windowMilliseconds: Int64, now: Int64) throws -> DeliverabilityRates {
        let rows = try connection.query("""
            SELECT kind, count(*) FROM contact_activity
            WHERE \(scope.column) = $1 AND kind IN \(AlertRows.deliverabilityKinds) AND occurred_at > $2 AND occurred_at <= $3 GROUP BY kind
            """, [key, now - windowMilliseconds, now])
        var rates = DeliverabilityRates(scope: scope, key: key, sent: 0, bounced: 0, unsubscribed: 0, replied: 0)
        for row in rows.rows {
            let count = Int(try row.int(1))
            AlertRows.setCount(count, ofKind: try row.string(0), in: &rates)
        }
        return rates
    }
}
