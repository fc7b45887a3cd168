import Foundation
import Intake
import Store
import Workflows
import TestSupport
import Workflows
import XCTest

/// The product-launch scenario end to end: the real daemon on `deploy/examples/product-launch.yaml`, its catalog
/// synced to the fake Stripe API first, signed webhooks in, and the exact requests out to the fake Stripe and
/// Instantly APIs and to a recording fulfilment receiver on loopback. The upsell delay passes on the workflow clock.
final class ProductLaunchTests: XCTestCase {
    static let campaigns: [String: String] = [
        "announcement": "7c2e3d4f-0001-4a5b-8c7d-000000000001", "offer": "7c2e3d4f-0002-4a5b-8c7d-000000000002",
        "upsell": "7c2e3d4f-0003-4a5b-8c7d-000000000003",
    ]
    static let fulfilmentSecret = "fulfilment-test-secret"
    static let day: Int64 = 86_400_000

    static func environment(fulfilmentURL: String) -> [String: String] {
        ["INSTANTLY_ANNOUNCEMENT_CAMPAIGN_ID": campaigns["announcement"]!, "INSTANTLY_OFFER_CAMPAIGN_ID": campaigns["offer"]!,
         "INSTANTLY_LAUNCH_UPSELL_CAMPAIGN_ID": campaigns["upsell"]!,
         "FULFILMENT_URL": fulfilmentURL, "FULFILMENT_SECRET": fulfilmentSecret]
        // LAUNCH_TEAM_INDUSTRIES, LAUNCH_UPSELL_DELAY and the catalog keep their defaults: agency,consulting; 3d.
    }

    var harness: ScenarioHarness!
    /// The fulfilment system: answers 200 to every POST unless a fault is injected, and records each.
    var receiver: FakeAPIServer!
    /// Where each request log stood at the start of the current phase.
    var mark = (stripe: 0, instantly: 0, fulfilment: 0)
    var eventSerial = 0

    override func setUpWithError() throws {
        receiver = try FakeAPIServer()
        harness = try ScenarioHarness(example: "product-launch",
                                      environment: Self.environment(fulfilmentURL: receiver.baseURL + "/hooks/fulfil"))
        for (name, id) in Self.campaigns { harness.instantly.addCampaign(id: id, name: name) }
    }

    override func tearDown() {
        harness?.stop()
        harness = nil
        receiver = nil
    }

    // MARK: Payloads

