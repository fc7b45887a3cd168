import Foundation
import Intake
import TestSupport
import XCTest

/// Contacts end to end through the real daemon (dry-run): signed Instantly and Stripe webhooks build one record per
/// person, a segment rule starts once on entry, and the CLI looks people up, exports them and erases them until no
/// byte of their address is left in the database files.
final class ContactsIntegrationTests: XCTestCase {
    static let campaign = "7a1d2c3b-0001-4a5b-8c7d-000000000001"
    static let tagCampaign = "7a1d2c3b-0002-4a5b-8c7d-000000000002"
    var directory: URL!

    override func setUpWithError() throws {
        directory = DaemonProcess.makeDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    static let yaml = """
        contacts:
          tiers: {price_pro: pro}
          lead_fields: [industry]
        segments:
          hot:
            all:
              - payment_status: prospect
              - engagement: high
          customers:
            payment_status: customer
        rules:
          - name: welcome-hot
            on: {segment_entered: hot}
            steps:
              - name: tag
                action: instantly.set_lead_variables
                with:
                  email: "{{ contact.email }}"
                  campaign: "\(tagCampaign)"
                  variables: {segment: hot, engagement: "{{ contact.engagement }}"}
        """

    private var second = 0

    private func sendInstantly(_ type: String, _ email: String, to daemon: DaemonProcess) throws {
        second += 1
        let body = #"{"timestamp":"2026-11-25T10:00:\#(String(format: "%02d", second)).000Z","event_type":"\#(type)","workspace":"\#(FakeInstantlyAPI.workspaceID)","campaign_id":"\#(Self.campaign)","campaign_name":"Outreach","lead_email":"\#(email)","email_account":"sender@example.org","industry":"Retail","companyName":"Acme"}"#
        let response = try daemon.client().roundTrip("POST", "/webhooks/instantly",
                                                     headers: [("Content-Type", "application/json"), ("X-Webhook-Secret", DaemonProcess.instantlySecret)],
                                                     body: Array(body.utf8))
        XCTAssertEqual(response.status, 200, response.bodyText)
    }

    private func sendStripe(id: String, type: String, object: String, to daemon: DaemonProcess) throws {
        let body = Array(#"{"id":"\#(id)","object":"event","api_version":"2025-12-15.clover","created":\#(Int(Date().timeIntervalSince1970)),"type":"\#(type)","livemode":false,"data":{"object":\#(object)}}"#.utf8)
        let header = StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret, timestamp: Int64(Date().timeIntervalSince1970))
        let response = try daemon.client().roundTrip("POST", "/webhooks/stripe",
                                                     headers: [("Content-Type", "application/json"), ("Stripe-Signature", header)], body: body)
        XCTAssertEqual(response.status, 200, response.bodyText)
    }

    private func waitForIdleQueue(_ daemon: DaemonProcess) throws {
        if try daemon.waitForIdleQueue(timeout: .seconds(30)).idle { return }
        XCTFail("the queue did not drain\n\(daemon.output)")
    }

    /// A CLI command with the daemon's configuration file (segments), as an admin runs it.
    private func cli(_ daemon: DaemonProcess, _ arguments: [String]) throws -> (Int32, String) {
        try daemon.run(arguments + ["--config", directory.appendingPathComponent("hookyard.yaml").path])
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    private func fileContains(_ path: String, _ needle: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return data.range(of: Data(needle.utf8)) != nil
    }

    func testOneRecordPerPersonSegmentsLookupsExportAndErase() throws {
        let daemon = try DaemonProcess(directory: directory, yaml: Self.yaml)
        // Ann: opens alone do not make her hot; her reply does.
        for type in ["email_sent", "email_opened", "email_opened", "email_opened", "email_opened"] {
            try sendInstantly(type, "Ann@Example.com", to: daemon)
        }
        try waitForIdleQueue(daemon)
        var (status, shown) = try cli(daemon, ["contacts", "show", "ann@example.com", "--json"])
        XCTAssertEqual(status, 0, shown)
        XCTAssertEqual(try json(shown)["engagement"] as? String, "medium", "opens alone never make high")
        try sendInstantly("reply_received", "ann@example.com", to: daemon)
        try sendInstantly("email_opened", "ann@example.com", to: daemon)  // still hot: no second entry
        try sendInstantly("lead_unsubscribed", "bob@example.com", to: daemon)
        try waitForIdleQueue(daemon)

        // The segment rule ran once, in dry-run, with the contact's fields.
        let (_, jobs) = try daemon.run(["jobs", "list", "--json", "--limit", "100"])
        let tags = jobs.split(separator: "\n").filter { $0.contains("instantly.set_lead_variables") }
        XCTAssertEqual(tags.count, 1, jobs)

        // Ann buys: the customer is linked by email, the invoice by the customer id, and she moves segments.
        try sendStripe(id: "evt_cus_ann", type: "customer.created",
                       object: #"{"id":"cus_ann","object":"customer","email":"ann@example.com","metadata":{}}"#, to: daemon)
        try waitForIdleQueue(daemon)
        try sendStripe(id: "evt_in_ann", type: "invoice.paid", object: """
            {"id":"in_ann","object":"invoice","customer":"cus_ann","amount_paid":4900,"currency":"usd","status":"paid",\
            "lines":{"object":"list","data":[{"id":"il_1","amount":4900,"currency":"usd",\
            "pricing":{"type":"price_details","price_details":{"price":"price_pro","product":"prod_pro"}}}]}}
            """, to: daemon)
        try waitForIdleQueue(daemon)

        (status, shown) = try cli(daemon, ["contacts", "show", "ANN@example.com", "--json"])
        XCTAssertEqual(status, 0, shown)
        let ann = try json(shown)
        XCTAssertEqual(ann["email"] as? String, "ann@example.com")
        XCTAssertEqual(ann["payment_status"] as? String, "customer")
        XCTAssertEqual(ann["engagement"] as? String, "high")
        XCTAssertEqual(ann["tier"] as? String, "pro")
        XCTAssertEqual(ann["revenue"] as? [String: Int], ["usd": 4900])
        XCTAssertEqual(ann["stripe_customer_ids"] as? [String], ["cus_ann"])
        XCTAssertEqual(ann["segments"] as? [String], ["customers"])
        XCTAssertEqual((ann["counts"] as? [String: Int])?["opened"], 5)
        XCTAssertEqual((ann["counts"] as? [String: Int])?["replied"], 1)
        XCTAssertEqual(ann["first_campaign"] as? String, Self.campaign)
        XCTAssertEqual(ann["lead"] as? [String: String], ["industry": "Retail"], "only the configured lead fields")
        XCTAssertEqual(ann["registered_for"] as? [String], [])
        let timeline = try XCTUnwrap(ann["timeline"] as? [[String: Any]])
        XCTAssertEqual(timeline.filter { $0["kind"] as? String == "event" }.count, 9)
        XCTAssertTrue(timeline.contains { $0["kind"] as? String == "segment" && $0["reference"] as? String == "customers" }, "\(timeline)")
        XCTAssertEqual(timeline.first?["kind"] as? String != nil, true)

        var (_, listed) = try cli(daemon, ["contacts", "list", "--segment", "customers", "--json"])
        XCTAssertEqual(listed.split(separator: "\n").compactMap { try? json(String($0))["email"] as? String }, ["ann@example.com"])
        (_, listed) = try cli(daemon, ["contacts", "list", "--status", "prospect"])
        XCTAssertTrue(listed.contains("bob@example.com") && !listed.contains("ann@example.com"), listed)
        (status, listed) = try cli(daemon, ["contacts", "list", "--segment", "nope"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(listed.contains("no segment 'nope'"), listed)
        let (_, segments) = try cli(daemon, ["segments", "list", "--json"])
        let counts = Dictionary(uniqueKeysWithValues: segments.split(separator: "\n").compactMap { line -> (String, Int)? in
            guard let object = try? json(String(line)) else { return nil }
            return (object["segment"] as? String ?? "", object["members"] as? Int ?? -1)
        })
        XCTAssertEqual(counts, ["hot": 0, "customers": 1])
        let (_, bob) = try cli(daemon, ["contacts", "show", "bob@example.com", "--json"])
        XCTAssertEqual(try json(bob)["do_not_contact"] as? String, "unsubscribed")

        // Export: the record, every raw payload, the jobs and the payment.
        let (exportStatus, exported) = try cli(daemon, ["contacts", "export", "ann@example.com"])
        XCTAssertEqual(exportStatus, 0, exported)
        let export = try json(exported)
        let events = try XCTUnwrap(export["events"] as? [[String: Any]])
        XCTAssertEqual(events.count, 9)
        XCTAssertTrue(events.contains { ($0["payload"] as? [String: Any])?["id"] as? String == "evt_in_ann" })
        XCTAssertGreaterThanOrEqual((export["jobs"] as? [Any])?.count ?? 0, 10)
        XCTAssertEqual((export["payments"] as? [[String: Any]])?.first?["amount"] as? Int, 4900)

        // Erase while the daemon runs; afterwards neither the database nor its WAL holds the address.
        XCTAssertTrue(fileContains(daemon.databasePath, "ann@example.com") || fileContains(daemon.databasePath + "-wal", "ann@example.com"))
        let (refused, refusal) = try cli(daemon, ["contacts", "erase", "ann@example.com"])
        XCTAssertNotEqual(refused, 0, "no confirmation without a terminal or --yes")
        XCTAssertTrue(refusal.contains("--yes"), refusal)
        let (erased, report) = try cli(daemon, ["contacts", "erase", "Ann@Example.com", "--yes"])
        XCTAssertEqual(erased, 0, report)
        XCTAssertTrue(report.contains("events redacted       9"), report)
        XCTAssertTrue(report.contains("email_sha256"), "the audit line names a hash")
        XCTAssertFalse(report.lowercased().contains("ann@example.com"), report)
        let (missing, _) = try cli(daemon, ["contacts", "show", "ann@example.com"])
        XCTAssertNotEqual(missing, 0)
        let (_, afterStats) = try daemon.run(["stats"])
        XCTAssertTrue(afterStats.contains("stripe 2  instantly 8"), "the events stay, redacted: \(afterStats)")
        XCTAssertEqual(daemon.terminate(), 0)
        for path in [daemon.databasePath, daemon.databasePath + "-wal"] {
            XCTAssertFalse(fileContains(path, "ann@example.com"), "\(path) still holds the address")
            XCTAssertFalse(fileContains(path, "Ann@Example.com"), "\(path) still holds the address as sent")
        }
        XCTAssertFalse(daemon.output.lowercased().contains("ann@example.com"), "the daemon never logged the address")
    }

    func testAnErasedPersonWhoWritesAgainStartsANewRecord() throws {
        let daemon = try DaemonProcess(directory: directory, yaml: Self.yaml)
        try sendInstantly("email_opened", "cy@example.com", to: daemon)
        try waitForIdleQueue(daemon)
        let (_, first) = try cli(daemon, ["contacts", "show", "cy@example.com", "--json"])
        let firstID = try json(first)["id"] as? Int
        XCTAssertEqual(try cli(daemon, ["contacts", "erase", "cy@example.com", "--yes"]).0, 0)
        try sendInstantly("email_link_clicked", "cy@example.com", to: daemon)
        try waitForIdleQueue(daemon)
        let (status, again) = try cli(daemon, ["contacts", "show", "cy@example.com", "--json"])
        XCTAssertEqual(status, 0, again)
        let record = try json(again)
        XCTAssertNotEqual(record["id"] as? Int, firstID)
        XCTAssertEqual((record["counts"] as? [String: Int])?["opened"], 0, "nothing of the erased record came back")
        XCTAssertEqual((record["counts"] as? [String: Int])?["clicked"], 1)
        daemon.terminate()
    }
}
