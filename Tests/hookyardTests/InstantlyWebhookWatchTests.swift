import Foundation
import TestSupport
import XCTest

/// `instantly.public_url` and `instantly.webhook_watch_interval`, and the watcher inside the real daemon.
final class InstantlyWebhookWatchTests: TemporaryDirectoryTestCase {
    private let target = "https://hooks.example.com/webhooks/instantly"

    /// The daemon, with a one-second interval, resumes its disabled webhook through the fake, logs the alert with the
    /// failure summary, clears it when the webhook is active again, leaves another tool's webhook alone, and stops on SIGTERM.
    func testTheDaemonResumesItsDisabledWebhookAndAlerts() throws {
        let fake = try FakeInstantlyAPI()
        let own = fake.addWebhook(targetURL: target, name: "hookyard", headers: ["X-Webhook-Secret": DaemonProcess.instantlySecret])
        let theirs = fake.addWebhook(targetURL: "https://zapier.example.com/hooks/abc", name: "zapier")
        fake.disableWebhook(id: own)
        fake.disableWebhook(id: theirs)
        let failedAt = Date().addingTimeInterval(-600)
        fake.addDelivery(webhookURL: target, success: false, statusCode: 503, errorMessage: "Service Unavailable", at: failedAt)
        let daemon = try DaemonProcess(directory: directory, yaml: """
            instantly:
              public_url: https://hooks.example.com
              webhook_watch_interval: 1s
            """, environment: ["INSTANTLY_API_KEY": fake.apiKey, "INSTANTLY_API_BASE": fake.baseURL])
        defer { daemon.terminate() }

        let deadline = Date().addingTimeInterval(15)
        func line(_ message: String) -> [String: Any]? { daemon.logLines().first { $0["msg"] as? String == message } }
        while line("alert cleared") == nil, Date() < deadline { usleep(50_000) }

        let raised = try XCTUnwrap(line("alert raised"), daemon.output)
        XCTAssertEqual(raised["level"] as? String, "error")
        XCTAssertEqual(raised["alert"] as? String, "instantly_webhook_disabled")
        XCTAssertEqual(raised["subject"] as? String, own)
        XCTAssertEqual(raised["resumed"] as? String, "true")
        XCTAssertEqual(raised["failures"] as? String, "1")
        XCTAssertEqual(raised["last_status"] as? String, "503")
        let detail = try XCTUnwrap(raised["message"] as? String)
        XCTAssertTrue(detail.contains("1 failed delivery since "), detail)
        XCTAssertTrue(detail.contains(": HTTP 503, \"Service Unavailable\"). Hookyard resumed it. Hookyard or its proxy answered 503"), detail)
        let cleared = try XCTUnwrap(line("alert cleared"), daemon.output)
        XCTAssertEqual(cleared["level"] as? String, "notice")
        XCTAssertEqual(cleared["subject"] as? String, own)
        XCTAssertEqual(fake.requests.filter { $0.path.hasSuffix("/resume") }.map(\.path), ["/api/v2/webhooks/\(own)/resume"])
        XCTAssertEqual(fake.webhook(id: own)?.status, 1)
        XCTAssertEqual(fake.webhook(id: theirs)?.status, -1)
        XCTAssertNotNil(daemon.logLines().first { $0["msg"] as? String == "watching Instantly webhooks" && $0["every"] as? String == "1s" })
        XCTAssertFalse(daemon.output.contains(DaemonProcess.instantlySecret))

        XCTAssertEqual(daemon.terminate(), 0)
        let checks = fake.requestCount(path: "/api/v2/webhooks", method: "GET")
        usleep(1_500_000)
        XCTAssertEqual(fake.requestCount(path: "/api/v2/webhooks", method: "GET"), checks, "no check after SIGTERM")
    }

    func testTheDaemonLogsAFailedCheckAtWarningAndCarriesOn() throws {
        let fake = try FakeInstantlyAPI()
        fake.forceStatus(pathPrefix: "/api/v2/webhooks", status: 401, body: #"{"statusCode":401,"error":"Unauthorized","message":"Invalid API key"}"#)
        let daemon = try DaemonProcess(directory: directory, yaml: "instantly:\n  webhook_watch_interval: 1s\n",
                                       environment: ["INSTANTLY_API_KEY": fake.apiKey, "INSTANTLY_API_BASE": fake.baseURL])
        defer { daemon.terminate() }
        let deadline = Date().addingTimeInterval(15)
        func failures() -> [[String: Any]] { daemon.logLines().filter { $0["msg"] as? String == "checking Instantly's webhooks failed; the next check retries" } }
        while failures().count < 2, Date() < deadline { usleep(50_000) }

        XCTAssertGreaterThanOrEqual(failures().count, 2, daemon.output)
        XCTAssertEqual(failures().first?["level"] as? String, "warning")
        XCTAssertEqual(failures().first?["error"] as? String, "Instantly answered 401: Invalid API key")
        let client = try daemon.client()
        XCTAssertEqual(try client.roundTrip("GET", "/healthz").status, 200, "intake is unaffected")
    }
}
