import Foundation
import XCTest
@testable import Contacts
import SQLite
@testable import Store
import TestSupport

/// A value read back from the contacts tables that this build cannot mean is an error naming the column and the
/// value, never a silent default (`?? .prospect`, `?? .stripe`, an activity kind skipped).
final class SQLiteContactStoreRowDecodingTests: ContactStoreTestCase {
    let at: Int64 = 1_732_500_000_000


    /// Stores an event and applies an Instantly "opened" for alice from it.
    private func applyOpened() throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<AppendOutcome, StoreError>?
        writer.append(IncomingEvent(source: .instantly, dedupKey: UUID().uuidString, eventID: nil, type: "email_opened",
                                    receivedAt: at, body: Array("{}".utf8), headersJSON: "{}")) { result in
            outcome = result
            done.signal()
        }
        done.wait()
        guard case .success(.stored(let eventID))? = outcome else { return XCTFail("event not stored: \(String(describing: outcome))") }
        _ = try store.apply(ContactObservation(eventID: eventID, source: .instantly, occurredAt: at, email: "alice@example.com",
                                               campaignID: "camp-1", activity: .opened),
                            policy: EngagementPolicy(), segments: [], now: at)
    }

    /// Writes `sql` on a connection of its own, with CHECK constraints off so that it can store what the schema forbids.
    private func corrupt(_ sql: String) throws {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("PRAGMA ignore_check_constraints = ON")
        try database.execute(sql)
    }

    private func assertImpossible<T>(_ expression: @autoclosure () throws -> T, column: String, value: String?,
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            XCTAssertEqual(error as? ImpossibleStoredValue, ImpossibleStoredValue(column: column, value: value),
                           "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(column), "the message names the column: \(error)", file: file, line: line)
        }
    }

    func testAnUnknownPaymentStatusIsAnErrorNamingColumnAndValue() throws {
        try applyOpened()
        XCTAssertEqual(try store.contact(email: "alice@example.com")?.paymentStatus, .prospect)
        try corrupt("UPDATE contacts SET payment_status = 'vip'")
        assertImpossible(try store.contact(email: "alice@example.com"), column: "contacts.payment_status", value: "vip")
    }

    func testASubscriptionWithoutStatusIsAnError() throws {
        try applyOpened()
        try corrupt("UPDATE contacts SET subscription_id = 'sub_1', subscription_status = NULL")
        assertImpossible(try store.contact(email: "alice@example.com"), column: "contacts.subscription_status", value: nil)
    }

    func testAnUnknownEventSourceInAnExportIsAnError() throws {
        try applyOpened()
        XCTAssertEqual(try store.export(email: "alice@example.com")?.events.map(\.source), [.instantly])
        try corrupt("UPDATE events SET source = 'paypal'")
        assertImpossible(try store.export(email: "alice@example.com"), column: "events.source", value: "paypal")
    }

    func testAnUnknownJobStateInAnExportIsAnError() throws {
        try applyOpened()
        XCTAssertEqual(try store.export(email: "alice@example.com")?.jobs.count, 1, "the event's process_event job")
        try corrupt("UPDATE jobs SET state = 'paused'")
        assertImpossible(try store.export(email: "alice@example.com"), column: "jobs.state", value: "paused")
    }

    func testAnUnknownActivityKindStopsEngagementInsteadOfBeingSkipped() throws {
        try applyOpened()
        try corrupt("UPDATE contact_activity SET kind = 'waved'")
        assertImpossible(try store.reevaluate(after: 0, limit: 10, policy: EngagementPolicy(), segments: [], now: at),
                         column: "contact_activity.kind", value: "waved")
    }
}
