import Dispatch
import Foundation
import PostgreSQL
import XCTest
@testable import Contacts
import Store
import TestSupport

/// Two nodes (two connections, two threads) doing the same once-only thing at the same moment on one PostgreSQL
/// database: exactly one wins, and nothing is lost. Each race is run for many people so the two sides overlap.
final class PostgreSQLContactStoreConcurrencyTests: XCTestCase {
    static let rounds = 25
    let t0: Int64 = 1_732_500_000_000
    var url: String!
    var raw: PostgreSQLConnection!
    var nodes: [PostgreSQLContactStore] = []

    override func setUpWithError() throws {
        url = try PostgreSQLTestServer.start().makeStoreDatabase()
        raw = try PostgreSQLConnection(url: url)
        nodes = try (0..<2).map { _ in try PostgreSQLContactStore(url: url, password: nil, durableCommits: false) }
    }

    override func tearDown() {
        for node in nodes { node.close() }
        raw?.close()
    }

    /// A stored event's id (the contact tables refer to `events`).
    private func event(_ source: EventSource = .instantly) throws -> Int64 {
        try XCTUnwrap(try raw.query("""
            INSERT INTO events (source, dedup_key, type, received_at, body, headers) VALUES ($1, $2, 't', 0, $3, '{}')
            RETURNING id
            """, [source.rawValue, UUID().uuidString, Array("{}".utf8)]).first?.int(0))
    }

    /// Runs `work(0)` on node 0 and `work(1)` on node 1 at once; rethrows the first error.
    private func race<R>(_ work: @escaping @Sendable (Int) throws -> R) throws -> [R] {
        nonisolated(unsafe) var results: [Result<R, any Error>?] = [nil, nil]
        let lock = NSLock()
        let start = DispatchGroup()
        start.enter()
        DispatchQueue.concurrentPerform(iterations: 2) { side in
            if side == 0 { start.leave() } else { start.wait() }
            let result = Result { try work(side) }
            lock.withLock { results[side] = result }
        }
        return try results.map { try XCTUnwrap($0).get() }
    }

    private func count(_ sql: String, _ parameters: [any PostgreSQLEncodable] = []) throws -> Int64 {
        try XCTUnwrap(try raw.query(sql, parameters).first?.int(0))
    }

    func testTwoNodesApplyingEventsForTheSameNewEmailMakeOneContactAndCountBoth() throws {
        nonisolated(unsafe) let nodes = nodes
        let openers = SegmentQuery.both(name: "openers", sql: "c.opened >= ?", parameters: [.integer(2)])
        for round in 0..<Self.rounds {
            let email = "racer\(round)@example.com"
            let events = [try event(), try event()]
            let at = t0
            let changes = try race { side in
                try nodes[side].apply(ContactObservation(eventID: events[side], source: .instantly, occurredAt: at + Int64(side),
                                                         email: email, campaignID: "camp-\(side)", activity: .opened),
                                      policy: EngagementPolicy(), segments: [openers], now: at + 10)
            }
            XCTAssertEqual(changes.filter(\.created).count, 1, "\(email): created once")
            XCTAssertEqual(Set(changes.compactMap(\.contactID)).count, 1, "\(email): one contact")
            XCTAssertEqual(changes.flatMap(\.transitions).map(\.segment), ["openers"], "\(email): entered once, by the second")
            let contact = try XCTUnwrap(try nodes[0].contact(email: email))
            XCTAssertEqual(contact.counts[.opened], 2, "\(email): both events counted")
            XCTAssertEqual(contact.leads.keys.sorted(), ["camp-0", "camp-1"])
            XCTAssertEqual(contact.segments, ["openers"])
        }
        XCTAssertEqual(try count("SELECT count(*) FROM contacts"), Int64(Self.rounds))
        XCTAssertEqual(try count("SELECT count(*) FROM contact_events"), Int64(2 * Self.rounds))
    }

    func testTwoNodesApplyingTheSameEventApplyItOnce() throws {
        nonisolated(unsafe) let nodes = nodes
        for round in 0..<Self.rounds {
            let email = "twice\(round)@example.com"
            let id = try event()
            let at = t0
            let changes = try race { side in
                try nodes[side].apply(ContactObservation(eventID: id, source: .instantly, occurredAt: at, email: email,
                                                         campaignID: "camp", activity: .clicked),
                                      policy: EngagementPolicy(), segments: [], now: at)
            }
            XCTAssertEqual(changes.filter(\.alreadyApplied).count, 1, email)
            XCTAssertEqual(try nodes[1].contact(email: email)?.counts[.clicked], 1, email)
        }
    }

    func testAPendingObservationAndTheLinkThatAppliesItNeverMissEachOther() throws {
        nonisolated(unsafe) let nodes = nodes
        for round in 0..<Self.rounds {
            let email = "late\(round)@example.com"
            let customer = "cus_\(round)"
            let id = try event(.stripe)
            let at = t0
            _ = try race { side -> Int in
                if side == 0 {
                    _ = try nodes[0].apply(ContactObservation(
                        eventID: id, source: .stripe, occurredAt: at, stripeCustomerID: customer,
                        payment: ObservedPayment(reference: "cs_\(round)", kind: .payment, amount: 700, currency: "usd")),
                        policy: EngagementPolicy(), segments: [], now: at)
                } else {
                    _ = try nodes[1].linkCustomer(email: email, customerID: customer, eventID: 0, policy: EngagementPolicy(),
                                                  segments: [], now: at)
                }
                return side
            }
            XCTAssertEqual(try count("SELECT count(*) FROM contact_pending WHERE customer_id = $1", [customer]), 0,
                           "\(customer): nothing left waiting for a customer who is linked")
            let contact = try XCTUnwrap(try nodes[0].contact(email: email))
            XCTAssertEqual(contact.revenue, ["usd": 700], customer)
            XCTAssertEqual(contact.paymentStatus, .customer, customer)
        }
    }

