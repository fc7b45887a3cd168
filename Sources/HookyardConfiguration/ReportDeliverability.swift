import Alerts
import PostgreSQL
import Reports
import SQLite
import Store
import Synchronization

extension HookyardConfiguration {
    /// The report's deliverability rows, for `ReportBuilder`: bounce, unsubscribe and reply rates per sending account
    /// and per campaign over the deliverability watch's window (`deliverability.window`, 7 days) ending at the report's
    /// `until`, every account and campaign that sent at least one email in it (the watch judges only those with
    /// `deliverability.min_sent`). Read on a read-only connection of the provider's own (SQLite's `query_only`, a
    /// read-only PostgreSQL session), opened at its first call and kept for the next ones (its page cache stays
    /// warm), closed when the provider is released; a read that fails closes it, and the next call opens a new one.
    public func reportDeliverability() -> ReportBuilder.DeliverabilityProvider {
        let reader = ReportDeliverabilityReader(location: databaseLocation, windowMilliseconds: deliverability.windowMilliseconds)
        return { query in try reader.rows(until: query.until) }
    }
}

/// The deliverability rows of `HookyardConfiguration.reportDeliverability()` from one kept connection.
///
/// Thread-safe: the connection is used only inside `connection`'s lock, one report at a time.
final class ReportDeliverabilityReader: Sendable {
    private let location: DatabaseLocation
    private let windowMilliseconds: Int64
    /// The open connection and its reader, or `nil` before the first read and after a failed one.
    private let connection = Mutex<(connection: StorageConnection, reader: any DeliverabilityRatesReading)?>(nil)

    init(location: DatabaseLocation, windowMilliseconds: Int64) {
        self.location = location
        self.windowMilliseconds = windowMilliseconds
    }

    deinit {
        connection.withLock { $0?.connection.close() }
    }

    /// - Throws: `StoreError.missingDatabase`, `StoreError.newerSchema`, or the engine's error.
    func rows(until: Int64) throws -> [DeliverabilityRow] {
        try connection.withLock { open in
            if open == nil { open = try Self.open(location) }
            do {
                return try open!.reader.rates(windowMilliseconds: windowMilliseconds, now: until, minimumSent: 1).map { rates in
                    DeliverabilityRow(scope: rates.scope == .account ? .account : .campaign, key: rates.key, sent: rates.sent,
                                      bounced: rates.bounced, unsubscribed: rates.unsubscribed, replied: rates.replied,
                                      bounceRate: rates.bounceRate, unsubscribeRate: rates.unsubscribeRate, replyRate: rates.replyRate)
                }
            } catch {
                open?.connection.close()
                open = nil
                throw error
            }
        }
    }

    private static func open(_ location: DatabaseLocation) throws -> (connection: StorageConnection, reader: any DeliverabilityRatesReading) {
        switch location {
        case .sqlite(let path):
            let database = try ReadingConnection.open(path: path)
            // SQLite-specific: the file memory-mapped (as the report's own connections), so the index range is read in
            // place rather than one pread and copy per page.
            try database.execute("PRAGMA mmap_size = 1073741824")
            return (.sqlite(database), SQLiteDeliverabilityReader(sharing: database))
        case .postgresql(let url, let password):
            let connection = try PostgreSQLStoreConnection.openReadOnly(url: url, password: password, applicationName: "hookyard report")
            return (.postgresql(connection), PostgreSQLDeliverabilityReader(connection: connection))
        }
    }
}
