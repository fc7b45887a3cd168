import PostgreSQL
import Store
import TestSupport
import Synchronization
import XCTest

/// The PostgreSQL schema's migration runner against a real server: an empty database gets the whole schema once,
/// nodes that start together migrate it once, and a newer Hookyard's database is refused.
final class PostgreSQLMigrationTests: XCTestCase {
    func testAnEmptyDatabaseGetsTheWholeSchemaAndASecondOpenChangesNothing() throws {
        let url = try PostgreSQLTestServer.start().makeDatabase()
        let connection = try PostgreSQLStoreConnection.open(url: url)
        defer { connection.close() }
        XCTAssertEqual(try PostgreSQLStoreConnection.schemaVersion(connection), PostgreSQLSchema.currentVersion)
        let tables = try connection.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").first?.int(0)
        XCTAssertEqual(tables, 27)
        XCTAssertEqual(try connection.query("SELECT checked_at FROM store_probe").first?.int(0), 0)
        try PostgreSQLStoreConnection.open(url: url).close()
        XCTAssertEqual(try PostgreSQLStoreConnection.schemaVersion(connection), PostgreSQLSchema.currentVersion)
    }

    func testNodesStartingTogetherMigrateOnce() throws {
        let url = try PostgreSQLTestServer.start().makeDatabase()
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { try PostgreSQLStoreConnection.open(url: url).close() } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let connection = try PostgreSQLConnection(url: url)
        defer { connection.close() }
        XCTAssertEqual(try connection.query("SELECT count(*) FROM schema_version").first?.int(0), 1)
        XCTAssertEqual(try PostgreSQLStoreConnection.schemaVersion(connection), PostgreSQLSchema.currentVersion)
    }

    func testANewerHookyardsDatabaseIsRefused() throws {
        let url = try PostgreSQLTestServer.start().makeStoreDatabase()
        let connection = try PostgreSQLConnection(url: url)
        defer { connection.close() }
        try connection.query("UPDATE schema_version SET version = $1", [PostgreSQLSchema.currentVersion + 1])
        XCTAssertThrowsError(try PostgreSQLStoreConnection.open(url: url)) { error in
            XCTAssertEqual("\(error)", StoreError.newerSchema(found: PostgreSQLSchema.currentVersion + 1,
                                                              supported: PostgreSQLSchema.currentVersion).description)
        }
    }

    func testACommitIsDurableUnlessTheCallerSaysOtherwise() throws {
        let url = try PostgreSQLTestServer.start().makeStoreDatabase()
        let durable = try PostgreSQLStoreConnection.open(url: url)
        let relaxed = try PostgreSQLStoreConnection.open(url: url, durableCommits: false)
        defer { durable.close(); relaxed.close() }
        XCTAssertEqual(try durable.execute("SHOW synchronous_commit").first?.string(0), "on")
        XCTAssertEqual(try relaxed.execute("SHOW synchronous_commit").first?.string(0), "off")
    }
}
