import Foundation
import HookyardFoundation
import Jobs
import Logging
import Outbound
import Store
import Synchronization
import XCTest
@testable import Workflows
import TestSupport
import SQLite
import StrictJSON

/// A provider that answers from a closure and records what it was sent.
final class StubTransport: ProviderTransport {
    let provider: String
    let sent = Mutex<[ProviderRequest]>([])
    let answer: @Sendable (ProviderRequest) throws(ProviderFailure) -> String

    init(_ provider: String, answer: @escaping @Sendable (ProviderRequest) throws(ProviderFailure) -> String) {
        self.provider = provider
        self.answer = answer
    }

    func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse {
        sent.withLock { $0.append(request) }
        let body = try answer(request)
        return HTTPClientResponse(status: 200, headers: [:], body: Array(body.utf8))
    }

    var requests: [ProviderRequest] { sent.withLock { $0 } }
}

/// Runs the queue synchronously, one job at a time, the way a worker does.
struct QueueDriver {
    let path: String
    let engine: WorkflowEngine

    /// Runs due jobs until none is left (or `limit` runs). - Returns: the outcomes in order.
    @discardableResult
    func drain(limit: Int = 100, at now: Int64? = nil) throws -> [(Job, JobOutcome)] {
        let queue = try SQLiteJobQueue(path: path)
        let store = try SQLiteWorkflowStore(path: path)
        defer { queue.close(); store.close() }
        var results: [(Job, JobOutcome)] = []
        while results.count < limit, let job = try queue.claimNext(owner: "test", leaseMilliseconds: 60_000, now: now ?? Self.now()) {
            let outcome = engine.run(job, store: store)
            switch outcome {
            case .succeeded(let output, let followUps):
                _ = try queue.succeed(jobID: job.id, owner: "test", output: output, followUps: followUps, now: Self.now())
            case .skipped(let reason, let followUps):
                _ = try queue.skip(jobID: job.id, owner: "test", reason: reason, followUps: followUps, now: Self.now())
            case .failed(let failure):
                _ = try queue.fail(jobID: job.id, owner: "test", error: failure.message, status: failure.status,
                                   retryAt: failure.retryable ? Self.now() + 3_600_000 : nil, now: Self.now())
            }
            results.append((job, outcome))
        }
        return results
    }

    static func now() -> Int64 { WallClock.nowMilliseconds() }
}

