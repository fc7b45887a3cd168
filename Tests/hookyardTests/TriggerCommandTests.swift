import Contacts
import Foundation
@testable import HookyardConfiguration
@testable import hookyard
import Intake
import Outbound
import Store
import StrictJSON
import TestSupport
import XCTest

/// `hookyard trigger`: the payloads it builds (in-process), and deliveries to the real daemon.
final class TriggerCommandTests: XCTestCase {
    // MARK: Payloads

    private let context = EventTemplates.Context(email: "Ann@Example.com", nowMilliseconds: 1_795_000_000_123,
                                                 stripeAPIVersion: "2025-12-15.clover")

    private let idPrefixes: [String: (object: String, id: String)] = [
        "checkout.session.": ("checkout.session", "cs_test_"), "customer.subscription.": ("subscription", "sub_"),
        "customer.created": ("customer", "cus_"), "customer.updated": ("customer", "cus_"), "invoice.": ("invoice", "in_"),
        "charge.": ("charge", "ch_"), "payment_intent.": ("payment_intent", "pi_"),
    ]

    func testEveryStripeTemplateIsAnEventHookyardReadsThePersonFrom() throws {
        let reader = ContactEventReader()
        for type in EventTemplates.stripeTypes {
            let payload = try XCTUnwrap(EventTemplates.stripe(type, context), type)
            let event = try StripeEvent.normalize(body: payload.bytes, receivedAt: 0, headers: [])
            XCTAssertEqual(event.type, type)
            XCTAssertTrue(event.eventID?.hasPrefix("evt_1") ?? false, type)
            XCTAssertEqual(payload["object"], .string("event"), type)
            XCTAssertEqual(payload["api_version"], .string("2025-12-15.clover"), type)
            XCTAssertEqual(payload["created"], .integer(1_795_000_000), type)
            XCTAssertEqual(payload["livemode"], .bool(false), type)
            let object = try XCTUnwrap(payload[path: ["data", "object"]]?.objectValue, type)
            let prefix = try XCTUnwrap(idPrefixes.first { type.hasPrefix($0.key) }?.value, type)
            XCTAssertEqual(object["object"], .string(prefix.object), type)
            if type != "invoice.upcoming" { XCTAssertTrue(object["id"]?.stringValue?.hasPrefix(prefix.id) ?? false, type) }
            let observation = try XCTUnwrap(reader.observation(eventID: 1, source: .stripe, type: type, body: payload, receivedAt: 0), type)
            XCTAssertEqual(observation.email, "ann@example.com", type)
            XCTAssertTrue(observation.stripeCustomerID?.hasPrefix("cus_") ?? false, type)
        }
        XCTAssertNil(EventTemplates.stripe("charge.succeeded.nope", context))
    }

    func testStripeTemplatesHaveTheShapesOfTheirTypes() throws {
        func object(_ type: String) throws -> JSONValue { try XCTUnwrap(EventTemplates.stripe(type, context)?[path: ["data", "object"]]) }
        let session = try object("checkout.session.completed")
        XCTAssertTrue(session["id"]?.stringValue?.hasPrefix("cs_test_") ?? false)
        XCTAssertEqual(session[path: ["customer_details", "email"]], .string("Ann@Example.com"))
        XCTAssertEqual(session[path: ["metadata", "hookyard_email"]], .string("Ann@Example.com"))
        XCTAssertEqual(session["payment_status"], .string("paid"))
        XCTAssertEqual(session["amount_total"], .integer(4900))

        let invoice = try object("invoice.paid")
        XCTAssertTrue(invoice["id"]?.stringValue?.hasPrefix("in_") ?? false)
        XCTAssertTrue(invoice[path: ["parent", "subscription_details", "subscription"]]?.stringValue?.hasPrefix("sub_") ?? false)
        XCTAssertEqual(invoice[path: ["lines", "data", "0", "pricing", "price_details", "price"]], .string(EventTemplates.price))
        XCTAssertEqual(invoice["amount_paid"], .integer(4900))
        XCTAssertNil(try object("invoice.upcoming")["id"], "an upcoming invoice has no id")
        XCTAssertEqual(try object("invoice.payment_failed")["amount_paid"], .integer(0))

        let subscription = try object("customer.subscription.created")
        XCTAssertEqual(subscription[path: ["items", "data", "0", "price", "id"]], .string(EventTemplates.price))
        XCTAssertNotNil(subscription[path: ["items", "data", "0", "current_period_end"]]?.int64Value)
        XCTAssertEqual(try object("customer.subscription.deleted")["status"], .string("canceled"))
        XCTAssertEqual(try object("customer.subscription.trial_will_end")["status"], .string("trialing"))
        let updated = try XCTUnwrap(EventTemplates.stripe("customer.subscription.updated", context))
        XCTAssertEqual(updated[path: ["data", "object", "cancel_at_period_end"]], .bool(true))
        XCTAssertEqual(updated[path: ["data", "previous_attributes", "cancel_at_period_end"]], .bool(false))

        XCTAssertTrue(try object("charge.refunded")["id"]?.stringValue?.hasPrefix("ch_") ?? false)
        XCTAssertTrue(try object("payment_intent.succeeded")["id"]?.stringValue?.hasPrefix("pi_") ?? false)
    }

