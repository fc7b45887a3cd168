import Foundation
import TestSupport
import XCTest

/// Alerts end to end with the real daemon: Instantly bounces over the threshold reach a fake chat webhook and pause
/// the campaign in the fake Instantly API; a dead step alerts, and discarding it from the CLI clears the alert.
final class AlertsIntegrationTests: XCTestCase {
    private let campaign = "7a0c6a2e-1111-4000-8000-0000000000c1"
    private let account = "outreach@sender.example"
    private let webhookPath = "/services/T0001/B0002/s3cr3tt0k3n"

    private func deliver(_ daemon: DaemonProcess, _ type: String, lead: String, secondsAgo: Int) throws {
        let timestamp = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-Double(secondsAgo)))
        let body = #"{"event_type":"\#(type)","timestamp":"\#(timestamp)","workspace":"w","campaign_id":"\#(campaign)","lead_email":"\#(lead)","email_account":"\#(account)"}"#
        let response = try daemon.client().roundTrip("POST", "/webhooks/instantly",
                                                     headers: [("Content-Type", "application/json"), ("X-Webhook-Secret", DaemonProcess.instantlySecret)],
                                                     body: Array(body.utf8))
        XCTAssertEqual(response.status, 200, response.bodyText)
    }

    private func waitFor(_ what: String, timeout: TimeInterval = 20, _ condition: () throws -> Bool) rethrows {
        if try waitUntil(timeout: .seconds(timeout), interval: .milliseconds(50), condition) { return }
        XCTFail("timed out waiting for \(what)")
    }

    func testBouncesOverTheThresholdAlertTheChatWebhookAndPauseTheCampaign() throws {
        let chat = try FakeAPIServer { _ in .json(status: 200, "ok") }
        let instantly = try FakeInstantlyAPI()
        instantly.addCampaign(id: campaign, status: 1)
        let daemon = try DaemonProcess(yaml: """
            deliverability:
              min_sent: 10
              pause_campaigns: true
            """, environment: ["HOOKYARD_ALERT_WEBHOOK_URL": chat.baseURL + webhookPath, "INSTANTLY_API_KEY": instantly.apiKey,
                               "INSTANTLY_API_BASE": instantly.baseURL])
        defer { daemon.terminate() }
        for index in 0..<10 { try deliver(daemon, "email_sent", lead: "lead\(index)@example.com", secondsAgo: 600 - index) }
        try deliver(daemon, "email_bounced", lead: "lead3@example.com", secondsAgo: 60)  // 1 of 10 = 10% > 2%

        waitFor("two alert posts") { chat.requests.count >= 2 }
        let texts = chat.requests.map(\.body).sorted()
        XCTAssertEqual(chat.requests.map(\.target), [webhookPath, webhookPath])
        XCTAssertTrue(texts[0].hasPrefix(#"{"text":":rotating_light: Hookyard alert (deliverability: account:\#(account):bounce_rate): account \#(account): bounce rate 10% (1 of 10 emails sent in the last 7d) is above the 2% threshold"#), texts[0])
        XCTAssertTrue(texts[1].hasPrefix(#"{"text":":rotating_light: Hookyard alert (deliverability: campaign:\#(campaign):bounce_rate): campaign \#(campaign): bounce rate 10% (1 of 10 emails sent in the last 7d)"#), texts[1])
        XCTAssertTrue(texts[1].contains("Hookyard is pausing the campaign through the Instantly API"), texts[1])
        waitFor("the campaign paused") { instantly.campaign(id: campaign)?.status == 2 }
        XCTAssertEqual(instantly.requestCount(path: "/api/v2/campaigns/\(campaign)/pause", method: "POST"), 1)

        let raised = daemon.logLines().filter { $0["msg"] as? String == "alert raised" }
        XCTAssertEqual(raised.count, 2, daemon.output)
        XCTAssertEqual(Set(raised.compactMap { $0["level"] as? String }), ["error"])
        XCTAssertEqual(Set(raised.compactMap { $0["alert"] as? String }), ["deliverability"])
        XCTAssertFalse(daemon.output.contains("s3cr3t"), "the webhook URL is never logged")
        XCTAssertTrue(daemon.output.contains(#""alert_webhook":"set (posts to \#(chat.baseURL))""#), "the start line names the host only")

        let (status, listing) = try daemon.run(["alerts", "--json", "--database", daemon.databasePath])
        XCTAssertEqual(status, 0, listing)
        let alerts = listing.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(Set(alerts.compactMap { $0["subject"] as? String }),
                       ["account:\(account):bounce_rate", "campaign:\(campaign):bounce_rate"])
        XCTAssertEqual(Set(alerts.compactMap { $0["state"] as? String }), ["raised"])
        XCTAssertEqual(Set(alerts.compactMap { $0["times_notified"] as? Int }), [1])
        let (_, table) = try daemon.run(["alerts", "--database", daemon.databasePath])
        let rows = table.split(separator: "\n")
        XCTAssertTrue(rows.first?.hasPrefix("STATE    KIND                        SUBJECT") == true, table)
        XCTAssertEqual(rows.count, 3, table)
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0.hasPrefix("raised   deliverability") }, table)

        let metrics = try ExpositionParser(try daemon.adminClient().roundTrip("GET", "/metrics").bodyText)
        XCTAssertEqual(metrics.value("hookyard_deliverability_bounce_rate", ["scope": "campaign", "key": campaign]), 0.1)
        XCTAssertEqual(metrics.value("hookyard_deliverability_bounce_rate", ["scope": "account", "key": account]), 0.1)
        XCTAssertEqual(metrics.value("hookyard_alerts_raised_total", ["kind": "deliverability"]), 2)
        XCTAssertEqual(metrics.value("hookyard_alerts_active", ["kind": "deliverability"]), 2)
        XCTAssertEqual(daemon.terminate(), 0)
    }

    func testADeadStepAlertsOnceAndDiscardingItFromTheCLIClears() throws {
        let chat = try FakeAPIServer { _ in .json(status: 200, "ok") }
        let instantly = try FakeInstantlyAPI()  // knows no campaign: pausing one is a 404
        let daemon = try DaemonProcess(yaml: """
            rules:
              - name: stop-on-reply
                on:
                  source: instantly
                  event: reply_received
                steps:
                  - name: pause
                    action: instantly.pause_campaign
                    with:
                      campaign: "{{ event.campaign_id }}"
            """, environment: ["HOOKYARD_ALERT_WEBHOOK_URL": chat.baseURL + webhookPath, "INSTANTLY_API_KEY": instantly.apiKey,
                               "INSTANTLY_API_BASE": instantly.baseURL])
        defer { daemon.terminate() }
        try deliver(daemon, "reply_received", lead: "ann@example.com", secondsAgo: 30)
        try deliver(daemon, "reply_received", lead: "bob@example.com", secondsAgo: 20)
        waitFor("the dead-job alert post") { chat.requests.count >= 1 }
        // The second job dies too, within the interval: the alert is refreshed (its context counts 2 dead jobs; a
        // notification would be queued in the same transaction), and once the queue is idle no second post came.
        try waitFor("the alert refreshed by the second dead job") {
            let (_, listing) = try daemon.run(["alerts", "--json", "--database", daemon.databasePath])
            return listing.split(separator: "\n").contains { line in
                let alert = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return (alert?["context"] as? [String: String])?["dead_jobs"] == "2"
            }
        }
        XCTAssertTrue(try daemon.waitForIdleQueue().idle, daemon.output)
        XCTAssertEqual(chat.requests.count, 1, chat.requests.map(\.body).joined(separator: "\n"))
        XCTAssertTrue(chat.requests[0].body.contains("Hookyard alert (job_dead: stop-on-reply/pause)"), chat.requests[0].body)

        let (_, list) = try daemon.run(["jobs", "list", "--state", "dead", "--json", "--database", daemon.databasePath])
        let dead = list.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? Int }
        XCTAssertEqual(dead.count, 2, list)
        let (first, firstOutput) = try daemon.run(["jobs", "discard", String(dead[0]), "--database", daemon.databasePath])
        XCTAssertEqual(first, 0, firstOutput)
        XCTAssertFalse(firstOutput.contains("cleared"), "one dead job remains: \(firstOutput)")
        let (second, secondOutput) = try daemon.run(["jobs", "discard", String(dead[1]), "--database", daemon.databasePath])
        XCTAssertEqual(second, 0, secondOutput)
        XCTAssertTrue(secondOutput.contains("alert job_dead (stop-on-reply/pause) cleared: no dead job of it remains"), secondOutput)
        waitFor("the clear post") { chat.requests.count >= 2 }
        XCTAssertTrue(chat.requests[1].body.hasPrefix(#"{"text":":white_check_mark: Hookyard alert cleared (job_dead: stop-on-reply/pause): no dead job of stop-on-reply/pause remains (replayed or discarded)"#),
                      chat.requests[1].body)
        XCTAssertEqual(daemon.terminate(), 0)
    }
}
