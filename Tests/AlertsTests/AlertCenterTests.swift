import Foundation
import Logging
import Metrics
import Outbound
import Store
import TestSupport
import XCTest
@testable import Alerts

/// The alert center: one notification per condition per interval, one clear, state kept across restarts, the
/// notification job and its event, and the log line when the store cannot save.
final class AlertCenterTests: AlertTestCase {
    private let condition = AlertCondition(.jobDead, subject: "lead-to-sale/link")

    func testTheSameConditionIsNotifiedOncePerIntervalAndAgainAfterIt() throws {
        let event = storeEvent(type: "email_sent", body: "{}")
        let clock = TestClock()
        let metrics = HookyardMetrics(version: "test")
        let alerts = center(clock: clock, metrics: metrics)
        let start = clock.value

        let first = try XCTUnwrap(alerts.raiseCondition(condition, message: "1 job dead", context: ["job_id": "7"]))
        XCTAssertTrue(first.newlyRaised)
        XCTAssertTrue(first.notified)
        XCTAssertEqual(first.record.timesNotified, 1)

        clock.advance(by: 30 * 60_000)  // half the interval: no second notification
        let second = try XCTUnwrap(alerts.raiseCondition(condition, message: "2 jobs dead", context: ["job_id": "8"]))
        XCTAssertFalse(second.notified)
        XCTAssertNil(second.jobID)
        XCTAssertEqual(second.record.message, "2 jobs dead", "the message is kept up to date")

        clock.advance(by: 30 * 60_000)  // a full interval after the first: notified again
        let third = try XCTUnwrap(alerts.raiseCondition(condition, message: "3 jobs dead", context: ["job_id": "9"]))
        XCTAssertTrue(third.notified)
        XCTAssertFalse(third.newlyRaised)
        XCTAssertEqual(third.record.timesNotified, 2)
        XCTAssertEqual(third.record.firstRaisedAt, start)

        let raised = log.entries.filter { $0.level == .error }
        XCTAssertEqual(raised.map(\.message), ["alert raised", "alert still raised"])
        XCTAssertEqual(raised[0].fields["alert"], "job_dead")
        XCTAssertEqual(raised[0].fields["subject"], "lead-to-sale/link")
        XCTAssertEqual(raised[0].fields["job_id"], "7")
        XCTAssertEqual(raised[0].fields["message"], "1 job dead")
        XCTAssertEqual(raised[1].fields["notice"], "2")
        XCTAssertEqual(metrics.alertsRaised.value(labels: ["job_dead"]), 2)

        let notifications = try jobs(kind: AlertCenter.notificationKind)
        XCTAssertEqual(notifications.count, 2)
        XCTAssertEqual(notifications.map(\.eventID), [event, event], "no event named: the newest stored one")
        XCTAssertEqual(try input(notifications[0])["text"]?.stringValue,
                       ":rotating_light: Hookyard alert (job_dead: lead-to-sale/link): 1 job dead")
        XCTAssertEqual(try input(notifications[1])["text"]?.stringValue, """
            :rotating_light: Hookyard alert (job_dead: lead-to-sale/link): 3 jobs dead (still so since \
            \(Self.iso(start)); reminder 2, every 1h while it holds)
            """)
        XCTAssertEqual(notifications.map(\.idempotencyKey), ["alert:1:\(start):notice:1", "alert:1:\(start):notice:2"])
    }