    func testOnePersonsEventsShareCustomerAndSubscription() throws {
        func ids(_ type: String, _ email: String) throws -> (JSONValue?, JSONValue?) {
            var other = context
            other.email = email
            let object = try XCTUnwrap(EventTemplates.stripe(type, other)?[path: ["data", "object"]])
            return (object["customer"] ?? object["id"],
                    object[path: ["parent", "subscription_details", "subscription"]] ?? object["id"])
        }
        let created = try ids("customer.subscription.created", "ann@example.com")
        let paid = try ids("invoice.paid", "ANN@example.com")
        XCTAssertEqual(created.1, paid.1, "same subscription")
        XCTAssertEqual(try ids("customer.created", "ann@example.com").0, paid.0, "same customer")
        XCTAssertNotEqual(try ids("invoice.paid", "bob@example.com").0, paid.0)
        XCTAssertNotEqual(EventTemplates.stripe("invoice.paid", context)?["id"], EventTemplates.stripe("invoice.paid", context)?["id"],
                          "event ids are random")
    }

    func testEveryInstantlyTemplateIsADeliveryHookyardAccepts() throws {
        XCTAssertEqual(Set(EventTemplates.instantlyTypes), InstantlyEvent.knownTypes)
        let reader = ContactEventReader()
        for type in EventTemplates.instantlyTypes + ["link_clicked"] {
            let payload = try XCTUnwrap(EventTemplates.instantly(type, context), type)
            let event = try InstantlyEvent.normalize(body: payload.bytes, receivedAt: 0, headers: [])
            XCTAssertEqual(event.type, InstantlyEvent.canonicalType(type))
            XCTAssertEqual(payload["timestamp"], .string("2026-11-18T11:06:40.123Z"), type)
            XCTAssertEqual(payload["campaign_id"], .string(EventTemplates.instantlyCampaign), type)
            XCTAssertNotNil(payload["campaign_name"]?.stringValue, type)
            let observation = reader.observation(eventID: 1, source: .instantly, type: event.type, body: payload, receivedAt: 0)
            if type == "campaign_completed" || type == "account_error" {
                XCTAssertNil(payload["lead_email"], type)
            } else {
                XCTAssertEqual(observation?.email, "ann@example.com", type)
                XCTAssertEqual(payload["step"], .integer(1), type)
                XCTAssertNotNil(payload["email_account"]?.stringValue, type)
            }
        }
        XCTAssertNotNil(EventTemplates.instantly("email_link_clicked", context)?["link"])
        XCTAssertNotNil(EventTemplates.instantly("reply_received", context)?["reply_text"])
        XCTAssertNil(EventTemplates.instantly("email.sent", context))
    }

    // MARK: --set

