import Alerts
import Contacts
import Foundation
import HookyardFoundation
import Logging
import Synchronization
import TestSupport
import XCTest
@testable import Outbound
@testable import Workflows

/// Records every raise and clear, in order.
final class RecordingAlerts: AlertRaising {
    enum Call: Equatable {
        case raise(AlertCondition, message: String, context: [String: String])
        case clear(AlertCondition, message: String)
    }

    private let recorded = Mutex<[Call]>([])
    var calls: [Call] { recorded.withLock { $0 } }
    var raises: [Call] { calls.filter { if case .raise = $0 { true } else { false } } }

    func raise(_ condition: AlertCondition, message: String, context: [String: String]) {
        recorded.withLock { $0.append(.raise(condition, message: message, context: context)) }
    }

    func clear(_ condition: AlertCondition, message: String) {
        recorded.withLock { $0.append(.clear(condition, message: message)) }
    }
}

/// A clock the test moves.
final class ManualClock: Sendable {
    private let now: Mutex<Date>
    init(_ start: Date) { now = Mutex(start) }
    func advance(seconds: Double) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
}

final class InstantlyWebhookWatcherTests: XCTestCase {
    private let target = "https://hooks.example.com/webhooks/instantly"
    private let secret = "s3cret-for-tests"
    /// 2026-11-24T12:00:00Z.
    private let noon = Date(timeIntervalSince1970: 1_795_521_600)

    private func at(_ iso: String) -> Date {
        Date(timeIntervalSince1970: Double(ISO8601Timestamp.milliseconds(iso)!) / 1000)
    }

