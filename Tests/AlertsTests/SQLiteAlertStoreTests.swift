import Alerts
import Foundation
import SQLite
import Store
import TestSupport
import XCTest

/// The SQLite alert store reads back only what it writes: an impossible state or context is an error naming the
/// column, not an alert read as cleared or without context.
final class SQLiteAlertStoreTests: XCTestCase {
    private var directory: URL!
    private var path: String { directory.appendingPathComponent("alerts.db").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("alert-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SQLiteEventWriter(path: path, logger: TestLog.logger()).close()
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    private func raise(_ store: any AlertStorage, subject: String) throws {
        _ = try store.raise(kind: "dead_jobs", subject: subject, message: "m", context: ["a": "b"], eventID: nil, now: 1000,
                            repeatAfterMilliseconds: 60_000) { _ in nil }
    }

    func testImpossibleStateOrContextIsAnError() throws {
        let store = try SQLiteAlertStore(path: path)
        try raise(store, subject: "good")
        try raise(store, subject: "bad-state")
        try raise(store, subject: "bad-context")
        XCTAssertEqual(try store.alert(kind: "dead_jobs", subject: "good")?.context, ["a": "b"])
        let database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA ignore_check_constraints = ON")
        try database.execute("UPDATE alerts SET state = 'snoozed' WHERE subject = 'bad-state'")
        try database.execute("UPDATE alerts SET context = '[1]' WHERE subject = 'bad-context'")
        database.close()
        XCTAssertThrowsError(try store.alert(kind: "dead_jobs", subject: "bad-state")) { error in
            XCTAssertEqual((error as? SQLiteDecodingError)?.column, "state")
            XCTAssertEqual((error as? SQLiteDecodingError)?.value, "snoozed")
        }
        XCTAssertThrowsError(try store.alert(kind: "dead_jobs", subject: "bad-context")) { error in
            XCTAssertEqual((error as? SQLiteDecodingError)?.column, "context")
        }
        XCTAssertThrowsError(try store.alerts(includeCleared: true))
        XCTAssertEqual(try store.alert(kind: "dead_jobs", subject: "good")?.state, .raised)
        store.close()
    }
}
