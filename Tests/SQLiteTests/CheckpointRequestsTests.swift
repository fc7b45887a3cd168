import Foundation
import SQLite
import XCTest

/// A connection that leaves checkpoints to another thread posts after each commit and never checkpoints itself.
final class CheckpointRequestsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    private func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    func testCommitsPostAndLeaveTheWALUncopied() throws {
        let path = directory.appendingPathComponent("t.db").path
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("PRAGMA journal_mode = WAL")
        try database.execute("CREATE TABLE t (x BLOB)")
        try database.requestCheckpointsInsteadOfRunningThem()
        XCTAssertEqual(try database.scalarInt("PRAGMA wal_autocheckpoint"), 0)

        let before = CheckpointRequests.current
        let sizeBefore = try fileSize(path)
        // 8 MB: twice SQLite's default threshold (1,000 pages), which would have checkpointed inside the COMMIT.
        try database.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT randomblob(4096) FROM n")
        XCTAssertGreaterThan(CheckpointRequests.current, before)
        XCTAssertEqual(try fileSize(path), sizeBefore, "the commit copied pages into the database file itself")
        XCTAssertGreaterThan(try fileSize(path + "-wal"), 8_000_000)

        // The thread that checkpoints wakes on the post.
        let seen = CheckpointRequests.current
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { CheckpointRequests.post() }
        XCTAssertGreaterThan(CheckpointRequests.wait(after: seen, until: Date(timeIntervalSinceNow: 5)), seen)
    }

    func testWaitReturnsAtTheDeadlineWithoutAPost() {
        let seen = CheckpointRequests.current
        let returned = CheckpointRequests.wait(after: seen, until: Date(timeIntervalSinceNow: 0.05))
        XCTAssertGreaterThanOrEqual(returned, seen)
    }
}
