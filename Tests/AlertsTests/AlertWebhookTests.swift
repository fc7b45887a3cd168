import Foundation
import HTTPServer
import Logging
import Outbound
import Store
import TestSupport
import Workflows
import XCTest
@testable import Alerts
import StrictJSON

/// The `alert.notify` job: posts `{"text": ...}` to the alert webhook through libcurl, is retried like any job, and
/// never records the URL (a secret) anywhere.
final class AlertWebhookTests: AlertTestCase {
    private let secretPath = "/services/T0001/B0002/s3cr3tt0k3n"

    func testTheNotificationIsPostedAsSlackTextAndRetriedAfterA500() throws {
        let chat = try FakeAPIServer { _ in .json(status: 200, "ok") }
        chat.inject(.status(500, headers: [], body: #"{"error":"internal"}"#))
        let webhook = try XCTUnwrap(AlertWebhook.live(url: chat.baseURL + secretPath, userAgent: "test", requestsPerSecond: 50))
        storeEvent(type: "email_sent", body: "{}")
        let alerts = center(clock: TestClock())
        alerts.raise(AlertCondition(.jobDead, subject: "lead-to-sale/link"), message: "3 jobs dead, last error: \"Stripe answered 400\"",
                     context: [:])
        let engine = WorkflowEngine(rules: [], providers: .dryRun, logger: log.logger, alertWebhook: webhook)
        try drain(engine)

        let job = try XCTUnwrap(try jobs(kind: AlertCenter.notificationKind).first)
        XCTAssertEqual(job.state, .succeeded, job.lastError ?? "")
        XCTAssertEqual(job.attempts, 2, "the 500 was retried")
        let posts = chat.requests
        XCTAssertEqual(posts.count, 2)
        for post in posts {
            XCTAssertEqual(post.method, "POST")
            XCTAssertEqual(post.target, secretPath)
            XCTAssertEqual(post.headers["content-type"], "application/json")
            XCTAssertEqual(post.body, #"{"text":":rotating_light: Hookyard alert (job_dead: lead-to-sale/link): 3 jobs dead, last error: \"Stripe answered 400\""}"#)
        }
        let attempts = try XCTUnwrap(try SQLiteJobQueue(path: path).job(job.id)).attempts
        XCTAssertEqual(attempts.map(\.outcome), ["retrying", "succeeded"])
        XCTAssertEqual(attempts.first?.status, 500)
        XCTAssertEqual(try JSONValue.parse(job.output ?? "")["host"], .string(chat.baseURL))
        let everything = log.entries.map { "\($0)" }.joined() + (attempts.first?.error ?? "") + (job.output ?? "") + (job.input ?? "")
        XCTAssertFalse(everything.contains("s3cr3t"), "the URL's path never shows")
    }

    func testATransportFailureNamesOnlyTheHost() throws {
        // A port nobody listens on: connection refused, whose curl message names the URL.
        let closed = try FakeAPIServer()
        let url = closed.baseURL + secretPath
        let transport = LiveProviderTransport(provider: "alert_webhook", baseURL: closed.baseURL, apiKey: nil,
                                              limiter: RateLimiter(requestsPerSecond: 50), userAgent: "test")
        let webhook = try XCTUnwrap(AlertWebhook(url: url, transport: transport))
        closed.inject(.drop, .drop)
        storeEvent(type: "email_sent", body: "{}")
        center(clock: TestClock()).raise(AlertCondition(.jobDead, subject: "x"), message: "hello", context: [:])
        let job = try XCTUnwrap(try jobs(kind: AlertCenter.notificationKind).first)
        XCTAssertThrowsError(try webhook.deliver(job)) { error in
            guard let failure = error as? ProviderFailure else { return XCTFail("\(error)") }
            XCTAssertTrue(failure.retryable)
            XCTAssertFalse(failure.message.contains("s3cr3t"), failure.message)
            XCTAssertTrue(failure.message.contains("the alert webhook at \(closed.baseURL)"), failure.message)
        }
    }

    func testAJobQueuedWhereTheDaemonHasNoWebhookIsSkipped() throws {
        storeEvent(type: "email_sent", body: "{}")
        center(clock: TestClock()).raise(AlertCondition(.jobDead, subject: "x"), message: "m", context: [:])
        try drain(WorkflowEngine(rules: [], providers: .dryRun, logger: log.logger))
        let job = try XCTUnwrap(try jobs(kind: AlertCenter.notificationKind).first)
        XCTAssertEqual(job.state, .succeeded)
        XCTAssertEqual(job.output, #"{"skipped":"no alert webhook is configured (HOOKYARD_ALERT_WEBHOOK_URL)"}"#)
    }
}
