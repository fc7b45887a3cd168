import Foundation
import Intake
import TestSupport
import XCTest

/// Issue 13, item 1, end to end: signed Stripe events with absurd numbers (an `amount_total` of Int64.max, two
/// payments of 5e18 in one currency, `created` and `current_period_end` beyond what milliseconds can hold) are
/// acknowledged and processed, and afterwards the daemon still answers `GET /report` with 200 (noting what it left
/// out), and `hookyard report` and `contacts show` exit normally.
final class AbsurdAmountIntegrationTests: XCTestCase {
    static let token = "absurd-amount-admin-token-0123456789"
    var directory: URL!

    override func setUpWithError() throws { directory = DaemonProcess.makeDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    private func sendStripe(id: String, type: String, object: String, created: String? = nil, to daemon: DaemonProcess) throws {
        let now = Int64(Date().timeIntervalSince1970)
        let body = Array(#"{"id":"\#(id)","object":"event","api_version":"2025-12-15.clover","created":\#(created ?? String(now)),"type":"\#(type)","livemode":false,"data":{"object":\#(object)}}"#.utf8)
        let header = StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret, timestamp: now)
        let response = try daemon.client().roundTrip("POST", "/webhooks/stripe",
                                                     headers: [("Content-Type", "application/json"), ("Stripe-Signature", header)], body: body)
        XCTAssertEqual(response.status, 200, response.bodyText)
    }

    private func session(_ id: String, _ email: String, _ amount: String, _ currency: String) -> String {
        #"{"id":"\#(id)","object":"checkout.session","mode":"payment","payment_status":"paid","status":"complete","amount_total":\#(amount),"currency":"\#(currency)","customer_details":{"email":"\#(email)"},"metadata":{}}"#
    }

    private func waitForIdleQueue(_ daemon: DaemonProcess) throws -> [String: Int] {
        let (jobs, idle) = try daemon.waitForIdleQueue(timeout: .seconds(60))
        if idle { return jobs }
        XCTFail("the queue did not drain: \(jobs)\n\(daemon.output)")
        return jobs
    }

    func testAbsurdStripeNumbersNeitherCrashNorStopTheReportOrContactsShow() throws {
        let daemon = try DaemonProcess(directory: directory, environment: ["HOOKYARD_ADMIN_TOKEN": Self.token])
        try sendStripe(id: "evt_ok", type: "checkout.session.completed", object: session("cs_ok", "ann@example.com", "4900", "usd"), to: daemon)
        try sendStripe(id: "evt_max", type: "checkout.session.completed",
                       object: session("cs_max", "zed@example.com", "9223372036854775807", "usd"), to: daemon)
        for index in 1...2 {
            try sendStripe(id: "evt_5e18_\(index)", type: "checkout.session.completed",
                           object: session("cs_5e18_\(index)", "twice@example.com", "5000000000000000000", "eur"), to: daemon)
        }
        // One past Int64.max and a fraction: parsed as Doubles, never converted to an amount.
        try sendStripe(id: "evt_over", type: "checkout.session.completed",
                       object: session("cs_over", "over@example.com", "9223372036854775808", "usd"), to: daemon)
        try sendStripe(id: "evt_1e300", type: "checkout.session.completed",
                       object: session("cs_1e300", "over@example.com", "1e300", "usd"), to: daemon)
        // Seconds whose milliseconds overflow: the event time falls back to when it was received.
        try sendStripe(id: "evt_created", type: "checkout.session.completed",
                       object: session("cs_created", "late@example.com", "100", "usd"), created: "9223372036854775807", to: daemon)
        try sendStripe(id: "evt_sub", type: "customer.subscription.updated",
                       object: #"{"id":"sub_far","object":"subscription","status":"active","current_period_end":9223372036854775807,"metadata":{"hookyard_email":"far@example.com"},"items":{"data":[{"price":{"id":"price_x","product":"prod_x"}}]}}"#,
                       to: daemon)
        let jobs = try waitForIdleQueue(daemon)
        XCTAssertEqual(jobs["dead"], 0, "every event was processed: \(jobs)\n\(daemon.output)")

        let admin = try daemon.adminClient()
        let page = try admin.roundTrip("GET", "/report?since=2000-01-01&until=2100-01-01",
                                       headers: [("Authorization", "Bearer \(Self.token)")])
        XCTAssertEqual(page.status, 200, page.bodyText)
        XCTAssertTrue(page.bodyText.contains("cs_max") && page.bodyText.contains("cs_5e18_1"), "the page notes the rows it left out")
        XCTAssertTrue(page.bodyText.contains("USD 50.00"), "the counted payments (49.00 and 1.00) are in the figures")

        let (status, text) = try daemon.run(["report", "--since", "2000-01-01", "--until", "2100-01-01"])
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains("Left out of every figure: payment cs_max"), text)
        let (jsonStatus, json) = try daemon.run(["report", "--since", "2000-01-01", "--until", "2100-01-01", "--format", "json"])
        XCTAssertEqual(jsonStatus, 0, json)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual((report["notes"] as? [String])?.filter { $0.hasPrefix("Left out of every figure") }.count, 3, json)

        var (showStatus, shown) = try daemon.run(["contacts", "show", "twice@example.com"])
        XCTAssertEqual(showStatus, 0, shown)
        XCTAssertTrue(shown.contains("EUR overflowed"), shown)
        (showStatus, shown) = try daemon.run(["contacts", "show", "twice@example.com", "--json"])
        XCTAssertEqual(showStatus, 0, shown)
        let contact = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: Any])
        XCTAssertEqual(contact["revenue_overflowed"] as? [String], ["eur"])
        XCTAssertEqual(contact["payment_status"] as? String, "customer")
        (showStatus, shown) = try daemon.run(["contacts", "show", "zed@example.com"])
        XCTAssertEqual(showStatus, 0, shown)
        XCTAssertTrue(shown.contains("USD 92,233,720,368,547,758.07"), shown)
        for email in ["late@example.com", "far@example.com"] {
            (showStatus, shown) = try daemon.run(["contacts", "show", email])
            XCTAssertEqual(showStatus, 0, shown)
        }
        XCTAssertEqual(try daemon.run(["stats"]).0, 0)
        // Still up: intake answers.
        try sendStripe(id: "evt_after", type: "checkout.session.completed", object: session("cs_after", "ann@example.com", "100", "usd"), to: daemon)
    }
}