    func testTwoNodesAdmittingNewFlowsUnderAPerContactCapAdmitOne() throws {
        nonisolated(unsafe) let nodes = nodes
        for round in 0..<Self.rounds {
            let email = "capped\(round)@example.com"
            let at = t0
            let admissions = try race { side in
                try nodes[side].admitRuleRun(rule: "nurture", email: email, flow: "flow-\(round)-\(side)", now: at,
                                             maxPerDay: 1, maxTotalPerDay: nil, eventID: nil)
            }
            XCTAssertEqual(admissions.filter { $0 == .admitted }.count, 1, "\(email): \(admissions)")
            XCTAssertEqual(admissions.filter { $0 == .contactCap }.count, 1, "\(email): \(admissions)")
        }
        // A cap for everyone: of two people admitted at once under a cap of one more, one gets in.
        for round in 0..<Self.rounds {
            let at = t0
            let admissions = try race { side in
                try nodes[side].admitRuleRun(rule: "launch-\(round)", email: "p\(side)-\(round)@example.com",
                                             flow: "launch-\(round)-\(side)", now: at, maxPerDay: 0, maxTotalPerDay: 1,
                                             eventID: nil)
            }
            XCTAssertEqual(admissions.filter { $0 == .admitted }.count, 1, "round \(round): \(admissions)")
            XCTAssertEqual(admissions.filter { $0 == .ruleCap }.count, 1, "round \(round): \(admissions)")
        }
    }

    func testTwoNodesRegisteringForOneProductTakeDifferentPlaces() throws {
        nonisolated(unsafe) let nodes = nodes
        for round in 0..<Self.rounds {
            let product = "webinar-\(round)"
            let events = [try event(.stripe), try event(.stripe)]
            let at = t0
            let results = try race { side in
                try nodes[side].register(email: "seat\(side)@example.com", product: product, reference: "cs_\(round)_\(side)",
                                         seats: 1, eventID: events[side], segments: [], now: at)
            }
            XCTAssertEqual(results.map(\.registrations).sorted(), [1, 2], product)
            XCTAssertEqual(try nodes[0].registrationCount(product: product), 2)
        }
    }
}

/// On PostgreSQL too, a value read back that this build cannot mean is an error naming the column and the value,
/// never a silent default (the schema's CHECKs are dropped to store one).
final class PostgreSQLContactStoreRowDecodingTests: XCTestCase {
    func testAnUnknownPaymentStatusOrActivityKindIsAnError() throws {
        let url = try PostgreSQLTestServer.start().makeStoreDatabase()
        let raw = try PostgreSQLConnection(url: url)
        defer { raw.close() }
        let store = try PostgreSQLContactStore(url: url, password: nil)
        defer { store.close() }
        let event = try XCTUnwrap(try raw.query("""
            INSERT INTO events (source, dedup_key, type, received_at, body, headers) VALUES ('instantly', 'k', 't', 0, $1, '{}')
            RETURNING id
            """, [Array("{}".utf8)]).first?.int(0))
        _ = try store.apply(ContactObservation(eventID: event, source: .instantly, occurredAt: 1, email: "alice@example.com",
                                               campaignID: "c", activity: .opened),
                            policy: EngagementPolicy(), segments: [], now: 1)
        XCTAssertEqual(try store.contact(email: "alice@example.com")?.paymentStatus, .prospect)
        try raw.execute("""
            ALTER TABLE contacts DROP CONSTRAINT contacts_payment_status_check;
            UPDATE contacts SET payment_status = 'vip';
            UPDATE contact_activity SET kind = 'waved';
            """)
        XCTAssertThrowsError(try store.contact(email: "alice@example.com")) { error in
            XCTAssertEqual((error as? PostgreSQLDecodingError)?.value, "vip", "\(error)")
        }
        XCTAssertThrowsError(try store.reevaluate(after: 0, limit: 10, policy: EngagementPolicy(), segments: [], now: 1)) { error in
            XCTAssertEqual((error as? PostgreSQLDecodingError)?.value, "waved", "\(error)")
        }
    }
}

/// A store on a lent connection (shared with other storage of one worker) leaves it open when closed.
final class PostgreSQLContactStoreConnectionTests: XCTestCase {
    func testAStoreOnALentConnectionLeavesItOpen() throws {
        let connection = try PostgreSQLStoreConnection.open(url: try PostgreSQLTestServer.start().makeStoreDatabase())
        defer { connection.close() }
        let storage: any ContactStorage = PostgreSQLContactStore(connection: connection)
        try storage.recordOwnWrite(email: "Lent@Example.com", rule: "tag", at: 5)
        storage.close()
        XCTAssertTrue(connection.isOpen, "the connection stays its owner's")
        XCTAssertEqual(try PostgreSQLContactStore(connection: connection).lastOwnWrite(email: "lent@example.com", rule: "tag"), 5)
    }
}
