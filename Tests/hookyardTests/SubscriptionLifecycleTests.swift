import Foundation
import Store
import TestSupport
import XCTest

/// The subscription-lifecycle scenario end to end: the real daemon on `deploy/examples/subscription-lifecycle.yaml`,
/// signed Stripe events in the current API shape (`2025-12-15.clover`), and the fake Stripe and Instantly APIs. Each
/// phase asserts the exact requests that went out and the contact's state; the win-back's delay passes on the
/// workflow clock, not in real time.
final class SubscriptionLifecycleTests: XCTestCase {
    static let campaigns: [String: String] = [
        "onboarding": "5b1d2c3b-0001-4a5b-8c7d-000000000001", "dunning": "5b1d2c3b-0002-4a5b-8c7d-000000000002",
        "renewal": "5b1d2c3b-0003-4a5b-8c7d-000000000003", "upsell": "5b1d2c3b-0004-4a5b-8c7d-000000000004",
        "cancellation": "5b1d2c3b-0005-4a5b-8c7d-000000000005", "winback": "5b1d2c3b-0006-4a5b-8c7d-000000000006",
    ]
    static let environment: [String: String] = [
        "INSTANTLY_ONBOARDING_CAMPAIGN_ID": campaigns["onboarding"]!, "INSTANTLY_DUNNING_CAMPAIGN_ID": campaigns["dunning"]!,
        "INSTANTLY_RENEWAL_CAMPAIGN_ID": campaigns["renewal"]!, "INSTANTLY_UPSELL_CAMPAIGN_ID": campaigns["upsell"]!,
        "INSTANTLY_CANCELLATION_CAMPAIGN_ID": campaigns["cancellation"]!, "INSTANTLY_WINBACK_CAMPAIGN_ID": campaigns["winback"]!,
        "STRIPE_STARTER_PRODUCT_IDS": "prod_starter", "STRIPE_PRO_PRODUCT_IDS": "prod_pro",
        // UPSELL_TIERS and WINBACK_DELAY keep their defaults: starter, 14d.
    ]
    static let day: Int64 = 86_400

    /// A subscription price as Stripe embeds it in subscription items.
    struct Price {
        var id: String
        var product: String
        var lookupKey: String
        var tier: String

        var json: [String: Any] {
            ["id": id, "object": "price", "active": true, "currency": "usd", "lookup_key": lookupKey, "nickname": NSNull(),
             "metadata": ["hookyard_tier": tier], "product": product, "type": "recurring", "unit_amount": 2900,
             "recurring": ["interval": id.hasSuffix("yearly") ? "year" : "month", "interval_count": 1, "usage_type": "licensed"]]
        }
    }

    static let starterMonthly = Price(id: "price_starter_monthly", product: "prod_starter", lookupKey: "starter_monthly", tier: "starter")
    static let starterYearly = Price(id: "price_starter_yearly", product: "prod_starter", lookupKey: "starter_yearly", tier: "starter")
    static let proMonthly = Price(id: "price_pro_monthly", product: "prod_pro", lookupKey: "pro_monthly", tier: "pro")

    var harness: ScenarioHarness!
    /// Where each fake's request log stood at the start of the current phase.
    var mark = (stripe: 0, instantly: 0)
    var eventSerial = 0

    override func setUpWithError() throws {
        harness = try ScenarioHarness(example: "subscription-lifecycle", environment: Self.environment)
        for (name, id) in Self.campaigns { harness.instantly.addCampaign(id: id, name: name) }
    }

    override func tearDown() {
        harness?.stop()
        harness = nil
    }

    // MARK: Payloads

    private func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A subscription object (clover: the period end on the item).
    private func subscription(_ id: String, customer: String, status: String, price: Price, periodEnd: Int64,
                              trialEnd: Int64? = nil, cancelAtPeriodEnd: Bool = false) throws -> String {
        try json(subscriptionObject(id, customer: customer, status: status, price: price, periodEnd: periodEnd, trialEnd: trialEnd,
                                    cancelAtPeriodEnd: cancelAtPeriodEnd))
    }

