import Contacts
import Foundation
import Jobs
import Logging
import Outbound
import Store
import StrictJSON
import Synchronization
import XCTest
@testable import Workflows
import TestSupport

/// Scheduled steps (`after:`, `at:`) wait in the durable queue and check their `unless:` guard when they run; staged
/// rollout and `max_per_day` hold contacts back and count them. Time comes from an injected clock, never a sleep.
final class ScheduledStepTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("scheduled.db").path }
    var writer: SQLiteEventWriter!
    let clock = TestClock(1_795_600_000_000)
    static let day: Int64 = 86_400_000

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scheduled-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
    }

    override func tearDown() {
        writer.close()
        try? FileManager.default.removeItem(at: directory)
    }

    private func instantly(_ type: String, _ email: String, extra: String = "") {
        let body = #"{"event_type":"\#(type)","timestamp":"2026-11-25T10:00:00.000Z","workspace":"w","campaign_id":"11111111-1111-1111-1111-111111111111","lead_email":"\#(email)"\#(extra)}"#
        let done = DispatchSemaphore(value: 0)
        writer.append(IncomingEvent(source: .instantly, dedupKey: UUID().uuidString, eventID: nil, type: type, receivedAt: clock.now,
                                    body: Array(body.utf8), headersJSON: "{}")) { _ in done.signal() }
        done.wait()
    }

    private func template(_ text: String) -> Argument { .template(try! Template(parsing: text)) }

    private func add(_ name: String, campaign: String = "22222222-2222-2222-2222-222222222222", schedule: StepSchedule? = nil,
                     unless: SegmentQuery? = nil) -> Step {
        Step(name: name, action: "instantly.add_lead",
             arguments: ["email": template("{{ event.lead_email }}"), "campaign": .value(.string(campaign))],
             schedule: schedule, unless: unless)
    }

    private func engine(_ rules: [Rule]) -> WorkflowEngine {
        let clock = self.clock
        return WorkflowEngine(rules: rules, contacts: ContactPolicy(maxRuleRunsPerDay: 100), providers: .dryRun,
                              logger: TestLog.logger(), clock: { clock.now })
    }

    private func jobs() throws -> [Job] {
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        return try queue.list(state: nil, limit: 1000).sorted { $0.id < $1.id }
    }

    private func output(_ job: Job) throws -> JSONValue { try JSONValue.parse(job.output ?? "null") }

    func testAWaitingStepRunsWhenDueAndSkipsSomeoneItsGuardNowMatches() throws {
        let lost = SegmentQuery(name: "unless", sql: "c.interest_status IS ?", parameters: [.text("not_interested")])
        let rule = Rule(name: "nurture", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [
            add("welcome"), add("follow-up", schedule: .after(milliseconds: 3 * Self.day), unless: lost),
        ])
        let engine = engine([rule])
        let start = clock.now
        instantly("lead_interested", "ann@example.com")
        instantly("lead_interested", "bob@example.com")
        let driver = QueueDriver(path: path, engine: engine)
        try driver.drain(at: start)
        let waiting = try jobs().filter { $0.idempotencyKey.hasSuffix(":follow-up") }
        XCTAssertEqual(waiting.count, 2)
        XCTAssertEqual(waiting.map(\.state), [.queued, .queued])
        XCTAssertEqual(waiting.map(\.nextRunAt), [start + 3 * Self.day, start + 3 * Self.day])
        XCTAssertTrue(try driver.drain(at: start + 3 * Self.day - 1).isEmpty, "nothing is due a moment early")

        // Bob says no meanwhile; when the follow-up is due, his is skipped and Ann's runs.
        instantly("lead_not_interested", "bob@example.com")
        try driver.drain(at: start + Self.day)
        let ran = try driver.drain(at: start + 3 * Self.day)
        XCTAssertEqual(ran.map(\.0.kind), ["instantly.add_lead", "instantly.add_lead"])
        let outputs = try jobs().filter { $0.idempotencyKey.hasSuffix(":follow-up") }.map(output)
        XCTAssertEqual(outputs.compactMap { $0["skipped"]?.text }, ["unless: the contact now matches the step's guard"])
        XCTAssertEqual(outputs.filter { $0["dry_run"] == .bool(true) }.count, 1)
    }

    func testAStepWhoseWhenFailsIsSkippedAndTheFlowGoesOn() throws {
        var optional = add("only-agencies", campaign: "33333333-3333-3333-3333-333333333333")
        optional.skipConditions = [Condition(path: ["event", "industry"], test: .equals(.string("agency")))]
        var ended = add("ends-here", campaign: "44444444-4444-4444-4444-444444444444")
        ended.conditions = [Condition(path: ["event", "industry"], test: .equals(.string("agency")))]
        let rule = Rule(name: "offer", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [
            optional, add("everyone"), ended, add("after-the-end", campaign: "55555555-5555-5555-5555-555555555555"),
        ])
        let engine = engine([rule])
        instantly("lead_interested", "ann@example.com", extra: #","industry":"saas""#)
        try QueueDriver(path: path, engine: engine).drain(at: clock.now)
        let steps = try jobs().filter { $0.idempotencyKey.hasPrefix("flow:offer:") }
        XCTAssertEqual(steps.map { String($0.idempotencyKey.split(separator: ":").last!) }, ["only-agencies", "everyone", "ends-here"],
                       "when: skips its step only; if: ends the flow")
        XCTAssertEqual(try output(steps[0]), .object(["skipped": .string(#"when: condition event.industry = "agency" does not hold"#)]))
        XCTAssertEqual(try output(steps[1])["lead_id"]?.stringValue?.hasPrefix("dry-run-lead-"), true, "the next step ran")
        XCTAssertEqual(try output(steps[2])["skipped"]?.stringValue, #"if: condition event.industry = "agency" does not hold"#)
        XCTAssertEqual(try JSONValue.parse(steps[1].input ?? "")["steps"]?["only-agencies"]?["skipped"]?.stringValue != nil, true,
                       "later steps see the skip")
    }

    func testAStepAtATimeFromTheEventWithAnOffset() throws {
        let rule = Rule(name: "reminder", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [
            add("remind", schedule: .at(try Template(parsing: "{{ event.starts_at }}"), offsetMilliseconds: -2 * Self.day)),
        ])
        let engine = engine([rule])
        instantly("lead_interested", "ann@example.com", extra: #","starts_at":"2026-12-10T18:00:00Z""#)
        instantly("lead_interested", "bob@example.com", extra: #","starts_at":1796000000"#)   // Unix seconds, as Stripe sends
        instantly("lead_interested", "cy@example.com", extra: #","starts_at":"2020-01-01T00:00:00Z""#)  // past: at once
        instantly("lead_interested", "dee@example.com", extra: #","starts_at":"soon""#)
        try QueueDriver(path: path, engine: engine).drain(at: clock.now)
        let reminders = Dictionary(uniqueKeysWithValues: try jobs().filter { $0.kind == "instantly.add_lead" }.map { ($0.eventID, $0) })
        let tenth = ISO8601DateFormatter().date(from: "2026-12-10T18:00:00Z")!.timeIntervalSince1970 * 1000
        XCTAssertEqual(reminders[1]?.nextRunAt, Int64(tenth) - 2 * Self.day)
        XCTAssertEqual(reminders[2]?.nextRunAt, 1_796_000_000_000 - 2 * Self.day)
        XCTAssertEqual(reminders[3]?.state, .succeeded, "a time already past runs at once")
        XCTAssertNil(reminders[4])
        let held = try output(try jobs().first { $0.eventID == 4 && $0.kind == "process_event" }!)
        XCTAssertTrue(held["matched"]?[path: ["0", "held"]]?.text.contains("is not a time") ?? false, "\(held)")
    }

    func testAStepAtATimeFromTheCatalog() throws {
        let startsAt: Int64 = 1_796_925_600_000
        let catalog = Catalog(products: [CatalogProduct(key: "webinar", name: "Webinar", startsAt: startsAt,
                                                        tiers: [CatalogTier(key: "regular", amount: 4900, currency: "usd", lookupKey: "w")])])
        let rule = Rule(name: "prepare", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [
            add("prepare", schedule: .at(try Template(parsing: "{{ catalog.webinar.starts_at }}"), offsetMilliseconds: -2 * Self.day)),
        ])
        let clock = self.clock
        let engine = WorkflowEngine(rules: [rule], catalog: catalog, providers: .dryRun, logger: TestLog.logger(),
                                    clock: { clock.now })
        instantly("lead_interested", "ann@example.com")
        try QueueDriver(path: path, engine: engine).drain(at: clock.now)
        XCTAssertEqual(try jobs().first { $0.kind == "instantly.add_lead" }?.nextRunAt, startsAt - 2 * Self.day)
    }

    func testAWaitingStepSeesTheSeatsLeftWhenItRuns() throws {
        let catalog = Catalog(products: [CatalogProduct(key: "webinar", name: "Webinar", seats: 2,
                                                        tiers: [CatalogTier(key: "regular", amount: 4900, currency: "usd", lookupKey: "w")])])
        var remind = add("remind", schedule: .after(milliseconds: Self.day))
        remind.skipConditions = [Condition(path: ["catalog", "webinar", "sold_out"], test: .equals(.bool(false)))]
        var tag = add("tag", campaign: "33333333-3333-3333-3333-333333333333")
        tag.arguments["variables"] = .map(["seats_left": .template(try Template(parsing: "{{ catalog.webinar.seats_left }}")),
                                           "taken": .template(try Template(parsing: "{{ catalog.webinar.registrations }}"))])
        let rule = Rule(name: "remind", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [tag, remind])
        let clock = self.clock
        let engine = WorkflowEngine(rules: [rule], contacts: ContactPolicy(maxRuleRunsPerDay: 100), catalog: catalog, providers: .dryRun,
                                    logger: TestLog.logger(), clock: { clock.now })
        let start = clock.now
        instantly("lead_interested", "ann@example.com")
        let driver = QueueDriver(path: path, engine: engine)
        try driver.drain(at: start)
        let tagJob = try XCTUnwrap(try jobs().first { $0.idempotencyKey.hasSuffix(":tag") })
        XCTAssertEqual(tagJob.state, .succeeded, "seats_left and registrations have values: \(tagJob.lastError ?? "")")
        // Both seats go while the reminder waits.
        let store = try SQLiteWorkflowStore(path: path)
        for (email, session) in [("bob@example.com", "cs_1"), ("cat@example.com", "cs_2")] {
            _ = try store.contacts.register(email: email, product: "webinar", reference: session, seats: 2, eventID: 1, segments: [], now: start)
        }
        store.close()
        try driver.drain(at: start + Self.day)
        let reminder = try XCTUnwrap(try jobs().first { $0.idempotencyKey.hasSuffix(":remind") })
        XCTAssertEqual(try output(reminder)["skipped"]?.stringValue, "when: condition catalog.webinar.sold_out = false does not hold")
    }

    func testRolloutHoldsBackAStableShareAndCountsIt() throws {
        let rule = Rule(name: "launch", trigger: Trigger(source: .instantly, eventTypes: ["email_opened"]), rolloutPercent: 30,
                        steps: [add("offer")])
        let engine = engine([rule])
        let emails = (1...40).map { "lead\($0)@example.com" }
        for email in emails { instantly("email_opened", email) }
        try QueueDriver(path: path, engine: engine).drain(limit: 1000, at: clock.now)
        let started = try jobs().filter { $0.kind == "instantly.add_lead" }.count
        let expected = emails.filter { Rollout.includes($0, rule: "launch", percent: 30) }.count
        XCTAssertEqual(started, expected)
        XCTAssertGreaterThan(started, 0)
        XCTAssertLessThan(started, 40)
        let contacts = try SQLiteContactStore(path: path)
        defer { contacts.close() }
        let counts = try contacts.holdbackCounts()
        XCTAssertEqual(counts.first { $0.reason == "rollout" }?.contacts, 40 - expected, "held back, not dropped")
        XCTAssertEqual(counts.first { $0.reason == "ran" }?.contacts, expected)
    }

    func testRolloutIsDeterministicAndProportional() {
        let ids = (0..<10_000).map { "person\($0)@example.com" }
        let ten = ids.filter { Rollout.includes($0, rule: "r", percent: 10) }
        XCTAssertEqual(Double(ten.count) / 10_000, 0.10, accuracy: 0.02)
        let fifty = Set(ids.filter { Rollout.includes($0, rule: "r", percent: 50) })
        XCTAssertTrue(Set(ten).isSubset(of: fifty), "growing the share keeps everyone who was in")
        XCTAssertEqual(ids.filter { Rollout.includes($0, rule: "r", percent: 100) }.count, 10_000)
        XCTAssertEqual(ids.filter { Rollout.includes($0, rule: "r", percent: 0) }.count, 0)
    }

    func testMaxPerDayCapsTheRuleForEveryoneAndCountsTheRest() throws {
        let rule = Rule(name: "launch", trigger: Trigger(source: .instantly, eventTypes: ["email_opened"]), maxPerDay: 2,
                        steps: [add("offer")])
        let engine = engine([rule])
        for index in 1...5 { instantly("email_opened", "lead\(index)@example.com") }
        try QueueDriver(path: path, engine: engine).drain(at: clock.now)
        XCTAssertEqual(try jobs().filter { $0.kind == "instantly.add_lead" }.count, 2)
        let contacts = try SQLiteContactStore(path: path)
        defer { contacts.close() }
        XCTAssertEqual(try contacts.holdbackCounts().first { $0.reason == "max_per_day" }?.contacts, 3)
        // A day later there is room again.
        clock.advance(by: Self.day + 1)
        instantly("email_opened", "lead6@example.com")
        try QueueDriver(path: path, engine: engine).drain(at: clock.now)
        XCTAssertEqual(try jobs().filter { $0.kind == "instantly.add_lead" }.count, 3)
    }

    func testDurationsAndTimes() {
        XCTAssertEqual(StepSchedule.duration("3d"), 3 * Self.day)
        XCTAssertEqual(StepSchedule.duration("1d 12h"), Self.day + Self.day / 2)
        XCTAssertEqual(StepSchedule.duration("90m"), 5_400_000)
        XCTAssertEqual(StepSchedule.duration("1w"), 7 * Self.day)
        XCTAssertNil(StepSchedule.duration("3"))
        XCTAssertNil(StepSchedule.duration("3x"))
        XCTAssertNil(StepSchedule.duration(""))
        XCTAssertEqual(StepSchedule.time(of: .integer(1_796_000_000), iso8601: { _ in nil }), 1_796_000_000_000)
        XCTAssertEqual(StepSchedule.time(of: .integer(1_796_000_000_000), iso8601: { _ in nil }), 1_796_000_000_000)
        XCTAssertEqual(StepSchedule.time(of: .string("1796000000"), iso8601: { _ in nil }), 1_796_000_000_000)
        XCTAssertNil(StepSchedule.time(of: .null, iso8601: { _ in nil }))
        XCTAssertEqual(StepSchedule.after(milliseconds: 3 * Self.day).description, "after 3d")
    }
}

/// A clock tests move by hand. Thread-safe.
final class TestClock: Sendable {
    private let milliseconds: Atomic<Int64>

    init(_ start: Int64) { milliseconds = Atomic(start) }

    var now: Int64 { milliseconds.load(ordering: .relaxed) }

    func advance(by delta: Int64) { milliseconds.add(delta, ordering: .relaxed) }
}
