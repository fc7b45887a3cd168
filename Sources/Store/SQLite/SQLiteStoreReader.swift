import SQLite

/// Read-side queries for the CLI and health checks on SQLite, on a connection of its own (WAL lets it read while the
/// daemon writes). A stored source or job state Hookyard never writes is an error (`SQLiteDecodingError`).
/// Not thread-safe: one reader per thread or command.
public final class SQLiteStoreReader: StoreReading {
    let database: SQLiteDatabase

    /// Opens an existing database. - Throws: `StoreError.missingDatabase` if there is no file at `path`.
    public convenience init(path: String) throws {
        self.init(database: try StoreConnection.openExisting(path: path))
    }

    /// Uses `database`, a connection opened by `StoreConnection` (migrated), which other storage types may share.
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func statistics() throws -> StoreStatistics {
        var events: [EventSource: Int] = [:]
        for source in EventSource.allCases { events[source] = 0 }
        let eventCounts = try database.prepare("SELECT source, count(*) FROM events GROUP BY source")
        while try eventCounts.step() {
            events[try eventCounts.decode(EventSource.self, column: 0)] = Int(eventCounts.int(1))
        }
        let jobs = try jobCounts()
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        let pages = try database.scalarInt("PRAGMA page_count") ?? 0
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        let pageSize = try database.scalarInt("PRAGMA page_size") ?? 0
        var purchases: [String: PurchaseTotal] = [:]
        let totals = try database.prepare("SELECT currency, count(*), \(MoneySum.sqlParts(of: "amount")) FROM purchases GROUP BY currency")
        while try totals.step() {
            purchases[totals.string(0) ?? ""] = PurchaseTotal(count: Int(totals.int(1)),
                                                              amount: MoneySum.combine(high: totals.int(2), low: totals.int(3)))
        }
        var payments: [String: PaymentTotal] = [:]
        let seen = try database.prepare("""
            SELECT currency, sum(kind <> 'refund'), sum(kind = 'refund'), \(MoneySum.sqlParts(of: "amount"))
            FROM contact_payments GROUP BY currency
            """)
        while try seen.step() {
            payments[seen.string(0) ?? ""] = PaymentTotal(payments: Int(seen.int(1)), refunds: Int(seen.int(2)),
                                                          net: MoneySum.combine(high: seen.int(3), low: seen.int(4)))
        }
        return StoreStatistics(events: events, jobs: jobs, databaseBytes: pages * pageSize, purchases: purchases, payments: payments)
    }

    /// The number of jobs in each state, every `JobState` present (0 when none). Cheaper than `statistics()`:
    /// it reads only the jobs index, not the events.
    public func jobCounts() throws -> [String: Int] {
        try SQLiteJobQueue.jobCounts(in: database)
    }

    /// The most recent events first, optionally of one source.
    public func events(source: EventSource?, limit: Int) throws -> [StoredEvent] {
        // SQLite-specific: blob literal `x''`.
        let statement = try database.prepare("""
            SELECT id, source, event_id, dedup_key, type, received_at, x'', headers, length(body) FROM events
            WHERE ?1 IS NULL OR source = ?1 ORDER BY id DESC LIMIT ?2
            """)
        try statement.bind(1, source?.rawValue)
        try statement.bind(2, Int64(limit))
        var result: [StoredEvent] = []
        while try statement.step() { result.append(try row(statement)) }
        return result
    }

    public func events(matching query: EventQuery, limit: Int) throws -> [StoredEvent] {
        // SQLite-specific: blob literal `x''`. `contact_events` links events to the contacts they were applied to; a
        // contact's events are read from it (its primary key) rather than by scanning every event for membership.
        let source = query.contactID == nil
            ? "events e WHERE (?3 IS NULL)"
            : "contact_events c JOIN events e ON e.id = c.event_id WHERE c.contact_id = ?3"
        let statement = try database.prepare("""
            SELECT e.id, e.source, e.event_id, e.dedup_key, e.type, e.received_at, x'', e.headers, length(e.body) FROM \(source)
              AND (?1 IS NULL OR e.source = ?1) AND (?2 IS NULL OR e.type = ?2)
              AND (?4 IS NULL OR e.received_at >= ?4) AND (?5 IS NULL OR e.received_at < ?5) AND (?6 IS NULL OR e.id < ?6)
            ORDER BY e.id DESC LIMIT ?7
            """)
        try statement.bind(1, query.source?.rawValue)
        try statement.bind(2, query.type)
        try statement.bind(3, query.contactID)
        try statement.bind(4, query.since)
        try statement.bind(5, query.until)
        try statement.bind(6, query.beforeID)
        try statement.bind(7, Int64(limit))
        var result: [StoredEvent] = []
        while try statement.step() { result.append(try row(statement)) }
        return result
    }

    public func event(id: Int64) throws -> StoredEvent? {
        let statement = try database.prepare("""
            SELECT id, source, event_id, dedup_key, type, received_at, body, headers, length(body) FROM events WHERE id = ?1
            """)
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        return try row(statement)
    }

    /// One event by row id, or by the provider's event id (`evt_...`) or dedup key.
    public func event(_ reference: String) throws -> StoredEvent? {
        // SQLite-specific: `GLOB` and `CAST(? AS INTEGER)` on text.
        let statement = try database.prepare("""
            SELECT id, source, event_id, dedup_key, type, received_at, body, headers, length(body) FROM events
            WHERE id = CAST(?1 AS INTEGER) AND ?1 GLOB '[0-9]*' OR event_id = ?1 OR dedup_key = ?1
            ORDER BY id LIMIT 1
            """)
        try statement.bind(1, reference)
        guard try statement.step() else { return nil }
        return try row(statement)
    }

    private func row(_ statement: SQLiteStatement) throws -> StoredEvent {
        let id = statement.int(0)
        let jobs = try database.prepare("SELECT state FROM jobs WHERE idempotency_key = 'event:' || ?")
        try jobs.bind(1, id)
        var states: [String] = []
        while try jobs.step() { states.append(try jobs.decode(JobState.self, column: 0).rawValue) }
        return StoredEvent(id: id, source: try statement.decode(EventSource.self, column: 1),
                           eventID: statement.string(2), dedupKey: statement.string(3) ?? "",
                           type: statement.string(4) ?? "", receivedAt: statement.int(5), body: statement.blob(6),
                           headersJSON: statement.string(7) ?? "{}", bodyBytes: Int(statement.int(8)), jobStates: states)
    }

    /// Writes a consistent copy of the database to `destination` with SQLite's online backup API.
    public func backup(to destination: String) throws {
        let target = try SQLiteDatabase(path: destination)
        defer { target.close() }
        try database.backup(to: target)
    }
}
