import Contacts
import Foundation
import Store
import TestSupport
import XCTest

/// A test case with a fresh database per test: the event writer that creates it (`writer`) and a contact store on it
/// (`store`, `synchronous=NORMAL` as the workers use it), both closed and the files removed afterwards.
class ContactStoreTestCase: TemporaryDirectoryTestCase {
    var path: String { directory.appendingPathComponent("contacts.db").path }
    var writer: SQLiteEventWriter!
    var store: SQLiteContactStore!

    override func setUpWithError() throws {
        try super.setUpWithError()
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        store = try SQLiteContactStore(path: path, durableCommits: false)
    }

    override func tearDown() {
        store?.close()
        writer?.close()
        super.tearDown()
    }
}