final class WorkflowEngineTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("engine.db").path }
    var writer: SQLiteEventWriter!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
    }

    override func tearDown() {
        writer.close()
        try? FileManager.default.removeItem(at: directory)
    }

    private func store(_ source: EventSource, type: String, body: String, key: String = UUID().uuidString) {
        let done = DispatchSemaphore(value: 0)
        writer.append(IncomingEvent(source: source, dedupKey: key, eventID: nil, type: type, receivedAt: 0,
                                    body: Array(body.utf8), headersJSON: "{}")) { _ in done.signal() }
        done.wait()
    }

    private func interested(_ email: String, campaign: String = "c-out") -> String {
        #"{"event_type":"lead_interested","timestamp":"2026-11-25T10:00:00Z","workspace":"w","campaign_id":"\#(campaign)","lead_email":"\#(email)"}"#
    }

    private func template(_ text: String) -> Argument { .template(try! Template(parsing: text)) }

    private var leadRule: Rule {
        Rule(name: "lead", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"],
                                            conditions: [Condition(path: ["event", "campaign_id"], test: .oneOf([.string("c-out")]))]),
             oncePer: try! Template(parsing: "{{ event.lead_email }}"),
             steps: [
                Step(name: "customer", action: "stripe.find_or_create_customer",
                     arguments: ["email": template("{{ event.lead_email }}"),
                                 "metadata": .map(["hookyard_email": template("{{ event.lead_email }}")])]),
                Step(name: "link", action: "stripe.create_payment_link",
                     arguments: ["price": .value(.string("price_1")), "prefilled_email": template("{{ event.lead_email }}"),
                                 "metadata": .map(["lead_email": template("{{ event.lead_email }}"),
                                                   "customer": template("{{ steps.customer.customer_id }}")])]),
                Step(name: "set", action: "instantly.set_lead_variables",
                     arguments: ["email": template("{{ event.lead_email }}"), "campaign": template("{{ event.campaign_id }}"),
                                 "variables": .map(["payment_link": template("{{ steps.link.url }}")])]),
             ])
    }

    func testDryRunRunsTheWholeFlowAndRecordsTheRequests() throws {
        let engine = WorkflowEngine(rules: [leadRule], providers: .dryRun, logger: TestLog.logger())
        store(.instantly, type: "lead_interested", body: interested("Ann@Example.com"))
        let results = try QueueDriver(path: path, engine: engine).drain()
        XCTAssertEqual(results.map(\.0.kind), ["process_event", "stripe.find_or_create_customer", "stripe.create_payment_link",
                                               "instantly.set_lead_variables"])
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        let jobs = try queue.jobs(forEvent: 1)
        XCTAssertEqual(jobs.map(\.state), Array(repeating: .succeeded, count: 4))
        XCTAssertEqual(jobs[1].idempotencyKey, "flow:lead:dry-run:once:ann@example.com:customer")
        let link = try JSONValue.parse(jobs[2].output ?? "")
        XCTAssertEqual(link["dry_run"], .bool(true))
        let requests = link["requests"]
        XCTAssertEqual(requests?[path: ["0", "method"]], .string("POST"))
        XCTAssertEqual(requests?[path: ["0", "path"]], .string("/v1/payment_links"))
        XCTAssertTrue(requests?[path: ["0", "body"]]?.text.contains("line_items%5B0%5D%5Bprice%5D=price_1") ?? false)
        XCTAssertEqual(requests?[path: ["0", "idempotency_key"]], .string("hookyard-flow%3Alead%3Adry-run%3Aonce%3Aann%40example.com%3Alink"))
        // The next step read the link's URL from this step's output.
        let set = try JSONValue.parse(jobs[3].output ?? "")
        let patch = set["requests"]?[path: ["1", "body"]]?.text ?? ""
        XCTAssertTrue(patch.contains(link["url"]!.text.replacingOccurrences(of: "/", with: "\\/")) || patch.contains(link["url"]!.text), patch)
    }

    func testOncePerStartsOneFlowPerValueAndConditionsFilter() throws {
        let engine = WorkflowEngine(rules: [leadRule], providers: .dryRun, logger: TestLog.logger())
        store(.instantly, type: "lead_interested", body: interested("ann@example.com"))
        store(.instantly, type: "lead_interested", body: interested(" ANN@example.com"))  // a second report of the same lead
        store(.instantly, type: "lead_interested", body: interested("bob@example.com", campaign: "c-other"))
        store(.instantly, type: "reply_received", body: interested("cy@example.com"))
        try QueueDriver(path: path, engine: engine).drain()
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        let jobs = try queue.list(state: nil, limit: 100)
        XCTAssertEqual(jobs.filter { $0.kind == "stripe.create_payment_link" }.count, 1)
        XCTAssertEqual(jobs.filter { $0.kind == "process_event" }.count, 4)
        XCTAssertEqual(jobs.count, 7)
        let first = try JSONValue.parse(try queue.jobs(forEvent: 1)[0].output ?? "")
        XCTAssertEqual(first, .object(["contact_id": .integer(1),
                                       "matched": .array([.object(["rule": .string("lead"), "flow": .string("dry-run:once:ann@example.com")])])]))
        let unmatched = try JSONValue.parse(try queue.jobs(forEvent: 3)[0].output ?? "")
        XCTAssertEqual(unmatched, .object(["contact_id": .integer(2), "matched": .array([])]))
    }

    func testRetriesSendTheSameIdempotencyKeyAndFailuresAreClassified() throws {
        let attempts = Mutex(0)
        let stripe = StubTransport("Stripe") { request throws(ProviderFailure) -> String in
            if request.path.hasPrefix("/v1/customers?") || request.path.hasPrefix("/v1/customers/search?") {
                return #"{"object":"list","data":[]}"#
            }
            let attempt = attempts.withLock { $0 += 1; return $0 }
            if attempt == 1 { throw ProviderFailure(message: "Stripe answered 500", status: 500, retryable: true, retryAfterMilliseconds: nil) }
            return #"{"id":"cus_1","object":"customer","email":"ann@example.com","metadata":{}}"#
        }
        let instantly = StubTransport("Instantly") { _ throws(ProviderFailure) -> String in "{}" }
        let providers = ProviderSet(stripe: stripe, instantly: instantly, stripeDryRun: false, instantlyDryRun: false)
        var rule = leadRule
        rule.steps = [rule.steps[0]]
        let engine = WorkflowEngine(rules: [rule], providers: providers, logger: TestLog.logger())
        store(.instantly, type: "lead_interested", body: interested("ann@example.com"))
        let driver = QueueDriver(path: path, engine: engine)
        let first = try driver.drain()
        XCTAssertEqual(first.count, 2)
        guard case .failed(let failure) = first[1].1, failure.retryable else { return XCTFail("\(first[1].1)") }
        XCTAssertEqual(failure.message, "Stripe answered 500")
        XCTAssertEqual(failure.status, 500)
        XCTAssertEqual(failure.cause, .provider)
        // Make the retry due now and run it.
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        let job = try queue.list(state: .retrying, limit: 1)[0]
        try forceDue(job.id)
        try driver.drain()
        let creates = stripe.requests.filter { $0.method == "POST" }
        XCTAssertEqual(creates.count, 2)
        XCTAssertEqual(Set(creates.map(\.idempotencyKey)).count, 1)
        XCTAssertNotNil(creates[0].idempotencyKey)
        XCTAssertEqual(try queue.job(job.id)?.job.state, .succeeded)
        XCTAssertTrue(stripe.requests.allSatisfy { !$0.bodyText.contains("sk_") })
    }

    func testTemplateWithoutValueGoesDeadWithItsMessage() throws {
        var rule = leadRule
        rule.steps[0].arguments["name"] = template("{{ event.firstName }}")
        let engine = WorkflowEngine(rules: [rule], providers: .dryRun, logger: TestLog.logger())
        store(.instantly, type: "lead_interested", body: interested("ann@example.com"))
        let results = try QueueDriver(path: path, engine: engine).drain()
        guard case .failed(let failure) = results[1].1, failure.status == nil, !failure.retryable, failure.retryAfterMilliseconds == nil
        else { return XCTFail("\(results[1].1)") }
        XCTAssertEqual(failure.message, "step 'customer' argument 'name': {{ event.firstName }} has no value")
        XCTAssertEqual(failure.cause, .invalidJob)
    }

    func testStepConditionEndsTheFlowAsSkipped() throws {
        var rule = leadRule
        rule.steps[1].conditions = [Condition(path: ["steps", "customer", "created"], test: .equals(.bool(false)))]
        let engine = WorkflowEngine(rules: [rule], providers: .dryRun, logger: TestLog.logger())
        store(.instantly, type: "lead_interested", body: interested("ann@example.com"))
        let results = try QueueDriver(path: path, engine: engine).drain()
        XCTAssertEqual(results.count, 3)
        guard case .skipped(let reason, let followUps) = results[2].1 else { return XCTFail("\(results[2].1)") }
        XCTAssertEqual(followUps, [])
        XCTAssertEqual(reason, "if: condition steps.customer.created = false does not hold")
        let job = try XCTUnwrap(SQLiteJobQueue(path: path).job(results[2].0.id)?.job)
        XCTAssertEqual(job.state, .skipped)
        XCTAssertEqual(try JSONValue.parse(job.output ?? ""), .object(["skipped": .string(reason)]))
    }

    func testRecordPurchaseIsOncePerReference() throws {
        let rule = Rule(name: "paid", trigger: Trigger(source: .stripe, eventTypes: ["checkout.session.completed"]), steps: [
            Step(name: "purchase", action: "record_purchase",
                 arguments: ["reference": template("{{ event.data.object.id }}"), "amount": template("{{ event.data.object.amount_total }}"),
                             "currency": template("{{ event.data.object.currency }}")]),
        ])
        let engine = WorkflowEngine(rules: [rule], providers: .dryRun, logger: TestLog.logger())
        let body = #"{"id":"evt_X","type":"checkout.session.completed","data":{"object":{"id":"cs_1","amount_total":4900,"currency":"USD"}}}"#
        store(.stripe, type: "checkout.session.completed", body: body, key: "evt_1")
        store(.stripe, type: "checkout.session.completed", body: body, key: "evt_2")
        try QueueDriver(path: path, engine: engine).drain()
        let workflowStore = try SQLiteWorkflowStore(path: path)
        defer { workflowStore.close() }
        let purchases = try workflowStore.purchases()
        XCTAssertEqual(purchases.count, 1)
        XCTAssertEqual(purchases.first?.amount, 4900)
        XCTAssertEqual(purchases.first?.currency, "usd")
    }

    func testACreatedPaymentLinkIsRecordedOnceForTheReportAndADryRunOneIsNot() throws {
        let stripe = StubTransport("Stripe") { _ throws(ProviderFailure) -> String in
            #"{"id":"plink_1","object":"payment_link","url":"https://buy.stripe.com/x","active":true,"metadata":{}}"#
        }
        let providers = ProviderSet(stripe: stripe, instantly: StubTransport("Instantly") { _ throws(ProviderFailure) -> String in "{}" },
                                    stripeDryRun: false, instantlyDryRun: false)
        var rule = leadRule
        rule.steps = [Step(name: "link", action: "stripe.create_payment_link",
                           arguments: ["price": .value(.string("price_1")), "prefilled_email": template("{{ event.lead_email }}"),
                                       "metadata": .map(["hookyard_campaign": template("{{ event.campaign_id }}")])])]
        store(.instantly, type: "lead_interested", body: interested("Ann@Example.com"))
        try QueueDriver(path: path, engine: WorkflowEngine(rules: [rule], providers: providers, logger: TestLog.logger())).drain()
        // The rule is recorded with the link, not added to its metadata (the body stays what the rule says).
        XCTAssertFalse(stripe.requests[0].bodyText.contains("hookyard_rule"), stripe.requests[0].bodyText)

        let database = try SQLiteDatabase(path: path, readOnly: true)
        let rows = try database.prepare("""
            SELECT link_id, url, c.email, campaign_id, rule, job_id FROM payment_links_sent l LEFT JOIN contacts c ON c.id = l.contact_id
            """)
        XCTAssertTrue(try rows.step())
        XCTAssertEqual((0..<5).map { rows.string(Int32($0)) },
                       ["plink_1", "https://buy.stripe.com/x", "ann@example.com", "c-out", "lead"], "the URL without ?prefilled_email")
        XCTAssertEqual(rows.int(5), 2, "the step's job")
        XCTAssertFalse(try rows.step())
        // A retried step gets the same link back from Stripe: recorded once.
        let workflowStore = try SQLiteWorkflowStore(path: path)
        defer { workflowStore.close() }
        XCTAssertFalse(try workflowStore.recordPaymentLinkSent(linkID: "plink_1", url: "https://buy.stripe.com/x", email: nil,
                                                               campaignID: nil, rule: "lead", jobID: 2, now: 0))

        // In dry run the link is made up: not recorded.
        store(.instantly, type: "lead_interested", body: interested("bob@example.com"))
        try QueueDriver(path: path, engine: WorkflowEngine(rules: [rule], providers: .dryRun, logger: TestLog.logger())).drain()
        XCTAssertEqual(try database.scalarInt("SELECT count(*) FROM payment_links_sent"), 1)
    }

    private func forceDue(_ id: Int64) throws {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("UPDATE jobs SET next_run_at = 0 WHERE id = \(id)")
    }
}