    private func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A Checkout Session on `link` as Stripe sends it in `checkout.session.*` events (the fake records it, so the
    /// link's completed-session count follows), with the given `payment_status`.
    private func session(link: String, email: String, paymentStatus: String) throws -> (id: String, json: String) {
        let recorded = try harness.stripe.addCheckoutSession(paymentLinkID: link, email: email)
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(recorded.json.utf8)) as? [String: Any])
        object["payment_status"] = paymentStatus
        XCTAssertEqual(object["id"] as? String, recorded.id)
        XCTAssertTrue(recorded.id.hasPrefix("cs_"), recorded.id)
        return (recorded.id, try json(object))
    }

    /// Sends a Stripe event with a fresh id; returns the body to redeliver.
    @discardableResult
    private func send(_ type: String, _ object: String) throws -> [UInt8] {
        eventSerial += 1
        return try harness.sendStripe(type, id: "evt_launch_\(eventSerial)", object: object)
    }

    // MARK: Requests and state

    private func name(ofCampaign id: String) -> String { Self.campaigns.first { $0.value == id }?.key ?? id }

    /// `METHOD path [campaign]`, plus `(fault)` when an injected fault answered it. Instantly lead and job ids read
    /// `{id}`; Stripe paths keep their ids (the test knows them).
    private func describe(_ request: FakeAPIServer.Recorded) -> String {
        var path = request.target.removingPercentEncoding ?? request.target
        if path.hasPrefix("/api/v2/leads/") && path.count == "/api/v2/leads/".count + 36 { path = "/api/v2/leads/{id}" }
        if path.hasPrefix("/api/v2/background-jobs/") { path = "/api/v2/background-jobs/{id}" }
        var text = "\(request.method) \(path)"
        if let object = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any] {
            for key in ["campaign", "to_campaign_id"] {
                if let campaign = object[key] as? String { text += " \(name(ofCampaign: campaign))" }
            }
        }
        if request.fault != nil { text += " (fault)" }
        return text
    }

    typealias Phase = (stripe: [FakeAPIServer.Recorded], instantly: [FakeAPIServer.Recorded], fulfilment: [FakeAPIServer.Recorded])

    /// The requests since the last phase, and starts a new phase.
    private func phase() -> Phase {
        let stripe = Array(harness.stripe.requests.dropFirst(mark.stripe))
        let instantly = Array(harness.instantly.requests.dropFirst(mark.instantly))
        let fulfilment = Array(receiver.requests.dropFirst(mark.fulfilment))
        mark = (mark.stripe + stripe.count, mark.instantly + instantly.count, mark.fulfilment + fulfilment.count)
        return (stripe, instantly, fulfilment)
    }

    /// Settles, then asserts the requests of this phase, in order.
    @discardableResult
    private func expect(_ what: String, stripe: [String] = [], instantly: [String] = [], fulfilment: [String] = [],
                        file: StaticString = #filePath, line: UInt = #line) throws -> Phase {
        try harness.settle()
        let requests = phase()
        XCTAssertEqual(requests.stripe.map(describe), stripe, "\(what): Stripe requests", file: file, line: line)
        XCTAssertEqual(requests.instantly.map(describe), instantly, "\(what): Instantly requests", file: file, line: line)
        XCTAssertEqual(requests.fulfilment.map(describe), fulfilment, "\(what): fulfilment requests", file: file, line: line)
        return requests
    }

    private func object(_ body: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], body)
    }

    /// A form body (`POST /v1/...`) as a dictionary.
    private func form(_ request: FakeAPIServer.Recorded?) throws -> [String: String] {
        Dictionary(FakeStripeAPI.decodeForm(try XCTUnwrap(request).body), uniquingKeysWith: { _, last in last })
    }


    private func purchases() throws -> [Purchase] {
        let store = try SQLiteWorkflowStore(path: harness.directory.appendingPathComponent("hookyard.db").path)
        defer { store.close() }
        return try store.purchases()
    }

    /// Checks a fulfilment POST's `Hookyard-Signature` against the secret (at the workflow clock's time, which is
    /// the time the daemon signs at), and returns its body.
    private func verifiedFulfilment(_ request: FakeAPIServer.Recorded, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(request.method, "POST", file: file, line: line)
        XCTAssertEqual(request.target, "/hooks/fulfil", file: file, line: line)
        XCTAssertEqual(request.headers["Content-Type"]?.hasPrefix("application/json"), true, file: file, line: line)
        let header = try XCTUnwrap(request.headers["Hookyard-Signature"], "no signature", file: file, line: line)
        let verifier = StripeSignatureVerifier(secrets: [Self.fulfilmentSecret], toleranceSeconds: 300)
        if case .failure(let failure) = verifier.verify(header: header, body: Array(request.body.utf8), now: harness.now / 1000) {
            XCTFail("fulfilment signature: \(failure.message)", file: file, line: line)
        }
        let wrong = StripeSignatureVerifier(secrets: ["another-secret"], toleranceSeconds: 0)
        if case .success = wrong.verify(header: header, body: Array(request.body.utf8), now: 0) {
            XCTFail("a wrong secret verified the signature", file: file, line: line)
        }
        return try object(request.body)
    }

    /// A session on a launch link that cost nothing (a 100 % coupon): Stripe completes it with `payment_status:
    /// no_payment_required` and `amount_total: 0`. It is fulfilled like a paid one, its purchase recorded as 0, and
    /// the buyer is a customer (issue 13, item 13).
    func testFullyDiscountedSessionIsFulfilled() throws {
        let sol = "sol@solo.example", announcement = Self.campaigns["announcement"]!, offer = Self.campaigns["offer"]!
        harness.instantly.addLead(email: sol, campaign: announcement, firstName: "Sol")
        try harness.yaml.write(to: harness.directory.appendingPathComponent("hookyard.yaml"), atomically: true, encoding: .utf8)
        let sync = try harness.cli(["catalog", "sync"])
        XCTAssertEqual(sync.status, 0, sync.output)
        _ = phase()
        try harness.start()
        try harness.sendInstantly("reply_received", email: sol, campaign: announcement, fields: ["industry": "retail"])
        try expect("Sol replies", stripe: [
            "GET /v1/customers?email=sol@solo.example&limit=1", "GET /v1/customers/search?query=metadata['hookyard_email']:'sol@solo.example'&limit=1",
            "POST /v1/customers",
            "GET /v1/prices?lookup_keys[]=launch-solo&limit=100", "POST /v1/payment_links",
        ], instantly: [
            "POST /api/v2/leads/list announcement", "PATCH /api/v2/leads/{id}",
            "POST /api/v2/leads/list announcement", "POST /api/v2/leads/move announcement offer", "GET /api/v2/background-jobs/{id}",
        ])
        let solLink = try XCTUnwrap(harness.stripe.paymentLinks.last)
        let free = try session(link: solLink.id, email: sol, paymentStatus: "no_payment_required")
        var object = try object(free.json)
        object["amount_total"] = 0
        object["total_details"] = ["amount_discount": 9900, "amount_shipping": 0, "amount_tax": 0]
        try send("checkout.session.completed", try json(object))
        let requests = try expect("Sol's order is free", stripe: ["GET /v1/payment_links/\(solLink.id)"],
                                  instantly: ["POST /api/v2/leads/list offer", "POST /api/v2/leads/update-interest-status",
                                              "POST /api/v2/leads/list offer"],
                                  fulfilment: ["POST /hooks/fulfil"])
        XCTAssertEqual(try verifiedFulfilment(try XCTUnwrap(requests.fulfilment.first, "no fulfilment")) as NSDictionary,
                       ["checkout_session": free.id, "email": sol, "product": "launch", "tier": "solo", "amount": 0, "currency": "usd"] as NSDictionary)
        XCTAssertEqual(try purchases().map { "\($0.reference) \($0.amount) \($0.currency) \($0.email ?? "")" }, ["\(free.id) 0 usd \(sol)"])
        XCTAssertEqual(try harness.contact(sol)["payment_status"] as? String, "customer")
        XCTAssertEqual(harness.instantly.lead(email: sol, campaign: offer)?.interestStatus, 4, "won")
    }

    // MARK: The scenario

    func testProductLaunchEndToEnd() throws {
        let started = Date()
        let ada = "ada@agency.example", sol = "sol@solo.example"
        let announcement = Self.campaigns["announcement"]!, offer = Self.campaigns["offer"]!, upsell = Self.campaigns["upsell"]!
        harness.instantly.addLead(email: ada, campaign: announcement, firstName: "Ada", variables: ["city": "Lisbon"])
        harness.instantly.addLead(email: sol, campaign: announcement, firstName: "Sol")

        // 0. Before the launch: the catalog's product and its two tiers, synced to Stripe.
        try harness.yaml.write(to: harness.directory.appendingPathComponent("hookyard.yaml"), atomically: true, encoding: .utf8)
        let sync = try harness.cli(["catalog", "sync"])
        XCTAssertEqual(sync.status, 0, sync.output)
        let syncRequests = phase().stripe
        XCTAssertEqual(syncRequests.map(describe), [
            "GET /v1/products?limit=100", "GET /v1/prices?lookup_keys[]=launch-solo&lookup_keys[]=launch-team&limit=100",
            "POST /v1/products", "POST /v1/prices", "POST /v1/prices",
        ])
        XCTAssertEqual(try syncRequests.dropFirst(3).map { try form($0)["lookup_key"] }, ["launch-solo", "launch-team"])
        XCTAssertEqual(harness.stripe.products.map(\.name), ["Growth Playbook"])
        let product = try XCTUnwrap(harness.stripe.products.first)
        XCTAssertEqual(product.metadata["hookyard_product"], "launch")
        let prices = harness.stripe.prices.values.sorted { $0.sequence < $1.sequence }
        XCTAssertEqual(prices.map { "\($0.lookupKey ?? "") \($0.unitAmount) \($0.currency) \($0.product)" },
                       ["launch-solo 9900 usd \(product.id)", "launch-team 29900 usd \(product.id)"])
        XCTAssertTrue(prices.allSatisfy { $0.recurringInterval == nil && $0.active })
        let soloPrice = prices[0].id, teamPrice = prices[1].id
        let again = try harness.cli(["catalog", "sync"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertEqual(harness.stripe.prices.count, 2, "a second sync creates nothing")
        XCTAssertEqual(harness.stripe.products.count, 1)
        XCTAssertEqual(phase().stripe.filter { $0.method != "GET" }.map(describe), [], "a second sync only reads")

        try harness.start()

        // 1. Ada (an agency) clicks the announcement's link: she enters launch-ready and teams, and gets the team
        // offer: a customer, a link at the team price found by its lookup key, the link on her lead, and the move.
        let click = try harness.sendInstantly("email_link_clicked", email: ada, campaign: announcement, fields: ["industry": "agency"])
        var requests = try expect("Ada clicks", stripe: [
            "GET /v1/customers?email=ada@agency.example&limit=1", "GET /v1/customers/search?query=metadata['hookyard_email']:'ada@agency.example'&limit=1",
            "POST /v1/customers",
            "GET /v1/prices?lookup_keys[]=launch-team&limit=100", "POST /v1/payment_links",
        ], instantly: [
            "POST /api/v2/leads/list announcement", "PATCH /api/v2/leads/{id}",
            "POST /api/v2/leads/list announcement", "POST /api/v2/leads/move announcement offer", "GET /api/v2/background-jobs/{id}",
        ])
        let adaCustomer = try XCTUnwrap(harness.stripe.customers.first { $0.email == ada })
        XCTAssertEqual(adaCustomer.metadata, ["hookyard_email": ada])
        var link = try form(requests.stripe[4])
        XCTAssertEqual(link["line_items[0][price]"], teamPrice)
        XCTAssertEqual(link["line_items[0][quantity]"], "1")
        XCTAssertEqual(link.filter { $0.key.hasPrefix("metadata[") }, [
            "metadata[hookyard_product]": "launch", "metadata[hookyard_tier]": "team", "metadata[hookyard_rule]": "launch-offer",
            "metadata[lead_email]": ada, "metadata[instantly_campaign_id]": announcement, "metadata[stripe_customer_id]": adaCustomer.id,
        ])
        XCTAssertNotNil(requests.stripe[4].headers["Idempotency-Key"])
        let adaLink = try XCTUnwrap(harness.stripe.paymentLinks.first)
        XCTAssertEqual(adaLink.lineItems, [FakeStripeAPI.LineItem(priceID: teamPrice, quantity: 1)])
        let adaURL = adaLink.url + "?prefilled_email=ada%40agency.example"
        // The variables are merged into the lead's own (Instantly replaces the whole set on a write).
        let patch = try object(requests.instantly[1].body)
        XCTAssertEqual(patch["custom_variables"] as? NSDictionary,
                       ["city": "Lisbon", "payment_link": adaURL, "offer_tier": "team"] as NSDictionary)
        let adaLead = try XCTUnwrap(harness.instantly.lead(email: ada, campaign: offer), "Ada is in the offer campaign")
        XCTAssertEqual(adaLead.payload["payment_link"], .string(adaURL))
        XCTAssertEqual(adaLead.payload["offer_tier"], "team")
        XCTAssertNil(harness.instantly.lead(email: ada, campaign: announcement))
        let state = try harness.contact(ada)
        XCTAssertEqual(state["lead"] as? [String: String], ["industry": "agency"])
        XCTAssertEqual(Set(state["segments"] as? [String] ?? []).intersection(["teams", "launch-ready"]), ["teams", "launch-ready"],
                       "\(state["segments"] ?? "")")

        let offerSteps = try harness.steps(ofRule: "launch-offer").count

        // Instantly delivers the click again: stored once, nothing runs twice.
        try harness.deliver(instantly: click)
        try expect("duplicate Instantly delivery")
        XCTAssertEqual(try harness.steps(ofRule: "launch-offer").count, offerSteps)
        XCTAssertEqual((try harness.contact(ada)["counts"] as? [String: Any])?["clicked"] as? Int, 1)

        // 2. Sol (retail) opens three times: medium engagement, since opens alone never make it high. No offer.
        for _ in 0..<3 { try harness.sendInstantly("email_opened", email: sol, campaign: announcement, fields: ["industry": "retail"]) }
        try expect("Sol opens")
        XCTAssertEqual(try harness.contact(sol)["engagement"] as? String, "medium")

        // Sol replies: high engagement, the solo offer. Instantly answers 429 once: the read is retried, and the
        // variables are written and the lead moved once.
        harness.instantly.inject(.status(429, headers: [("Retry-After", "0")],
                                         body: #"{"statusCode":429,"error":"Too Many Requests","message":"injected"}"#))
        try harness.sendInstantly("reply_received", email: sol, campaign: announcement, fields: ["industry": "retail"])
        requests = try expect("Sol replies", stripe: [
            "GET /v1/customers?email=sol@solo.example&limit=1", "GET /v1/customers/search?query=metadata['hookyard_email']:'sol@solo.example'&limit=1",
            "POST /v1/customers",
            "GET /v1/prices?lookup_keys[]=launch-solo&limit=100", "POST /v1/payment_links",
        ], instantly: [
            "POST /api/v2/leads/list announcement (fault)", "POST /api/v2/leads/list announcement", "PATCH /api/v2/leads/{id}",
            "POST /api/v2/leads/list announcement", "POST /api/v2/leads/move announcement offer", "GET /api/v2/background-jobs/{id}",
        ])
        let solState = try harness.contact(sol)
        XCTAssertEqual(solState["engagement"] as? String, "high")
        XCTAssertEqual(solState["lead"] as? [String: String], ["industry": "retail"])
        XCTAssertEqual(Set(solState["segments"] as? [String] ?? []).intersection(["teams", "launch-ready"]), ["launch-ready"])
        link = try form(requests.stripe[4])
        XCTAssertEqual(link["line_items[0][price]"], soloPrice)
        XCTAssertEqual(link["metadata[hookyard_tier]"], "solo")
        XCTAssertEqual(link["metadata[lead_email]"], sol)
        let solLink = try XCTUnwrap(harness.stripe.paymentLinks.last)
        XCTAssertEqual(solLink.lineItems, [FakeStripeAPI.LineItem(priceID: soloPrice, quantity: 1)])
        XCTAssertEqual(try object(requests.instantly[2].body)["custom_variables"] as? NSDictionary,
                       ["payment_link": solLink.url + "?prefilled_email=sol%40solo.example", "offer_tier": "solo"] as NSDictionary)
        XCTAssertNotNil(harness.instantly.lead(email: sol, campaign: offer))
        XCTAssertEqual(harness.stripe.paymentLinks.count, 2)
        XCTAssertEqual(harness.stripe.customers.count, 2)

        // 3. Ada pays at once. The fulfilment receiver answers 500 once: the POST is retried with the same
        // Idempotency-Key, and the purchase is recorded and the lead marked won once, after it succeeds.
        let adaSession = try session(link: adaLink.id, email: ada, paymentStatus: "paid")
        receiver.inject(.status(500, headers: [], body: #"{"error":"injected"}"#))
        let completed = try send("checkout.session.completed", adaSession.json)
        requests = try expect("Ada pays", stripe: ["GET /v1/payment_links/\(adaLink.id)"],
                              instantly: ["POST /api/v2/leads/list offer", "POST /api/v2/leads/update-interest-status",
                                          "POST /api/v2/leads/list offer"],
                              fulfilment: ["POST /hooks/fulfil (fault)", "POST /hooks/fulfil"])
        let first = try verifiedFulfilment(requests.fulfilment[0]), second = try verifiedFulfilment(requests.fulfilment[1])
        XCTAssertEqual(first as NSDictionary, second as NSDictionary)
        XCTAssertEqual(second as NSDictionary, ["checkout_session": adaSession.id, "email": ada, "product": "launch", "tier": "team",
                                                "amount": 29900, "currency": "usd"] as NSDictionary)
        XCTAssertEqual(requests.fulfilment[1].body, #"{"amount":29900,"checkout_session":"\#(adaSession.id)","currency":"usd","#
                       + #""email":"ada@agency.example","product":"launch","tier":"team"}"#, "the body docs/workflows/product-launch.md shows")
        let key = try XCTUnwrap(requests.fulfilment[0].headers["Idempotency-Key"])
        XCTAssertEqual(requests.fulfilment[1].headers["Idempotency-Key"], key)
        XCTAssertEqual(try purchases().map { "\($0.reference) \($0.amount) \($0.currency) \($0.email ?? "")" },
                       ["\(adaSession.id) 29900 usd \(ada)"])
        XCTAssertEqual(try harness.contact(ada)["payment_status"] as? String, "customer")
        XCTAssertEqual(try object(requests.instantly[1].body) as NSDictionary,
                       ["lead_email": ada, "campaign_id": offer, "interest_value": 4] as NSDictionary, "won")
        XCTAssertEqual(harness.instantly.lead(email: ada, campaign: offer)?.interestStatus, 4)
        XCTAssertEqual(try harness.steps(ofRule: "launch-fulfilment").filter { $0.state == .queued }.count, 1, "the upsell move waits")

        // Stripe delivers the event again, then the session's async_payment_succeeded (same session): neither runs
        // anything a second time.
        try harness.deliver(stripe: completed)
        try send("checkout.session.async_payment_succeeded", adaSession.json)
        try expect("Ada's duplicate and async success")

        // 4. Sol pays by bank debit: completed with payment_status unpaid starts nothing; the later
        // async_payment_succeeded fulfils once, and a redelivery of it does nothing more.
        let solSession = try session(link: solLink.id, email: sol, paymentStatus: "unpaid")
        try send("checkout.session.completed", solSession.json)
        try expect("Sol's session completed unpaid")
        XCTAssertEqual(try harness.contact(sol)["payment_status"] as? String, "prospect")
        try send("checkout.session.async_payment_succeeded", solSession.json.replacingOccurrences(of: #""payment_status":"unpaid""#,
                                                                                              with: #""payment_status":"paid""#))
        requests = try expect("Sol's payment succeeds", stripe: ["GET /v1/payment_links/\(solLink.id)"],
                              instantly: ["POST /api/v2/leads/list offer", "POST /api/v2/leads/update-interest-status",
                                          "POST /api/v2/leads/list offer"],
                              fulfilment: ["POST /hooks/fulfil"])
        XCTAssertEqual(try verifiedFulfilment(requests.fulfilment[0]) as NSDictionary,
                       ["checkout_session": solSession.id, "email": sol, "product": "launch", "tier": "solo", "amount": 9900,
                        "currency": "usd"] as NSDictionary)
        XCTAssertNotEqual(requests.fulfilment[0].headers["Idempotency-Key"], key)
        XCTAssertEqual(try purchases().map(\.reference).sorted(), [adaSession.id, solSession.id].sorted())
        XCTAssertEqual(try harness.contact(sol)["payment_status"] as? String, "customer")

        // 5. Both upsell moves wait on the clock. The daemon crashes and comes back; two days pass, it stops and
        // starts again; a day short of an hour later still nothing.
        XCTAssertEqual(try harness.steps(ofRule: "launch-fulfilment").filter { $0.state == .queued }.count, 2)
        harness.kill()
        try harness.start()
        try expect("restart after a crash")
        try harness.advanceClock(by: 2 * Self.day)
        try expect("two days later")
        XCTAssertEqual(harness.stop(), 0)
        try harness.advanceClock(by: Self.day - 3_600_000)
        try harness.start()
        try expect("three days less an hour later")
        XCTAssertEqual(try harness.steps(ofRule: "launch-fulfilment").filter { $0.state == .queued }.count, 2)
        XCTAssertNil(harness.instantly.lead(email: ada, campaign: upsell))

        // At the delay, each buyer moves from the offer campaign to upsell-and-support, once.
        try harness.advanceClock(by: 3_600_000 + 60_000)
        try harness.settle()
        requests = phase()
        XCTAssertEqual(requests.stripe.map(describe), [])
        XCTAssertEqual(requests.fulfilment.map(describe), [])
        // The two moves run side by side: each reads, moves and waits for its move job.
        XCTAssertEqual(requests.instantly.map(describe).sorted(), [
            "GET /api/v2/background-jobs/{id}", "GET /api/v2/background-jobs/{id}", "POST /api/v2/leads/list offer",
            "POST /api/v2/leads/list offer", "POST /api/v2/leads/move offer upsell", "POST /api/v2/leads/move offer upsell",
        ])
        let moved = try requests.instantly.filter { $0.path == "/api/v2/leads/move" }.map { try object($0.body) }
        XCTAssertEqual(Set(moved.compactMap { ($0["ids"] as? [String])?.first }),
                       [harness.instantly.lead(email: ada, campaign: nil)?.id, harness.instantly.lead(email: sol, campaign: nil)?.id])
        XCTAssertNotNil(harness.instantly.lead(email: ada, campaign: upsell))
        XCTAssertNotNil(harness.instantly.lead(email: sol, campaign: upsell))

        // Nothing failed for good; one customer, link, purchase and fulfilment per buyer, each lead in one campaign.
        XCTAssertEqual(try harness.jobs().filter { $0.state == .dead }.map(\.kind), [])
        XCTAssertEqual(try harness.jobs().filter { $0.state != .succeeded && $0.state != .skipped }.map(\.kind), [])
        // Each buyer gets the team link or the solo link: the other step is skipped by its `when:`, and the flow goes on.
        XCTAssertEqual(try harness.jobs().filter { $0.state == .skipped }.compactMap(Job.skipReason(of:)).map { $0.prefix(32) },
                       ["when: condition contact.segments", "when: condition contact.segments"])
        XCTAssertEqual(harness.stripe.customers.count, 2)
        XCTAssertEqual(harness.stripe.paymentLinks.count, 2)
        XCTAssertEqual(receiver.requests.count { $0.fault == nil }, 2)
        let leads = harness.instantly.leads.map { "\($0.email ?? "") \(name(ofCampaign: $0.campaign ?? ""))" }.sorted()
        XCTAssertEqual(leads, ["ada@agency.example upsell", "sol@solo.example upsell"])
        print("product launch: \(harness.stripe.requests.count) Stripe, \(harness.instantly.requests.count) Instantly and "
              + "\(receiver.requests.count) fulfilment requests in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// `hookyard check-config` accepts the example with its variables set, and names a missing one.
    func testCheckConfigPassesWithTheVariablesSet() throws {
        let file = ScenarioHarnessPaths.example("product-launch")
        let environment = Self.environment(fulfilmentURL: "https://fulfil.example.com/hooks/hookyard").merging(
            ["STRIPE_WEBHOOK_SECRET": DaemonProcess.stripeSecret, "INSTANTLY_WEBHOOK_SECRET": DaemonProcess.instantlySecret]) { _, new in new }
        let (status, output) = try DaemonProcess.run(["check-config", "--config", file], environment: environment)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("rules                     2"), output)
        XCTAssertFalse(output.contains("warning"), "every event path the example reads is documented: \(output)")
        XCTAssertTrue(output.contains("team-link: stripe.create_payment_link when contact.segments = \"teams\""), output)
        XCTAssertTrue(output.contains("to-upsell: instantly.move_lead after 3d"), output)
        XCTAssertTrue(output.contains("segments                  launch-audience, teams, launch-ready, launch-buyers"), output)

        for variable in ["FULFILMENT_URL", "INSTANTLY_OFFER_CAMPAIGN_ID"] {
            var missing = environment
            missing[variable] = nil
            let (failed, message) = try DaemonProcess.run(["check-config", "--config", file], environment: missing)
            XCTAssertEqual(failed, 1, message)
            XCTAssertTrue(message.contains("environment variable \(variable) is not set"), message)
        }

        let (delayed, shown) = try DaemonProcess.run(["check-config", "--config", file],
                                                     environment: environment.merging(["LAUNCH_UPSELL_DELAY": "12h"]) { _, new in new })
        XCTAssertEqual(delayed, 0, shown)
        XCTAssertTrue(shown.contains("to-upsell: instantly.move_lead after 12h"), shown)
    }
}
