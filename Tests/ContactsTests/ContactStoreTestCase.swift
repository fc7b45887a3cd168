import Contacts
import Foundation
import HookyardFoundation
import PostgreSQL
import SQLite
import Store
import TestSupport
import XCTest

/// A test case with a fresh database per test: by default a SQLite file, its event writer (`writer`) and a contact
/// store on it (`store`, `synchronous=NORMAL` as the workers use it), all closed and the files removed afterwards.
/// `onEachEngine` runs a test body once per storage engine (`forEachStorageEngine`): on a fresh SQLite file and on a
/// fresh PostgreSQL database, with `store` opened through `ContactStorageOpening` and `storeEvent` writing there.
class ContactStoreTestCase: TemporaryDirectoryTestCase {
    var path: String { directory.appendingPathComponent("contacts.db").path }
    /// The SQLite event writer; `nil` while a body runs on PostgreSQL.
    var writer: SQLiteEventWriter!
    var store: (any ContactStorage)!
    /// Where `store` is.
    var location: DatabaseLocation!
    /// A connection of the test's own to the PostgreSQL database, while a body runs there.
    var postgreSQL: PostgreSQLConnection?

    override func setUpWithError() throws {
        try super.setUpWithError()
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        location = .sqlite(path: path)
        store = try ContactStorageOpening.open(location, durableCommits: false)
    }

    override func tearDown() {
        closeAll()
        super.tearDown()
    }

    private func closeAll() {
        store?.close()
        store = nil
        writer?.close()
        writer = nil
        postgreSQL?.close()
        postgreSQL = nil
    }

    /// Opens `store` (and what writes events) on `location`, a fresh database of its engine.
    func open(_ location: DatabaseLocation) throws {
        closeAll()
        self.location = location
        switch location {
        case .sqlite(let path):
            writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        case .postgresql(let url, let password):
            postgreSQL = try PostgreSQLConnection(url: url, password: password)
        }
        store = try ContactStorageOpening.open(location, durableCommits: false)
    }

    /// Runs `body` on a fresh database of each engine, SQLite first, with `store` open on it.
    func onEachEngine(_ body: () throws -> Void) throws {
        try forEachStorageEngine { location in
            try open(location)
            try body()
        }
    }

    /// Runs `sql` (no parameters; several statements allowed) on the test's database, whichever engine holds it.
    func executeRaw(_ sql: String) throws {
        if let postgreSQL {
            try postgreSQL.execute(sql)
            return
        }
        let database = try SQLiteDatabase(path: location.sqlitePath ?? path)
        defer { database.close() }
        try database.execute(sql)
    }

    /// The rows of `sql` (one statement, no parameters), the first `columns` columns of each as text (NULL: `nil`).
    func rawRows(_ sql: String, columns: Int) throws -> [[String?]] {
        if let postgreSQL {
            return try postgreSQL.execute(sql).rows.map { row in (0..<columns).map { row.optionalString($0) } }
        }
        let database = try SQLiteDatabase(path: location.sqlitePath ?? path, readOnly: true)
        defer { database.close() }
        let statement = try database.prepare(sql)
        var rows: [[String?]] = []
        while try statement.step() { rows.append((0..<columns).map { statement.string(Int32($0)) }) }
        return rows
    }

    /// The integer in the first column of the first row of `sql`.
    func rawInt(_ sql: String) throws -> Int64? {
        try rawRows(sql, columns: 1).first?.first?.flatMap { $0 }.flatMap { Int64($0) }
    }

    /// Records a purchase as the workflow store does (the address normalised), on either engine.
    func recordPurchase(_ purchase: Purchase, now: Int64) throws {
        func literal(_ text: String?) -> String {
            text.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL"
        }
        try executeRaw("""
            INSERT INTO purchases (event_id, reference, email, amount, currency, campaign_id, payment_link, rule, created_at)
            VALUES (\(purchase.eventID), \(literal(purchase.reference)), \(literal(EmailAddress.normalizedOrNil(purchase.email))),
                \(purchase.amount), \(literal(purchase.currency)), \(literal(purchase.campaignID)),
                \(literal(purchase.paymentLink)), \(literal(purchase.rule)), \(now))
            """)
    }

    /// Stores an event (and queues its `process_event` job, as the event writer does) and returns its id.
    @discardableResult
    func storeEvent(_ source: EventSource, type: String, body: String = "{}", receivedAt: Int64) -> Int64 {
        if let postgreSQL {
            do {
                let id = try XCTUnwrap(try postgreSQL.query("""
                    INSERT INTO events (source, dedup_key, type, received_at, body, headers)
                    VALUES ($1, $2, $3, $4, $5, '{}') RETURNING id
                    """, [source.rawValue, UUID().uuidString, type, receivedAt, Array(body.utf8)]).first?.int(0))
                try postgreSQL.query("""
                    INSERT INTO jobs (event_id, kind, next_run_at, idempotency_key, created_at, updated_at)
                    VALUES ($1, 'process_event', $2, 'event:' || $1::text, $2, $2)
                    """, [id, receivedAt])
                return id
            } catch {
                XCTFail("event not stored: \(error)")
                return -1
            }
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<AppendOutcome, StoreError>?
        writer.append(IncomingEvent(source: source, dedupKey: UUID().uuidString, eventID: nil, type: type,
                                    receivedAt: receivedAt, body: Array(body.utf8), headersJSON: "{}")) { result in
            outcome = result
            done.signal()
        }
        done.wait()
        guard case .success(.stored(let id))? = outcome else {
            XCTFail("event not stored: \(String(describing: outcome))")
            return -1
        }
        return id
    }
}

extension SegmentQuery {
    /// A hand-written query whose SQL both engines read alike (comparisons, arithmetic, `COALESCE`).
    static func both(name: String, sql: String, parameters: [Parameter]) -> SegmentQuery {
        SegmentQuery(name: name, sql: sql, postgreSQL: sql, parameters: parameters)
    }
}