    func testSetValuesAreJSONWhenTheyParseElseText() throws {
        let cases: [(String, [String], JSONValue)] = [
            ("data.object.amount_total=9900", ["data", "object", "amount_total"], .integer(9900)),
            ("livemode=true", ["livemode"], .bool(true)),
            ("a=null", ["a"], .null),
            (#"a="9900""#, ["a"], .string("9900")),
            (#"a={"k":[1]}"#, ["a"], .object(["k": .array([.integer(1)])])),
            ("campaign_id=abc-def", ["campaign_id"], .string("abc-def")),
            ("url=https://x.example/?a=b", ["url"], .string("https://x.example/?a=b")),
            ("empty=", ["empty"], .string("")),
        ]
        for (text, path, value) in cases {
            let assignment = try FieldAssignment(parsing: text)
            XCTAssertEqual(assignment.path, path, text)
            XCTAssertEqual(assignment.value, value, text)
        }
        XCTAssertThrowsError(try FieldAssignment(parsing: "no-equals"))
        XCTAssertThrowsError(try FieldAssignment(parsing: "a..b=1"))
    }

    func testSetReplacesAddsAndIndexesArrays() throws {
        var payload = try JSONValue.parse(#"{"data":{"object":{"amount":1,"lines":{"data":[{"price":"p1"}]}}}}"#)
        try FieldAssignment(parsing: "data.object.amount=2").apply(to: &payload)
        try FieldAssignment(parsing: "data.object.metadata.hookyard_campaign=c1").apply(to: &payload)
        try FieldAssignment(parsing: "data.object.lines.data.0.price=p2").apply(to: &payload)
        try FieldAssignment(parsing: "data.object.lines.data.1.price=p3").apply(to: &payload)
        XCTAssertEqual(payload, try JSONValue.parse("""
            {"data":{"object":{"amount":2,"metadata":{"hookyard_campaign":"c1"},"lines":{"data":[{"price":"p2"},{"price":"p3"}]}}}}
            """))
        XCTAssertThrowsError(try FieldAssignment(parsing: "data.object.amount.currency=usd").apply(to: &payload)) { error in
            XCTAssertTrue("\(error)".contains("data.object.amount is 2"), "\(error)")
        }
        XCTAssertThrowsError(try FieldAssignment(parsing: "data.object.lines.data.5.price=x").apply(to: &payload))
    }

    // MARK: Signing

    func testRequestsAreSignedWithTheConfiguredSecrets() throws {
        var settings = HookyardConfiguration()
        settings.stripe.webhookSecrets = ["whsec_first", "whsec_second"]
        settings.instantly.webhookSecrets = ["inst-secret"]
        settings.instantly.secretHeader = "X-Hook-Token"
        let now: Int64 = 1_795_000_000_000
        let stripe = try TriggeredEvent(source: .stripe, type: "invoice.paid", email: "a@b.example", assignments: [])
            .request(settings: settings, base: "http://127.0.0.1:8080", nowMilliseconds: now)
        XCTAssertEqual(stripe.url, "http://127.0.0.1:8080/webhooks/stripe")
        let signature = stripe.headers.first { $0.0 == "Stripe-Signature" }?.1
        XCTAssertNoThrow(try StripeSignatureVerifier(secrets: ["whsec_first"]).verify(header: signature, body: stripe.body, now: now / 1000).get())
        XCTAssertThrowsError(try StripeSignatureVerifier(secrets: ["whsec_second"]).verify(header: signature, body: stripe.body, now: now / 1000).get())
        XCTAssertEqual(stripe.eventID, try JSONValue.parse(stripe.body)["id"]?.stringValue)

        let instantly = try TriggeredEvent(source: .instantly, type: "lead_interested", email: nil, assignments: [])
            .request(settings: settings, base: "http://h:1", nowMilliseconds: now)
        XCTAssertEqual(instantly.url, "http://h:1/webhooks/instantly")
        let header = instantly.headers.first { $0.0 == "X-Hook-Token" }?.1
        XCTAssertTrue(InstantlySecretVerifier(secrets: ["inst-secret"], headerName: "X-Hook-Token")
            .isAuthentic(authorization: nil, secretHeader: header, pathSecret: nil))
        XCTAssertNil(instantly.eventID)

        settings.stripe.webhookSecrets = []
        XCTAssertThrowsError(try TriggeredEvent(source: .stripe, type: "invoice.paid", email: nil, assignments: [])
            .request(settings: settings, base: "http://h:1", nowMilliseconds: now)) { error in
            XCTAssertTrue("\(error)".contains("STRIPE_WEBHOOK_SECRET is not set"), "\(error)")
        }
    }

    func testUnknownTypesAndBadEmailsAreRefused() {
        XCTAssertThrowsError(try TriggeredEvent(source: .stripe, type: "lead_interested", email: nil, assignments: [])) { error in
            XCTAssertTrue("\(error)".contains("unknown Stripe event type 'lead_interested'; known types: checkout.session.completed"), "\(error)")
        }
        XCTAssertThrowsError(try TriggeredEvent(source: .instantly, type: "invoice.paid", email: nil, assignments: []))
        XCTAssertThrowsError(try TriggeredEvent(source: .instantly, type: "email_sent", email: "nobody", assignments: []))
    }

    func testBaseURL() {
        XCTAssertEqual(TriggeredEvent.baseURL(to: "http://host:9/", listen: "x"), "http://host:9")
        XCTAssertEqual(TriggeredEvent.baseURL(to: nil, listen: "127.0.0.1:8080"), "http://127.0.0.1:8080")
        XCTAssertEqual(TriggeredEvent.baseURL(to: nil, listen: "0.0.0.0:8080"), "http://127.0.0.1:8080")
        XCTAssertEqual(TriggeredEvent.baseURL(to: nil, listen: ":8080"), "http://127.0.0.1:8080")
        XCTAssertEqual(TriggeredEvent.baseURL(to: nil, listen: "[::]:8080"), "http://[::1]:8080")
    }

    // MARK: Against the daemon

    private func trigger(_ daemon: DaemonProcess, _ arguments: [String], stripeSecret: String = DaemonProcess.stripeSecret,
                         instantlySecret: String = DaemonProcess.instantlySecret, config: Bool = false) throws -> (Int32, String) {
        var arguments = ["trigger"] + arguments + ["--to", "http://127.0.0.1:\(daemon.port)"]
        if config { arguments += ["--config", daemon.directory.appendingPathComponent("hookyard.yaml").path] }
        return try daemon.run(arguments, environment: ["STRIPE_WEBHOOK_SECRET": stripeSecret, "INSTANTLY_WEBHOOK_SECRET": instantlySecret])
    }

    private func json(_ text: some StringProtocol) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], String(text))
    }