    private func subscriptionObject(_ id: String, customer: String, status: String, price: Price, periodEnd: Int64,
                                    trialEnd: Int64? = nil, cancelAtPeriodEnd: Bool = false) -> [String: Any] {
        ["id": id, "object": "subscription", "customer": customer, "status": status, "metadata": [String: String](),
         "cancel_at_period_end": cancelAtPeriodEnd, "cancel_at": cancelAtPeriodEnd ? periodEnd as Any : NSNull(),
         "trial_end": trialEnd.map { $0 as Any } ?? NSNull(), "collection_method": "charge_automatically",
         "items": ["object": "list", "has_more": false, "total_count": 1,
                   "data": [["id": "si_\(id)", "object": "subscription_item", "quantity": 1, "subscription": id,
                             "current_period_start": periodEnd - 30 * Self.day, "current_period_end": periodEnd,
                             "price": price.json]]]]
    }

    /// An invoice object (clover: its subscription under parent.subscription_details).
    private func invoice(_ id: String?, customer: String, email: String, subscription: String, status: String, attempt: Int,
                         nextAttempt: Int64?, periodEnd: Int64, amountPaid: Int = 0) throws -> String {
        var object: [String: Any] = [
            "object": "invoice", "customer": customer, "customer_email": email, "status": status, "currency": "usd",
            "amount_due": 2900, "amount_paid": amountPaid, "attempt_count": attempt, "billing_reason": "subscription_cycle",
            "next_payment_attempt": nextAttempt.map { $0 as Any } ?? NSNull(), "period_end": periodEnd,
            "hosted_invoice_url": id.map { "https://invoice.stripe.com/i/acct_test/\($0)" as Any } ?? NSNull(),
            "parent": ["type": "subscription_details", "subscription_details": ["metadata": [String: String](), "subscription": subscription]],
            "lines": ["object": "list", "data": [["object": "line_item", "amount": 2900,
                                                  "pricing": ["type": "price_details",
                                                              "price_details": ["price": Self.starterMonthly.id, "product": "prod_starter"]]]]],
        ]
        if let id { object["id"] = id }
        return try json(object)
    }

    /// Sends a Stripe event with a fresh id and the given `created`; returns the body to redeliver.
    @discardableResult
    private func send(_ type: String, _ object: String, previous: [String: Any]? = nil, created: Int64) throws -> [UInt8] {
        eventSerial += 1
        return try harness.sendStripe(type, id: "evt_test_\(eventSerial)", object: object,
                                      previousAttributes: try previous.map(json), created: created)
    }

    // MARK: Requests and state

    private func name(ofCampaign id: String) -> String { Self.campaigns.first { $0.value == id }?.key ?? id }

