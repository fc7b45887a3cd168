import Foundation
import HookyardFoundation
import PostgreSQL

/// Read-side queries for the CLI and health checks on PostgreSQL (`StoreReading`), with `SQLiteStoreReader`'s results
/// and ordering call for call. It only reads, so several nodes' readers need no protection from one another. A stored
/// source or job state Hookyard never writes is an error (`PostgreSQLDecodingError`).
///
/// JSON inside stored text (job outputs, event bodies) is parsed here in Swift rather than with `jsonb` casts:
/// PostgreSQL 15 has no `json_valid`, and one row that is not JSON would fail the whole statement where SQLite's
/// `json_valid` skips it.
///
/// Not thread-safe: one reader per thread or command. Backups are not its business: PostgreSQL installs back up with
/// `pg_dump` or their provider (`SQLiteStoreReader.backup` is a file copy).
public final class PostgreSQLStoreReader: StoreReading {
    /// The connection it reads on; other storage on the same thread may share it.
    public let connection: PostgreSQLConnection

    /// Uses `connection` (opened by `PostgreSQLStoreConnection.open`, migrated); the caller owns it.
    public init(connection: PostgreSQLConnection) {
        self.connection = connection
    }

    /// Opens a connection of its own (`PostgreSQLStoreConnection.open`), closed by `close()`.
    public convenience init(url: String, password: String?) throws {
        self.init(connection: try PostgreSQLStoreConnection.open(url: url, password: password, applicationName: "hookyard-reader"))
    }

    /// Closes the connection (for every storage type sharing it).
    public func close() { connection.close() }

    public func statistics() throws -> StoreStatistics {
        var events: [EventSource: Int] = [:]
        for source in EventSource.allCases { events[source] = 0 }
        for row in try connection.query("SELECT source, count(*) FROM events GROUP BY source").rows {
            events[try row.value(EventSource.self, 0)] = Int(try row.int(1))
        }
        let jobs = try jobCounts()
        // PostgreSQL-specific: the database's size on disk (SQLite: page_count * page_size).
        let bytes = try connection.query("SELECT pg_database_size(current_database())").first?.int(0) ?? 0
        // PostgreSQL-specific: `sum(bigint)` is `numeric` and cannot overflow; a total outside 64 bits reads as `nil`,
        // as SQLite's checked parts (`MoneySum.combine`) do.
        var purchases: [String: PurchaseTotal] = [:]
        for row in try connection.query("""
            SELECT currency, count(*), coalesce(sum(amount), 0)::text FROM purchases GROUP BY currency
            """).rows {
            purchases[try row.string(0)] = PurchaseTotal(count: Int(try row.int(1)), amount: Int64(try row.string(2)))
        }
        var payments: [String: PaymentTotal] = [:]
        for row in try connection.query("""
            SELECT currency, count(*) FILTER (WHERE kind <> 'refund'), count(*) FILTER (WHERE kind = 'refund'),
                   coalesce(sum(amount), 0)::text
            FROM contact_payments GROUP BY currency
            """).rows {
            payments[try row.string(0)] = PaymentTotal(payments: Int(try row.int(1)), refunds: Int(try row.int(2)),
                                                       net: Int64(try row.string(3)))
        }
        return StoreStatistics(events: events, jobs: jobs, databaseBytes: bytes, purchases: purchases, payments: payments)
    }

    /// The number of jobs in each state, every `JobState` present (0 when none).
    public func jobCounts() throws -> [String: Int] {
        try PostgreSQLJobQueue.jobCounts(in: connection)
    }

    private static let listedColumns = "e.id, e.source, e.event_id, e.dedup_key, e.type, e.received_at, NULL::bytea, e.headers, octet_length(e.body)"
    private static let fullColumns = "e.id, e.source, e.event_id, e.dedup_key, e.type, e.received_at, e.body, e.headers, octet_length(e.body)"

    /// The most recent events first, optionally of one source; bodies left empty.
    public func events(source: EventSource?, limit: Int) throws -> [StoredEvent] {
        try connection.query("""
            SELECT \(Self.listedColumns) FROM events e WHERE $1::text IS NULL OR e.source = $1 ORDER BY e.id DESC LIMIT $2
            """, [source?.rawValue, Int64(max(0, limit))]).rows.map(event(from:))
    }

