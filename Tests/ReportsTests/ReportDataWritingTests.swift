import DemoData
import Store
import TestSupport
import XCTest

/// The report data writers, one body on both engines: a failed transaction leaves nothing behind (PostgreSQL's
/// buffered rows are dropped with it, not written by the next transaction), and ids come in call order from 1.
final class ReportDataWritingTests: XCTestCase {
    private struct Abandon: Error {}

    func testAFailedTransactionLeavesNothingAndIdsFollowTheCalls() throws {
        try forEachStorageEngine { location in
            let writer = try ReportDataWritingOpening.open(location, keyPrefix: "test:")
            defer { writer.close() }
            XCTAssertThrowsError(try writer.transaction {
                let contact = try writer.contact(email: "gone@example.com", firstSeenAt: 1)
                try writer.activity(contact: contact, kind: "sent", campaign: "c", at: 2)
                throw Abandon()
            })
            let ids = try writer.transaction {
                try (0..<3).map { try writer.contact(email: "kept\($0)@example.com", firstSeenAt: 3) }
            }
            try writer.transaction { try writer.activity(contact: ids[0], kind: "opened", campaign: "c", at: 4) }
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM contacts WHERE email = 'gone@example.com'"), 0)
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM contact_activity"), 1)
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM contacts"), 3)
            XCTAssertEqual(ids, ids.sorted())
            XCTAssertEqual(Set(ids).count, 3)
        }
    }
}
