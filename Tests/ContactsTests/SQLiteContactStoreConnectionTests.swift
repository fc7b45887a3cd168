import Foundation
import XCTest
import Contacts
import SQLite
import Store
import TestSupport

/// `SQLiteContactStore` on a connection it is lent (shared with other storage of one worker), and used through the
/// engine-neutral `ContactStorage` protocol.
final class SQLiteContactStoreConnectionTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("contacts.db").path }
    var writer: SQLiteEventWriter!
    let at: Int64 = 1_732_500_000_000

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("contacts-connection-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
    }

    override func tearDown() {
        writer?.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func testALentConnectionIsSharedAndStaysOpenAfterTheStoreCloses() throws {
        let database = try StoreConnection.openExisting(path: path, durableCommits: false)
        defer { database.close() }
        let storage: any ContactStorage = SQLiteContactStore(database: database)
        try storage.recordOwnWrite(email: "Bob@Example.com", rule: "welcome", at: at)
        XCTAssertEqual(try storage.lastOwnWrite(email: "bob@example.com", rule: "welcome"), at)
        XCTAssertEqual(try database.scalarInt("SELECT count(*) FROM contacts WHERE email = 'bob@example.com'"), 1,
                       "the store wrote through the lent connection")
        storage.close()
        XCTAssertEqual(try database.scalarInt("SELECT count(*) FROM own_writes"), 1, "closing the store left the connection open")
        let again = SQLiteContactStore(database: database)
        XCTAssertEqual(try again.contactID(email: "bob@example.com"), 1)
    }

    func testAStoreOpenedByPathClosesItsConnection() throws {
        let store = try SQLiteContactStore(path: path, durableCommits: false)
        XCTAssertNil(try store.contact(email: "nobody@example.com"))
        store.close()
        XCTAssertThrowsError(try store.contact(email: "nobody@example.com"), "a closed store's calls throw")
    }
}