    public func events(matching query: EventQuery, limit: Int) throws -> [StoredEvent] {
        // `contact_events` links events to the contacts they were applied to (as in `SQLiteStoreReader`).
        let from = query.contactID == nil
            ? "events e WHERE ($3::bigint IS NULL)"
            : "contact_events c JOIN events e ON e.id = c.event_id WHERE c.contact_id = $3"
        return try connection.query("""
            SELECT \(Self.listedColumns) FROM \(from)
              AND ($1::text IS NULL OR e.source = $1) AND ($2::text IS NULL OR e.type = $2)
              AND ($4::bigint IS NULL OR e.received_at >= $4) AND ($5::bigint IS NULL OR e.received_at < $5)
              AND ($6::bigint IS NULL OR e.id < $6)
            ORDER BY e.id DESC LIMIT $7
            """, [query.source?.rawValue, query.type, query.contactID, query.since, query.until, query.beforeID,
                  Int64(max(0, limit))]).rows.map(event(from:))
    }

    public func event(id: Int64) throws -> StoredEvent? {
        try connection.query("SELECT \(Self.fullColumns) FROM events e WHERE e.id = $1", [id]).first.map(event(from:))
    }

    /// One event by row id, or by the provider's event id (`evt_...`) or dedup key.
    public func event(_ reference: String) throws -> StoredEvent? {
        // PostgreSQL-specific: a regular expression decides whether the reference can be a row id (SQLite: `GLOB`).
        try connection.query("""
            SELECT \(Self.fullColumns) FROM events e
            WHERE e.id = CASE WHEN $1::text ~ '^[0-9]{1,18}$' THEN $1::text::bigint END OR e.event_id = $1 OR e.dedup_key = $1
            ORDER BY e.id LIMIT 1
            """, [reference]).first.map(event(from:))
    }

    private func event(from row: PostgreSQLRow) throws -> StoredEvent {
        let id = try row.int(0)
        let states = try connection.query("SELECT state FROM jobs WHERE idempotency_key = 'event:' || $1::text", [String(id)])
            .rows.map { try $0.value(JobState.self, 0).rawValue }
        return StoredEvent(id: id, source: try row.value(EventSource.self, 1), eventID: row.optionalString(2),
                           dedupKey: try row.string(3), type: try row.string(4), receivedAt: try row.int(5),
                           body: try row.optionalBytes(6) ?? [], headersJSON: try row.string(7),
                           bodyBytes: Int(try row.int(8)), jobStates: states)
    }

    // MARK: Daemon status

    /// What the last daemon to start on this database recorded, or nil if none has.
    public func daemonStatus() throws -> DaemonStatus? {
        try DaemonStatus.read(from: connection)
    }

    /// Always `nil` on PostgreSQL: `hookyard backup` copies SQLite files only (PostgreSQL installs use `pg_dump`),
    /// but a row a copy tool carried over is reported as SQLite's reader would.
    public func backupOrigin() throws -> BackupOrigin? {
        guard let row = try connection.query("SELECT taken_at, source_path FROM backup_origin WHERE id = 1").first else { return nil }
        return BackupOrigin(takenAt: try row.int(0), sourcePath: try row.string(1))
    }

    // MARK: Payment links

    /// As `SQLiteStoreReader.createdPaymentLink(id:)`.
    public func createdPaymentLink(id: String) throws -> CreatedPaymentLink? {
        try CreatedPaymentLink.read(id: id, from: connection)
    }

    /// As `SQLiteStoreReader.newestCreatedPaymentLinkID(email:)`.
    public func newestCreatedPaymentLinkID(email: String?) throws -> String? {
        let rows = try connection.query("""
            SELECT output FROM jobs WHERE kind = 'stripe.create_payment_link' AND state = 'succeeded' AND output IS NOT NULL
            ORDER BY id DESC
            """).rows
        let wanted = email.map(EmailAddress.normalized)
        for row in rows {
            guard let output = row.optionalString(0).flatMap(Self.jsonObject), let id = output["payment_link_id"] as? String else { continue }
            guard let wanted else { return id }
            if let link = try createdPaymentLink(id: id), link.email.map(EmailAddress.normalized) == wanted { return id }
        }
        return nil
    }

