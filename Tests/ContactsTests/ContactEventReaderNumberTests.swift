import Contacts
import StrictJSON
import Store
import XCTest

/// Numbers in Stripe events as a hostile or broken sender could write them: read without trapping, an unusable
/// time falls back to the received time, an amount is kept as received when it is a 64-bit integer.
final class ContactEventReaderNumberTests: XCTestCase {
    let reader = ContactEventReader()

    private func stripe(_ body: String) throws -> ContactObservation? {
        let event = try JSONValue.parse(body)
        return reader.observation(eventID: 9, source: .stripe, type: event["type"]?.stringValue ?? "", body: event, receivedAt: 42)
    }

    private func session(amount: String, created: String = "1764000000") -> String {
        #"{"id":"evt_1","type":"checkout.session.completed","created":\#(created),"data":{"object":{"id":"cs_1","mode":"payment","payment_status":"paid","amount_total":\#(amount),"currency":"usd","customer_details":{"email":"a@example.com"}}}}"#
    }

    func testTimesWhoseMillisecondsWouldOverflowFallBackToTheReceivedTime() throws {
        for created in ["9223372036854775807", "-9223372036854775808", "9223372036854776", "1e300", "253402300800"] {
            XCTAssertEqual(try stripe(session(amount: "100", created: created))?.occurredAt, 42, created)
        }
        XCTAssertEqual(try stripe(session(amount: "100", created: "253402300799"))?.occurredAt, 253_402_300_799_000)
        let subscription = #"{"id":"evt_2","type":"customer.subscription.updated","created":1764000000,"data":{"object":{"id":"sub_1","status":"active","current_period_end":9223372036854775807,"metadata":{"hookyard_email":"a@example.com"}}}}"#
        let observed = try XCTUnwrap(try stripe(subscription)?.subscription)
        XCTAssertNil(observed.currentPeriodEnd, "no period end rather than a trap")
    }

    func testAmountsAreKeptAsReceivedWhenTheyAreIntegersAndSkippedWhenNot() throws {
        XCTAssertEqual(try stripe(session(amount: "9223372036854775807"))?.payment?.amount, .max)
        XCTAssertEqual(try stripe(session(amount: "-9223372036854775808"))?.payment?.amount, .min)
        // One past Int64.max is parsed as a Double; neither it nor 1e300 nor a fraction is an amount.
        for amount in ["9223372036854775808", "1e300", "12.5"] {
            XCTAssertNil(try stripe(session(amount: amount))?.payment, amount)
        }
        // Beyond a Double, the shared JSON grammar refuses the body (intake answers 400 to it, so none is stored).
        XCTAssertThrowsError(try stripe(session(amount: "1e400")))
    }
}
