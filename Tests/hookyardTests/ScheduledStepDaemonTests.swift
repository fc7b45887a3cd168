import Foundation
import Store
import TestSupport
import XCTest

/// Scheduled steps in the real daemon: a step `after: 2d` waits in the durable queue, survives a restart, and runs
/// once the workflow clock (moved by the test, not slept) reaches its time.
final class ScheduledStepDaemonTests: XCTestCase {
    static let campaign = "8b1d2c3b-0001-4a5b-8c7d-000000000001"
    static let later = "8b1d2c3b-0002-4a5b-8c7d-000000000002"

    static let yaml = """
        rules:
          - name: follow-up
            on: {source: instantly, event: reply_received}
            once_per: "{{ event.lead_email }}"
            steps:
              - name: tag
                action: instantly.set_lead_variables
                with: {email: "{{ event.lead_email }}", campaign: "{{ event.campaign_id }}", variables: {replied: "yes"}}
              - name: later
                after: 2d
                action: instantly.add_lead
                with: {email: "{{ event.lead_email }}", campaign: "\(later)"}
        """

    func testAStepAfterTwoDaysRunsWhenTheClockGetsThereAcrossARestart() throws {
        let harness = try ScenarioHarness(yaml: Self.yaml)
        harness.instantly.addLead(email: "ada@example.com", campaign: Self.campaign)
        try harness.start()
        try harness.sendInstantly("reply_received", email: "ada@example.com", campaign: Self.campaign)
        try harness.settle()
        let steps = try harness.steps(ofRule: "follow-up")
        XCTAssertEqual(steps.map(\.state), [.succeeded, .queued])
        let due = try XCTUnwrap(steps.last).nextRunAt - harness.now
        XCTAssertTrue((2 * 86_400_000 - 60_000)...(2 * 86_400_000) ~= due, "due in \(due) ms")
        XCTAssertFalse(harness.instantly.leads.contains { $0.campaign == Self.later })

        harness.stop()
        try harness.advanceClock(by: 86_400_000)
        try harness.start()
        try harness.settle()
        XCTAssertEqual(try harness.steps(ofRule: "follow-up").last?.state, .queued, "one day in, the step still waits")

        try harness.advanceClock(by: 86_400_000 + 1_000)
        try harness.settle()
        XCTAssertEqual(try harness.steps(ofRule: "follow-up").map(\.state), [.succeeded, .succeeded])
        XCTAssertEqual(harness.instantly.leads.filter { $0.campaign == Self.later }.map(\.email), ["ada@example.com"])
    }
}
