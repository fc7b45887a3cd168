import Foundation
import PostgreSQL
import SQLite
import Synchronization
import TestSupport
import XCTest
@testable import Store

/// The store reader and the daemon's record, one body for both engines: the same rows read back the same way.
final class StoreReaderTests: XCTestCase {
    /// Runs `sql` (statements without parameters, valid on both engines) directly on the database at `location`.
    private func execute(_ sql: String, at location: DatabaseLocation) throws {
        switch location {
        case .sqlite(let path):
            let database = try StoreConnection.openExisting(path: path)
            defer { database.close() }
            try database.execute(sql)
        case .postgresql(let url, let password):
            let connection = try PostgreSQLStoreConnection.open(url: url, password: password)
            defer { connection.close() }
            try connection.execute(sql)
        }
    }

    /// Stores events through the engine's writer (which creates the database).
    private func store(_ events: [IncomingEvent], at location: DatabaseLocation) throws {
        let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
        defer { writer.close() }
        for event in events {
            let done = DispatchSemaphore(value: 0)
            writer.append(event) { _ in done.signal() }
            done.wait()
        }
    }

    private func event(_ key: String, source: EventSource = .stripe, type: String = "invoice.paid", at time: Int64) -> IncomingEvent {
        IncomingEvent(source: source, dedupKey: key, eventID: source == .stripe ? key : nil, type: type, receivedAt: time,
                      body: Array("{\"id\":\"\(key)\"}".utf8), headersJSON: "{}")
    }

    func testDaemonStatusIsRecordedReplacedAndStopped() throws {
        try forEachStorageEngine { location in
            try store([], at: location)
            XCTAssertNil(try StoreReadingOpening.open(location).daemonStatus())
            let first = DaemonStatus(pid: 77, version: "0.1.0", startedAt: 2000, stripeLive: true, instantlyLive: false,
                                     configFile: "/etc/hookyard/hookyard.yaml")
            try DaemonStatus.recordStart(first, location: location)
            XCTAssertEqual(try StoreReadingOpening.open(location).daemonStatus(), first)
            try DaemonStatus.recordStop(pid: 99, at: 2500, location: location)
            XCTAssertNil(try StoreReadingOpening.open(location).daemonStatus()?.stoppedAt, "another daemon's stop changes nothing")
            try DaemonStatus.recordStop(pid: 77, at: 3000, location: location)
            XCTAssertEqual(try StoreReadingOpening.open(location).daemonStatus()?.stoppedAt, 3000)
            let second = DaemonStatus(pid: 78, version: "0.2.0", startedAt: 4000, stripeLive: false, instantlyLive: true)
            try DaemonStatus.recordStart(second, location: location)
            XCTAssertEqual(try StoreReadingOpening.open(location).daemonStatus(), second, "replaced whole, stop cleared")
            XCTAssertNil(try StoreReadingOpening.open(location).backupOrigin())
        }
    }

    /// Totals of money stored as received: a total that does not fit 64 bits is `nil`, never trapped or wrapped.
    func testStatisticsSumMoneyAndReportTotalsThatDoNotFitAsNil() throws {
        try forEachStorageEngine { location in
            try store([event("evt_1", at: 1000), event("lead_1", source: .instantly, type: "email_opened", at: 1001)], at: location)
            try execute("""
                INSERT INTO purchases (event_id, reference, email, amount, currency, rule, created_at) VALUES
                    (1, 'cs_1', 'a@example.com', 900, 'eur', 'sale', 1), (1, 'cs_2', NULL, 100, 'eur', 'sale', 1),
                    (1, 'cs_3', NULL, 9223372036854775807, 'usd', 'sale', 1), (1, 'cs_4', NULL, 1, 'usd', 'sale', 1);
                INSERT INTO contact_payments (event_id, reference, kind, amount, currency, occurred_at) VALUES
                    (1, 'pi_1', 'payment', 5000, 'eur', 1), (1, 'in_1', 'invoice', 2000, 'eur', 1), (1, 're_1', 'refund', -1500, 'eur', 1);
                """, at: location)
            let statistics = try StoreReadingOpening.open(location).statistics()
            XCTAssertEqual(statistics.events, [.stripe: 1, .instantly: 1])
            XCTAssertEqual(statistics.jobs["queued"], 2)
            XCTAssertEqual(statistics.jobs.count, JobState.allCases.count)
            XCTAssertGreaterThan(statistics.databaseBytes, 0)
            XCTAssertEqual(statistics.purchases["eur"], PurchaseTotal(count: 2, amount: 1000))
            XCTAssertEqual(statistics.purchases["usd"], PurchaseTotal(count: 2, amount: nil), "beyond 64 bits: nil")
            XCTAssertEqual(statistics.payments["eur"], PaymentTotal(payments: 2, refunds: 1, net: 5500))
        }
    }

