import Contacts
import Foundation
import HookyardFoundation
import Logging
import Outbound
import Store
import StrictJSON
import XCTest
@testable import Workflows
import TestSupport

/// Rules acting on contacts: do-not-contact, segment triggers once per entry, the rule's `if:` on the contact,
/// the loop guard and the daily cap, and the periodic re-evaluation of segments.
final class ContactWorkflowTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("contacts.db").path }
    var writer: SQLiteEventWriter!
    var minute = 0

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("contact-flows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
    }

    override func tearDown() {
        writer.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stores an Instantly event of `type` for `email`, a minute after the previous one.
    private func instantly(_ type: String, _ email: String, campaign: String = "11111111-1111-1111-1111-111111111111") {
        minute += 1
        let timestamp = String(format: "2026-11-25T10:%02d:00.000Z", minute)
        let body = #"{"event_type":"\#(type)","timestamp":"\#(timestamp)","workspace":"w","campaign_id":"\#(campaign)","lead_email":"\#(email)"}"#
        let done = DispatchSemaphore(value: 0)
        writer.append(IncomingEvent(source: .instantly, dedupKey: UUID().uuidString, eventID: nil, type: type,
                                    receivedAt: Int64(minute), body: Array(body.utf8), headersJSON: "{}")) { _ in done.signal() }
        done.wait()
    }

    private func template(_ text: String) -> Argument { .template(try! Template(parsing: text)) }

    private var addLeadStep: Step {
        Step(name: "add", action: "instantly.add_lead",
             arguments: ["email": template("{{ event.lead_email }}"), "campaign": .value(.string("22222222-2222-2222-2222-222222222222"))])
    }

    /// A rule on `type` with one Instantly step, a flow per event.
    private func rule(_ name: String, on type: String, filter: SegmentQuery? = nil) -> Rule {
        Rule(name: name, trigger: Trigger(source: .instantly, eventTypes: [type]), contactFilter: filter, steps: [addLeadStep])
    }

    private func engine(_ rules: [Rule], segments: [SegmentQuery] = [], maxPerDay: Int = 3,
                        clock: @escaping @Sendable () -> Int64 = QueueDriver.now) -> WorkflowEngine {
        WorkflowEngine(rules: rules, contacts: ContactPolicy(segments: segments, maxRuleRunsPerDay: maxPerDay),
                       providers: .dryRun, logger: TestLog.logger(), clock: clock)
    }

    private func jobs(_ kind: String? = nil) throws -> [Job] {
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        return try queue.list(state: nil, limit: 1000).filter { kind == nil || $0.kind == kind }.sorted { $0.id < $1.id }
    }

    private func output(_ job: Job) throws -> JSONValue { try JSONValue.parse(job.output ?? "null") }

    func testAFlowWithoutAContactGetsTheOneItsStepLinks() throws {
        // A subscription event names only its customer, whom no contact is linked to yet.
        let body = #"{"id":"evt_1","object":"event","type":"customer.subscription.created","created":1795600000,"data":{"object":{"id":"sub_1","object":"subscription","customer":"cus_9","status":"active"}}}"#
        let done = DispatchSemaphore(value: 0)
        writer.append(IncomingEvent(source: .stripe, dedupKey: "evt_1", eventID: "evt_1", type: "customer.subscription.created",
                                    receivedAt: 1, body: Array(body.utf8), headersJSON: "{}")) { _ in done.signal() }
        done.wait()
        let stripe = StubTransport("Stripe") { _ throws(ProviderFailure) -> String in #"{"id":"cus_9","email":"Ada@Example.com"}"# }
        let rule = Rule(name: "onboard", trigger: Trigger(source: .stripe, eventTypes: ["customer.subscription.created"]), steps: [
            Step(name: "customer", action: "stripe.get_customer", arguments: ["id": template("{{ event.data.object.customer }}")]),
            Step(name: "welcome", action: "instantly.add_lead",
                 arguments: ["email": template("{{ contact.email }}"), "campaign": .value(.string("22222222-2222-2222-2222-222222222222")),
                             "variables": .map(["payment_status": template("{{ contact.payment_status }}")])],
                 unless: SegmentQuery(name: "unless", sql: "c.payment_status = ?", parameters: [.text("canceled")])),
        ])
        let engine = WorkflowEngine(rules: [rule], contacts: ContactPolicy(maxRuleRunsPerDay: 10),
                                    providers: ProviderSet(stripe: stripe, instantly: DryRunProviderTransport(provider: "Instantly"),
                                                           stripeDryRun: false, instantlyDryRun: true),
                                    logger: TestLog.logger(), clock: QueueDriver.now)
        try QueueDriver(path: path, engine: engine).drain()
        let welcome = try XCTUnwrap(try jobs("instantly.add_lead").first)
        XCTAssertEqual(welcome.state, .succeeded, welcome.lastError ?? "")
        XCTAssertEqual(try JSONValue.parse(welcome.input ?? "")["contact"], .string("ada@example.com"), "the linked contact carries on")
        guard case .array(let requests)? = try output(welcome)["requests"] else { return XCTFail("no dry-run requests") }
        let request = try XCTUnwrap(requests.last?["body"]?.stringValue)
        XCTAssertTrue(request.contains(#""contacts":["ada@example.com"]"#), "the step read contact.email (and contact.payment_status, or it would have failed): \(request)")
        let store = try SQLiteWorkflowStore(path: path)
        defer { store.close() }
        XCTAssertEqual(try store.contacts.contact(email: "ada@example.com")?.paymentStatus, .customer,
                       "the waiting subscription event was applied once its customer was linked")
    }

    func testRemovingALeadTakesTheCampaignOffTheContact() throws {
        let campaign = "22222222-2222-2222-2222-222222222222"
        let inCampaign = SegmentQuery(name: "in-campaign", sql: "EXISTS (SELECT 1 FROM contact_leads l WHERE l.contact_id = c.id AND l.campaign_id = ?)",
                                      parameters: [.text(campaign)])
        let remove = Step(name: "remove", action: "instantly.remove_lead",
                          arguments: ["email": template("{{ event.lead_email }}"), "campaign": .value(.string(campaign))])
        let rules = [rule("add", on: "lead_interested"),
                     Rule(name: "remove", trigger: Trigger(source: .instantly, eventTypes: ["lead_not_interested"]), steps: [remove])]
        let engine = engine(rules, segments: [inCampaign])
        instantly("lead_interested", "ann@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        let store = try SQLiteWorkflowStore(path: path)
        defer { store.close() }
        XCTAssertEqual(try store.contacts.contact(email: "ann@example.com")?.segments, ["in-campaign"])
        instantly("lead_not_interested", "ann@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        let contact = try XCTUnwrap(try store.contacts.contact(email: "ann@example.com"))
        XCTAssertNil(contact.leads[campaign], "removed from the campaign")
        XCTAssertEqual(contact.segments, [], "and so out of the segment on it")
    }

    func testUnsubscribedContactGetsNoInstantlyStepWhateverTheRuleSays() throws {
        let engine = engine([rule("nurture", on: "lead_interested")])
        instantly("lead_unsubscribed", "ann@example.com")
        instantly("lead_interested", "Ann@Example.com ")
        instantly("lead_interested", "bob@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        let steps = try jobs("instantly.add_lead")
        XCTAssertEqual(steps.count, 2)
        let outputs = try steps.map(output)
        let skipped = outputs.filter { $0["skipped"] != nil }
        XCTAssertEqual(skipped.count, 1, "\(outputs)")
        XCTAssertEqual(skipped.first?["skipped"]?.text, "do-not-contact: the contact unsubscribed")
        // Bob's step ran (in dry-run it records the requests it would send); Ann's sent nothing.
        XCTAssertEqual(outputs.filter { $0["dry_run"] == .bool(true) }.count, 1)
    }

    func testASegmentRuleStartsOncePerEntryNotOncePerEvent() throws {
        let interested = SegmentQuery(name: "interested", sql: "c.interest_status = ?", parameters: [.text("interested")])
        let onEntry = Rule(name: "welcome", trigger: .segment("interested", entered: true),
                           steps: [Step(name: "add", action: "instantly.add_lead",
                                        arguments: ["email": template("{{ contact.email }}"),
                                                    "campaign": .value(.string("33333333-3333-3333-3333-333333333333"))])])
        let onExit = Rule(name: "goodbye", trigger: .segment("interested", entered: false), steps: [onEntry.steps[0]])
        let engine = engine([onEntry, onExit], segments: [interested], maxPerDay: 10)
        instantly("lead_interested", "ann@example.com")      // enters (#1)
        instantly("email_opened", "ann@example.com")         // stays: nothing new
        instantly("lead_interested", "ann@example.com")      // reported again: still in, nothing new
        instantly("lead_not_interested", "ann@example.com")  // leaves
        instantly("lead_interested", "ann@example.com")      // enters again (#2)
        try QueueDriver(path: path, engine: engine).drain()
        let steps = try jobs("instantly.add_lead")
        XCTAssertEqual(steps.map(\.idempotencyKey).filter { $0.hasPrefix("flow:welcome:") },
                       ["flow:welcome:dry-run:segment:interested:entered:1:1:add",
                        "flow:welcome:dry-run:segment:interested:entered:1:2:add"])
        XCTAssertEqual(steps.filter { $0.idempotencyKey.hasPrefix("flow:goodbye:") }.count, 1)
        // The step rendered the contact's email from `contact.`.
        let sent = try output(steps[0])["requests"]?[path: ["0", "body"]]?.text ?? ""
        XCTAssertTrue(sent.contains("ann@example.com"), sent)
    }

    func testTheRuleIfTestsTheContactAfterTheEventIsApplied() throws {
        let customers = SegmentQuery(name: "rules[0].if", sql: "c.interest_status = ?", parameters: [.text("meeting_booked")])
        let engine = engine([rule("after-meeting", on: "lead_meeting_booked", filter: customers),
                             rule("only-customers", on: "lead_interested",
                                  filter: SegmentQuery(name: "rules[1].if", sql: "c.payment_status = ?", parameters: [.text("customer")]))])
        instantly("lead_meeting_booked", "ann@example.com")
        instantly("lead_interested", "bob@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        XCTAssertEqual(try jobs("instantly.add_lead").count, 1, "the meeting rule sees the status its own event set")
        let bob = try jobs("process_event").last!
        XCTAssertEqual(try output(bob)["matched"]?[path: ["0", "held"]]?.text, "the contact does not pass its if:")
    }

    func testTheLoopGuardHoldsARuleThatItsOwnWriteWouldRestart() throws {
        // The step's clock is the events' clock: Hookyard writes to the lead at 10:01:30, Instantly reports at 10:02.
        let engine = engine([rule("nurture", on: "lead_interested")], clock: { 1_795_600_000_000 })
        instantly("lead_interested", "ann@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        let contacts = try SQLiteContactStore(path: path)
        defer { contacts.close() }
        XCTAssertNotNil(try contacts.lastOwnWrite(email: "ann@example.com", rule: "nurture"))
        let event = ISO8601DateFormatter().date(from: "2026-11-25T10:02:00Z")!
        try contacts.recordOwnWrite(email: "ann@example.com", rule: "nurture", at: WallClock.milliseconds(of: event) - 30_000)
        instantly("lead_interested", "ann@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        let second = try jobs("process_event").last!
        let held = try output(second)["matched"]?[path: ["0", "held"]]?.text ?? ""
        XCTAssertTrue(held.hasPrefix("loop guard"), held)
        XCTAssertEqual(try jobs("instantly.add_lead").count, 1)
    }

    func testARuleRunsAtMostMaxTimesPerContactPerDay() throws {
        let engine = engine([rule("on-open", on: "email_opened")], maxPerDay: 2)
        for _ in 0..<4 { instantly("email_opened", "ann@example.com") }
        instantly("email_opened", "bob@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        XCTAssertEqual(try jobs("instantly.add_lead").count, 3, "two for Ann, one for Bob")
        let held = try jobs("process_event").compactMap { try output($0)["matched"]?[path: ["0", "held"]]?.text }
        XCTAssertEqual(held.count, 2)
        XCTAssertTrue(held.allSatisfy { $0.hasPrefix("max_rule_runs_per_day") }, "\(held)")
    }

    func testARuleWithoutADailyCapRunsForEveryEvent() throws {
        var uncapped = rule("every-open", on: "email_opened")
        uncapped.maxRunsPerDay = 0
        var capped = rule("one-open", on: "email_opened")
        capped.maxRunsPerDay = 1
        let engine = engine([uncapped, capped], maxPerDay: 2)
        for _ in 0..<5 { instantly("email_opened", "ann@example.com") }
        try QueueDriver(path: path, engine: engine).drain()
        let keys = try jobs("instantly.add_lead").map(\.idempotencyKey)
        XCTAssertEqual(keys.filter { $0.hasPrefix("flow:every-open:") }.count, 5)
        XCTAssertEqual(keys.filter { $0.hasPrefix("flow:one-open:") }.count, 1, "the rule's own cap wins over the global one")
    }

    func testMaintenanceStartsRulesForSegmentChangesTheClockCauses() throws {
        // Quiet for 30 days: a change no event causes, only time.
        let quiet = SegmentQuery(name: "quiet", sql: "c.last_engagement_at IS NOT NULL AND (? - c.last_engagement_at) / 86400000 >= 30",
                                 parameters: [.now])
        let winBack = Rule(name: "win-back", trigger: .segment("quiet", entered: true),
                           steps: [Step(name: "add", action: "instantly.add_lead",
                                        arguments: ["email": template("{{ contact.email }}"),
                                                    "campaign": .value(.string("44444444-4444-4444-4444-444444444444"))])])
        let eventTime = ISO8601DateFormatter().date(from: "2026-11-25T10:01:00Z")!.timeIntervalSince1970 * 1000
        let later = Int64(eventTime) + 31 * 86_400_000
        let engine = engine([winBack], segments: [quiet], clock: { later })
        instantly("email_link_clicked", "ann@example.com")
        let early = self.engine([winBack], segments: [quiet], clock: { Int64(eventTime) + 60_000 })
        try QueueDriver(path: path, engine: early).drain()
        XCTAssertEqual(try jobs("instantly.add_lead").count, 0, "engaged a minute ago: not quiet")

        let maintenance = ContactMaintenance(configuration: .init(location: .sqlite(path: path), retentionMilliseconds: nil), engine: engine,
                                             logger: TestLog.logger(), clock: { later })
        let report = try maintenance.runOnce()
        XCTAssertEqual(report.transitions, 1)
        XCTAssertEqual(report.flowsStarted, 1)
        XCTAssertEqual(try maintenance.runOnce().flowsStarted, 0, "a second pass starts nothing new")
        let started = try jobs("instantly.add_lead")
        XCTAssertEqual(started.count, 1)
        XCTAssertEqual(started.first?.eventID, 1, "the job belongs to the contact's latest event")
    }

    /// The first pass comes a minute after start, or one interval when that is shorter; a reload with a new interval
    /// reschedules the timer at once. Each pass logs when it started and how long it took (idle: at debug).
    func testMaintenanceTimerFollowsTheConfiguredInterval() throws {
        XCTAssertEqual(ContactMaintenance.Configuration(location: .sqlite(path: path)).firstPassMilliseconds, 60_000)
        XCTAssertEqual(ContactMaintenance.Configuration(location: .sqlite(path: path), intervalMilliseconds: 5_000).firstPassMilliseconds, 5_000)
        XCTAssertEqual(ContactMaintenance.Configuration(location: .sqlite(path: path), intervalMilliseconds: 10).intervalMilliseconds, 1_000)

        let log = LogRecorder()
        let maintenance = ContactMaintenance(configuration: .init(location: .sqlite(path: path), intervalMilliseconds: 3_600_000),
                                             engine: engine([]), logger: log.logger)
        maintenance.start()
        defer { maintenance.stop() }
        // Started with an hour: no pass for a minute, unless the new interval reschedules it.
        maintenance.update(retentionMilliseconds: nil, intervalMilliseconds: 1_000)
        XCTAssertTrue(waitUntil(timeout: .seconds(10)) { !log.entries("contact maintenance").isEmpty })
        let pass = try XCTUnwrap(log.entries("contact maintenance").first)
        XCTAssertEqual(pass.level, .debug, "an idle pass")
        XCTAssertNotNil(pass.fields["started_at"].flatMap(ISO8601Timestamp.milliseconds), "\(pass.fields)")
        XCTAssertNotNil(pass.fields["duration_ms"].flatMap { Int($0) }, "\(pass.fields)")
    }

    func testMaintenancePrunesOldPayloadsButKeepsTheContactAndUnfinishedWork() throws {
        let engine = engine([rule("nurture", on: "lead_interested")])
        instantly("email_opened", "ann@example.com")        // finished: pruned
        try QueueDriver(path: path, engine: engine).drain()
        instantly("lead_interested", "bob@example.com")     // its process_event job is still queued: kept
        let farFuture: @Sendable () -> Int64 = { QueueDriver.now() + 40 * 86_400_000 }
        let maintenance = ContactMaintenance(configuration: .init(location: .sqlite(path: path), retentionMilliseconds: 30 * 86_400_000),
                                             engine: engine, logger: TestLog.logger(), clock: farFuture)
        XCTAssertEqual(try maintenance.runOnce().payloadsPruned, 1)
        let reader = try SQLiteStoreReader(path: path)
        XCTAssertEqual(try reader.event("1")?.bodyBytes, 0)
        XCTAssertGreaterThan(try reader.event("2")?.bodyBytes ?? 0, 0)
        let contacts = try SQLiteContactStore(path: path)
        defer { contacts.close() }
        XCTAssertEqual(try contacts.contact(email: "ann@example.com")?.counts[.opened], 1, "structured fields stay")
        // Bob's event is processed normally afterwards, and pruned on a later pass.
        try QueueDriver(path: path, engine: engine).drain()
        XCTAssertEqual(try contacts.contact(email: "bob@example.com")?.interestStatus, "interested")
        XCTAssertEqual(try maintenance.runOnce().payloadsPruned, 1)
        let maintenanceWithoutRetention = ContactMaintenance(configuration: .init(location: .sqlite(path: path), retentionMilliseconds: nil),
                                                             engine: engine, logger: TestLog.logger(), clock: farFuture)
        XCTAssertEqual(try maintenanceWithoutRetention.runOnce().payloadsPruned, 0)
    }

    func testMovingALeadIntoASegmentsCampaignStartsItsRule() throws {
        let payment = "55555555-5555-5555-5555-555555555555"
        let paying = SegmentQuery(name: "waiting-to-pay",
                                  sql: "EXISTS (SELECT 1 FROM contact_leads l WHERE l.contact_id = c.id AND l.campaign_id = ?)",
                                  parameters: [.text(payment)])
        let move = Rule(name: "to-payment", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [
            Step(name: "move", action: "instantly.move_lead",
                 arguments: ["email": template("{{ event.lead_email }}"), "from_campaign": template("{{ event.campaign_id }}"),
                             "to_campaign": .value(.string(payment))]),
        ])
        let remind = Rule(name: "remind", trigger: .segment("waiting-to-pay", entered: true), steps: [addLeadStep.with(email: "{{ contact.email }}")])
        let engine = engine([move, remind], segments: [paying])
        instantly("lead_interested", "ann@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        let reminders = try jobs("instantly.add_lead")
        let outputs = try jobs().map(\.output)
        XCTAssertEqual(reminders.map(\.idempotencyKey), ["flow:remind:dry-run:segment:waiting-to-pay:entered:1:1:add"],
                       "the move put her in the payment campaign: \(outputs)")
    }

    // MARK: Registrations

    private static let webinar = Catalog(products: [
        CatalogProduct(key: "webinar", name: "Growth webinar", seats: 100,
                       tiers: [CatalogTier(key: "regular", amount: 4900, currency: "usd", lookupKey: "webinar-regular")]),
    ])

    /// A rule registering the lead of each `lead_interested` for the webinar, with `arguments` added.
    private func registerRule(_ arguments: [String: Argument]) -> Rule {
        var with: [String: Argument] = ["email": template("{{ event.lead_email }}"), "product": .value(.string("webinar"))]
        with.merge(arguments) { _, new in new }
        return Rule(name: "register", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), maxRunsPerDay: 0,
                    steps: [Step(name: "register", action: "contact.register", arguments: with)])
    }

    func testRegisteringCountsSeatsUntilSoldOutAndStartsTheRegisteredForSegmentsRule() throws {
        let registrants = try SegmentCompiler(definitions: [
            SegmentDefinition(name: "registrants", predicate: .field(.registeredFor, currency: nil, .equals(.string("webinar")))),
        ]).queries
        let welcome = Rule(name: "welcome", trigger: .segment("registrants", entered: true),
                           steps: [addLeadStep.with(email: "{{ contact.email }}")])
        let engine = WorkflowEngine(rules: [registerRule(["seats": .value(.integer(2))]), welcome],
                                    contacts: ContactPolicy(segments: registrants), catalog: Self.webinar, providers: .dryRun,
                                    logger: TestLog.logger())
        instantly("lead_interested", "ann@example.com")
        instantly("lead_interested", "bob@example.com")
        instantly("lead_interested", "ann@example.com")   // again: not a second registration
        instantly("lead_interested", "cat@example.com")
        try QueueDriver(path: path, engine: engine).drain()

        let outputs = try jobs("contact.register").map(output)
        XCTAssertEqual(outputs, [
            .object(["registered": .bool(true), "registrations": .integer(1), "seats": .integer(2), "seats_left": .integer(1),
                     "sold_out": .bool(false)]),
            .object(["registered": .bool(true), "registrations": .integer(2), "seats": .integer(2), "seats_left": .integer(0),
                     "sold_out": .bool(true)]),
            .object(["registered": .bool(false), "registrations": .integer(1), "seats": .integer(2), "seats_left": .integer(1),
                     "sold_out": .bool(false)]),
            .object(["registered": .bool(true), "registrations": .integer(3), "seats": .integer(2), "seats_left": .integer(0),
                     "sold_out": .bool(true)]),
        ], "the seats argument wins over the catalog's 100")
        // The segment on registered_for started its rule once per registrant, from the registering step.
        let welcomes = try jobs("instantly.add_lead")
        XCTAssertEqual(welcomes.map(\.idempotencyKey), [
            "flow:welcome:dry-run:segment:registrants:entered:1:1:add",
            "flow:welcome:dry-run:segment:registrants:entered:2:1:add",
            "flow:welcome:dry-run:segment:registrants:entered:3:1:add",
        ])
        XCTAssertEqual(welcomes.map(\.eventID), [1, 2, 4], "each belongs to the event whose flow registered them")
        let contacts = try SQLiteContactStore(path: path)
        defer { contacts.close() }
        XCTAssertEqual(try contacts.contact(email: "ann@example.com")?.registeredFor, ["webinar"])
        XCTAssertEqual(try contacts.contact(email: "ann@example.com")?.segments, ["registrants"])
        XCTAssertEqual(try contacts.registrationCount(product: "webinar"), 3)
    }

    func testRegisteringTakesTheCatalogsSeatsAndRefusesAProductItDoesNotHave() throws {
        let engine = WorkflowEngine(rules: [registerRule(["reference": template("{{ event.lead_email }}-ticket")])],
                                    catalog: Self.webinar, providers: .dryRun, logger: TestLog.logger())
        instantly("lead_interested", "ann@example.com")
        try QueueDriver(path: path, engine: engine).drain()
        XCTAssertEqual(try jobs("contact.register").map(output), [
            .object(["registered": .bool(true), "registrations": .integer(1), "seats": .integer(100), "seats_left": .integer(99),
                     "sold_out": .bool(false)]),
        ])

        let unknown = WorkflowEngine(rules: [registerRule(["product": template("{{ event.campaign_id }}")])],
                                     catalog: Self.webinar, providers: .dryRun, logger: TestLog.logger())
        instantly("lead_interested", "bob@example.com")
        try QueueDriver(path: path, engine: unknown).drain()
        let failed = try XCTUnwrap(try jobs("contact.register").last)
        XCTAssertEqual(failed.state, .dead)
        XCTAssertEqual(failed.lastError, "argument 'product': no catalog product '11111111-1111-1111-1111-111111111111' (catalog: webinar)")
        let noCatalog = WorkflowEngine(rules: [registerRule([:])], providers: .dryRun, logger: TestLog.logger())
        instantly("lead_interested", "cat@example.com")
        try QueueDriver(path: path, engine: noCatalog).drain()
        XCTAssertEqual(try jobs("contact.register").last?.lastError, "argument 'product': no catalog product 'webinar' (no catalog: is configured)")
    }
}

private extension Step {
    /// The same step with its `email` argument rendered from `template`.
    func with(email template: String) -> Step {
        var step = self
        step.arguments["email"] = .template(try! Template(parsing: template))
        return step
    }
}
