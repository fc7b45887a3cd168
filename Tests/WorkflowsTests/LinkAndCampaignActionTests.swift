import Contacts
import Foundation
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

/// `stripe.create_payment_link`'s seat limit, `stripe.deactivate_payment_link`, `instantly.remove_lead` and
/// `instantly.pause_campaign`/`resume_campaign`: each is idempotent, so a second attempt of the same job (after a
/// lost answer) writes nothing more.
final class LinkAndCampaignActionTests: XCTestCase {
    var directory: URL!
    var store: SQLiteWorkflowStore!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("actions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("db").path
        try SQLiteEventWriter(path: path, logger: TestLog.logger()).close()
        store = try SQLiteWorkflowStore(path: path)
    }

    override func tearDown() {
        store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    private func context(stripe: any ProviderTransport = DryRunProviderTransport(provider: "Stripe"),
                         instantly: any ProviderTransport = DryRunProviderTransport(provider: "Instantly")) -> ActionContext {
        ActionContext(stripe: StripeClient(transport: stripe), instantly: InstantlyClient(transport: instantly), store: store,
                      eventID: 1, rule: "r", idempotencyKey: "hookyard-flow%3Ar%3Astep", now: { 1_764_000_000_000 })
    }

    private func run(_ action: String, _ values: [String: JSONValue], _ context: ActionContext) throws(JobFailure) -> JSONValue {
        try ActionRunner().run(action, Arguments(values: values), in: context)
    }

    /// A failure as the transport reports a lost answer: retryable, no status.
    private static let lost = ProviderFailure(message: "connection reset", status: nil, retryable: true, retryAfterMilliseconds: nil)

    func testGetCustomerReadsTheAddressBehindAnID() throws {
        let stripe = StubTransport("Stripe") { _ throws(ProviderFailure) -> String in
            #"{"id":"cus_1","email":"Ada@Example.com","name":"Ada","metadata":{"plan":"pro"}}"#
        }
        let output = try run("stripe.get_customer", ["id": .string("cus_1")], context(stripe: stripe))
        XCTAssertEqual(output, .object(["customer_id": .string("cus_1"), "email": .string("Ada@Example.com"), "name": .string("Ada"),
                                        "metadata": .object(["plan": .string("pro")])]))
        XCTAssertEqual(stripe.requests.map { "\($0.method) \($0.path)" }, ["GET /v1/customers/cus_1"])
    }

    static let catalog = Catalog(products: [
        CatalogProduct(key: "webinar", name: "Growth webinar", seats: 50, tiers: [
            CatalogTier(key: "early-bird", amount: 4900, currency: "usd", lookupKey: "webinar-early-bird", availableUntil: 1_764_000_000_000),
            CatalogTier(key: "regular", amount: 6900, currency: "usd", lookupKey: "webinar-regular"),
        ]),
    ])

    func testATierIsTheFirstOnSaleWhenTheJobWasDueAndItsPriceIsFoundByLookupKey() throws {
        let stripe = StubTransport("Stripe") { request throws(ProviderFailure) -> String in
            if request.method == "GET" {
                let key = request.path.contains("webinar-early-bird") ? "early-bird" : "regular"
                return #"{"object":"list","has_more":false,"data":[{"id":"price_old_\#(key)","active":false,"lookup_key":null},{"id":"price_\#(key)","active":true,"lookup_key":"webinar-\#(key)"}]}"#
            }
            return #"{"id":"plink_1","url":"https://buy.stripe.com/x","active":true}"#
        }
        let tiers: JSONValue = .array([.string("webinar/early-bird"), .string("webinar/regular")])
        var early = context(stripe: stripe)
        early.catalog = Self.catalog
        early.dueAt = 1_764_000_000_000 - 1
        let first = try run("stripe.create_payment_link", ["tier": tiers, "metadata": .object(["lead": .string("ann")])], early)
        XCTAssertEqual(first["tier"], .string("webinar/early-bird"))
        XCTAssertEqual(first["price_id"], .string("price_early-bird"))
        XCTAssertEqual(first["amount"], .integer(4900))
        XCTAssertTrue(stripe.requests[0].path.contains("webinar-early-bird"), stripe.requests[0].path)
        XCTAssertEqual(stripe.requests[1].bodyText,
                       "line_items%5B0%5D%5Bprice%5D=price_early-bird&line_items%5B0%5D%5Bquantity%5D=1&metadata%5Bhookyard_product%5D=webinar&metadata%5Bhookyard_tier%5D=early-bird&metadata%5Blead%5D=ann")

        var late = early
        late.dueAt = 1_764_000_000_000  // the early-bird sale has ended at its until
        let second = try run("stripe.create_payment_link", ["tier": tiers], late)
        XCTAssertEqual(second["tier"], .string("webinar/regular"))
        XCTAssertEqual(second["price_id"], .string("price_regular"))

        for (values, message) in [
            (["tier": JSONValue.string("webinar/early-bird")], "every tier named has ended"),
            (["tier": .string("webinar/vip")], "'webinar/vip' is not a catalog tier (known: webinar/early-bird, webinar/regular)"),
            (["tier": .string("webinar/regular"), "price": .string("price_1")], "give price or tier, not both"),
        ] {
            XCTAssertThrowsError(try run("stripe.create_payment_link", values, late)) { error in
                XCTAssertEqual((error as? JobFailure)?.retryable, false)
                XCTAssertEqual((error as? JobFailure)?.cause, .invalidJob, "an argument error is the job's, not Stripe's")
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
    }

    func testATierWithoutAnActivePriceSaysToSyncTheCatalog() {
        let stripe = StubTransport("Stripe") { _ throws(ProviderFailure) -> String in
            #"{"object":"list","has_more":false,"data":[{"id":"price_old","active":false}]}"#
        }
        var context = context(stripe: stripe)
        context.catalog = Self.catalog
        XCTAssertThrowsError(try run("stripe.create_payment_link", ["tier": .string("webinar/regular")], context)) { error in
            XCTAssertTrue("\(error)".contains("tier webinar/regular: Stripe has no active price with lookup_key 'webinar-regular'; run `hookyard catalog sync`"), "\(error)")
        }
        XCTAssertEqual(stripe.requests.count, 1, "no link without a price")
    }

    func testDeactivatingLinksByMetadataPagesThroughAndARetryWritesNothingTwice() throws {
        let active = Mutex<Set<String>>(["plink_1", "plink_2", "plink_3", "plink_4"])
        let failOnce = Mutex(true)
        let stripe = StubTransport("Stripe") { request throws(ProviderFailure) -> String in
            if request.method == "POST" {
                let id = String(request.path.split(separator: "/").last!)
                active.withLock { _ = $0.remove(id) }
                if id == "plink_3", failOnce.withLock({ let fail = $0; $0 = false; return fail }) { throw Self.lost }
                return #"{"id":"\#(id)","url":"https://buy.stripe.com/\#(id)","active":false}"#
            }
            // Two pages: 1 and 2, then 3 and 4; plink_2 belongs to another product.
            let ids = active.withLock { $0 }
            let page = request.path.contains("starting_after=plink_2") ? ["plink_3", "plink_4"] : ["plink_1", "plink_2"]
            let items = page.filter(ids.contains).map { id in
                #"{"id":"\#(id)","url":"https://buy.stripe.com/\#(id)","active":true,"metadata":{"hookyard_product":"\#(id == "plink_2" ? "course" : "webinar")"}}"#
            }
            let more = !request.path.contains("starting_after") && ids.contains("plink_2")
            return #"{"object":"list","has_more":\#(more),"data":[\#(items.joined(separator: ","))]}"#
        }
        let context = context(stripe: stripe)
        let arguments: [String: JSONValue] = ["metadata": .object(["hookyard_product": .string("webinar")])]
        XCTAssertThrowsError(try run("stripe.deactivate_payment_links", arguments, context), "the answer for plink_3 is lost")
        let retry = try run("stripe.deactivate_payment_links", arguments, context)
        XCTAssertEqual(retry["payment_link_ids"], .array([.string("plink_4")]))
        XCTAssertEqual(active.withLock { $0 }, ["plink_2"], "only the other product's link is still active")
        let posts = stripe.requests.filter { $0.method == "POST" }
        XCTAssertEqual(posts.map(\.path), ["/v1/payment_links/plink_1", "/v1/payment_links/plink_3", "/v1/payment_links/plink_4"])
        XCTAssertEqual(posts.map(\.idempotencyKey), ["plink_1", "plink_3", "plink_4"].map { "hookyard-flow%3Ar%3Astep/\($0)" })
        XCTAssertThrowsError(try run("stripe.deactivate_payment_links", ["metadata": .object([:])], context)) { error in
            XCTAssertTrue("\(error)".contains("must name at least one key"), "\(error)")
        }
    }

    func testGetCustomerWithoutAnEmailTakesTheLinkedContacts() throws {
        _ = try store.contacts.linkCustomer(email: "grace@example.com", customerID: "cus_2", eventID: 1, policy: EngagementPolicy(),
                                            segments: [], now: 1)
        let dryRun = try run("stripe.get_customer", ["id": .string("cus_2")], context())
        XCTAssertEqual(dryRun["email"], .string("grace@example.com"), "a dry run's made-up customer has no email")
        XCTAssertEqual(try run("stripe.get_customer", ["id": .string("cus_3")], context())["email"], .null, "no linked contact either")
    }

    func testSeatLimitIsValidatedAndSent() throws {
        let stripe = StubTransport("Stripe") { _ throws(ProviderFailure) -> String in
            #"{"id":"plink_1","url":"https://buy.stripe.com/x","active":true}"#
        }
        let context = context(stripe: stripe)
        _ = try run("stripe.create_payment_link", ["price": .string("price_1"), "seat_limit": .integer(5)], context)
        XCTAssertTrue(stripe.requests[0].bodyText.hasSuffix("restrictions%5Bcompleted_sessions%5D%5Blimit%5D=5"))
        XCTAssertEqual(stripe.requests[0].idempotencyKey, "hookyard-flow%3Ar%3Astep")
        for bad: JSONValue in [.integer(0), .string("two")] {
            XCTAssertThrowsError(try run("stripe.create_payment_link", ["price": .string("price_1"), "seat_limit": bad], context)) { error in
                XCTAssertEqual((error as? JobFailure)?.retryable, false)
                XCTAssertTrue((error as? JobFailure)?.message.contains("seat_limit") ?? false, "\(error)")
            }
        }
        XCTAssertEqual(stripe.requests.count, 1, "invalid seat limits send nothing")
    }

    /// Metadata filled in when the step runs (a lead's field, say) that Stripe would refuse fails the step at once,
    /// naming the key, without a request; metadata within the limits is sent and recorded in the output, as Stripe
    /// copies it onto the link's Checkout Sessions (issue 13, items 17 and 18).
    func testPaymentLinkMetadataIsCheckedAgainstStripesLimitsAndRecorded() throws {
        let stripe = StubTransport("Stripe") { _ throws(ProviderFailure) -> String in
            #"{"id":"plink_1","url":"https://buy.stripe.com/x","active":true}"#
        }
        let context = context(stripe: stripe)
        let output = try run("stripe.create_payment_link", ["price": .string("price_1"),
                                                            "metadata": .object(["lead_email": .string("ann@example.com")])], context)
        XCTAssertEqual(output["metadata"], .object(["lead_email": .string("ann@example.com")]))
        let tooLong = String(repeating: "x", count: 501)
        for metadata: [String: JSONValue] in [["note": .string(tooLong)], ["a[b]": .string("x")],
                                              Dictionary(uniqueKeysWithValues: (1...51).map { ("k\($0)", JSONValue.string("v")) })] {
            XCTAssertThrowsError(try run("stripe.create_payment_link", ["price": .string("price_1"), "metadata": .object(metadata)], context)) { error in
                XCTAssertEqual((error as? JobFailure)?.retryable, false)
                XCTAssertTrue((error as? JobFailure)?.message.contains("Stripe refuses") ?? false, "\(error)")
            }
        }
        XCTAssertEqual(stripe.requests.count, 1, "metadata Stripe would refuse sends nothing")
    }

    func testDeactivateSkipsAnInactiveLinkOnRetry() throws {
        let active = Mutex(true)
        let answerLost = Mutex(true)
        let stripe = StubTransport("Stripe") { request throws(ProviderFailure) -> String in
            if request.method == "POST" {
                active.withLock { $0 = false }
                // The first write takes effect but its answer is lost.
                if answerLost.withLock({ let lost = $0; $0 = false; return lost }) { throw Self.lost }
            }
            return #"{"id":"plink_1","url":"https://buy.stripe.com/x","active":\#(active.withLock { $0 })}"#
        }
        let context = context(stripe: stripe)
        let arguments: [String: JSONValue] = ["id": .string("plink_1")]
        XCTAssertThrowsError(try run("stripe.deactivate_payment_link", arguments, context))
        let retry = try run("stripe.deactivate_payment_link", arguments, context)
        XCTAssertEqual(retry, .object(["payment_link_id": .string("plink_1"), "active": .bool(false), "changed": .bool(false)]))
        XCTAssertEqual(stripe.requests.map(\.method), ["GET", "POST", "GET"], "the retry reads and does not post again")
        XCTAssertEqual(stripe.requests[1].bodyText, "active=false")
        XCTAssertEqual(stripe.requests[1].idempotencyKey, "hookyard-flow%3Ar%3Astep")
    }

    func testDeactivateReportsTheChange() throws {
        let stripe = StubTransport("Stripe") { request throws(ProviderFailure) -> String in
            #"{"id":"plink_1","url":"https://buy.stripe.com/x","active":\#(request.method == "GET")}"#
        }
        let output = try run("stripe.deactivate_payment_link", ["id": .string("plink_1")], context(stripe: stripe))
        XCTAssertEqual(output, .object(["payment_link_id": .string("plink_1"), "active": .bool(false), "changed": .bool(true)]))
    }

    func testRemoveLeadDeletesOnceAndRetriesFindNothing() throws {
        let present = Mutex(true)
        let answerLost = Mutex(true)
        let instantly = StubTransport("Instantly") { request throws(ProviderFailure) -> String in
            switch request.method {
            case "DELETE":
                present.withLock { $0 = false }
                if answerLost.withLock({ let lost = $0; $0 = false; return lost }) { throw Self.lost }
                return #"{"id":"lead-1","email":"ann@example.com"}"#
            default:
                let items = present.withLock { $0 } ? #"{"id":"lead-1","email":"Ann@example.com","campaign":"c"}"# : ""
                return #"{"items":[\#(items)]}"#
            }
        }
        let context = context(instantly: instantly)
        let arguments: [String: JSONValue] = ["email": .string("ann@example.com"), "campaign": .string("c")]
        XCTAssertThrowsError(try run("instantly.remove_lead", arguments, context))
        XCTAssertEqual(try run("instantly.remove_lead", arguments, context), .object(["lead_id": .null, "removed": .bool(false)]))
        XCTAssertEqual(instantly.requests.map { "\($0.method) \($0.path)" },
                       ["POST /api/v2/leads/list", "DELETE /api/v2/leads/lead-1", "POST /api/v2/leads/list"])
        XCTAssertEqual(instantly.requests[1].body, [])

        present.withLock { $0 = true }
        XCTAssertEqual(try run("instantly.remove_lead", arguments, context), .object(["lead_id": .string("lead-1"), "removed": .bool(true)]))
    }

    func testPauseAndResumeWriteOnlyWhenNeeded() throws {
        let status = Mutex(1)
        let instantly = StubTransport("Instantly") { request throws(ProviderFailure) -> String in
            if request.path.hasSuffix("/pause") { status.withLock { $0 = 2 } }
            if request.path.hasSuffix("/activate") { status.withLock { $0 = 1 } }
            return #"{"id":"camp-1","name":"Outreach","status":\#(status.withLock { $0 })}"#
        }
        let context = context(instantly: instantly)
        let arguments: [String: JSONValue] = ["campaign": .string("camp-1")]
        XCTAssertEqual(try run("instantly.pause_campaign", arguments, context),
                       .object(["campaign": .string("camp-1"), "status": .string("paused"), "changed": .bool(true)]))
        XCTAssertEqual(try run("instantly.pause_campaign", arguments, context),
                       .object(["campaign": .string("camp-1"), "status": .string("paused"), "changed": .bool(false)]))
        XCTAssertEqual(instantly.requests.filter { $0.method == "POST" }.map(\.path), ["/api/v2/campaigns/camp-1/pause"])
        XCTAssertEqual(try run("instantly.resume_campaign", arguments, context)["changed"], .bool(true))
        XCTAssertEqual(try run("instantly.resume_campaign", arguments, context),
                       .object(["campaign": .string("camp-1"), "status": .string("active"), "changed": .bool(false)]))
        XCTAssertEqual(instantly.requests.filter { $0.method == "POST" }.map(\.path),
                       ["/api/v2/campaigns/camp-1/pause", "/api/v2/campaigns/camp-1/activate"])
        XCTAssertEqual(instantly.requests.filter { $0.method == "GET" }.count, 4, "every attempt reads the status first")

        status.withLock { $0 = 4 }  // running subsequences counts as active
        XCTAssertEqual(try run("instantly.resume_campaign", arguments, context)["changed"], .bool(false))
    }

    /// Through the engine and the queue: a retried pause job reads the status and does not post again.
    func testRetriedPauseJobDoesNotPostAgain() throws {
        let status = Mutex(1)
        let answerLost = Mutex(true)
        let instantly = StubTransport("Instantly") { request throws(ProviderFailure) -> String in
            if request.path.hasSuffix("/pause") {
                status.withLock { $0 = 2 }
                if answerLost.withLock({ let lost = $0; $0 = false; return lost }) { throw Self.lost }
            }
            return #"{"id":"camp-1","status":\#(status.withLock { $0 })}"#
        }
        let providers = ProviderSet(stripe: DryRunProviderTransport(provider: "Stripe"), instantly: instantly,
                                    stripeDryRun: false, instantlyDryRun: false)
        let rule = Rule(name: "refunds", trigger: Trigger(source: .stripe, eventTypes: ["charge.refunded"]), steps: [
            Step(name: "pause", action: "instantly.pause_campaign", arguments: ["campaign": .value(.string("camp-1"))]),
        ])
        let path = directory.appendingPathComponent("engine.db").path
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        let done = DispatchSemaphore(value: 0)
        writer.append(IncomingEvent(source: .stripe, dedupKey: "evt_1", eventID: nil, type: "charge.refunded", receivedAt: 0,
                                    body: Array(#"{"id":"evt_1","type":"charge.refunded","data":{"object":{}}}"#.utf8),
                                    headersJSON: "{}")) { _ in done.signal() }
        done.wait()
        writer.close()
        let engine = WorkflowEngine(rules: [rule], providers: providers, logger: TestLog.logger())
        let driver = QueueDriver(path: path, engine: engine)
        let first = try driver.drain()
        guard case .failed(let failure)? = first.last?.1, failure.retryable else { return XCTFail("\(String(describing: first.last?.1))") }
        let database = try SQLiteDatabase(path: path)
        try database.execute("UPDATE jobs SET next_run_at = 0 WHERE state = 'retrying'")
        database.close()
        let second = try driver.drain()
        guard case .succeeded(let output?, _) = second.last?.1 else { return XCTFail("\(String(describing: second.last?.1))") }
        XCTAssertEqual(try JSONValue.parse(output)["changed"], .bool(false))
        XCTAssertEqual(instantly.requests.filter { $0.method == "POST" }.count, 1)
    }
}