    func testEventQueriesAndReferences() throws {
        try forEachStorageEngine { location in
            try store([event("evt_a", at: 1000), event("lead_b", source: .instantly, type: "email_opened", at: 2000),
                       event("evt_c", type: "checkout.session.completed", at: 3000)], at: location)
            try execute("""
                INSERT INTO contacts (email, first_seen_at, updated_at) VALUES ('ann@example.com', 1, 1);
                INSERT INTO contact_events (event_id, contact_id, applied_at) VALUES (1, 1, 1), (3, 1, 1);
                """, at: location)
            let reader = try StoreReadingOpening.open(location)
            XCTAssertEqual(try reader.events(source: nil, limit: 10).map(\.dedupKey), ["evt_c", "lead_b", "evt_a"])
            XCTAssertEqual(try reader.events(source: .stripe, limit: 1).map(\.dedupKey), ["evt_c"])
            XCTAssertEqual(try reader.events(source: nil, limit: 10).first?.body, [], "listings leave bodies out")
            XCTAssertEqual(try reader.events(source: nil, limit: 10).first?.bodyBytes, 14)
            XCTAssertEqual(try reader.events(matching: EventQuery(contactID: 1), limit: 10).map(\.id), [3, 1])
            XCTAssertEqual(try reader.events(matching: EventQuery(source: .stripe, type: "invoice.paid"), limit: 10).map(\.id), [1])
            XCTAssertEqual(try reader.events(matching: EventQuery(since: 2000, until: 3000), limit: 10).map(\.id), [2])
            XCTAssertEqual(try reader.events(matching: EventQuery(beforeID: 3), limit: 1).map(\.id), [2])
            XCTAssertEqual(try reader.event("2")?.dedupKey, "lead_b", "a row id")
            XCTAssertEqual(try reader.event("evt_c")?.id, 3, "a provider's event id")
            XCTAssertEqual(try reader.event("lead_b")?.body, Array("{\"id\":\"lead_b\"}".utf8), "a dedup key, with its body")
            XCTAssertEqual(try reader.event(id: 1)?.jobStates, ["queued"])
            XCTAssertNil(try reader.event("99999999999999999999"), "too long for a row id: no match, no error")
            XCTAssertNil(try reader.event("nope"))
        }
    }

    func testCreatedPaymentLinksAreFoundByIdAndByContact() throws {
        try forEachStorageEngine { location in
            try store([event("evt_1", at: 1000)], at: location)
            try execute("""
                INSERT INTO contacts (email, first_seen_at, updated_at) VALUES ('ann@example.com', 1, 1);
                INSERT INTO jobs (event_id, kind, state, next_run_at, idempotency_key, input, output, created_at, updated_at) VALUES
                    (1, 'stripe.create_payment_link', 'succeeded', 1, 'flow:a', '{"rule":"offer","contact":"ann@example.com"}',
                     '{"payment_link_id":"plink_1","amount":4900,"currency":"eur","metadata":{"lead_email":"ann@example.com"}}', 1, 1),
                    (1, 'stripe.create_payment_link', 'succeeded', 1, 'flow:b', '{"rule":"offer"}', 'not json, mentions plink_2', 1, 1),
                    (1, 'stripe.create_payment_link', 'succeeded', 1, 'flow:c', '{"rule":"other"}',
                     '{"payment_link_id":"plink_2","dry_run":true,"metadata":{"lead_email":"bob@example.com"}}', 1, 1);
                INSERT INTO payment_links_sent (link_id, url, contact_id, rule, created_at) VALUES ('plink_1', 'https://x', 1, 'offer', 1);
                """, at: location)
            let reader = try StoreReadingOpening.open(location)
            let first = try XCTUnwrap(try reader.createdPaymentLink(id: "plink_1"))
            XCTAssertEqual(first, CreatedPaymentLink(id: "plink_1", metadata: ["lead_email": "ann@example.com"], email: "ann@example.com",
                                                     amount: 4900, currency: "eur", rule: "offer", dryRun: false))
            XCTAssertEqual(try reader.createdPaymentLink(id: "plink_2")?.dryRun, true)
            XCTAssertEqual(try reader.createdPaymentLink(id: "plink_2")?.rule, "other")
            XCTAssertNil(try reader.createdPaymentLink(id: "plink_3"))
            XCTAssertEqual(try reader.newestCreatedPaymentLinkID(email: nil), "plink_2")
            XCTAssertEqual(try reader.newestCreatedPaymentLinkID(email: "ANN@example.com"), "plink_1")
            XCTAssertNil(try reader.newestCreatedPaymentLinkID(email: "carl@example.com"))
        }
    }
}