    /// `METHOD path [campaign]`, plus `(fault)` for a request that an injected fault answered. Lead ids in paths
    /// read `{id}` (the tests compare them where they matter).
    private func describe(_ request: FakeAPIServer.Recorded) -> String {
        let path = request.path.hasPrefix("/api/v2/leads/") && request.path.count == "/api/v2/leads/".count + 36
            ? "/api/v2/leads/{id}" : request.path
        var text = "\(request.method) \(path)"
        if let object = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any],
           let campaign = object["campaign"] as? String {
            text += " \(name(ofCampaign: campaign))"
        }
        if request.fault != nil { text += " (fault)" }
        return text
    }

    /// The requests since the last phase, and starts a new phase.
    private func phase() -> (stripe: [FakeAPIServer.Recorded], instantly: [FakeAPIServer.Recorded]) {
        let stripe = Array(harness.stripe.requests.dropFirst(mark.stripe))
        let instantly = Array(harness.instantly.requests.dropFirst(mark.instantly))
        mark = (mark.stripe + stripe.count, mark.instantly + instantly.count)
        return (stripe, instantly)
    }

    /// Settles, then asserts the requests of this phase, in order.
    private func expect(_ what: String, stripe: [String] = [], instantly: [String] = [],
                        file: StaticString = #filePath, line: UInt = #line) throws -> (stripe: [FakeAPIServer.Recorded], instantly: [FakeAPIServer.Recorded]) {
        try harness.settle()
        let requests = phase()
        XCTAssertEqual(requests.stripe.map(describe), stripe, "\(what): Stripe requests", file: file, line: line)
        XCTAssertEqual(requests.instantly.map(describe), instantly, "\(what): Instantly requests", file: file, line: line)
        return requests
    }



    private func subscriptionState(_ contact: [String: Any]) -> [String: String] {
        let subscription = contact["subscription"] as? [String: Any] ?? [:]
        return subscription.compactMapValues { $0 as? String }.filter { ["id", "status", "price", "tier"].contains($0.key) }
    }

    // MARK: The scenario

    func testSubscriptionLifecycleEndToEnd() throws {
        let started = Date()
        let ada = "ada@example.com", bob = "bob@example.com"
        let adaCustomer = harness.stripe.addCustomer(email: ada, name: "Ada").id
        let bobCustomer = harness.stripe.addCustomer(email: bob, name: "Bob").id
        try harness.start()
        let base = harness.now / 1000
        let periodEnd = base + 30 * Self.day
        let trialEnd = base + 14 * Self.day
        func sub(_ status: String, _ price: Price, cancel: Bool = false, trial: Bool = false) throws -> String {
            try subscription("sub_ada", customer: adaCustomer, status: status, price: price, periodEnd: trial ? trialEnd : periodEnd,
                             trialEnd: trial ? trialEnd : nil, cancelAtPeriodEnd: cancel)
        }

        // 1. Subscribed, in a trial. Stripe answers the customer read with a 500 once and Instantly the lead lookup
        // likewise: each is retried, and the lead is created once.
        harness.stripe.inject(.status(500, headers: [], body: #"{"error":{"type":"api_error","message":"injected"}}"#))
        harness.instantly.inject(.status(500, headers: [], body: #"{"statusCode":500,"error":"Internal Server Error","message":"injected"}"#))
        let created = try send("customer.subscription.created", try sub("trialing", Self.starterMonthly, trial: true), created: base)
        var requests = try expect("subscription created", stripe: ["GET /v1/customers/\(adaCustomer) (fault)", "GET /v1/customers/\(adaCustomer)"],
                                  instantly: ["POST /api/v2/leads/list onboarding (fault)", "POST /api/v2/leads/list onboarding",
                                              "POST /api/v2/leads onboarding"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last),
                       ["tier": "starter", "plan": "starter_monthly", "trial_end": trialEnd] as NSDictionary)
        XCTAssertEqual(harness.instantly.lead(email: ada, campaign: Self.campaigns["onboarding"])?.payload["plan"], "starter_monthly")
        var state = try harness.contact(ada)
        XCTAssertEqual(state["payment_status"] as? String, "customer")
        XCTAssertEqual(state["tier"] as? String, "starter")
        XCTAssertEqual(state["stripe_customer_ids"] as? [String], [adaCustomer], "get_customer linked the customer")
        XCTAssertEqual(subscriptionState(state), ["id": "sub_ada", "status": "trialing", "price": "price_starter_monthly", "tier": "starter"])

        // The same event again (Stripe redelivers): nothing is done twice.
        try harness.deliver(stripe: created)
        _ = try expect("duplicate delivery")

        // 2. Three days before the trial ends: the renewal campaign.
        try send("customer.subscription.trial_will_end", try sub("trialing", Self.starterMonthly, trial: true), created: base + 10)
        requests = try expect("trial will end", instantly: ["POST /api/v2/leads/list renewal", "POST /api/v2/leads renewal"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last),
                       ["renewal_reason": "trial_ending", "renews_at": trialEnd, "plan": "starter_monthly"] as NSDictionary)

        // 3. The trial converts: no rule, but the contact follows.
        try send("customer.subscription.updated", try sub("active", Self.starterMonthly), previous: ["status": "trialing"], created: base + 20)
        _ = try expect("trial converted")
        XCTAssertEqual(subscriptionState(try harness.contact(ada))["status"], "active")

        // 4. The upcoming renewal: they are in the renewal campaign already, so Instantly is only read.
        try send("invoice.upcoming", try invoice(nil, customer: adaCustomer, email: ada, subscription: "sub_ada", status: "draft", attempt: 0,
                                                  nextAttempt: periodEnd, periodEnd: periodEnd), created: base + 30)
        _ = try expect("invoice upcoming", instantly: ["POST /api/v2/leads/list renewal"])

        // 5. The renewal fails (Instantly answers 429 once): dunning, with the invoice's link and Stripe's schedule.
        harness.instantly.inject(.status(429, headers: [("Retry-After", "0")], body: #"{"statusCode":429,"error":"Too Many Requests","message":"injected"}"#))
        let failed = try send("invoice.payment_failed", try invoice("in_ada_2", customer: adaCustomer, email: ada, subscription: "sub_ada",
                                                                   status: "open", attempt: 1, nextAttempt: base + 3 * Self.day,
                                                                   periodEnd: periodEnd), created: base + 40)
        requests = try expect("payment failed", instantly: [
            "POST /api/v2/leads/list dunning (fault)", "POST /api/v2/leads/list dunning", "POST /api/v2/leads dunning",
            "POST /api/v2/leads/list dunning", "POST /api/v2/leads/list dunning", "PATCH /api/v2/leads/{id}",
        ])
        let dunningLead = try XCTUnwrap(harness.instantly.lead(email: ada, campaign: Self.campaigns["dunning"])).id
        XCTAssertEqual(requests.instantly[5].path, "/api/v2/leads/\(dunningLead)")
        let hosted = "https://invoice.stripe.com/i/acct_test/in_ada_2"
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly[2]), ["hosted_invoice_url": hosted, "attempt_count": 1] as NSDictionary)
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly[5]),
                       ["hosted_invoice_url": hosted, "attempt_count": 1, "next_payment_attempt": base + 3 * Self.day] as NSDictionary)
        XCTAssertEqual(try harness.contact(ada)["payment_status"] as? String, "past_due")

        // The second attempt fails too: the lead is there, its variables are brought up to date.
        try send("invoice.payment_failed", try invoice("in_ada_2", customer: adaCustomer, email: ada, subscription: "sub_ada", status: "open",
                                                       attempt: 2, nextAttempt: base + 5 * Self.day, periodEnd: periodEnd), created: base + 45)
        requests = try expect("second failure", instantly: [
            "POST /api/v2/leads/list dunning", "POST /api/v2/leads/list dunning", "PATCH /api/v2/leads/{id}",
            "POST /api/v2/leads/list dunning", "PATCH /api/v2/leads/{id}",
        ])
        XCTAssertEqual(Set(requests.instantly.filter { $0.method == "PATCH" }.map(\.path)), ["/api/v2/leads/\(dunningLead)"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly[4]),
                       ["hosted_invoice_url": hosted, "attempt_count": 2, "next_payment_attempt": base + 5 * Self.day] as NSDictionary)

        // 6. Paid: out of dunning at once. A late redelivery of the first failure changes nothing.
        try send("invoice.paid", try invoice("in_ada_2", customer: adaCustomer, email: ada, subscription: "sub_ada", status: "paid", attempt: 2,
                                             nextAttempt: nil, periodEnd: periodEnd, amountPaid: 2900), created: base + 50)
        requests = try expect("invoice paid", instantly: ["POST /api/v2/leads/list dunning", "DELETE /api/v2/leads/{id}"])
        XCTAssertEqual(requests.instantly.last?.path, "/api/v2/leads/\(dunningLead)")
        XCTAssertNil(harness.instantly.lead(email: ada, campaign: Self.campaigns["dunning"]))
        try harness.deliver(stripe: failed)
        _ = try expect("stale failure redelivered")

        // 7. Stripe reports the subscription active again: dunning is read once more, nothing to remove.
        try send("customer.subscription.updated", try sub("active", Self.starterMonthly), previous: ["status": "past_due"], created: base + 55)
        _ = try expect("recovered", instantly: ["POST /api/v2/leads/list dunning"])
        XCTAssertEqual(try harness.contact(ada)["payment_status"] as? String, "customer")

        // 8. Upgrade to pro: the tier follows; pro is not an upsell tier, so nothing is sent.
        let previousStarter: [String: Any] = ["items": ["data": [["price": Self.starterMonthly.json]]]]
        try send("customer.subscription.updated", try sub("active", Self.proMonthly), previous: previousStarter, created: base + 60)
        _ = try expect("upgrade to pro")
        state = try harness.contact(ada)
        XCTAssertEqual(state["tier"] as? String, "pro")
        XCTAssertEqual(subscriptionState(state)["price"], "price_pro_monthly")

        // 9. Down to starter (yearly): an upsell tier, so the upsell sequence starts.
        let previousPro: [String: Any] = ["items": ["data": [["price": Self.proMonthly.json]]]]
        try send("customer.subscription.updated", try sub("active", Self.starterYearly), previous: previousPro, created: base + 70)
        requests = try expect("downgrade to starter", instantly: ["POST /api/v2/leads/list upsell", "POST /api/v2/leads upsell"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last), ["tier": "starter", "plan": "starter_yearly"] as NSDictionary)
        XCTAssertEqual(try harness.contact(ada)["tier"] as? String, "starter")

        // 10. A cancellation is scheduled, and the daemon restarts as the event comes in: nothing is lost.
        try send("customer.subscription.updated", try sub("active", Self.starterYearly, cancel: true),
                 previous: ["cancel_at_period_end": false, "cancel_at": NSNull()], created: base + 80)
        XCTAssertEqual(harness.stop(), 0)
        try harness.start()
        requests = try expect("cancellation scheduled", instantly: ["POST /api/v2/leads/list cancellation", "POST /api/v2/leads cancellation"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last),
                       ["tier": "starter", "plan": "starter_yearly", "cancels_at": periodEnd] as NSDictionary)

        // 11. Withdrawn: out again. Scheduled again: back in.
        let cancellationLead = try XCTUnwrap(harness.instantly.lead(email: ada, campaign: Self.campaigns["cancellation"])).id
        try send("customer.subscription.updated", try sub("active", Self.starterYearly),
                 previous: ["cancel_at_period_end": true, "cancel_at": periodEnd], created: base + 90)
        requests = try expect("cancellation withdrawn", instantly: ["POST /api/v2/leads/list cancellation", "DELETE /api/v2/leads/{id}"])
        XCTAssertEqual(requests.instantly.last?.path, "/api/v2/leads/\(cancellationLead)")
        XCTAssertNil(harness.instantly.lead(email: ada, campaign: Self.campaigns["cancellation"]))
        try send("customer.subscription.updated", try sub("active", Self.starterYearly, cancel: true),
                 previous: ["cancel_at_period_end": false, "cancel_at": NSNull()], created: base + 100)
        _ = try expect("cancellation scheduled again", instantly: ["POST /api/v2/leads/list cancellation", "POST /api/v2/leads cancellation"])

        // 12. The subscription ends: out of cancellation prevention and dunning now; the win-back waits 14 days.
        try send("customer.subscription.deleted", try sub("canceled", Self.starterYearly, cancel: true), created: base + 200)
        let cancellationID = try XCTUnwrap(harness.instantly.lead(email: ada, campaign: Self.campaigns["cancellation"])).id
        requests = try expect("subscription deleted", instantly: ["POST /api/v2/leads/list cancellation", "DELETE /api/v2/leads/{id}",
                                                                  "POST /api/v2/leads/list dunning"])
        XCTAssertEqual(requests.instantly[1].path, "/api/v2/leads/\(cancellationID)")
        XCTAssertEqual(try harness.steps(ofRule: "win-back").map(\.state), [.queued])
        state = try harness.contact(ada)
        XCTAssertEqual(state["payment_status"] as? String, "canceled")

        // 13. A stale update (older than the deletion) arrives late: a change to a starter price, which would start
        // the upsell for a live subscription. The subscription stays ended and the upsell is held back.
        try send("customer.subscription.updated", try sub("active", Self.starterMonthly), previous: previousPro, created: base + 150)
        _ = try expect("stale update after deletion")
        state = try harness.contact(ada)
        XCTAssertEqual(state["payment_status"] as? String, "canceled")
        XCTAssertEqual(subscriptionState(state), ["id": "sub_ada", "status": "canceled", "price": "price_starter_yearly", "tier": "starter"])
        let lastProcess = try XCTUnwrap(try harness.jobs().first { $0.kind == "process_event" })
        XCTAssertTrue(lastProcess.output?.contains(#""held":"the contact does not pass its if:","rule":"upsell""#) ?? false,
                      lastProcess.output ?? "")
        XCTAssertEqual(try harness.steps(ofRule: "upsell").count, 1, "only the earlier downgrade's upsell")

        // 14. Bob subscribes (paid, pro), ends, and subscribes again before the win-back is due.
        func bobSub(_ id: String, _ status: String) throws -> String {
            try subscription(id, customer: bobCustomer, status: status, price: Self.proMonthly, periodEnd: periodEnd)
        }
        try send("customer.subscription.created", try bobSub("sub_bob1", "active"), created: base + 300)
        requests = try expect("bob subscribed", stripe: ["GET /v1/customers/\(bobCustomer)"],
                              instantly: ["POST /api/v2/leads/list onboarding", "POST /api/v2/leads onboarding"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last), ["tier": "pro", "plan": "pro_monthly", "trial_end": ""] as NSDictionary)
        try send("customer.subscription.deleted", try bobSub("sub_bob1", "canceled"), created: base + 310)
        _ = try expect("bob ended", instantly: ["POST /api/v2/leads/list cancellation", "POST /api/v2/leads/list dunning"])
        try send("customer.subscription.created", try bobSub("sub_bob2", "active"), created: base + 320)
        _ = try expect("bob subscribed again", stripe: ["GET /v1/customers/\(bobCustomer)"], instantly: ["POST /api/v2/leads/list onboarding"])
        XCTAssertEqual(try harness.contact(bob)["payment_status"] as? String, "customer")

        // 15. A day short of the delay, nothing; at the delay, Ada gets the win-back and Bob's is skipped.
        try harness.advanceClock(by: (14 * Self.day - 3_600) * 1000)
        _ = try expect("13 days 23 hours later")
        XCTAssertEqual(try harness.steps(ofRule: "win-back").map(\.state), [.queued, .queued])
        try harness.advanceClock(by: 3_601 * 1000)
        requests = try expect("14 days later", instantly: ["POST /api/v2/leads/list winback", "POST /api/v2/leads winback"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last), ["tier": "starter", "plan": "starter_yearly"] as NSDictionary)
        XCTAssertEqual(harness.instantly.leads.filter { $0.campaign == Self.campaigns["winback"] }.map(\.email), [ada])
        let winBacks = try harness.steps(ofRule: "win-back")
        XCTAssertEqual(winBacks.map(\.state).sorted { $0.rawValue < $1.rawValue }, [.skipped, .succeeded])
        XCTAssertEqual(winBacks.compactMap(Job.skipReason(of:)), ["unless: the contact now matches the step's guard"],
                       "\(winBacks.map { $0.output ?? "" })")

        // Nothing failed for good, and every lead exists once per campaign.
        XCTAssertEqual(try harness.jobs().filter { $0.state == .dead }.map(\.kind), [])
        let leads = harness.instantly.leads.map { "\($0.email ?? "") \(name(ofCampaign: $0.campaign ?? ""))" }.sorted()
        XCTAssertEqual(leads, ["ada@example.com onboarding", "ada@example.com renewal", "ada@example.com upsell",
                               "ada@example.com winback", "bob@example.com onboarding"])
        let figures = String(format: "%.1f", Date().timeIntervalSince(started))
        print("subscription lifecycle: \(harness.stripe.requests.count) Stripe and \(harness.instantly.requests.count) Instantly requests in \(figures) s")
    }

    /// A subscription before 2025-03-31.basil: the period end on the subscription itself, not on its items.
    private func preBasilSubscription(_ id: String, customer: String, price: Price, periodEnd: Int64, cancelAtPeriodEnd: Bool) throws -> String {
        try json(["id": id, "object": "subscription", "customer": customer, "status": "active", "metadata": [String: String](),
                  "cancel_at_period_end": cancelAtPeriodEnd, "cancel_at": cancelAtPeriodEnd ? periodEnd as Any : NSNull(),
                  "current_period_start": periodEnd - 30 * Self.day, "current_period_end": periodEnd,
                  "plan": ["id": price.id, "object": "plan", "product": price.product],
                  "items": ["object": "list", "data": [["id": "si_\(id)", "object": "subscription_item", "price": price.json]]]])
    }

    /// An invoice before 2025-03-31.basil: its subscription at the top (`subscription`), its line's price expanded.
    private func preBasilInvoice(_ id: String, customer: String, email: String, subscription: String, status: String, attempt: Int,
                                 nextAttempt: Int64?, amountPaid: Int = 0) throws -> String {
        try json(["id": id, "object": "invoice", "customer": customer, "customer_email": email, "status": status, "currency": "usd",
                  "amount_due": 2900, "amount_paid": amountPaid, "attempt_count": attempt, "billing_reason": "subscription_cycle",
                  "next_payment_attempt": nextAttempt.map { $0 as Any } ?? NSNull(), "subscription": subscription,
                  "hosted_invoice_url": "https://invoice.stripe.com/i/acct_test/\(id)", "subscription_details": ["metadata": [String: String]()],
                  "lines": ["object": "list", "data": [["object": "line_item", "amount": 2900, "price": Self.starterMonthly.json]]]])
    }

    /// Scheduled cancellations by date (`cancel_at`, which `cancel_at: min_period_end|max_period_end` also resolve to)
    /// start and end cancellation prevention like `cancel_at_period_end` does (issue 13, item 15); an endpoint on an
    /// API version before 2025-03-31.basil drives dunning and cancellation prevention with its older shapes, and the
    /// daemon warns once about the version, which `stats` and `check-config` show (item 16).
    func testCancellationByDateAndEventsOfAnOlderAPIVersion() throws {
        let ada = "ada@example.com"
        let adaCustomer = harness.stripe.addCustomer(email: ada, name: "Ada").id
        try harness.start()
        let base = harness.now / 1000
        let periodEnd = base + 30 * Self.day
        let cancelAt = base + 10 * Self.day
        try send("customer.subscription.created", try subscription("sub_ada", customer: adaCustomer, status: "active",
                                                                    price: Self.starterMonthly, periodEnd: periodEnd), created: base)
        _ = try expect("subscribed", stripe: ["GET /v1/customers/\(adaCustomer)"],
                       instantly: ["POST /api/v2/leads/list onboarding", "POST /api/v2/leads onboarding"])

        // 1. A cancellation at a date (cancel_at set, cancel_at_period_end false): cancellation prevention, cancels_at
        // is that date.
        var object = subscriptionObject("sub_ada", customer: adaCustomer, status: "active", price: Self.starterMonthly, periodEnd: periodEnd)
        object["cancel_at"] = cancelAt
        try send("customer.subscription.updated", try json(object), previous: ["cancel_at": NSNull()], created: base + 10)
        var requests = try expect("cancellation at a date", instantly: ["POST /api/v2/leads/list cancellation", "POST /api/v2/leads cancellation"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last),
                       ["tier": "starter", "plan": "starter_monthly", "cancels_at": cancelAt] as NSDictionary)

        // 2. The date is cleared: out again.
        object["cancel_at"] = NSNull()
        try send("customer.subscription.updated", try json(object), previous: ["cancel_at": cancelAt], created: base + 20)
        _ = try expect("cancellation at a date withdrawn", instantly: ["POST /api/v2/leads/list cancellation", "DELETE /api/v2/leads/{id}"])
        XCTAssertNil(harness.instantly.lead(email: ada, campaign: Self.campaigns["cancellation"]))

        // 3. The endpoint is on an older version: a renewal fails (the invoice names its subscription at the top).
        let old = "2024-06-20"
        eventSerial += 1
        try harness.sendStripe("invoice.payment_failed", id: "evt_test_\(eventSerial)",
                               object: try preBasilInvoice("in_ada_old", customer: adaCustomer, email: ada, subscription: "sub_ada",
                                                           status: "open", attempt: 1, nextAttempt: base + 3 * Self.day),
                               created: base + 30, apiVersion: old)
        requests = try expect("older version: payment failed", instantly: [
            "POST /api/v2/leads/list dunning", "POST /api/v2/leads dunning",
            "POST /api/v2/leads/list dunning", "POST /api/v2/leads/list dunning", "PATCH /api/v2/leads/{id}",
        ])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.count == 5 ? requests.instantly[4] : nil),
                       ["hosted_invoice_url": "https://invoice.stripe.com/i/acct_test/in_ada_old", "attempt_count": 1,
                        "next_payment_attempt": base + 3 * Self.day] as NSDictionary)
        XCTAssertEqual(try harness.contact(ada)["payment_status"] as? String, "past_due")

        // 4. Paid: out of dunning.
        eventSerial += 1
        try harness.sendStripe("invoice.paid", id: "evt_test_\(eventSerial)",
                               object: try preBasilInvoice("in_ada_old", customer: adaCustomer, email: ada, subscription: "sub_ada",
                                                           status: "paid", attempt: 1, nextAttempt: nil, amountPaid: 2900),
                               created: base + 40, apiVersion: old)
        _ = try expect("older version: invoice paid", instantly: ["POST /api/v2/leads/list dunning", "DELETE /api/v2/leads/{id}"])
        XCTAssertNil(harness.instantly.lead(email: ada, campaign: Self.campaigns["dunning"]))

        // 5. A cancellation at the period end, the period end on the subscription: no template error, cancels_at is it.
        eventSerial += 1
        try harness.sendStripe("customer.subscription.updated", id: "evt_test_\(eventSerial)",
                               object: try preBasilSubscription("sub_ada", customer: adaCustomer, price: Self.starterMonthly,
                                                                periodEnd: periodEnd, cancelAtPeriodEnd: true),
                               previousAttributes: try json(["cancel_at_period_end": false, "cancel_at": NSNull()]),
                               created: base + 50, apiVersion: old)
        requests = try expect("older version: cancellation scheduled",
                              instantly: ["POST /api/v2/leads/list cancellation", "POST /api/v2/leads cancellation"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last),
                       ["tier": "starter", "plan": "starter_monthly", "cancels_at": periodEnd] as NSDictionary)
        XCTAssertEqual(try harness.jobs().filter { $0.state == .dead }.map(\.kind), [])

        // The version that differs from stripe.api_version is logged once, however many events carry it.
        let output = try XCTUnwrap(harness.daemon).output
        let warnings = output.split(separator: "\n").filter { $0.contains("Stripe event API version differs from stripe.api_version") }
        XCTAssertEqual(warnings.count, 1, output)
        XCTAssertTrue(warnings.first?.contains("\"api_version\":\"2024-06-20\"") ?? false, "\(warnings)")
        XCTAssertTrue(warnings.first?.contains("\"configured\":\"2025-12-15.clover\"") ?? false, "\(warnings)")

        // stats and check-config show the versions seen, with counts.
        let (status, stats) = try harness.cli(["stats"])
        XCTAssertEqual(status, 0, stats)
        let lines = stats.split(separator: "\n").filter { $0.contains(" events, last ") }
        XCTAssertEqual(lines.count, 2, stats)
        XCTAssertTrue(lines.first?.hasPrefix("stripe api 2024-06-20: 3 events, last 20") ?? false, stats)
        XCTAssertTrue(lines.first?.hasSuffix("differs from stripe.api_version 2025-12-15.clover: rules may not read its shapes (docs/operations.md)") ?? false, stats)
        XCTAssertTrue(lines.last?.hasPrefix("           2025-12-15.clover: 3 events, last 20") ?? false, stats)
        XCTAssertFalse(lines.last?.contains("differs") ?? true, stats)
        let (jsonStatus, statsJSON) = try harness.cli(["stats", "--json"])
        XCTAssertEqual(jsonStatus, 0, statsJSON)
        let versions = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(statsJSON.utf8)) as? [String: Any])?["stripe_api_versions"] as? [[String: Any]],
                                     statsJSON)
        XCTAssertEqual(versions.map { $0["version"] as? String }, [old, "2025-12-15.clover"])
        XCTAssertEqual(versions.map { $0["differs"] as? Bool }, [true, false])
        XCTAssertEqual(versions.map { $0["events"] as? Int }, [3, 3])
        let (checked, check) = try harness.cli(["check-config"])
        XCTAssertEqual(checked, 0, check)
        XCTAssertTrue(check.contains("  stripe events             2024-06-20: 3 events, last "), check)
    }

    /// `hookyard check-config` accepts the example with its variables set, and names a missing one.
    func testCheckConfigPassesWithTheVariablesSet() throws {
        let file = ScenarioHarnessPaths.example("subscription-lifecycle")
        let secrets = ["STRIPE_WEBHOOK_SECRET": DaemonProcess.stripeSecret, "INSTANTLY_WEBHOOK_SECRET": DaemonProcess.instantlySecret]
        let (status, output) = try DaemonProcess.run(["check-config", "--config", file],
                                                     environment: Self.environment.merging(secrets) { _, new in new })
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("rules                     11"), output)
        XCTAssertFalse(output.contains("warning"), "every event path the example reads is documented: \(output)")
        XCTAssertTrue(output.contains("win-back: instantly.add_lead after 14d unless the contact matches its guard"), output)

        var missing = Self.environment
        missing["INSTANTLY_WINBACK_CAMPAIGN_ID"] = nil
        let (failed, message) = try DaemonProcess.run(["check-config", "--config", file], environment: missing.merging(secrets) { _, new in new })
        XCTAssertEqual(failed, 1, message)
        XCTAssertTrue(message.contains("environment variable INSTANTLY_WINBACK_CAMPAIGN_ID is not set"), message)

        let (delayed, shown) = try DaemonProcess.run(["check-config", "--config", file],
                                                     environment: Self.environment.merging(secrets) { _, new in new }
                                                        .merging(["WINBACK_DELAY": "3d"]) { _, new in new })
        XCTAssertEqual(delayed, 0, shown)
        XCTAssertTrue(shown.contains("win-back: instantly.add_lead after 3d"), shown)
    }
}

/// Where the shipped examples are, from this file.
enum ScenarioHarnessPaths {
    static func example(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../deploy/examples/\(name).yaml").standardized.path
    }
}