    func testClearingSaysSoOnceAndOnlyWhenRaised() throws {
        storeEvent(type: "email_sent", body: "{}")
        let clock = TestClock()
        let alerts = center(clock: clock)
        alerts.clear(condition, message: "nothing dead")
        XCTAssertTrue(log.entries.isEmpty, "a condition never raised is not cleared")
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).count, 0)

        alerts.raise(condition, message: "1 job dead", context: [:])
        clock.advance(by: 2 * 3_600_000 + 5 * 60_000)
        alerts.clear(condition, message: "no dead job remains")
        alerts.clear(condition, message: "no dead job remains")
        let cleared = log.entries("alert cleared")
        XCTAssertEqual(cleared.count, 1)
        XCTAssertEqual(cleared[0].level, .notice)
        XCTAssertEqual(cleared[0].fields["alert"], "job_dead")
        let notifications = try jobs(kind: AlertCenter.notificationKind)
        XCTAssertEqual(notifications.count, 2)
        XCTAssertEqual(try input(notifications[1])["text"]?.stringValue, """
            :white_check_mark: Hookyard alert cleared (job_dead: lead-to-sale/link): no dead job remains \
            (raised at \(Self.iso(clock.value - 2 * 3_600_000 - 5 * 60_000)), 2h 5m before)
            """)
        XCTAssertEqual(try input(notifications[1])["state"], .string("cleared"))
        let record = try XCTUnwrap(try alerts.alerts(includeCleared: true).first)
        XCTAssertEqual(record.state, .cleared)
        XCTAssertEqual(record.clearedAt, clock.value)
        XCTAssertEqual(try alerts.alerts(includeCleared: false), [])

        // Raised again: a new episode, notified at once although the last notice is recent.
        clock.advance(by: 60_000)
        let again = try XCTUnwrap(alerts.raiseCondition(condition, message: "1 job dead", context: [:]))
        XCTAssertTrue(again.newlyRaised && again.notified)
        XCTAssertEqual(again.record.timesNotified, 1)
        XCTAssertEqual(again.record.firstRaisedAt, clock.value)
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).count, 3)
    }

    func testStateSurvivesARestart() throws {
        storeEvent(type: "email_sent", body: "{}")
        let clock = TestClock()
        let before = center(clock: clock)
        before.raise(condition, message: "1 job dead", context: [:])
        before.close()

        clock.advance(by: 10 * 60_000)
        let after = center(clock: clock)
        let change = try XCTUnwrap(after.raiseCondition(condition, message: "1 job dead", context: [:]))
        XCTAssertFalse(change.notified, "notified 10 minutes ago, before the restart")
        XCTAssertEqual(try after.alerts(includeCleared: false).map(\.subject), ["lead-to-sale/link"])
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).count, 1)
        after.clear(condition, message: "gone")
        XCTAssertEqual(log.entries("alert cleared").count, 1, "the new center knows it was raised")
    }

    func testTheNotificationJobBelongsToTheEventThatCausedTheCondition() throws {
        let cause = storeEvent(type: "email_bounced", body: "{}")
        storeEvent(type: "email_sent", body: "{}")
        let alerts = center(clock: TestClock())
        alerts.raise(AlertCondition(.instantlyAccountError, subject: "a@x.example"), message: "error", context: ["event_id": String(cause)])
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).map(\.eventID), [cause])
    }

    func testWithoutWebhookOrEventTheAlertIsALogLineOnly() throws {
        let alerts = center(clock: TestClock())
        alerts.raise(condition, message: "1 job dead", context: [:])
        XCTAssertEqual(log.entries("alert raised").first?.fields["notification"],
                       "log only: no stored event to attach the notification job to yet")
        storeEvent(type: "email_sent", body: "{}")
        let quiet = center(clock: TestClock(), webhook: false)
        quiet.raise(AlertCondition(.storeCommitFailed, subject: path), message: "cannot commit", context: [:])
        XCTAssertEqual(log.entries("alert raised").last?.fields["notification"], "log only (HOOKYARD_ALERT_WEBHOOK_URL is not set)")
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).count, 0)
    }

    func testARaiseTheStoreCannotSaveIsLoggedThenSavedWithItsNotificationWhenTheStoreAnswers() throws {
        writer.close()
        writer = nil
        let missing = directory.appendingPathComponent("later.db").path
        let clock = TestClock()
        let alerts = center(clock: clock, path: missing)
        let storeCondition = AlertCondition(.storeCommitFailed, subject: missing)
        XCTAssertNil(alerts.raiseCondition(storeCondition, message: "cannot commit", context: ["database": missing]))
        let logged = log.entries("alert raised")
        XCTAssertEqual(logged.count, 1)
        XCTAssertEqual(logged[0].level, .error)
        XCTAssertTrue(logged[0].fields["notification"]?.hasPrefix("log only for now: the alert store failed") == true, "\(logged[0])")
        clock.advance(by: 60_000)
        XCTAssertNil(alerts.raiseCondition(storeCondition, message: "cannot commit", context: ["database": missing]))
        XCTAssertEqual(log.entries("alert raised").count, 1, "logged once per interval from memory too")

        // The store answers again (created here, with the event whose commit succeeded).
        writer = try SQLiteEventWriter(path: missing, logger: TestLog.logger())
        let done = DispatchSemaphore(value: 0)
        writer.append(IncomingEvent(source: .instantly, dedupKey: "k", eventID: nil, type: "email_sent", receivedAt: 0,
                                    body: Array("{}".utf8), headersJSON: "{}")) { _ in done.signal() }
        done.wait()
        clock.advance(by: 60_000)
        alerts.clear(storeCondition, message: "commits succeed again")
        let queue = try SQLiteJobQueue(path: missing)
        defer { queue.close() }
        let notifications = try queue.list(state: nil, limit: 10).filter { $0.kind == AlertCenter.notificationKind }.sorted { $0.id < $1.id }
        XCTAssertEqual(notifications.count, 2, "the raise's notification, then the clear's")
        XCTAssertTrue(try input(notifications[0])["text"]?.stringValue?.hasPrefix(":rotating_light:") == true)
        XCTAssertTrue(try input(notifications[1])["text"]?.stringValue?.hasPrefix(":white_check_mark:") == true)
        let record = try XCTUnwrap(try alerts.alerts(includeCleared: true).first)
        XCTAssertEqual(record.firstRaisedAt, clock.value - 2 * 60_000, "saved with the time it was first raised")
        XCTAssertEqual(record.state, .cleared)
    }

    func testStoreCommitAlertsRaiseOnceAndClearOnRecovery() throws {
        storeEvent(type: "email_sent", body: "{}")
        let alerts = center(clock: TestClock(), webhook: false)
        let commits = StoreCommitAlerts(alerts: alerts, database: .sqlite(path: path))
        commits.commitSucceeded()
        commits.commitFailed(error: "disk I/O error")
        commits.drain()
        commits.commitFailed(error: "disk I/O error")
        commits.drain()
        XCTAssertEqual(log.entries("alert raised").count, 1)
        XCTAssertEqual(log.entries("alert raised").first?.fields["error"], "disk I/O error")
        commits.commitSucceeded()
        commits.commitSucceeded()
        commits.drain()
        XCTAssertEqual(log.entries("alert cleared").count, 1)
        XCTAssertEqual(log.entries("alert cleared").first?.fields["subject"], path)
    }

    func testAlertTextDurations() {
        XCTAssertEqual(AlertText.duration(0), "0s")
        XCTAssertEqual(AlertText.duration(90_000), "1m 30s")
        XCTAssertEqual(AlertText.duration(3_600_000), "1h")
        XCTAssertEqual(AlertText.duration(7 * 86_400_000 + 3_600_000 + 60_000), "7d 1h")
    }
}
