import Foundation
import Store
import TestSupport
import XCTest

/// The event-registration scenario end to end: the real daemon on `deploy/examples/event-registration.yaml`, its
/// catalog synced into the fake Stripe by `hookyard catalog sync`, signed Instantly and Stripe webhooks, and the fake
/// APIs' request logs. The event starts ten days from now, the early bird ends in four, and there are two seats; the
/// workflow clock is moved to each scheduled step's time instead of waiting for it.
final class EventRegistrationTests: XCTestCase {
    static let campaigns: [String: String] = [
        "announcement": "7e1d2c3b-0001-4a5b-8c7d-000000000001", "reminder": "7e1d2c3b-0002-4a5b-8c7d-000000000002",
        "last-call": "7e1d2c3b-0003-4a5b-8c7d-000000000003", "pre-event": "7e1d2c3b-0004-4a5b-8c7d-000000000004",
        "preparation": "7e1d2c3b-0005-4a5b-8c7d-000000000005", "follow-up": "7e1d2c3b-0006-4a5b-8c7d-000000000006",
    ]
    static let day: Int64 = 86_400_000

    /// Real time when the test set up, whole seconds (Unix milliseconds): the event's times are relative to it.
    var base: Int64 = 0
    var startsAt: Int64 { base + 10 * Self.day }
    var earlyBirdUntil: Int64 { base + 4 * Self.day }

    var environment: [String: String] {
        [
            "INSTANTLY_ANNOUNCEMENT_CAMPAIGN_ID": Self.campaigns["announcement"]!,
            "INSTANTLY_REMINDER_CAMPAIGN_ID": Self.campaigns["reminder"]!,
            "INSTANTLY_LAST_CALL_CAMPAIGN_ID": Self.campaigns["last-call"]!,
            "INSTANTLY_PRE_EVENT_CAMPAIGN_ID": Self.campaigns["pre-event"]!,
            "INSTANTLY_PREPARATION_CAMPAIGN_ID": Self.campaigns["preparation"]!,
            "INSTANTLY_FOLLOW_UP_CAMPAIGN_ID": Self.campaigns["follow-up"]!,
            "EVENT_STARTS_AT": ScenarioHarness.isoTime(startsAt), "EVENT_EARLY_BIRD_UNTIL": ScenarioHarness.isoTime(earlyBirdUntil),
            "EVENT_SEATS": "2",
            // EVENT_NAME, the amounts, EVENT_PREPARATION_BEFORE and EVENT_FOLLOW_UP_AFTER keep their defaults.
        ]
    }

    var harness: ScenarioHarness!
    /// Where each fake's request log stood at the start of the current phase.
    var mark = (stripe: 0, instantly: 0)
    var eventSerial = 0

    override func setUpWithError() throws {
        base = Int64(Date().timeIntervalSince1970) * 1000
        harness = try ScenarioHarness(example: "event-registration", environment: environment)
        for (name, id) in Self.campaigns { harness.instantly.addCampaign(id: id, name: name) }
    }

    override func tearDown() {
        harness?.stop()
        harness = nil
    }

    // MARK: Requests and state

    private func name(ofCampaign id: String) -> String { Self.campaigns.first { $0.value == id }?.key ?? id }