final class InterestStatusTests: XCTestCase {
    /// Instantly applies interest statuses in the background: the step waits until the lead shows the new status,
    /// and a retry that finds it already set posts nothing.
    func testWaitsUntilTheStatusShowsAndSkipsWhenSet() throws {
        let lookups = Mutex(0)
        let applied = Mutex(false)
        let instantly = StubTransport("Instantly") { request throws(ProviderFailure) -> String in
            if request.path == "/api/v2/leads/update-interest-status" { return #"{"message":"submitted"}"# }
            // The status shows on the third lookup after the update.
            let status: String = applied.withLock { $0 } ? "4" : lookups.withLock { $0 += 1; return $0 } >= 3 ? "4" : "1"
            if status == "4" { applied.withLock { $0 = true } }
            return #"{"items":[{"id":"lead-1","email":"ann@example.com","campaign":"c","lt_interest_status":\#(status)}]}"#
        }
        let runner = ActionRunner(moveWaitMilliseconds: 5_000, movePollMilliseconds: 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("interest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("db").path
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        writer.close()
        let store = try SQLiteWorkflowStore(path: path)
        defer { store.close() }
        let context = ActionContext(stripe: StripeClient(transport: DryRunProviderTransport(provider: "Stripe")),
                                    instantly: InstantlyClient(transport: instantly), store: store, eventID: 1, rule: "r",
                                    idempotencyKey: "k", now: { 0 })
        let arguments = Arguments(values: ["email": .string("ann@example.com"), "campaign": .string("c"), "status": .string("won")])
        XCTAssertEqual(try runner.run("instantly.set_interest_status", arguments, in: context)["changed"], .bool(true))
        XCTAssertEqual(instantly.requests.filter { $0.path.hasSuffix("update-interest-status") }.count, 1)
        XCTAssertGreaterThanOrEqual(instantly.requests.filter { $0.path == "/api/v2/leads/list" }.count, 3)
        // Run again (a retry): already set, nothing posted.
        XCTAssertEqual(try runner.run("instantly.set_interest_status", arguments, in: context)["changed"], .bool(false))
        XCTAssertEqual(instantly.requests.filter { $0.path.hasSuffix("update-interest-status") }.count, 1)
    }
}
