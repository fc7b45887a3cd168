import Foundation
import Jobs
import SQLite
import Store
import TestSupport
@testable import Workflows
import XCTest

/// A worker's contacts run on the connection its job queue claims on (one connection fewer per worker); the workflow
/// records keep a `synchronous=FULL` connection of their own.
final class WorkerConnectionSharingTests: TemporaryDirectoryTestCase {
    /// A database created as the daemon creates it.
    private func database() throws -> String {
        let path = directory.appendingPathComponent("hookyard.db").path
        try SQLiteEventWriter(path: path, logger: TestLog.logger()).close()
        return path
    }

    func testAPoolWorkersContactsShareItsQueueConnection() throws {
        let path = try database()

        let queue = try SQLiteJobQueue(path: path, durableCommits: false)
        defer { queue.close() }
        let context = WorkerContext(location: .sqlite(path: path), worker: "w0", connection: .sqlite(queue.database))
        defer { context.close() }
        let store = try XCTUnwrap(context.resource(WorkflowStoreResource.self).store as? SQLiteWorkflowStore)
        XCTAssertTrue(store.sqliteContacts.database === queue.database)
        XCTAssertEqual(try queue.database.scalarInt("PRAGMA synchronous"), 1)  // NORMAL, as before
        XCTAssertEqual(try store.database.scalarInt("PRAGMA synchronous"), 2)  // FULL, as before

        // Closing the worker's resources leaves the queue's connection open for the queue.
        context.close()
        XCTAssertNoThrow(try queue.database.scalarInt("SELECT 1"))
    }

    func testADirectRunOpensItsOwnContactsConnection() throws {
        let path = try database()

        let context = WorkerContext(location: .sqlite(path: path), worker: "direct")
        defer { context.close() }
        let store = try XCTUnwrap(context.resource(WorkflowStoreResource.self).store as? SQLiteWorkflowStore)
        XCTAssertEqual(try store.sqliteContacts.database.scalarInt("PRAGMA synchronous"), 1)
    }
}
