import Foundation
import Intake
import TestSupport
import XCTest

/// `/metrics` on the admin listener of the real daemon, parsed by the strict exposition parser.
final class MetricsEndpointTests: XCTestCase {
    private func unique() -> String { "evt_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))" }

    private func scrape(_ daemon: DaemonProcess) throws -> ExpositionParser {
        let response = try daemon.adminClient().roundTrip("GET", "/metrics")
        XCTAssertEqual(response.status, 200, response.bodyText)
        XCTAssertEqual(response.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        return try ExpositionParser(response.bodyText)
    }

    func testMetricsCountDeliveriesAndAreOnlyOnTheAdminListener() throws {
        let daemon = try DaemonProcess()
        defer { daemon.terminate() }
        let client = try daemon.client()
        let id = unique()
        XCTAssertEqual(try client.roundTripRaw(StripeTestEvents.request(id: id)).status, 200)
        let duplicate = try client.roundTripRaw(StripeTestEvents.request(id: id, timestamp: Int64(Date().timeIntervalSince1970) - 5))
        XCTAssertTrue(duplicate.bodyText.contains("\"duplicate\":true"), duplicate.bodyText)
        XCTAssertEqual(try client.roundTripRaw(StripeTestEvents.request(id: unique(), secret: "whsec_wrong")).status, 400)
        let instantly = Array(#"{"event_type":"reply_received","timestamp":"2026-11-25T06:00:00Z","workspace":"w","campaign_id":"c","lead_email":"a@b.c"}"#.utf8)
        XCTAssertEqual(try client.roundTrip("POST", "/webhooks/instantly", headers: [("Authorization", "Bearer \(DaemonProcess.instantlySecret)")],
                                            body: instantly).status, 200)
        XCTAssertEqual(try client.roundTrip("POST", "/webhooks/instantly", headers: [("X-Webhook-Secret", "nope")], body: instantly).status, 401)

        // The public listener never serves metrics.
        XCTAssertEqual(try client.roundTrip("GET", "/metrics").status, 404)

        // Both stored events run their process_event job; wait for the workers to record them.
        var metrics = try scrape(daemon)
        let deadline = Date().addingTimeInterval(10)
        while metrics.value("hookyard_job_attempts_total", ["provider": "local", "action": "process_event", "outcome": "succeeded"]) != 2, Date() < deadline {
            usleep(100_000)
            metrics = try scrape(daemon)
        }
        let type = "checkout.session.completed"
        XCTAssertEqual(metrics.value("hookyard_webhooks_received_total", ["source": "stripe", "type": type, "status": "200"]), 2)
        XCTAssertEqual(metrics.value("hookyard_webhooks_received_total", ["source": "stripe", "type": "unknown", "status": "400"]), 1)
        XCTAssertEqual(metrics.value("hookyard_webhooks_received_total", ["source": "instantly", "type": "reply_received", "status": "200"]), 1)
        XCTAssertEqual(metrics.value("hookyard_webhooks_received_total", ["source": "instantly", "type": "unknown", "status": "401"]), 1)
        XCTAssertEqual(metrics.value("hookyard_signature_failures_total", ["source": "stripe", "reason": "no_matching_signature"]), 1)
        XCTAssertEqual(metrics.value("hookyard_signature_failures_total", ["source": "instantly", "reason": "wrong_secret"]), 1)
        XCTAssertEqual(metrics.value("hookyard_webhook_duplicates_total", ["source": "stripe"]), 1)
        XCTAssertEqual(metrics.value("hookyard_intake_duration_seconds_count", ["source": "stripe"]), 3)
        XCTAssertEqual(metrics.value("hookyard_intake_duration_seconds_count", ["source": "instantly"]), 2)
        XCTAssertEqual(metrics.value("hookyard_job_attempts_total", ["provider": "local", "action": "process_event", "outcome": "succeeded"]), 2)
        XCTAssertEqual(metrics.value("hookyard_jobs", ["state": "succeeded"]), 2)
        for state in ["queued", "running", "retrying", "dead"] {
            XCTAssertNotNil(metrics.value("hookyard_jobs", ["state": state]), state)
        }
        XCTAssertEqual(metrics.value("hookyard_build_info", ["version": "0.1.0"]), 1)
        for family in ["hookyard_outbound_requests_total", "hookyard_outbound_request_duration_seconds",
                       "hookyard_rate_limiter_wait_seconds_total"] {
            XCTAssertNotNil(metrics.families[family], family)  // empty in dry-run, but declared
        }

        let admin = try daemon.adminClient()
        XCTAssertEqual(try admin.roundTrip("GET", "/healthz").status, 200)
        XCTAssertEqual(try admin.roundTrip("GET", "/webhooks/stripe").status, 404)
        XCTAssertEqual(try admin.roundTrip("POST", "/metrics").status, 405)
        XCTAssertEqual(daemon.terminate(), 0)
    }

    func testAdminListenerThatCannotBindDoesNotStopTheDaemon() throws {
        let first = try DaemonProcess()
        defer { first.terminate() }
        let taken = try first.adminPort()
        let second = try DaemonProcess(environment: ["HOOKYARD_ADMIN_LISTEN": "127.0.0.1:\(taken)"])
        defer { second.terminate() }
        XCTAssertEqual(try second.client().roundTripRaw(StripeTestEvents.request(id: unique())).status, 200)
        let deadline = Date().addingTimeInterval(5)
        while !second.output.contains("cannot listen on admin_listen"), Date() < deadline { usleep(20_000) }
        let line = second.logLines().first { $0["msg"] as? String == "cannot listen on admin_listen; running without /metrics" }
        XCTAssertEqual(line?["level"] as? String, "error", second.output)
        XCTAssertTrue((line?["hint"] as? String)?.contains("choose another address with HOOKYARD_ADMIN_LISTEN") ?? false, second.output)
        XCTAssertEqual(second.terminate(), 0)
    }

    /// A public address in use stops the start with a hint naming the setting that moves it.
    func testListenAddressInUseNamesTheSetting() throws {
        let first = try DaemonProcess()
        defer { first.terminate() }
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, output) = try DaemonProcess.run(["serve"], environment: [
            "HOOKYARD_LISTEN": "127.0.0.1:\(first.port)", "HOOKYARD_ADMIN_LISTEN": "off",
            "HOOKYARD_DATABASE": directory.appendingPathComponent("hookyard.db").path])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("\"msg\":\"cannot listen\""), output)
        XCTAssertTrue(output.contains("Address already in use"), output)
        XCTAssertTrue(output.contains("choose another address with HOOKYARD_LISTEN"), output)
    }

