import Foundation
import Jobs
import SQLite
import Store
import TestSupport
@testable import Workflows
import XCTest

/// A worker's contacts run on the connection its job queue claims on (one connection fewer per worker); the workflow
/// records keep a `synchronous=FULL` connection of their own.
final class WorkerConnectionSharingTests: XCTestCase {
    func testAPoolWorkersContactsShareItsQueueConnection() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hookyard-share-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("hookyard.db").path
        let writer = try EventWriter(path: path, logger: TestLog.logger())
        writer.close()

        let queue = try SQLiteJobQueue(path: path, durableCommits: false)
        defer { queue.close() }
        let context = WorkerContext(databasePath: path, worker: "w0", connection: queue.database)
        defer { context.close() }
        let store = try context.resource(WorkflowStoreResource.self).store
        XCTAssertTrue(store.contacts.database === queue.database)
        XCTAssertEqual(try queue.database.scalarInt("PRAGMA synchronous"), 1)  // NORMAL, as before
        XCTAssertEqual(try store.database.scalarInt("PRAGMA synchronous"), 2)  // FULL, as before

        // Closing the worker's resources leaves the queue's connection open for the queue.
        context.close()
        XCTAssertNoThrow(try queue.database.scalarInt("SELECT 1"))
    }

    func testADirectRunOpensItsOwnContactsConnection() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hookyard-share-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("hookyard.db").path
        let writer = try EventWriter(path: path, logger: TestLog.logger())
        writer.close()

        let context = WorkerContext(databasePath: path, worker: "direct")
        defer { context.close() }
        let store = try context.resource(WorkflowStoreResource.self).store
        XCTAssertEqual(try store.contacts.database.scalarInt("PRAGMA synchronous"), 1)
    }
}
