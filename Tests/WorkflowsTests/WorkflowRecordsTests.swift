import Contacts
import Foundation
import PostgreSQL
import Store
import Synchronization
import TestSupport
import Workflows
import XCTest

/// The workflow records, one body on both engines: events read back, purchases and sent links recorded once, the
/// link created by a step read back with the contact it was sent to; an impossible event source is an error; and on
/// PostgreSQL, nodes recording the same purchases and links at once record each once.
final class WorkflowRecordsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("workflow-records-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// The store for `location`. The contacts are SQLite's (the workflow records never read them here): on
    /// PostgreSQL a SQLite contact store of a scratch file stands in until the PostgreSQL contact store is merged.
    private func open(_ location: DatabaseLocation) throws -> any WorkflowRecords {
        let contactsPath = location.sqlitePath ?? directory.appendingPathComponent("contacts-\(UUID().uuidString).db").path
        try EngineSQL.prepare(.sqlite(path: contactsPath))
        return try WorkflowRecordsOpening.open(location, contacts: try SQLiteContactStore(path: contactsPath))
    }

    private func purchase(_ reference: String, event: Int64, email: String? = " Ann@Example.COM ") -> Purchase {
        Purchase(eventID: event, reference: reference, email: email, amount: 1_500, currency: "usd", campaignID: "camp-a",
                 paymentLink: "plink_1", rule: "offer")
    }

    func testEventsPurchasesAndLinksAreRecordedOnce() throws {
        try forEachStorageEngine { location in
            try EngineSQL.prepare(location)
            let event = try EngineSQL.event(location, key: "e1", type: "checkout.session.completed")
            try EngineSQL.execute(location, "INSERT INTO contacts (email, first_seen_at, updated_at) VALUES ('ann@example.com', 0, 0)")
            let store = try open(location)
            defer { store.close() }

            XCTAssertEqual(try store.eventHeader(id: event)?.source, .instantly)
            XCTAssertEqual(try store.eventHeader(id: event)?.type, "checkout.session.completed")
            XCTAssertEqual(try store.event(id: event)?.body, [])
            XCTAssertNil(try store.eventHeader(id: event + 100))
            XCTAssertNil(try store.event(id: event + 100))

            let first = try store.recordPurchase(purchase("cs_1", event: event), now: 5)
            XCTAssertTrue(first.created)
            let again = try store.recordPurchase(purchase("cs_1", event: event, email: "other@example.com"), now: 6)
            XCTAssertEqual(again.id, first.id)
            XCTAssertFalse(again.created, "a retried step changes nothing")
            let second = try store.recordPurchase(purchase("cs_2", event: event, email: nil), now: 7)
            XCTAssertTrue(second.created)
            XCTAssertEqual(try store.purchases(), [
                Purchase(eventID: event, reference: "cs_1", email: "ann@example.com", amount: 1_500, currency: "usd", campaignID: "camp-a",
                         paymentLink: "plink_1", rule: "offer"),
                Purchase(eventID: event, reference: "cs_2", email: nil, amount: 1_500, currency: "usd", campaignID: "camp-a",
                         paymentLink: "plink_1", rule: "offer"),
            ])

            XCTAssertTrue(try store.recordPaymentLinkSent(linkID: "plink_1", url: "https://buy.stripe.com/x?prefilled_email=ann",
                                                          email: "ann@example.com", campaignID: "camp-a", rule: "offer", jobID: 9, now: 10))
            XCTAssertFalse(try store.recordPaymentLinkSent(linkID: "plink_1", url: "https://buy.stripe.com/y", email: nil,
                                                           campaignID: nil, rule: "other", jobID: 10, now: 11))
            XCTAssertTrue(try store.recordPaymentLinkSent(linkID: "plink_2", url: "https://buy.stripe.com/z", email: "nobody@example.com",
                                                          campaignID: nil, rule: "offer", jobID: 11, now: 12))
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM payment_links_sent WHERE url = 'https://buy.stripe.com/x'"), 1)
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM payment_links_sent WHERE contact_id IS NOT NULL"), 1)

            // The step that created plink_1 (a succeeded job whose output names it) and one that is not JSON.
            try EngineSQL.execute(location, """
                INSERT INTO jobs (event_id, kind, state, next_run_at, idempotency_key, input, output, created_at, updated_at) VALUES
                (\(event), 'stripe.create_payment_link', 'succeeded', 0, 'k1', '{"rule":"offer","contact":"x@example.com"}',
                 '{"payment_link_id":"plink_1","amount":1500,"currency":"usd","metadata":{"hookyard_campaign":"camp-a"}}', 0, 0),
                (\(event), 'stripe.create_payment_link', 'succeeded', 0, 'k2', NULL, 'plink_3 not json', 0, 0)
                """)
            let link = try XCTUnwrap(try store.createdPaymentLink(id: "plink_1"))
            XCTAssertEqual(link.email, "ann@example.com", "the contact it was sent to comes first")
            XCTAssertEqual(link.metadata, ["hookyard_campaign": "camp-a"])
            XCTAssertEqual(link.amount, 1_500)
            XCTAssertEqual(link.currency, "usd")
            XCTAssertEqual(link.rule, "offer")
            XCTAssertFalse(link.dryRun)
            XCTAssertNil(try store.createdPaymentLink(id: "plink_3"))
            XCTAssertNil(try store.createdPaymentLink(id: "plink_9"))
        }
    }

    func testAnImpossibleEventSourceIsAnError() throws {
        try forEachStorageEngine { location in
            try EngineSQL.prepare(location)
            let event = try EngineSQL.event(location, key: "e1")
            try EngineSQL.execute(location, sqlite: """
                PRAGMA ignore_check_constraints = ON; UPDATE events SET source = 'mailchimp' WHERE id = \(event)
                """, postgresql: """
                ALTER TABLE events DROP CONSTRAINT events_source_check; UPDATE events SET source = 'mailchimp' WHERE id = \(event)
                """)
            let store = try open(location)
            defer { store.close() }
            XCTAssertThrowsError(try store.eventHeader(id: event)) { error in
                XCTAssertEqual(EngineSQL.decodingFailure(error)?.column, "source")
                XCTAssertEqual(EngineSQL.decodingFailure(error)?.value, "mailchimp")
            }
            XCTAssertThrowsError(try store.event(id: event))
        }
    }

    /// Four nodes record the same 50 purchases and 50 links at once: each is created by exactly one call, and every
    /// call gets the one row's id.
    func testNodesRecordingTheSamePurchasesAndLinksAtOnceRecordEachOnce() throws {
        let url = try PostgreSQLTestServer.start().makeStoreDatabase()
        let location = DatabaseLocation.postgresql(url: url, password: nil)
        let event = try EngineSQL.event(location, key: "e1")
        let contactsPaths = (0..<4).map { directory.appendingPathComponent("contacts-\($0).db").path }
        for path in contactsPaths { try EngineSQL.prepare(.sqlite(path: path)) }
        let created = Mutex<[String: Int]>([:])
        let ids = Mutex<[String: Set<Int64>]>([:])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { node in
            do {
                let store = try WorkflowRecordsOpening.open(location, contacts: try SQLiteContactStore(path: contactsPaths[node]))
                defer { store.close() }
                for index in 0..<50 {
                    let reference = "cs_\(index)"
                    let result = try store.recordPurchase(Purchase(eventID: event, reference: reference, email: nil, amount: 1, currency: "usd",
                                                                   campaignID: nil, paymentLink: nil, rule: "r"), now: 1)
                    _ = ids.withLock { $0[reference, default: []].insert(result.id) }
                    if result.created { created.withLock { $0[reference, default: 0] += 1 } }
                    if try store.recordPaymentLinkSent(linkID: "plink_\(index)", url: "https://buy.stripe.com/\(index)", email: nil,
                                                       campaignID: nil, rule: "r", jobID: Int64(node), now: 1) {
                        created.withLock { $0["plink_\(index)", default: 0] += 1 }
                    }
                }
            } catch {
                failures.withLock { $0.append("node \(node): \(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let expected = Dictionary(uniqueKeysWithValues: (0..<50).flatMap { [("cs_\($0)", 1), ("plink_\($0)", 1)] })
        XCTAssertEqual(created.withLock { $0 }, expected)
        XCTAssertTrue(ids.withLock { $0.values.allSatisfy { $0.count == 1 } }, "every call got the one row's id")
        XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM purchases"), 50)
        XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM payment_links_sent"), 50)
    }
}