    /// The admin routes asked of the public listener: a 404 that says where they are served.
    func testAdminRoutesOnThePublicListenerNameTheAdminListener() throws {
        let daemon = try DaemonProcess(environment: ["HOOKYARD_ADMIN_LISTEN": "127.0.0.1:0"])
        defer { daemon.terminate() }
        for path in ["/metrics", "/report"] {
            let answer = try daemon.client().roundTrip("GET", path)
            XCTAssertEqual(answer.status, 404)
            XCTAssertTrue(answer.bodyText.contains("\"reason\":\"admin_route\""), answer.bodyText)
            XCTAssertTrue(answer.bodyText.contains("\(path) is served on the admin listener, not on this one: http://127.0.0.1:0\(path)"), answer.bodyText)
            XCTAssertTrue(answer.bodyText.contains("HOOKYARD_ADMIN_LISTEN"), answer.bodyText)
        }
        XCTAssertTrue(try daemon.client().roundTrip("GET", "/nothing").bodyText.contains("no route for /nothing"))
    }

    func testAdminListenerOff() throws {
        let daemon = try DaemonProcess(environment: ["HOOKYARD_ADMIN_LISTEN": "off"])
        defer { daemon.terminate() }
        let off = try daemon.client().roundTrip("GET", "/metrics")
        XCTAssertEqual(off.status, 404)
        XCTAssertTrue(off.bodyText.contains("the admin listener, which is off"), off.bodyText)
        XCTAssertTrue(daemon.logLines().contains { $0["msg"] as? String == "admin listener off; /metrics is not served" }, daemon.output)
        XCTAssertFalse(daemon.logLines().contains { $0["msg"] as? String == "admin listening" })
        XCTAssertEqual(daemon.terminate(), 0)
    }

    /// Live calls (to the fake Stripe API) are counted by provider and status, timed, and the time spent waiting for
    /// the rate limiter is summed: six requests at 2 per second must wait.
    func testOutboundRequestsAreCountedTimedAndRateLimitWaitsSummed() throws {
        let harness = try ScenarioHarness(yaml: """
            rules:
              - name: customer
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: customer
                    action: stripe.find_or_create_customer
                    with: {email: "{{ event.lead_email }}"}
            """, environment: ["STRIPE_MAX_RPS": "2"])
        let daemon = try harness.start()
        for index in 0..<3 {
            _ = try harness.sendInstantly("lead_interested", email: "lead\(index)@example.com", campaign: "c")
        }
        try harness.settle()
        // find_or_create_customer lists by email, searches by metadata, then creates: three requests per lead.
        XCTAssertEqual(harness.stripe.requests.count, 9)
        let metrics = try scrape(daemon)
        XCTAssertEqual(metrics.value("hookyard_outbound_requests_total", ["provider": "stripe", "status": "200"]), 9)
        XCTAssertEqual(metrics.value("hookyard_outbound_request_duration_seconds_count", ["provider": "stripe"]), 9)
        XCTAssertGreaterThan(metrics.value("hookyard_outbound_request_duration_seconds_sum", ["provider": "stripe"]) ?? 0, 0)
        // A bucket of 2 tokens refilled at 2 per second: the last of nine requests waits about three seconds.
        XCTAssertGreaterThan(metrics.value("hookyard_rate_limiter_wait_seconds_total", ["provider": "stripe"]) ?? 0, 1)
        XCTAssertEqual(metrics.value("hookyard_job_attempts_total",
                                     ["provider": "stripe", "action": "stripe.find_or_create_customer", "outcome": "succeeded"]), 3)
    }
}