    /// The stored event's body, by Stripe event id or row id.
    private func storedBody(_ daemon: DaemonProcess, _ id: String) throws -> [String: Any] {
        let (status, shown) = try daemon.run(["events", "show", id, "--json"])
        XCTAssertEqual(status, 0, shown)
        return try XCTUnwrap(try json(shown)["body"] as? [String: Any], shown)
    }

    /// `contacts show EMAIL --json` once the daemon's workers have recorded the person (they do it after intake).
    private func contact(_ daemon: DaemonProcess, _ email: String, until: ([String: Any]) -> Bool = { _ in true }) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(30)
        var last = ""
        while Date() < deadline {
            let (status, shown) = try daemon.run(["contacts", "show", email, "--json"])
            last = shown
            if status == 0, let object = try? json(shown), until(object) { return object }
            usleep(50_000)
        }
        XCTFail("no contact \(email) as expected: \(last)\n\(daemon.output)")
        return [:]
    }

    /// The Stripe event id the summary line names.
    private func eventID(_ output: String) -> String? {
        output.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("evt_") }.map(String.init)
    }

    func testTriggeredEventsOfEachSourceAreAcceptedAndStoredWithTheirType() throws {
        let daemon = try DaemonProcess()
        let stripeTypes = ["checkout.session.completed", "customer.subscription.updated", "invoice.payment_failed", "invoice.upcoming",
                           "charge.refunded"]
        let instantlyTypes = ["email_sent", "email_link_clicked", "reply_received", "lead_meeting_booked", "campaign_completed"]
        for type in stripeTypes {
            let (status, output) = try trigger(daemon, ["stripe", type])
            XCTAssertEqual(status, 0, output)
            XCTAssertTrue(output.contains("/webhooks/stripe -> 200 "), output)
            XCTAssertTrue(output.contains("\"duplicate\":false"), output)
            let id = try XCTUnwrap(eventID(output), output)
            XCTAssertEqual(try storedBody(daemon, id)["type"] as? String, type)
        }
        for type in instantlyTypes {
            let (status, output) = try trigger(daemon, ["instantly", type])
            XCTAssertEqual(status, 0, output)
            XCTAssertTrue(output.contains("/webhooks/instantly -> 200 "), output)
        }
        let (listStatus, list) = try daemon.run(["events", "list", "--json", "--limit", "100"])
        XCTAssertEqual(listStatus, 0, list)
        let stored = try list.split(separator: "\n").map { try json($0) }
        XCTAssertEqual(stored.filter { $0["source"] as? String == "stripe" }.compactMap { $0["type"] as? String }.sorted(), stripeTypes.sorted())
        XCTAssertEqual(stored.filter { $0["source"] as? String == "instantly" }.compactMap { $0["type"] as? String }.sorted(),
                       instantlyTypes.sorted())
    }

    func testEmailAndSetChangeTheStoredPayloadAndTheContact() throws {
        let daemon = try DaemonProcess()
        let (status, output) = try trigger(daemon, [
            "stripe", "checkout.session.completed", "--email", "walker@example.com",
            "--set", "data.object.amount_total=9900", "--set", "data.object.metadata.hookyard_campaign=camp-42",
            "--set", "data.object.client_reference_id=\"lead-7\"",
        ])
        XCTAssertEqual(status, 0, output)
        let body = try storedBody(daemon, try XCTUnwrap(eventID(output), output))
        let object = try XCTUnwrap((body["data"] as? [String: Any])?["object"] as? [String: Any])
        XCTAssertEqual(object["amount_total"] as? Int, 9900)
        XCTAssertEqual(object["client_reference_id"] as? String, "lead-7")
        XCTAssertEqual((object["customer_details"] as? [String: Any])?["email"] as? String, "walker@example.com")
        XCTAssertEqual(object["customer_email"] as? String, "walker@example.com")
        XCTAssertEqual((object["metadata"] as? [String: Any])?["hookyard_campaign"] as? String, "camp-42")
        XCTAssertEqual((object["metadata"] as? [String: Any])?["hookyard_email"] as? String, "walker@example.com")
        let customer = try XCTUnwrap(object["customer"] as? String)

        let walker = try contact(daemon, "walker@example.com") { ($0["revenue"] as? [String: Int])?["usd"] != nil }
        XCTAssertEqual(walker["email"] as? String, "walker@example.com")
        XCTAssertEqual(walker["stripe_customer_ids"] as? [String], [customer])
        XCTAssertEqual((walker["revenue"] as? [String: Int])?["usd"], 9900)

        // Instantly: --email is the lead, --set replaces top-level fields.
        let (instantlyStatus, instantlyOutput) = try trigger(daemon, [
            "instantly", "reply_received", "--email", "Replier@Example.com",
            "--set", "campaign_id=11111111-2222-4333-8444-555555555555", "--set", "step=3",
        ])
        XCTAssertEqual(instantlyStatus, 0, instantlyOutput)
        let (_, list) = try daemon.run(["events", "list", "--json", "--source", "instantly"])
        let row = try json(try XCTUnwrap(list.split(separator: "\n").first, list))
        let stored = try storedBody(daemon, String(try XCTUnwrap(row["id"] as? Int)))
        XCTAssertEqual(stored["lead_email"] as? String, "Replier@Example.com")
        XCTAssertEqual(stored["campaign_id"] as? String, "11111111-2222-4333-8444-555555555555")
        XCTAssertEqual(stored["step"] as? Int, 3)
        let replier = try contact(daemon, "replier@example.com") { ($0["counts"] as? [String: Int])?["replied"] == 1 }
        XCTAssertEqual(replier["last_campaign"] as? String, "11111111-2222-4333-8444-555555555555")
    }

    func testOnePersonsStripeEventsWalkOneCustomer() throws {
        let daemon = try DaemonProcess()
        for type in ["customer.subscription.created", "invoice.paid"] {
            let (status, output) = try trigger(daemon, ["stripe", type, "--email", "sub@example.com"])
            XCTAssertEqual(status, 0, output)
        }
        let person = try contact(daemon, "sub@example.com") { ($0["revenue"] as? [String: Int])?["usd"] == 4900 }
        XCTAssertEqual((person["stripe_customer_ids"] as? [String])?.count, 1, "\(person)")
        let subscription = try XCTUnwrap(person["subscription"] as? [String: Any], "\(person)")
        XCTAssertEqual(subscription["status"] as? String, "active")
        XCTAssertEqual(subscription["price"] as? String, EventTemplates.price)
    }

    /// A walk-through of a payment on a link Hookyard created (here in dry-run): the triggered session carries the
    /// link's metadata, as Stripe copies it onto the sessions a link creates, its amount and currency, and the lead
    /// it was made for; so the purchase is credited to that lead, campaign and tier (issue 13, item 18).
    func testSessionOnALinkHookyardCreatedCarriesTheLinksMetadata() throws {
        let campaign = "0a1b2c3d-0001-4a5b-8c7d-000000000001"
        let yaml = """
            catalog:
              course:
                name: Course
                tiers:
                  pro: {amount: 19900, currency: eur}
            rules:
              - name: offer
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: link
                    action: stripe.create_payment_link
                    with:
                      tier: course/pro
                      prefilled_email: "{{ event.lead_email }}"
                      metadata:
                        hookyard_rule: offer
                        lead_email: "{{ event.lead_email }}"
                        instantly_campaign_id: "{{ event.campaign_id }}"
            """
        let daemon = try DaemonProcess(yaml: yaml)
        let (interested, interestedOutput) = try trigger(daemon, ["instantly", "lead_interested", "--email", "walker@example.com",
                                                                  "--set", "campaign_id=\(campaign)"])
        XCTAssertEqual(interested, 0, interestedOutput)
        var linkID: String?
        let deadline = Date().addingTimeInterval(30)
        while linkID == nil, Date() < deadline {
            let queue = try SQLiteJobQueue(path: daemon.databasePath)
            let job = try queue.list(state: .succeeded, limit: 100).first { $0.kind == "stripe.create_payment_link" }
            queue.close()
            linkID = try job.flatMap { try json($0.output ?? "{}")["payment_link_id"] as? String }
            if linkID == nil { usleep(50_000) }
        }
        let link = try XCTUnwrap(linkID, daemon.output)

        let (status, output) = try trigger(daemon, ["stripe", "checkout.session.completed", "--set", "data.object.payment_link=\(link)"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("for walker@example.com"), output)
        XCTAssertTrue(output.contains("payment link \(link): the session carries its metadata"), output)
        let body = try storedBody(daemon, try XCTUnwrap(eventID(output), output))
        let object = try XCTUnwrap((body["data"] as? [String: Any])?["object"] as? [String: Any])
        XCTAssertEqual(object["payment_link"] as? String, link)
        XCTAssertEqual(object["metadata"] as? NSDictionary, ["hookyard_rule": "offer", "lead_email": "walker@example.com",
                                                              "instantly_campaign_id": campaign, "hookyard_product": "course",
                                                              "hookyard_tier": "pro"] as NSDictionary)
        XCTAssertEqual(object["amount_total"] as? Int, 19900)
        XCTAssertEqual(object["currency"] as? String, "eur")
        XCTAssertEqual((object["customer_details"] as? [String: Any])?["email"] as? String, "walker@example.com")

        let walker = try contact(daemon, "walker@example.com") { ($0["revenue"] as? [String: Int])?["eur"] != nil }
        XCTAssertEqual((walker["revenue"] as? [String: Int])?["eur"], 19900)
        XCTAssertEqual(walker["tier"] as? String, "pro")
        let (reported, report) = try daemon.run(["report", "--by", "campaign", "--format", "csv"])
        XCTAssertEqual(reported, 0, report)
        XCTAssertTrue(report.contains("\n\(campaign),"), report)
        XCTAssertFalse(report.contains("\ndirect,"), report)
        let (byTier, tiers) = try daemon.run(["report", "--by", "tier", "--format", "csv"])
        XCTAssertEqual(byTier, 0, tiers)
        XCTAssertTrue(tiers.contains("\npro,"), tiers)

        // A link Hookyard did not create: the session is sent as built, and the command says so.
        let (other, otherOutput) = try trigger(daemon, ["stripe", "checkout.session.completed", "--set", "data.object.payment_link=plink_elsewhere"])
        XCTAssertEqual(other, 0, otherOutput)
        XCTAssertTrue(otherOutput.contains("payment link plink_elsewhere is not one Hookyard created"), otherOutput)
    }

    func testUnknownTypeFailsWithTheKnownOnes() throws {
        let (status, output) = try DaemonProcess.run(["trigger", "instantly", "lead_bored", "--to", "http://127.0.0.1:9"],
                                                     environment: ["INSTANTLY_WEBHOOK_SECRET": "x"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("unknown Instantly event type 'lead_bored'"), output)
        for type in EventTemplates.instantlyTypes { XCTAssertTrue(output.contains(type), "\(type) missing from: \(output)") }
        let (stripeStatus, stripe) = try DaemonProcess.run(["trigger", "stripe", "invoice.nope"], environment: ["STRIPE_WEBHOOK_SECRET": "x"])
        XCTAssertNotEqual(stripeStatus, 0)
        XCTAssertTrue(stripe.contains("known types: checkout.session.completed"), stripe)
    }

    func testWrongSecretGetsTheDaemonsRejectionAndANonZeroExit() throws {
        let daemon = try DaemonProcess()
        let (status, output) = try trigger(daemon, ["stripe", "invoice.paid"], stripeSecret: "whsec_wrong")
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("-> 400 "), output)
        XCTAssertTrue(output.contains("no_matching_signature"), output)
        let (instantlyStatus, instantly) = try trigger(daemon, ["instantly", "email_sent"], instantlySecret: "wrong")
        XCTAssertNotEqual(instantlyStatus, 0, instantly)
        XCTAssertTrue(instantly.contains("-> 401 "), instantly)
        XCTAssertTrue(instantly.contains("wrong_secret"), instantly)
        let (_, stats) = try daemon.run(["stats", "--json"])
        XCTAssertEqual(try json(stats)["events"] as? [String: Int], ["stripe": 0, "instantly": 0])
    }

    func testSecretHeaderComesFromTheConfiguration() throws {
        let daemon = try DaemonProcess(yaml: "instantly:\n  secret_header: X-Hook-Token\n")
        let (status, output) = try trigger(daemon, ["instantly", "lead_interested"], config: true)
        XCTAssertEqual(status, 0, output)
        // Without the configuration, the default header is sent, which this daemon does not read.
        let (defaultStatus, defaultOutput) = try trigger(daemon, ["instantly", "lead_interested"])
        XCTAssertNotEqual(defaultStatus, 0, defaultOutput)
        XCTAssertTrue(defaultOutput.contains("-> 401 "), defaultOutput)
    }

    func testPrintedRequestIsTheSignedDelivery() throws {
        let daemon = try DaemonProcess()
        let (status, printed) = try trigger(daemon, ["stripe", "payment_intent.succeeded", "--print"])
        XCTAssertEqual(status, 0, printed)
        XCTAssertTrue(printed.hasPrefix("POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1:\(daemon.port)\r\n"), printed)
        XCTAssertTrue(printed.contains("\r\nStripe-Signature: t="), printed)
        let (_, before) = try daemon.run(["stats", "--json"])
        XCTAssertEqual((try json(before)["events"] as? [String: Int])?["stripe"], 0, "--print sends nothing")
        let client = try daemon.client()
        try client.send(Array(printed.utf8))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200, response.bodyText)
        let (_, after) = try daemon.run(["stats", "--json"])
        XCTAssertEqual((try json(after)["events"] as? [String: Int])?["stripe"], 1)
    }
}

/// `--payment-link` (issue 14, item 1): only for Checkout Session events; `latest` names the link a step of the
/// database created last, and says what is missing when none appears in time.
final class TriggerPaymentLinkOptionTests: XCTestCase {
    func testPaymentLinkIsOnlyForCheckoutSessions() throws {
        let (status, output) = try DaemonProcess.run(["trigger", "instantly", "lead_interested", "--payment-link", "latest"],
                                                     environment: ["INSTANTLY_WEBHOOK_SECRET": "x"])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("--payment-link is for Stripe checkout.session.* events"), output)
    }

    func testLatestWithoutALinkSaysWhatToDo() throws {
        let directory = DaemonProcess.makeDirectory()
        let path = directory.appendingPathComponent("none.db").path
        XCTAssertThrowsError(try TriggerCommand.latestLink(database: .sqlite(path: path), email: "ada@example.com", waitSeconds: 0.3)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("no payment link created for ada@example.com in \(path)"), text)
            XCTAssertTrue(text.contains("trigger the event that starts the link's flow first"), text)
        }
    }
}
