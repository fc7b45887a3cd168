import Contacts
import StrictJSON
import XCTest

/// The facts rules read as `event.hookyard.…`, from the shapes of Stripe API versions before and since
/// `2025-03-31.basil` (Stripe's API reference and changelog).
final class StripeObjectReadingTests: XCTestCase {
    private func fields(_ type: String, _ object: String, previous: String? = nil) throws -> JSONValue? {
        let event = try JSONValue.parse("""
            {"id": "evt_1", "object": "event", "type": "\(type)", "data": {"object": \(object)\(previous.map { ", \"previous_attributes\": \($0)" } ?? "")}}
            """)
        return StripeObjectReading.ruleFields(type: type, event: event)
    }

    func testCancellationsScheduledByDateOrAtThePeriodEnd() throws {
        let items = #""items": {"data": [{"current_period_end": 1790000000, "price": {"id": "price_a", "product": "prod_a"}}, {"current_period_end": 1780000000, "price": {"id": "price_b"}}]}"#
        // cancel_at_period_end (current versions also set cancel_at to the period end).
        let atPeriodEnd = try XCTUnwrap(try fields("customer.subscription.updated",
                                                   #"{"id": "sub_1", "cancel_at_period_end": true, "cancel_at": null, \#(items)}"#,
                                                   previous: #"{"cancel_at_period_end": false}"#))
        XCTAssertEqual(atPeriodEnd["cancellation_scheduled"], .bool(true))
        XCTAssertEqual(atPeriodEnd["cancellation_was_scheduled"], .bool(false))
        XCTAssertEqual(atPeriodEnd["cancels_at"], .integer(1_780_000_000), "the earliest item's period end")
        XCTAssertEqual(atPeriodEnd["subscription"], .string("sub_1"))
        XCTAssertEqual(atPeriodEnd["price"], .string("price_a"))
        XCTAssertEqual(atPeriodEnd["product"], .string("prod_a"))
        // A date (cancel_at; also what cancel_at: min_period_end or max_period_end resolve to), with
        // cancel_at_period_end false.
        let byDate = try XCTUnwrap(try fields("customer.subscription.updated",
                                              #"{"id": "sub_1", "cancel_at_period_end": false, "cancel_at": 1785000000, \#(items)}"#,
                                              previous: #"{"cancel_at": null}"#))
        XCTAssertEqual(byDate["cancellation_scheduled"], .bool(true))
        XCTAssertEqual(byDate["cancellation_was_scheduled"], .bool(false))
        XCTAssertEqual(byDate["cancels_at"], .integer(1_785_000_000))
        // Cleared: neither a date nor the period end.
        let cleared = try XCTUnwrap(try fields("customer.subscription.updated",
                                               #"{"id": "sub_1", "cancel_at_period_end": false, "cancel_at": null, \#(items)}"#,
                                               previous: #"{"cancel_at": 1785000000}"#))
        XCTAssertEqual(cleared["cancellation_scheduled"], .bool(false))
        XCTAssertEqual(cleared["cancellation_was_scheduled"], .bool(true))
        XCTAssertNil(cleared["cancels_at"])
        // From the period end to a date: scheduled before and after.
        let moved = try XCTUnwrap(try fields("customer.subscription.updated",
                                             #"{"id": "sub_1", "cancel_at_period_end": false, "cancel_at": 1785000000}"#,
                                             previous: #"{"cancel_at_period_end": true, "cancel_at": 1780000000}"#))
        XCTAssertEqual(moved["cancellation_was_scheduled"], .bool(true))
        XCTAssertEqual(moved["cancellation_scheduled"], .bool(true))
        // An update about something else says nothing about what was scheduled.
        let other = try XCTUnwrap(try fields("customer.subscription.updated", #"{"id": "sub_1", "cancel_at_period_end": true}"#,
                                             previous: #"{"status": "trialing"}"#))
        XCTAssertNil(other["cancellation_was_scheduled"])
        // Before basil: the period end on the subscription.
        let old = try XCTUnwrap(try fields("customer.subscription.updated",
                                           #"{"id": "sub_1", "cancel_at_period_end": true, "current_period_end": 1770000000, "items": {"data": [{"price": {"id": "price_a"}}]}}"#))
        XCTAssertEqual(old["cancels_at"], .integer(1_770_000_000))
    }

    func testInvoiceSubscriptionAndPriceInEitherShape() throws {
        let basil = try XCTUnwrap(try fields("invoice.paid", """
            {"id": "in_1", "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_new"}},
             "lines": {"data": [{"pricing": {"price_details": {"price": "price_new", "product": "prod_new"}}}]}}
            """))
        XCTAssertEqual(basil, .object(["subscription": .string("sub_new"), "price": .string("price_new"), "product": .string("prod_new")]))
        let acacia = try XCTUnwrap(try fields("invoice.payment_failed", """
            {"id": "in_1", "subscription": "sub_old", "lines": {"data": [{"price": {"id": "price_old", "product": "prod_old"}}]}}
            """))
        XCTAssertEqual(acacia, .object(["subscription": .string("sub_old"), "price": .string("price_old"), "product": .string("prod_old")]))
        XCTAssertNil(try fields("invoice.paid", #"{"id": "in_2", "subscription": null}"#), "a one-off invoice")
    }

    func testCheckoutSessionSettledAndTheEventView() throws {
        for (status, settled) in [("paid", true), ("no_payment_required", true), ("unpaid", false)] {
            XCTAssertEqual(try fields("checkout.session.completed", #"{"id": "cs_1", "payment_status": "\#(status)"}"#)?["payment_settled"],
                           .bool(settled), status)
        }
        let event = try JSONValue.parse(#"{"type": "invoice.paid", "data": {"object": {"subscription": "sub_1"}}}"#)
        let view = StripeObjectReading.ruleView(type: "invoice.paid", event: event)
        XCTAssertEqual(view[path: ["hookyard", "subscription"]], .string("sub_1"))
        XCTAssertEqual(view[path: ["data", "object", "subscription"]], .string("sub_1"), "the event itself is unchanged")
        XCTAssertEqual(StripeObjectReading.ruleView(type: "customer.created", event: event), event, "nothing to add")
    }
}