    /// `METHOD path [campaign]`, plus `(fault)` for a request that an injected fault answered (a `.delay` only lets a
    /// request through, so it is not marked). Instantly lead ids read `{id}`, campaign ids their names.
    private func describe(_ request: FakeAPIServer.Recorded) -> String {
        var path = request.path.hasPrefix("/api/v2/leads/") && request.path.count == "/api/v2/leads/".count + 36
            ? "/api/v2/leads/{id}" : request.path
        for (name, id) in Self.campaigns { path = path.replacingOccurrences(of: id, with: name) }
        var text = "\(request.method) \(path)"
        if let object = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any],
           let campaign = object["campaign"] as? String {
            text += " \(name(ofCampaign: campaign))"
        }
        switch request.fault {
        case nil, .delay?: break
        default: text += " (fault)"
        }
        return text
    }

    /// The requests since the last phase, and starts a new phase.
    private func phase() -> (stripe: [FakeAPIServer.Recorded], instantly: [FakeAPIServer.Recorded]) {
        let stripe = Array(harness.stripe.requests.dropFirst(mark.stripe))
        let instantly = Array(harness.instantly.requests.dropFirst(mark.instantly))
        mark = (mark.stripe + stripe.count, mark.instantly + instantly.count)
        return (stripe, instantly)
    }

    /// Settles, then asserts the requests of this phase, in order (sorted when `ordered` is false: flows of
    /// several contacts that come due together run side by side).
    @discardableResult
    private func expect(_ what: String, stripe: [String] = [], instantly: [String] = [], ordered: Bool = true,
                        file: StaticString = #filePath, line: UInt = #line) throws -> (stripe: [FakeAPIServer.Recorded], instantly: [FakeAPIServer.Recorded]) {
        try harness.settle()
        let requests = phase()
        let order: ([String]) -> [String] = { ordered ? $0 : $0.sorted() }
        XCTAssertEqual(order(requests.stripe.map(describe)), order(stripe), "\(what): Stripe requests", file: file, line: line)
        XCTAssertEqual(order(requests.instantly.map(describe)), order(instantly), "\(what): Instantly requests", file: file, line: line)
        return requests
    }

    /// A form body (or query) as a dictionary of its decoded pairs.
    private func form(_ text: String) -> [String: String] {
        Dictionary(FakeStripeAPI.decodeForm(text).map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }



    /// The payment link the offer made for `email` with the given tier (the newest, if several).
    private func link(of email: String, tier: String) throws -> FakeStripeAPI.PaymentLink {
        try XCTUnwrap(harness.stripe.paymentLinks.last { $0.metadata["lead_email"] == email && $0.metadata["hookyard_tier"] == tier },
                      "no \(tier) link for \(email)")
    }

    /// Each step job of `rule` for `email`, oldest first: `<step> <state>`, with `skipped: <why>` when its guard
    /// skipped it.
    private func steps(_ rule: String, of email: String) throws -> [String] {
        try harness.steps(ofRule: rule).filter { job in
            let input = (try? JSONSerialization.jsonObject(with: Data((job.input ?? "").utf8))) as? [String: Any]
            return input?["contact"] as? String == email
        }.map { job in
            let step = job.idempotencyKey.split(separator: ":").last.map(String.init) ?? job.idempotencyKey
            let output = (try? JSONSerialization.jsonObject(with: Data((job.output ?? "").utf8))) as? [String: Any]
            return "\(step) \(job.state.rawValue)" + ((output?["skipped"] as? String).map { ": \($0)" } ?? "")
        }
    }

    /// Moves the workflow clock to one second past `time` (Unix milliseconds), so what is due then runs.
    private func moveClock(to time: Int64) throws {
        try harness.advanceClock(by: max(0, time + 1000 - harness.now))
    }

    /// A paid session on `link`, delivered as `checkout.session.completed`; returns the body to redeliver.
    @discardableResult
    private func pay(_ link: FakeStripeAPI.PaymentLink, email: String) throws -> (session: FakeStripeAPI.CheckoutSession, body: [UInt8]) {
        let session = try harness.stripe.addCheckoutSession(paymentLinkID: link.id, email: email)
        eventSerial += 1
        let body = try harness.sendStripe("checkout.session.completed", id: "evt_event_\(eventSerial)", object: session.json)
        return (session, body)
    }

    /// A free tier (amount 0, as the catalog allows): Stripe completes the session with `payment_status:
    /// no_payment_required` and `amount_total: 0`. It registers the buyer like a paid one: the registration rule
    /// runs, the purchase of 0 is recorded, and the contact is a customer (issue 13, item 13).
    func testFreeTierRegistersLikeAPaidOne() throws {
        harness.stop()
        harness = try ScenarioHarness(example: "event-registration", environment: environment.merging(["EVENT_EARLY_BIRD_AMOUNT": "0"]) { _, new in new })
        for (name, id) in Self.campaigns { harness.instantly.addCampaign(id: id, name: name) }
        let ada = "ada@example.com", announcement = Self.campaigns["announcement"]!
        harness.instantly.addLead(email: ada, campaign: announcement)
        try harness.start()
        let (synced, report) = try harness.cli(["catalog", "sync"])
        XCTAssertEqual(synced, 0, report)
        _ = phase()

        try harness.sendInstantly("lead_interested", email: ada, campaign: announcement)
        try expect("ada interested", stripe: ["GET /v1/customers", "GET /v1/customers/search", "POST /v1/customers", "GET /v1/prices", "POST /v1/payment_links"],
                   instantly: ["POST /api/v2/leads/list announcement", "PATCH /api/v2/leads/{id}"])
        let adaLink = try link(of: ada, tier: "early-bird")
        let paid = try pay(adaLink, email: ada)
        XCTAssertEqual(paid.session.object["payment_status"], "no_payment_required")
        XCTAssertEqual(paid.session.amountTotal, 0)
        try expect("ada registered for free", stripe: ["GET /v1/payment_links/\(adaLink.id)"], instantly: [
            "POST /api/v2/leads/list reminder", "POST /api/v2/leads/list last-call",
            "POST /api/v2/leads/list pre-event", "POST /api/v2/leads pre-event",
        ])
        let state = try harness.contact(ada)
        XCTAssertEqual(state["registered_for"] as? [String], ["event"])
        XCTAssertEqual(state["payment_status"] as? String, "customer")
        XCTAssertEqual(state["tier"] as? String, "early-bird")
        let (status, stats) = try harness.cli(["stats", "--json"])
        XCTAssertEqual(status, 0, stats)
        let purchases = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])?["purchases"] as? [String: Any], stats)
        XCTAssertEqual(purchases["usd"] as? NSDictionary, ["count": 1, "amount": 0] as NSDictionary, stats)
        XCTAssertEqual(try harness.jobs().filter { $0.state == .dead }.map(\.kind), [])
    }

    // MARK: The scenario

    func testEventRegistrationEndToEnd() throws {
        let started = Date()
        let ada = "ada@example.com", bob = "bob@example.com", carol = "carol@example.com", dave = "dave@example.com"
        let announcement = Self.campaigns["announcement"]!
        for lead in [ada, bob, carol, dave] { harness.instantly.addLead(email: lead, campaign: announcement) }
        try harness.start()

        // 0. The catalog into Stripe: one product, three prices with their lookup keys.
        let (synced, report) = try harness.cli(["catalog", "sync"])
        XCTAssertEqual(synced, 0, report)
        let prices = Dictionary(harness.stripe.prices.values.compactMap { price in price.lookupKey.map { ($0, price) } },
                                uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(prices.mapValues(\.unitAmount), ["event-early-bird": 4900, "event-regular": 9900, "event-vip": 19900])
        XCTAssertEqual(harness.stripe.products.map(\.metadata), [["hookyard_product": "event"]])
        _ = phase()

        // 1. Ada is interested before the deadline: a customer, an early-bird link for one seat, on her lead. Stripe
        // answers the link create with a 500 once: retried, one link.
        harness.stripe.inject(.delay(.zero), .delay(.zero), .delay(.zero), .delay(.zero),
                              .status(500, headers: [], body: #"{"error":{"type":"api_error","message":"injected"}}"#))
        let adaInterested = try harness.sendInstantly("lead_interested", email: ada, campaign: announcement)
        var requests = try expect("ada interested", stripe: [
            "GET /v1/customers", "GET /v1/customers/search", "POST /v1/customers", "GET /v1/prices", "POST /v1/payment_links (fault)",
            "GET /v1/prices", "POST /v1/payment_links",
        ], instantly: ["POST /api/v2/leads/list announcement", "PATCH /api/v2/leads/{id}"])
        let adaLink = try link(of: ada, tier: "early-bird")
        let create = form(try XCTUnwrap(requests.stripe.last).body)
        XCTAssertEqual(create["line_items[0][price]"], prices["event-early-bird"]?.id)
        XCTAssertEqual(create["line_items[0][quantity]"], "1")
        XCTAssertEqual(create["restrictions[completed_sessions][limit]"], "1")
        XCTAssertEqual(create["metadata[hookyard_product]"], "event")
        XCTAssertEqual(create["metadata[hookyard_tier]"], "early-bird")
        XCTAssertEqual(create["metadata[lead_email]"], ada)
        XCTAssertEqual(create["metadata[instantly_campaign_id]"], announcement)
        XCTAssertEqual(create["metadata[stripe_customer_id]"], harness.stripe.customers.first?.id)
        XCTAssertEqual(harness.stripe.paymentLinks.count, 1, "the retry made no second link")
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last),
                       ["payment_link": adaLink.url + "?prefilled_email=ada%40example.com", "tier": "early-bird"] as NSDictionary)

        // The same delivery again, and a click by her later: the offer is made once per lead.
        try harness.deliver(instantly: adaInterested)
        try harness.sendInstantly("email_link_clicked", email: ada, campaign: announcement)
        try expect("ada again")

        // 2. Bob clicks; Instantly answers the lead lookup with a 429 once.
        harness.instantly.inject(.status(429, headers: [("Retry-After", "0")],
                                         body: #"{"statusCode":429,"error":"Too Many Requests","message":"injected"}"#))
        try harness.sendInstantly("email_link_clicked", email: bob, campaign: announcement)
        try expect("bob clicked", stripe: ["GET /v1/customers", "GET /v1/customers/search", "POST /v1/customers", "GET /v1/prices", "POST /v1/payment_links"],
                   instantly: ["POST /api/v2/leads/list announcement (fault)", "POST /api/v2/leads/list announcement",
                               "PATCH /api/v2/leads/{id}"])
        let bobEarlyLink = try link(of: bob, tier: "early-bird")
        XCTAssertEqual(harness.instantly.lead(email: bob, campaign: announcement)?.payload["tier"], "early-bird")

        // 3. Ada pays: registered, the purchase recorded, out of the reminder campaigns (she is in neither), into
        // the pre-event campaign. Stripe delivers the event twice.
        let adaPaid = try pay(adaLink, email: ada)
        requests = try expect("ada paid", stripe: ["GET /v1/payment_links/\(adaLink.id)"], instantly: [
            "POST /api/v2/leads/list reminder", "POST /api/v2/leads/list last-call",
            "POST /api/v2/leads/list pre-event", "POST /api/v2/leads pre-event",
        ])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last), ["tier": "early-bird", "event_name": "Growth workshop"] as NSDictionary)
        let state = try harness.contact(ada)
        XCTAssertEqual(state["registered_for"] as? [String], ["event"])
        XCTAssertEqual(state["segments"] as? [String], ["registered"])
        XCTAssertEqual(state["revenue"] as? [String: Int], ["usd": 4900])
        try harness.deliver(stripe: adaPaid.body)
        try expect("ada's payment redelivered")
        XCTAssertEqual(try harness.contact(ada)["revenue"] as? [String: Int], ["usd": 4900], "the purchase is recorded once")

        // 4. A restart while the steps wait (the offers' reminders, the registration's preparation): stopped, then
        // killed, then started again.
        XCTAssertEqual(try steps("registration-offer", of: bob).last, "early-bird-reminder queued")
        XCTAssertEqual(try harness.steps(ofRule: "registration").last.map { "\($0.idempotencyKey.split(separator: ":").last ?? "") \($0.state.rawValue)" },
                       "preparation queued")
        XCTAssertEqual(harness.stop(), 0)
        try harness.start()
        harness.kill()
        try harness.start()
        try expect("restarted")

        // 5. An hour before the reminder, nothing; at deadline - 2d, Bob gets the reminder with his link, Ada (registered) not.
        try harness.advanceClock(by: earlyBirdUntil - 2 * Self.day - 3_600_000 - harness.now)
        try expect("an hour before the reminder")
        try moveClock(to: earlyBirdUntil - 2 * Self.day)
        requests = try expect("early-bird reminder", instantly: ["POST /api/v2/leads/list reminder", "POST /api/v2/leads reminder"])
        XCTAssertEqual(try ScenarioHarness.customVariables(requests.instantly.last),
                       ["payment_link": bobEarlyLink.url + "?prefilled_email=bob%40example.com"] as NSDictionary)

        // 6. The early bird ends: Bob's link is switched off; Ada's (used) is left alone.
        try moveClock(to: earlyBirdUntil)
        requests = try expect("early bird ends", stripe: ["GET /v1/payment_links/\(bobEarlyLink.id)", "POST /v1/payment_links/\(bobEarlyLink.id)"])
        XCTAssertEqual(form(try XCTUnwrap(requests.stripe.last).body), ["active": "false"])
        XCTAssertEqual(try link(of: bob, tier: "early-bird").active, false)

        // 7. Carol and Dave arrive after the deadline: regular links.
        var regularCreates: [FakeAPIServer.Recorded] = []
        for (lead, type) in [(carol, "lead_interested"), (dave, "email_link_clicked")] {
            try harness.sendInstantly(type, email: lead, campaign: announcement)
            requests = try expect("\(lead) after the deadline",
                                  stripe: ["GET /v1/customers", "GET /v1/customers/search", "POST /v1/customers", "GET /v1/prices", "POST /v1/payment_links"],
                                  instantly: ["POST /api/v2/leads/list announcement", "PATCH /api/v2/leads/{id}"])
            regularCreates += requests.stripe.suffix(1)
        }
        let carolLink = try link(of: carol, tier: "regular"), daveLink = try link(of: dave, tier: "regular")
        XCTAssertEqual(regularCreates.map { form($0.body)["line_items[0][price]"] }, [prices["event-regular"]?.id, prices["event-regular"]?.id])
        XCTAssertEqual(regularCreates.map { form($0.body)["restrictions[completed_sessions][limit]"] }, ["1", "1"])
        XCTAssertEqual(harness.instantly.lead(email: dave, campaign: announcement)?.payload["tier"], "regular")

        // 8. Carol pays: the second of two seats. Every active event link is switched off (Dave's), both reminder
        // campaigns are paused, and Carol joins the pre-event campaign.
        let carolPaid = try pay(carolLink, email: carol)
        requests = try expect("sold out", stripe: [
            "GET /v1/payment_links/\(carolLink.id)", "GET /v1/payment_links", "POST /v1/payment_links/\(daveLink.id)",
        ], instantly: [
            "GET /api/v2/campaigns/reminder", "POST /api/v2/campaigns/reminder/pause",
            "GET /api/v2/campaigns/last-call", "POST /api/v2/campaigns/last-call/pause",
            "POST /api/v2/leads/list reminder", "POST /api/v2/leads/list last-call",
            "POST /api/v2/leads/list pre-event", "POST /api/v2/leads pre-event",
        ])
        XCTAssertEqual(form(String(requests.stripe[1].target.drop { $0 != "?" }.dropFirst())), ["active": "true", "limit": "100"])
        XCTAssertEqual(form(requests.stripe[2].body), ["active": "false"])
        XCTAssertEqual(harness.stripe.paymentLinks.filter(\.active).map(\.id), [])
        XCTAssertEqual(harness.instantly.campaign(id: Self.campaigns["reminder"]!)?.status, 2)
        XCTAssertEqual(harness.instantly.campaign(id: Self.campaigns["last-call"]!)?.status, 2)
        XCTAssertEqual(try harness.contact(carol)["registered_for"] as? [String], ["event"])
        try harness.deliver(stripe: carolPaid.body)
        eventSerial += 1
        try harness.sendStripe("checkout.session.async_payment_succeeded", id: "evt_event_\(eventSerial)", object: carolPaid.session.json)
        try expect("carol's payment redelivered, and the same session as another event")
        XCTAssertEqual(try harness.contact(carol)["revenue"] as? [String: Int], ["usd": 9900])

        // 9. Start - 3d: no regular link for Bob (sold out); Dave had a regular one. Start - 2d: no last call.
        try moveClock(to: startsAt - 3 * Self.day)
        try expect("start - 3d")
        try moveClock(to: startsAt - 2 * Self.day)
        try expect("start - 2d")
        XCTAssertEqual(harness.stripe.paymentLinks.count, 4, "no new link after the sell-out")
        let offer = ["customer succeeded", "link succeeded", "set-link succeeded"]
        let notEarlyBird = #"when: condition steps.link.tier_name = "early-bird" does not hold"#
        XCTAssertEqual(try steps("registration-offer", of: ada), offer + [
            "early-bird-reminder skipped: unless: the contact now matches the step's guard",
        ])
        XCTAssertEqual(try steps("registration-offer", of: bob), offer + [
            "early-bird-reminder succeeded", "end-early-bird-link succeeded",
            "regular-link skipped: when: condition catalog.event.sold_out = false does not hold",
            "last-call skipped: if: condition catalog.event.sold_out = false does not hold",
        ])
        XCTAssertEqual(try steps("registration-offer", of: dave), offer + [
            "early-bird-reminder skipped: \(notEarlyBird)", "end-early-bird-link skipped: \(notEarlyBird)",
            "regular-link skipped: \(notEarlyBird)",
            "last-call skipped: if: condition catalog.event.sold_out = false does not hold",
        ])
        XCTAssertEqual(try steps("registration-offer", of: carol), offer + [
            "early-bird-reminder skipped: \(notEarlyBird)", "end-early-bird-link skipped: \(notEarlyBird)",
            "regular-link skipped: unless: the contact now matches the step's guard",
        ])

        // 10. Start - 1d: the preparation sequence for Ada and Carol; start + 1d: the follow-up.
        try moveClock(to: startsAt - Self.day)
        try expect("preparation", instantly: ["POST /api/v2/leads/list preparation", "POST /api/v2/leads preparation",
                                             "POST /api/v2/leads/list preparation", "POST /api/v2/leads preparation"], ordered: false)
        try moveClock(to: startsAt + Self.day)
        try expect("follow-up", instantly: ["POST /api/v2/leads/list follow-up", "POST /api/v2/leads follow-up",
                                           "POST /api/v2/leads/list follow-up", "POST /api/v2/leads follow-up"], ordered: false)

        // Nothing failed for good, and every lead exists once per campaign.
        XCTAssertEqual(try harness.jobs().filter { $0.state == .dead }.map(\.kind), [])
        XCTAssertEqual(try harness.jobs().filter { $0.state == .queued }.map(\.idempotencyKey), [])
        let leads = harness.instantly.leads.map { "\($0.email ?? "") \(name(ofCampaign: $0.campaign ?? ""))" }.sorted()
        XCTAssertEqual(leads, [
            "ada@example.com announcement", "ada@example.com follow-up", "ada@example.com pre-event", "ada@example.com preparation",
            "bob@example.com announcement", "bob@example.com reminder",
            "carol@example.com announcement", "carol@example.com follow-up", "carol@example.com pre-event", "carol@example.com preparation",
            "dave@example.com announcement",
        ])
        let (listed, registered) = try harness.cli(["contacts", "list", "--segment", "registered"])
        XCTAssertEqual(listed, 0, registered)
        XCTAssertTrue(registered.contains(ada) && registered.contains(carol) && !registered.contains(bob), registered)
        let figures = String(format: "%.1f", Date().timeIntervalSince(started))
        print("event registration: \(harness.stripe.requests.count) Stripe and \(harness.instantly.requests.count) Instantly requests in \(figures) s")
    }

    /// `hookyard check-config` accepts the example with its variables set, shows the scheduled steps' times, and
    /// names a missing variable.
    func testCheckConfigPassesWithTheVariablesSet() throws {
        let file = ScenarioHarnessPaths.example("event-registration")
        let secrets = ["STRIPE_WEBHOOK_SECRET": DaemonProcess.stripeSecret, "INSTANTLY_WEBHOOK_SECRET": DaemonProcess.instantlySecret]
        let (status, output) = try DaemonProcess.run(["check-config", "--config", file], environment: environment.merging(secrets) { _, new in new })
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("rules                     2"), output)
        XCTAssertFalse(output.contains("warning"), "every event path the example reads is documented: \(output)")
        for line in [
            "early-bird-reminder: instantly.add_lead at {{ catalog.event.tiers.early-bird.available_until }} - 2d when steps.link.tier_name = \"early-bird\" and catalog.event.sold_out = false unless the contact matches its guard",
            "last-call: instantly.add_lead at {{ catalog.event.starts_at }} - 2d if catalog.event.sold_out = false unless the contact matches its guard",
            "sold-out-links: stripe.deactivate_payment_links when steps.register.sold_out = true",
            "preparation: instantly.add_lead at {{ catalog.event.starts_at }} - 1d",
            "follow-up: instantly.add_lead at {{ catalog.event.starts_at }} + 1d",
        ] {
            XCTAssertTrue(output.contains(line), "\(line)\n\(output)")
        }

        let (changed, shown) = try DaemonProcess.run(["check-config", "--config", file],
                                                     environment: environment.merging(secrets) { _, new in new }
                                                        .merging(["EVENT_PREPARATION_BEFORE": "12h", "EVENT_FOLLOW_UP_AFTER": "2d"]) { _, new in new })
        XCTAssertEqual(changed, 0, shown)
        XCTAssertTrue(shown.contains("preparation: instantly.add_lead at {{ catalog.event.starts_at }} - 12h"), shown)
        XCTAssertTrue(shown.contains("follow-up: instantly.add_lead at {{ catalog.event.starts_at }} + 2d"), shown)

        var missing = environment
        missing["EVENT_STARTS_AT"] = nil
        let (failed, message) = try DaemonProcess.run(["check-config", "--config", file], environment: missing.merging(secrets) { _, new in new })
        XCTAssertEqual(failed, 1, message)
        XCTAssertTrue(message.contains("environment variable EVENT_STARTS_AT is not set"), message)
    }

    /// The fake's `GET /v1/payment_links`, which `stripe.deactivate_payment_links` reads: newest first, `active=`
    /// filters, `limit` pages with `has_more`, `starting_after` continues.
    func testFakeStripeListsPaymentLinksNewestFirstInPages() throws {
        let fake = try FakeStripeAPI()
        fake.addPrice(id: "price_seat", unitAmount: 4900)
        let client = try TestHTTPClient(port: fake.server.port, timeoutSeconds: 5)
        let authorization = ("Authorization", "Bearer \(fake.apiKey)")
        for number in 1...4 {
            let created = try client.roundTrip("POST", "/v1/payment_links", headers: [authorization, ("Content-Type", "application/x-www-form-urlencoded")],
                                               body: Array("line_items[0][price]=price_seat&line_items[0][quantity]=1&metadata[n]=\(number)".utf8))
            XCTAssertEqual(created.status, 200, created.bodyText)
        }
        let off = try client.roundTrip("POST", "/v1/payment_links/plink_3", headers: [authorization], body: Array("active=false".utf8))
        XCTAssertEqual(off.status, 200, off.bodyText)
        func list(_ query: String) throws -> (ids: [String], hasMore: Bool?) {
            let response = try client.roundTrip("GET", "/v1/payment_links?\(query)", headers: [authorization])
            XCTAssertEqual(response.status, 200, response.bodyText)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            let data = try XCTUnwrap(object["data"] as? [[String: Any]], response.bodyText)
            return (data.compactMap { $0["id"] as? String }, object["has_more"] as? Bool)
        }
        var page = try list("limit=10")
        XCTAssertEqual(page.ids, ["plink_4", "plink_3", "plink_2", "plink_1"])
        XCTAssertEqual(page.hasMore, false)
        page = try list("active=true&limit=2")
        XCTAssertEqual(page.ids, ["plink_4", "plink_2"])
        XCTAssertEqual(page.hasMore, true)
        page = try list("active=true&limit=2&starting_after=plink_2")
        XCTAssertEqual(page.ids, ["plink_1"])
        XCTAssertEqual(page.hasMore, false)
        XCTAssertEqual(try list("active=false").ids, ["plink_3"])
        XCTAssertEqual(try client.roundTrip("GET", "/v1/payment_links?limit=101", headers: [authorization]).status, 400)
        XCTAssertEqual(try client.roundTrip("GET", "/v1/payment_links?starting_after=plink_9", headers: [authorization]).status, 400)
        XCTAssertEqual(try client.roundTrip("GET", "/v1/payment_links?shippable=true", headers: [authorization]).status, 400)
    }
}