    /// A client on a live transport to the fake (a limiter generous enough not to matter).
    private func client(_ fake: FakeInstantlyAPI, apiKey: String? = nil) -> InstantlyClient {
        InstantlyClient(transport: LiveProviderTransport(provider: "Instantly", baseURL: fake.baseURL, apiKey: apiKey ?? fake.apiKey,
                                                         limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test"))
    }

    private func watcher(_ fake: FakeInstantlyAPI, alerts: RecordingAlerts, clock: ManualClock, publicURL: String? = nil,
                         interval: Int64 = 600_000) -> InstantlyWebhookWatcher {
        let ownership = InstantlyWebhookOwnership(publicURL: publicURL, secretHeader: "X-Webhook-Secret", secrets: [secret, "older-secret"])
        return InstantlyWebhookWatcher(
            configuration: .init(intervalMilliseconds: interval, ownership: ownership),
            client: client(fake),
            alerts: alerts, logger: TestLog.logger(), clock: clock.read)
    }

    private func resumes(_ fake: FakeInstantlyAPI) -> [String] {
        fake.requests.filter { $0.method == "POST" && $0.path.hasSuffix("/resume") }.map(\.path)
    }

    func testADisabledWebhookIsResumedOnceAlertedWithItsFailuresAndClearedWhenActive() throws {
        let fake = try FakeInstantlyAPI()
        let own = fake.addWebhook(targetURL: target, name: "hookyard", headers: ["X-Webhook-Secret": secret])
        let theirs = fake.addWebhook(targetURL: "https://zapier.example.com/hooks/abc", name: "zapier", headers: ["X-Webhook-Secret": "theirs"])
        fake.disableWebhook(id: own, at: at("2026-11-24T11:30:00Z"))
        fake.disableWebhook(id: theirs, at: at("2026-11-24T11:00:00Z"))
        fake.addDelivery(webhookURL: target, success: false, statusCode: 500, at: at("2026-11-23T11:00:00Z"))  // before the window
        fake.addDelivery(webhookURL: target, success: true, statusCode: 200, at: at("2026-11-24T09:00:00Z"))
        fake.addDelivery(webhookURL: target, success: false, statusCode: 401, errorMessage: "Unauthorized", at: at("2026-11-24T10:00:00Z"))
        fake.addDelivery(webhookURL: target, success: false, statusCode: 401, errorMessage: "Unauthorized", at: at("2026-11-24T11:00:00Z"))
        fake.addDelivery(webhookURL: target, success: false, statusCode: 401, errorMessage: "Request failed with status code 401",
                         at: at("2026-11-24T11:25:00Z"))
        fake.addDelivery(webhookURL: "https://zapier.example.com/hooks/abc", success: false, statusCode: 500, at: at("2026-11-24T11:10:00Z"))
        let alerts = RecordingAlerts()
        let clock = ManualClock(noon)
        let watcher = watcher(fake, alerts: alerts, clock: clock)

        let first = try watcher.checkOnce()

        XCTAssertEqual(first, .init(own: [own], resumed: [own]))
        XCTAssertEqual(resumes(fake), ["/api/v2/webhooks/\(own)/resume"])
        XCTAssertEqual(fake.webhook(id: own)?.status, 1)
        XCTAssertEqual(fake.webhook(id: theirs)?.status, -1, "another tool's webhook is left alone")
        let log = try XCTUnwrap(fake.requests.first { $0.path == "/api/v2/webhook-events" })
        XCTAssertEqual(log.target, "/api/v2/webhook-events?from=2026-11-23&limit=100&search=https%3A%2F%2Fhooks.example.com%2Fwebhooks%2Finstantly&success=false")
        XCTAssertEqual(alerts.calls, [.raise(
            AlertCondition(.instantlyWebhookDisabled, subject: own),
            message: "Instantly disabled Hookyard's webhook \(own) (https://hooks.example.com/webhooks/instantly) at 2026-11-24T11:30:00.000Z "
                + "after failed deliveries: 3 failed deliveries since 2026-11-23T12:00:00.000Z (first 2026-11-24T10:00:00.000Z, "
                + "last 2026-11-24T11:25:00.000Z: HTTP 401, \"Request failed with status code 401\"). Hookyard resumed it. "
                + "Hookyard refused the deliveries (401): the webhook's secret header does not match INSTANTLY_WEBHOOK_SECRET; "
                + "run `hookyard instantly register` to set it.",
            context: ["webhook_id": own, "target": target, "resumed": "true", "disabled_at": "2026-11-24T11:30:00.000Z", "failures": "3",
                      "failures_since": "2026-11-23T12:00:00.000Z", "first_failure": "2026-11-24T10:00:00.000Z",
                      "last_failure": "2026-11-24T11:25:00.000Z", "last_status": "401", "last_error": "Request failed with status code 401"])])

        clock.advance(seconds: 600)
        let second = try watcher.checkOnce()

        XCTAssertEqual(second, .init(own: [own], cleared: [own]))
        XCTAssertEqual(resumes(fake).count, 1, "an active webhook is not resumed again")
        XCTAssertEqual(alerts.calls.last, .clear(AlertCondition(.instantlyWebhookDisabled, subject: own),
                                                 message: "Instantly webhook \(own) (\(target)) is active again"))
        XCTAssertEqual(alerts.raises.count, 1)

        // Disabled again: the summary covers only the time since the previous check (12:10).
        fake.addDelivery(webhookURL: target, success: false, statusCode: nil, errorMessage: "Connection timeout", at: at("2026-11-24T12:05:00Z"))
        fake.addDelivery(webhookURL: target, success: false, statusCode: nil, errorMessage: "Connection timeout", at: at("2026-11-24T12:15:00Z"))
        fake.disableWebhook(id: own, at: at("2026-11-24T12:16:00Z"))
        clock.advance(seconds: 600)
        let third = try watcher.checkOnce()

        XCTAssertEqual(third.resumed, [own])
        XCTAssertEqual(resumes(fake).count, 2)
        guard case .raise(_, let message, let context) = alerts.raises.last else { return XCTFail("no second raise") }
        XCTAssertEqual(message, "Instantly disabled Hookyard's webhook \(own) (\(target)) at 2026-11-24T12:16:00.000Z after failed deliveries: "
                       + "1 failed delivery since 2026-11-24T12:10:00.000Z (first 2026-11-24T12:15:00.000Z, last 2026-11-24T12:15:00.000Z: "
                       + "no HTTP answer, \"Connection timeout\"). Hookyard resumed it. Instantly got no answer: check that Hookyard and its "
                       + "proxy are up and reachable from the internet (DNS, TLS, firewall).")
        XCTAssertEqual(context["last_status"], "none")
    }

    func testAFailedResumeIsAlertedWithWhatToDoAndTriedAgainNextCheck() throws {
        let fake = try FakeInstantlyAPI()
        let own = fake.addWebhook(targetURL: target, name: "renamed by hand")
        fake.disableWebhook(id: own, at: at("2026-11-24T11:30:00Z"))
        fake.forceStatus(pathPrefix: "/api/v2/webhooks/\(own)/resume", status: 403,
                         body: #"{"statusCode":403,"error":"Forbidden","message":"API key lacks the webhooks:update scope"}"#)
        let alerts = RecordingAlerts()
        let clock = ManualClock(noon)
        let watcher = watcher(fake, alerts: alerts, clock: clock, publicURL: target)

        let report = try watcher.checkOnce()

        XCTAssertEqual(report, .init(own: [own], resumeFailed: [own]))
        guard case .raise(let condition, let message, let context) = alerts.calls.first else { return XCTFail("not raised") }
        XCTAssertEqual(condition, AlertCondition(.instantlyWebhookDisabled, subject: own))
        XCTAssertEqual(message, "Instantly disabled Hookyard's webhook \(own) (\(target)) at 2026-11-24T11:30:00.000Z after failed deliveries: "
                       + "Instantly's delivery log shows no failed delivery since 2026-11-23T12:00:00.000Z. Resuming it failed (Instantly "
                       + "answered 403: API key lacks the webhooks:update scope); Hookyard tries again at the next check. Resume it in Instantly "
                       + "(Settings → Integrations → Webhooks) or run `hookyard instantly register` once the cause is fixed. "
                       + "Check that Hookyard was reachable at that URL.")
        XCTAssertEqual(context["resumed"], "false")
        XCTAssertEqual(context["resume_error"], "Instantly answered 403: API key lacks the webhooks:update scope")
        XCTAssertEqual(fake.webhook(id: own)?.status, -1)

        fake.clearForcedStatus()
        clock.advance(seconds: 600)
        XCTAssertEqual(try watcher.checkOnce().resumed, [own])
        XCTAssertEqual(fake.webhook(id: own)?.status, 1)
        XCTAssertEqual(resumes(fake).count, 2)
    }

    func testAnUnreadableDeliveryLogStillResumesAndSaysWhy() throws {
        let fake = try FakeInstantlyAPI()
        let own = fake.addWebhook(targetURL: target, headers: ["Authorization": "Bearer \(secret)"])
        fake.disableWebhook(id: own)
        fake.forceStatus(pathPrefix: "/api/v2/webhook-events", status: 403,
                         body: #"{"statusCode":403,"error":"Forbidden","message":"Missing scope webhook_events:read"}"#)
        let alerts = RecordingAlerts()

        let report = try watcher(fake, alerts: alerts, clock: ManualClock(noon)).checkOnce()

        XCTAssertEqual(report.resumed, [own])
        guard case .raise(_, let message, let context) = alerts.calls.first else { return XCTFail("not raised") }
        XCTAssertTrue(message.contains("after failed deliveries: Instantly's delivery log could not be read (Instantly answered 403: "
                                       + "Missing scope webhook_events:read). Hookyard resumed it."), message)
        XCTAssertEqual(context["log_error"], "Instantly answered 403: Missing scope webhook_events:read")
    }

    /// Sends through `live`, except that the delivery log fails as curl reports it: with the URL and its query.
    final class UnreachableLogTransport: ProviderTransport {
        let live: any ProviderTransport
        init(_ live: any ProviderTransport) { self.live = live }
        var provider: String { live.provider }
        func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse {
            guard request.path.hasPrefix("/api/v2/webhook-events") else { return try live.send(request) }
            throw ProviderFailure(message: "http://127.0.0.1:9\(request.path): Couldn't connect to server (curl error 7)", status: nil,
                                  retryable: true, retryAfterMilliseconds: nil)
        }
    }

    func testASecretInTheWebhooksPathNeverReachesTheAlert() throws {
        let fake = try FakeInstantlyAPI()
        let url = "https://hooks.example.com/webhooks/instantly/\(secret)"
        let own = fake.addWebhook(targetURL: url)
        fake.disableWebhook(id: own, at: at("2026-11-24T11:30:00Z"))
        let alerts = RecordingAlerts()
        let live = LiveProviderTransport(provider: "Instantly", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                         limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test")
        let watcher = InstantlyWebhookWatcher(
            configuration: .init(intervalMilliseconds: 600_000,
                                 ownership: InstantlyWebhookOwnership(publicURL: nil, secretHeader: "X-Webhook-Secret", secrets: [secret])),
            client: InstantlyClient(transport: UnreachableLogTransport(live)), alerts: alerts, logger: TestLog.logger(),
            clock: ManualClock(noon).read)

        XCTAssertEqual(try watcher.checkOnce().resumed, [own])

        guard case .raise(_, let message, let context) = alerts.calls.first else { return XCTFail("not raised") }
        XCTAssertEqual(message, "Instantly disabled Hookyard's webhook \(own) (https://hooks.example.com/webhooks/instantly/[redacted]) at "
                       + "2026-11-24T11:30:00.000Z after failed deliveries: Instantly's delivery log could not be read (http://127.0.0.1:9"
                       + "/api/v2/webhook-events?from=2026-11-23&limit=100&search=https%3A%2F%2Fhooks.example.com%2Fwebhooks%2Finstantly%2F"
                       + "%5Bredacted%5D&success=false: Couldn't connect to server (curl error 7)). Hookyard resumed it. "
                       + "Check that Hookyard was reachable at that URL.")
        XCTAssertFalse(context.values.contains { $0.contains(secret) || $0.contains(FormEncoder.percentEncode(secret)) }, "\(context)")
        XCTAssertEqual(context["target"], "https://hooks.example.com/webhooks/instantly/[redacted]")
    }

    func testAFailedListIsThrownWithInstantlysMessageAndNothingIsDone() throws {
        let fake = try FakeInstantlyAPI(apiKey: "right-key")
        let own = fake.addWebhook(targetURL: target, headers: ["X-Webhook-Secret": secret])
        fake.disableWebhook(id: own)
        let alerts = RecordingAlerts()
        let watcher = InstantlyWebhookWatcher(
            configuration: .init(intervalMilliseconds: 600_000,
                                 ownership: InstantlyWebhookOwnership(publicURL: nil, secretHeader: "X-Webhook-Secret", secrets: [secret])),
            client: client(fake, apiKey: "revoked-key"),
            alerts: alerts, logger: TestLog.logger(), clock: ManualClock(noon).read)

        XCTAssertThrowsError(try watcher.checkOnce()) { error in
            XCTAssertEqual((error as? ProviderFailure)?.message, "Instantly answered 401: Invalid API key")
        }
        XCTAssertEqual(alerts.calls, [])
        XCTAssertEqual(fake.webhook(id: own)?.status, -1)
    }

    func testADeletedWebhookThatWasRaisedIsCleared() throws {
        let fake = try FakeInstantlyAPI()
        let own = fake.addWebhook(targetURL: target, headers: ["X-Webhook-Secret": secret])
        fake.disableWebhook(id: own)
        fake.forceStatus(pathPrefix: "/api/v2/webhooks/\(own)/resume", status: 500)
        let alerts = RecordingAlerts()
        let watcher = watcher(fake, alerts: alerts, clock: ManualClock(noon))
        XCTAssertEqual(try watcher.checkOnce().resumeFailed, [own])
        fake.clearForcedStatus()
        // Deleted in Instantly's app before the next check.
        _ = try HTTPClient(userAgent: "test").send(method: "DELETE", url: fake.baseURL + "/api/v2/webhooks/\(own)",
                                                   headers: [("Authorization", "Bearer \(fake.apiKey)")], body: [])

        XCTAssertEqual(try watcher.checkOnce(), .init(own: [], cleared: [own]))
        XCTAssertEqual(alerts.calls.last, .clear(AlertCondition(.instantlyWebhookDisabled, subject: own),
                                                 message: "Instantly webhook \(own) is no longer among Hookyard's webhooks (deleted, or pointed elsewhere)"))
    }

    func testTheTimerChecksRepeatedlyAndStops() throws {
        let fake = try FakeInstantlyAPI()
        let own = fake.addWebhook(targetURL: target, headers: ["X-Webhook-Secret": secret])
        fake.disableWebhook(id: own)
        let alerts = RecordingAlerts()
        let watcher = InstantlyWebhookWatcher(
            configuration: .init(intervalMilliseconds: 100, ownership: InstantlyWebhookOwnership(publicURL: nil, secretHeader: "X-Webhook-Secret",
                                                                                                  secrets: [secret]),
                                 firstCheckMilliseconds: 10),
            client: client(fake),
            alerts: alerts, logger: TestLog.logger())

        watcher.start()
        XCTAssertTrue(waitUntil { fake.requestCount(path: "/api/v2/webhooks", method: "GET") >= 3 })
        watcher.stop()
        let listed = fake.requestCount(path: "/api/v2/webhooks", method: "GET")
        // A witness on the same timing, started now: once it has checked three times, the stopped watcher would
        // have checked again had its timer survived stop().
        let witnessAPI = try FakeInstantlyAPI()
        let witness = InstantlyWebhookWatcher(
            configuration: .init(intervalMilliseconds: 100, ownership: InstantlyWebhookOwnership(publicURL: nil, secretHeader: "X-Webhook-Secret",
                                                                                                  secrets: [secret]),
                                 firstCheckMilliseconds: 10),
            client: client(witnessAPI), alerts: RecordingAlerts(), logger: TestLog.logger())
        witness.start()
        XCTAssertTrue(waitUntil { witnessAPI.requestCount(path: "/api/v2/webhooks", method: "GET") >= 3 })
        witness.stop()

        XCTAssertGreaterThanOrEqual(listed, 3)
        XCTAssertEqual(fake.requestCount(path: "/api/v2/webhooks", method: "GET"), listed, "no check after stop()")
        XCTAssertEqual(resumes(fake).count, 1)
        XCTAssertEqual(alerts.raises.count, 1)
        XCTAssertTrue(alerts.calls.contains(.clear(AlertCondition(.instantlyWebhookDisabled, subject: own),
                                                   message: "Instantly webhook \(own) (\(target)) is active again")))
    }

    // MARK: Ownership

    func testOwnershipByURLSecretHeaderBearerOrPathSecret() {
        let ownership = InstantlyWebhookOwnership(publicURL: target, secretHeader: "X-Webhook-Secret", secrets: [secret, "older-secret"])
        func webhook(_ url: String, _ headers: [String: String] = [:]) -> InstantlyWebhook {
            InstantlyWebhook(id: "w", targetURL: url, headers: headers)
        }
        XCTAssertTrue(ownership.owns(webhook("HTTPS://Hooks.Example.com/webhooks/instantly/")))
        XCTAssertFalse(ownership.owns(webhook("https://hooks.example.com/webhooks/Instantly")))
        XCTAssertTrue(ownership.owns(webhook("https://other-host.example.com/hy/webhooks/instantly", ["x-webhook-secret": " older-secret "])))
        XCTAssertTrue(ownership.owns(webhook("https://other-host.example.com/in", ["Authorization": "bearer \(secret)"])))
        XCTAssertTrue(ownership.owns(webhook("https://other-host.example.com/webhooks/instantly/s3cret%2Dfor-tests?x=1")))
        XCTAssertFalse(ownership.owns(webhook("https://zapier.example.com/hooks/abc", ["X-Webhook-Secret": "theirs"])))
        XCTAssertFalse(ownership.owns(webhook("https://zapier.example.com/hooks/abc", ["X-Other": secret])))
        XCTAssertEqual(ownership.redacted("https://h.example.com/webhooks/instantly/s3cret-for-tests?x=1"),
                       "https://h.example.com/webhooks/instantly/[redacted]?x=1")
        XCTAssertEqual(ownership.redacted(target), target)
        XCTAssertFalse(InstantlyWebhookOwnership(publicURL: nil, secretHeader: "X-Webhook-Secret", secrets: []).canIdentify)
    }

    // MARK: Registration plan

    func testRegistrationReusesWebhooksByURLThenNameAndRepurposesUnwantedEventTypes() {
        let registration = InstantlyWebhookRegistration(targetURL: target, name: "hookyard", eventTypes: ["email_sent", "reply_received", "lead_interested"],
                                                        campaign: nil, secretHeader: "X-Webhook-Secret", secret: secret)
        let headers = ["X-Webhook-Secret": secret]
        let current = InstantlyWebhook(id: "a", name: "hookyard", targetURL: target, eventType: "email_sent", headers: headers)
        let everything = InstantlyWebhook(id: "b", name: "old", targetURL: target + "/", eventType: "all_events", headers: headers, status: -1)
        let byName = InstantlyWebhook(id: "c", name: "hookyard", targetURL: "https://old.example.com/webhooks/instantly", eventType: "reply_received",
                                      headers: ["X-Webhook-Secret": "older-secret"])
        let stranger = InstantlyWebhook(id: "d", name: "zapier", targetURL: "https://zapier.example.com/x", eventType: "email_sent")
        let spare = InstantlyWebhook(id: "e", name: "hookyard", targetURL: "https://old.example.com/webhooks/instantly", eventType: "email_sent")

        let plan = registration.plan(existing: [stranger, byName, current, everything, spare])

        XCTAssertEqual(plan.steps, [
            .upToDate(current),
            .update(byName, InstantlyWebhookFields(targetURL: target, headers: headers), resume: false),
            .update(everything, InstantlyWebhookFields(targetURL: target, name: "hookyard", eventType: "lead_interested"), resume: true),
        ])
        XCTAssertEqual(plan.leftAlone, [spare])
        XCTAssertFalse(plan.isUpToDate)
        XCTAssertEqual(registration.plan(existing: [stranger]).steps.map(\.writes), [true, true, true])
        XCTAssertTrue(InstantlyWebhookRegistration(targetURL: target, name: "hookyard", eventTypes: ["email_sent"], campaign: nil,
                                                   secretHeader: "X-Webhook-Secret", secret: secret).plan(existing: [current]).isUpToDate)
    }
}
