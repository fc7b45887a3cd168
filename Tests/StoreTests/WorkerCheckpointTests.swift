import Foundation
import SQLite
import Store
import TestSupport
import XCTest

/// While the event writer runs (the daemon), commits made only by the workers' connections are still checkpointed,
/// by the writer's checkpoint thread, outside the write lock.
final class WorkerCheckpointTests: TemporaryDirectoryTestCase {
    func testTheWritersCheckpointThreadCopiesCommitsItDidNotMake() throws {
        let path = directory.appendingPathComponent("hookyard.db").path
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        defer { writer.close() }
        let worker = try StoreConnection.openExisting(path: path, durableCommits: false)
        defer { worker.close() }
        try StoreConnection.leaveCheckpointsToTheWriter(worker)
        try worker.execute("CREATE TABLE scratch (x BLOB)")
        let sizeBefore = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        try WriteLock.withLock {
            try worker.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO scratch SELECT randomblob(4096) FROM n")
        }
        XCTAssertTrue(waitUntil(timeout: .seconds(10)) {
            ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) > sizeBefore + 4_000_000
        }, "the worker's 4 MB never reached the database file")
    }
}
