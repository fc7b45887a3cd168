import Foundation
import Logging
import XCTest
@testable import Contacts
@testable import Store
import TestSupport

/// Amounts stored as Stripe sent them, however absurd: applying them and reading the contact never traps or fails,
/// and a revenue that cannot be represented is reported as overflowed.
final class SQLiteContactStoreAbsurdAmountTests: ContactStoreTestCase {
    let t0: Int64 = 1_732_500_000_000


    private func pay(_ email: String, _ reference: String, _ amount: Int64, _ currency: String, kind: ObservedPayment.Kind = .payment,
                     at offset: Int64) throws {
        let id = storeEvent(.stripe, type: "stripe.event", receivedAt: t0 + offset)
        let customers = SegmentQuery.both(name: "customers", sql: "c.payment_status = ?", parameters: [.text("customer")])
        let big = SegmentQuery(name: "big", sql: "(SELECT TOTAL(p.amount) FROM contact_payments p WHERE p.contact_id = c.id) > ?",
                               postgreSQL: "(SELECT coalesce(sum(p.amount), 0) FROM contact_payments p WHERE p.contact_id = c.id) > ?",
                               parameters: [.integer(1_000_000)])
        _ = try store.apply(ContactObservation(eventID: id, source: .stripe, occurredAt: t0 + offset, email: email,
                                           payment: ObservedPayment(reference: reference, kind: kind, amount: amount, currency: currency)),
                        policy: EngagementPolicy(), segments: [customers, big], now: t0 + offset)
    }

    func testTwoPaymentsOf5e18InOneCurrencyReadAsOverflowed() throws {
        try onEachEngine {
            try pay("zed@example.com", "cs_1", 5_000_000_000_000_000_000, "eur", at: 1)
            try pay("zed@example.com", "cs_2", 5_000_000_000_000_000_000, "eur", at: 2)
            try pay("zed@example.com", "cs_3", 1_250, "usd", at: 3)
            let contact = try XCTUnwrap(try store.contact(email: "zed@example.com"))
            XCTAssertEqual(contact.revenue, ["usd": 1_250], "the overflowed currency is not summed")
            XCTAssertEqual(contact.revenueOverflowed, ["eur"])
            XCTAssertEqual(contact.paymentStatus, .customer)
            XCTAssertEqual(contact.segments, ["big", "customers"])
        }
    }

    func testInt64ExtremesAreKeptExactly() throws {
        try onEachEngine {
            try pay("max@example.com", "cs_max", .max, "usd", at: 1)
            // A refund of the smallest Int64 (nonsense from outside) cannot be negated: it is clamped, not trapped on.
            try pay("min@example.com", "ch_min", .min, "usd", kind: .refund, at: 2)
            XCTAssertEqual(try XCTUnwrap(try store.contact(email: "max@example.com")).revenue, ["usd": .max])
            let min = try XCTUnwrap(try store.contact(email: "min@example.com"))
            XCTAssertEqual(min.revenue, ["usd": .max])
            XCTAssertEqual(min.revenueOverflowed, [])
        }
    }

    func testNegatingARefundClampsTheOneAmountThatOverflows() {
        XCTAssertEqual(SQLiteContactStore.negated(.min), .max, "the one negation that overflows clamps")
        XCTAssertEqual(SQLiteContactStore.negated(250), -250)
    }
}
