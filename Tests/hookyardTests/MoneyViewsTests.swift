import Foundation
import Intake
import Reports
import TestSupport
import XCTest

/// One history, three views of its money: `stats`, `contacts show` and the report count the same payments seen in
/// Stripe events, and `stats` says apart what rules recorded with `record_purchase`.
final class MoneyViewsTests: XCTestCase {
    func testStatsContactAndReportAgreeAndSayWhatTheyCount() throws {
        let daemon = try DaemonProcess(yaml: """
            rules:
              - name: record
                on: {source: stripe, event: checkout.session.completed}
                steps:
                  - {name: purchase, action: record_purchase, with: {reference: "{{ event.data.object.id }}", amount: "{{ event.data.object.amount_total }}", currency: usd}}
            """)
        defer { daemon.terminate() }
        for id in ["evt_money_1", "evt_money_2", "evt_money_3"] {
            let body = Array("""
                {"id":"\(id)","object":"event","api_version":"2025-12-15.clover","created":\(Int(Date().timeIntervalSince1970)),\
                "type":"checkout.session.completed","livemode":false,"data":{"object":{"id":"cs_test_\(id)","object":"checkout.session",\
                "mode":"payment","payment_status":"paid","customer_details":{"email":"lead@example.com"},"amount_total":4900,"currency":"usd"}}}
                """.utf8)
            let header = StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret, timestamp: Int64(Date().timeIntervalSince1970))
            let request = TestHTTPClient.request("POST", "/webhooks/stripe", headers: [("Content-Type", "application/json"), ("Stripe-Signature", header)],
                                                 body: body)
            XCTAssertEqual(try daemon.client().roundTripRaw(request).status, 200)
        }
        let deadline = Date().addingTimeInterval(20)
        var stats = ""
        while Date() < deadline {
            stats = try daemon.run(["stats"]).1
            if stats.contains("purchases 3 ") && stats.contains("payments  3 ") { break }
            usleep(50_000)
        }
        XCTAssertTrue(stats.contains("purchases 3 for USD 147.00 (recorded by rules' record_purchase steps)"), stats)
        XCTAssertTrue(stats.contains("payments  3 for USD 147.00 net (seen in Stripe events: what contacts and the report count)"), stats)
        let (_, contact) = try daemon.run(["contacts", "show", "lead@example.com"])
        XCTAssertTrue(contact.contains("USD 147.00 (payments seen in Stripe events, less refunds)"), contact)
        let (status, json) = try daemon.run(["report", "--format", "json"])
        XCTAssertEqual(status, 0, json)
        let report = try JSONDecoder().decode(Report.self, from: Data(json.utf8))
        XCTAssertEqual(report.headline.figures.revenue, [Money(currency: "usd", amount: 14_700)])
    }
}