    static func jsonObject(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    // MARK: Stripe API versions

    /// As `SQLiteStoreReader.stripeAPIVersions(newest:)`: the newest `limit` Stripe events per `api_version`, the most
    /// recently seen version first; pruned payloads (and bodies that are not JSON objects) count under `nil`.
    public func stripeAPIVersions(newest limit: Int) throws -> [StripeAPIVersionCount] {
        var counts: [String?: (events: Int, lastSeen: Int64)] = [:]
        for row in try connection.query("""
            SELECT body, received_at FROM events WHERE source = 'stripe' ORDER BY id DESC LIMIT $1
            """, [Int64(max(1, limit))]).rows {
            let body = try row.bytes(0)
            let receivedAt = try row.int(1)
            var version: String?
            if !body.isEmpty, let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] {
                version = (object["api_version"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            }
            let current = counts[version] ?? (0, Int64.min)
            counts[version] = (current.events + 1, max(current.lastSeen, receivedAt))
        }
        return counts.map { StripeAPIVersionCount(version: $0.key, events: $0.value.events, lastSeen: $0.value.lastSeen) }
            .sorted { left, right in
                if left.lastSeen != right.lastSeen { return left.lastSeen > right.lastSeen }
                // SQLite orders NULL first.
                switch (left.version, right.version) {
                case (nil, nil): return false
                case (nil, _): return true
                case (_, nil): return false
                case (let l?, let r?): return Array(l.utf8).lexicographicallyPrecedes(Array(r.utf8))
                }
            }
    }
}

extension CreatedPaymentLink {
    /// The query behind `PostgreSQLStoreReader.createdPaymentLink` (and a PostgreSQL workflow store's), as
    /// `read(id:from:)` on SQLite: the newest succeeded `stripe.create_payment_link` job whose output names `id`.
    public static func read(id: String, from connection: PostgreSQLConnection) throws -> CreatedPaymentLink? {
        // PostgreSQL-specific: `strpos` narrows the rows to those whose output mentions the id; Swift parses them.
        let rows = try connection.query("""
            SELECT output, input FROM jobs
            WHERE kind = 'stripe.create_payment_link' AND state = 'succeeded' AND strpos(output, $1) > 0
            ORDER BY id DESC
            """, [id]).rows
        guard let match = rows.first(where: { row in
            row.optionalString(0).flatMap(PostgreSQLStoreReader.jsonObject).map { $0["payment_link_id"] as? String == id } ?? false
        }), let output = match.optionalString(0).flatMap(PostgreSQLStoreReader.jsonObject) else { return nil }
        let input = match.optionalString(1).flatMap(PostgreSQLStoreReader.jsonObject)
        let contactEmail = try connection.query("""
            SELECT c.email FROM payment_links_sent p JOIN contacts c ON c.id = p.contact_id WHERE p.link_id = $1 LIMIT 1
            """, [id]).first.map { try $0.string(0) }
        return CreatedPaymentLink(id: id, output: output, input: input, contactEmail: contactEmail)
    }
}

/// Recording and reading the daemon's status in a PostgreSQL database (`daemon_status`, one row for the whole
/// cluster of nodes: the last node to start wins, as the last daemon to start on a SQLite file does).
extension DaemonStatus {
    /// Records that this daemon started, replacing what an earlier one recorded (`ON CONFLICT DO UPDATE`: two nodes
    /// starting together leave one complete row, the later one's).
    public static func recordStart(_ status: DaemonStatus, on connection: PostgreSQLConnection) throws {
        try connection.transaction {
            // PostgreSQL-specific: upsert `ON CONFLICT ... DO UPDATE` (SQLite: `INSERT OR REPLACE`).
            try connection.query("""
                INSERT INTO daemon_status (id, pid, version, started_at, stopped_at, stripe_live, instantly_live, config_file)
                VALUES (1, $1, $2, $3, NULL, $4, $5, $6)
                ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, version = excluded.version, started_at = excluded.started_at,
                    stopped_at = NULL, stripe_live = excluded.stripe_live, instantly_live = excluded.instantly_live,
                    config_file = excluded.config_file
                """, [Int64(status.pid), status.version, status.startedAt, Int64(status.stripeLive ? 1 : 0),
                      Int64(status.instantlyLive ? 1 : 0), status.configFile])
            try connection.execute("DELETE FROM backup_origin")
        }
    }

    /// Records a clean stop of the daemon `pid` (nothing, if another daemon has started since).
    public static func recordStop(pid: Int32, at time: Int64, on connection: PostgreSQLConnection) throws {
        try connection.query("UPDATE daemon_status SET stopped_at = $1 WHERE id = 1 AND pid = $2", [time, Int64(pid)])
    }

    /// What the last daemon to start recorded, or nil. - Throws: `StoreError.corrupt` for a flag other than 0 or 1.
    static func read(from connection: PostgreSQLConnection) throws -> DaemonStatus? {
        guard let row = try connection.query("""
            SELECT pid, version, started_at, stopped_at, stripe_live, instantly_live, config_file FROM daemon_status WHERE id = 1
            """).first else { return nil }
        guard let pid = Int32(exactly: try row.int(0)) else { throw StoreError.corrupt("daemon_status.pid \(try row.int(0))") }
        return DaemonStatus(pid: pid, version: try row.string(1), startedAt: try row.int(2), stoppedAt: try row.optionalInt(3),
                            stripeLive: try row.int(4) != 0, instantlyLive: try row.int(5) != 0,
                            configFile: row.optionalString(6))
    }
}
