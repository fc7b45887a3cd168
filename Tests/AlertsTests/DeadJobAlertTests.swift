import Foundation
import Jobs
import Logging
import Outbound
import Store
import TestSupport
import Workflows
import XCTest
@testable import Alerts
import StrictJSON

/// Fails every job but the events' own permanently, as a provider's 404 would.
private struct FailingHandler: JobHandler {
    func run(_ job: Job, context: WorkerContext) -> JobOutcome {
        guard job.kind != WorkflowEngine.processEventKind else { return .succeeded(output: nil, followUps: []) }
        return .failed(JobFailure(message: "Instantly answered 404: Campaign not found", status: 404, retryable: false, cause: .provider))
    }
}

/// Dead jobs raise one alert per failing step, never one about the alert webhook's own jobs, and clear once no dead
/// job of that step remains.
final class DeadJobAlertTests: AlertTestCase {
    private func step(_ rule: String, _ step: String, event: Int64, key: String) -> NewJob {
        NewJob(kind: "instantly.add_lead", idempotencyKey: key,
               input: JSONValue.object(["rule": .string(rule), "step": .string(step), "flow": .string(key), "steps": .object([:])]).serialized(),
               runAt: 0, eventID: event)
    }

    func testDeadJobsOfOneStepRaiseOneAlertAndClearOnceDiscarded() throws {
        let event = storeEvent(type: "email_sent", body: "{}")
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        try queue.enqueue([step("lead-to-sale", "add", event: event, key: "a"), step("lead-to-sale", "add", event: event, key: "b")], now: 0)
        let clock = TestClock()
        let alerts = center(clock: clock)
        let deadJobs = DeadJobAlerts(alerts: alerts, logger: log.logger)
        try drain(FailingHandler(), deadJobs: deadJobs)

        let added = try jobs(kind: "instantly.add_lead")
        XCTAssertEqual(added.map(\.state), [.dead, .dead])
        XCTAssertEqual(log.entries("alert raised").count, 1, "two dead jobs of one step: one alert within the interval")
        let raised = try XCTUnwrap(log.entries("alert raised").first)
        XCTAssertEqual(raised.fields["alert"], "job_dead")
        XCTAssertEqual(raised.fields["subject"], "lead-to-sale/add")
        XCTAssertEqual(raised.fields["rule"], "lead-to-sale")
        XCTAssertEqual(raised.fields["step"], "add")
        XCTAssertEqual(raised.fields["action"], "instantly.add_lead")
        XCTAssertEqual(raised.fields["attempts"], "1")
        XCTAssertEqual(raised.fields["status"], "404")
        XCTAssertEqual(raised.fields["last_error"], "Instantly answered 404: Campaign not found")
        let record = try XCTUnwrap(try alerts.alerts(includeCleared: false).first)
        XCTAssertTrue(record.message.hasPrefix("2 jobs dead for lead-to-sale/add; the last, job \(added[1].id) after 1 attempt(s)"), record.message)
        XCTAssertEqual(record.context["dead_jobs"], "2")

        // The alert's own notification job failed too (this handler fails everything): logged, never alerted.
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).map(\.state), [.dead])
        XCTAssertEqual(log.entries("alert notification dead; not alerted again (that would loop through the same webhook)").count, 1)
        XCTAssertEqual(try alerts.raisedSubjects(.jobDead), ["lead-to-sale/add"])

        try queue.discard(added[0].id, now: 1)
        XCTAssertEqual(deadJobs.clearResolved(queue: queue), [], "one dead job remains")
        try queue.discard(added[1].id, now: 1)
        XCTAssertEqual(deadJobs.clearResolved(queue: queue), ["lead-to-sale/add"])
        XCTAssertEqual(log.entries("alert cleared").count, 1)
        XCTAssertEqual(try alerts.alerts(includeCleared: false), [])
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).count, 2, "the raise's notification and the clear's")
    }

    func testTheAlertSubjectIsTheSameInSwiftAndSQL() throws {
        let event = storeEvent(type: "email_sent", body: "{}")
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        let inputs: [(kind: String, input: String?)] = [
            ("instantly.add_lead", #"{"rule":"r1","step":"s1","flow":"f","steps":{}}"#),
            ("record_purchase", nil),
            ("deliverability.pause_campaign", #"{"campaign":"c1","alert":"campaign:c1:bounce_rate"}"#),
            ("http.post", "not json"),
            ("http.post", #"{"rule":"r2","step":7}"#),
        ]
        try queue.enqueue(inputs.enumerated().map { NewJob(kind: $1.kind, idempotencyKey: "k\($0)", input: $1.input, runAt: 0, eventID: event) }, now: 0)
        try drain(FailingHandler())
        let dead = try jobs().filter { $0.idempotencyKey.hasPrefix("k") }
        XCTAssertEqual(dead.map { SQLiteJobQueue.alertSubject(of: $0) },
                       ["r1/s1", "record_purchase", "deliverability.pause_campaign", "http.post", "http.post"])
        for subject in ["r1/s1", "record_purchase", "deliverability.pause_campaign"] {
            XCTAssertEqual(try queue.deadJobs(subject: subject).count, 1, subject)
        }
        XCTAssertEqual(try queue.deadJobs(subject: "http.post").count, 2)
        XCTAssertEqual(try queue.deadJobs(subject: "r1").count, 0)
    }
}
