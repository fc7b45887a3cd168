import Foundation
import Intake
import Store
import Synchronization
import TestSupport
import XCTest
import SQLite

/// `hookyard backup` against the real daemon while webhooks keep arriving.
final class BackupTests: XCTestCase {
    private static func unique() -> String { "evt_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))" }
    private func unique() -> String { Self.unique() }

    /// Webhooks posted from a background thread; what the daemon acknowledged, in order.
    private final class Deliveries: Sendable {
        let acknowledged = Mutex<[String]>([])
        let failures = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
    }

    /// A signed Stripe event whose body carries `padding` bytes, so a few of them fill many database pages.
    private func paddedRequest(id: String, padding: Int) -> [UInt8] {
        let body = Array("""
            {"id":"\(id)","object":"event","created":\(Int(Date().timeIntervalSince1970)),"type":"checkout.session.completed",\
            "livemode":false,"data":{"object":{"id":"cs_test_\(id)","object":"checkout.session",\
            "padding":"\(String(repeating: "x", count: padding))"}}}
            """.utf8)
        let header = StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret,
                                                    timestamp: Int64(Date().timeIntervalSince1970))
        return TestHTTPClient.request("POST", "/webhooks/stripe",
                                      headers: [("Content-Type", "application/json"), ("Stripe-Signature", header)], body: body)
    }

    private func stripeIDs(in database: SQLiteDatabase) throws -> Set<String> {
        let statement = try database.prepare("SELECT event_id FROM events WHERE source = 'stripe'")
        var result: Set<String> = []
        while try statement.step() { result.insert(statement.string(0) ?? "") }
        return result
    }

    private func integrity(_ database: SQLiteDatabase) throws -> [String] {
        let statement = try database.prepare("PRAGMA integrity_check")
        var lines: [String] = []
        while try statement.step() { lines.append(statement.string(0) ?? "") }
        return lines
    }

    /// The first column of the first row; the statement is finalized before this returns.
    private func text(_ database: SQLiteDatabase, _ sql: String) throws -> String? {
        let statement = try database.prepare(sql)
        return try statement.step() ? statement.string(0) : nil
    }

    private func mode(_ path: String) throws -> Int {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    /// Files in `directory` other than the database's own and `expected`: leftovers of a backup.
    private func strayFiles(_ directory: URL, expected: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            !$0.hasPrefix("hookyard.db") && !expected.contains($0)
        }.sorted()
    }

    func testBackupWhileWebhooksArriveHoldsEveryAcknowledgedEvent() throws {
        let daemon = try DaemonProcess()
        defer { daemon.terminate() }
        // About 2 MB of events first, so the copy takes many backup steps (256 pages each) while writes go on.
        let client = try daemon.client()
        var preloaded: [String] = []
        for _ in 0..<20 {
            let id = unique()
            let response = try client.roundTripRaw(paddedRequest(id: id, padding: 100_000))
            XCTAssertEqual(response.status, 200, response.bodyText)
            preloaded.append(id)
        }

        // A reader holding an old snapshot (a long `events list`, say) stops checkpoints at that snapshot, so every
        // event acknowledged from here on lives only in the -wal file: the copy must take WAL content along.
        let reader = try SQLiteDatabase(path: daemon.databasePath)
        try reader.execute("BEGIN; SELECT count(*) FROM events;")
        defer { reader.close() }

        let deliveries = Deliveries()
        let port = daemon.port
        Thread.detachNewThread {
            defer { deliveries.done.signal() }
            do {
                let client = try TestHTTPClient(port: port)
                while !deliveries.stop.load(ordering: .acquiring) {
                    let id = Self.unique()
                    let response = try client.roundTripRaw(StripeTestEvents.request(id: id))
                    if response.status == 200 {
                        deliveries.acknowledged.withLock { $0.append(id) }
                    } else {
                        deliveries.failures.withLock { $0.append("\(response.status) \(response.bodyText)") }
                    }
                }
            } catch {
                deliveries.failures.withLock { $0.append("\(error)") }
            }
        }
        // Let deliveries get going, then note what was acknowledged before the backup starts.
        let start = Date()
        while deliveries.acknowledged.withLock({ $0.count }) < 20, Date().timeIntervalSince(start) < 3 { usleep(5_000) }
        let acknowledgedBefore = Set(preloaded + deliveries.acknowledged.withLock { $0 })

        let copy = daemon.directory.appendingPathComponent("backup.db").path
        let (status, output) = try daemon.run(["backup", copy])
        let acknowledgedDuring = deliveries.acknowledged.withLock { $0.count } + preloaded.count - acknowledgedBefore.count
        deliveries.stop.store(true, ordering: .releasing)
        deliveries.done.wait()
        try reader.execute("ROLLBACK")

        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(deliveries.failures.withLock { $0 }, [])
        XCTAssertGreaterThan(acknowledgedDuring, 0, "webhooks kept being acknowledged while the backup ran")
        XCTAssertTrue(output.hasPrefix("wrote \(copy): "), output)
        XCTAssertTrue(output.contains(" events, ") && output.contains(" jobs, ") && output.contains("integrity ok"), output)

        // A single, private file: no -wal or -shm beside it, nothing left over in the directory.
        XCTAssertEqual(try mode(copy), 0o600)
        XCTAssertEqual(try strayFiles(daemon.directory, expected: ["backup.db"]), [])
        let database = try SQLiteDatabase(path: copy, readOnly: true)
        XCTAssertEqual(try integrity(database), ["ok"])
        XCTAssertEqual(try text(database, "PRAGMA journal_mode"), "delete")
        let copied = try stripeIDs(in: database)
        XCTAssertEqual(acknowledgedBefore.subtracting(copied), [], "every event acknowledged before the backup is in the copy")
        let events = try XCTUnwrap(database.scalarInt("SELECT count(*) FROM events"))
        XCTAssertEqual(try database.scalarInt("SELECT count(*) FROM jobs"), events, "one process_event job per event")
        XCTAssertTrue(output.contains(" \(events) events, \(events) jobs, "), output)
        database.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy + "-wal"))

        // The copy opens as a Hookyard database on its own.
        let statistics = try SQLiteStoreReader(path: copy).statistics()
        XCTAssertEqual(Int64(statistics.events[.stripe] ?? 0), events)
        XCTAssertEqual(daemon.terminate(), 0)
    }

    func testRefusesToOverwriteUnlessForced() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        let id = unique()
        XCTAssertEqual(try client.roundTripRaw(StripeTestEvents.request(id: id)).status, 200)
        let existing = daemon.directory.appendingPathComponent("existing.db").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))

        let (refused, refusal) = try daemon.run(["backup", existing])
        XCTAssertNotEqual(refused, 0)
        XCTAssertTrue(refusal.contains("'\(existing)' already exists; pass --force to replace it"), refusal)
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "keep me")

        let (forced, output) = try daemon.run(["backup", "--force", existing])
        XCTAssertEqual(forced, 0, output)
        let database = try SQLiteDatabase(path: existing, readOnly: true)
        XCTAssertEqual(try integrity(database), ["ok"])
        XCTAssertEqual(try stripeIDs(in: database), [id])
        XCTAssertEqual(try mode(existing), 0o600)
        XCTAssertEqual(try strayFiles(daemon.directory, expected: ["existing.db"]), [])
        XCTAssertEqual(daemon.terminate(), 0)
    }

    func testClearErrorsAndNoFileLeftBehind() throws {
        let directory = DaemonProcess.makeDirectory()
        let copy = directory.appendingPathComponent("copy.db").path
        let missing = directory.appendingPathComponent("hookyard.db").path

        let (status, output) = try DaemonProcess.run(["backup", "--database", missing, copy])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("Error: no database at '\(missing)'"), output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "no database created, no copy")

        let daemon = try DaemonProcess(directory: directory)
        let unwritable = directory.appendingPathComponent("no-such-directory/copy.db").path
        let (failed, message) = try daemon.run(["backup", unwritable])
        XCTAssertEqual(failed, 1, message)
        XCTAssertTrue(message.contains("cannot create a file in '\(directory.path)/no-such-directory'"), message)
        let (itself, refusal) = try daemon.run(["backup", "--force", daemon.databasePath])
        XCTAssertEqual(itself, 1, refusal)
        XCTAssertTrue(refusal.contains("is the database itself"), refusal)
        XCTAssertEqual(try strayFiles(directory, expected: ["no-such-directory"]), [])
        XCTAssertEqual(daemon.terminate(), 0)
    }
}
