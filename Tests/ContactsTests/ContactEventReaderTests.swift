import Contacts
import StrictJSON
import Store
import XCTest

/// Payload shapes follow Instantly's webhook documentation and Stripe's API reference (objects as of the pinned
/// `2025-12-15.clover`, and the pre-`2025-03-31.basil` shapes that stored events may still have).
final class ContactEventReaderTests: XCTestCase {
    let reader = ContactEventReader(
        tiers: ["price_1QproMonthly": "pro", "prod_Starter": "starter", "prod_Pro": "pro-by-product"],
        campaignInterest: ["7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f": "course"],
        linkInterest: [LinkInterest(pattern: "*example.com/coaching*", product: "coaching"),
                       LinkInterest(pattern: "*example.com/*", product: "site")])

    private func json(_ text: String) -> JSONValue {
        do { return try JSONValue.parse(text) } catch { XCTFail("\(error)"); return .null }
    }

    private func instantly(_ type: String, _ body: String, receivedAt: Int64 = 42) -> ContactObservation? {
        reader.observation(eventID: 7, source: .instantly, type: type, body: json(body), receivedAt: receivedAt)
    }

    private func stripe(_ body: String) -> ContactObservation? {
        let event = json(body)
        return reader.observation(eventID: 9, source: .stripe, type: event["type"]?.stringValue ?? "", body: event, receivedAt: 42)
    }

    // MARK: Instantly

    func testInstantlyOpenIsAnActivityOfANormalisedLead() throws {
        let observation = try XCTUnwrap(instantly("email_opened", """
            {"timestamp": "2026-08-14T09:30:00.123Z", "event_type": "email_opened",
             "workspace": "0d6c4a9e-4c55-4b6e-8a7d-000000000001", "campaign_id": "7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f",
             "campaign_name": "Outreach Q3", "lead_email": "  Ann.Lee@Example.COM ", "email_account": "sales@ours.example",
             "step": 1, "variant": 1, "is_first": true, "firstName": "Ann"}
            """))
        XCTAssertEqual(observation, ContactObservation(
            eventID: 7, source: .instantly, occurredAt: 1_786_699_800_123, email: "ann.lee@example.com",
            campaignID: "7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f", activity: .opened, productInterest: "course",
            account: "sales@ours.example", campaignName: "Outreach Q3"))
    }

    func testInstantlyActivitiesAndInterestStatuses() throws {
        func read(_ type: String) -> ContactObservation? {
            instantly(type, #"{"timestamp": "2026-08-14T09:30:00Z", "event_type": "\#(type)", "workspace": "w", "campaign_id": "c-9", "campaign_name": "n", "lead_email": "bo@x.io"}"#)
        }
        let expected: [(String, ContactActivity?, String?)] = [
            ("email_sent", .sent, nil), ("email_opened", .opened, nil), ("email_link_clicked", .clicked, nil),
            ("link_clicked", .clicked, nil), ("reply_received", .replied, nil), ("auto_reply_received", nil, nil),
            ("email_bounced", .bounced, nil), ("lead_unsubscribed", .unsubscribed, nil),
            ("lead_meeting_booked", .meetingBooked, "meeting_booked"), ("lead_interested", nil, "interested"),
            ("lead_not_interested", nil, "not_interested"), ("lead_meeting_completed", nil, "meeting_completed"),
            ("lead_closed", nil, "won"), ("lead_out_of_office", nil, "out_of_office"), ("lead_wrong_person", nil, "wrong_person"),
            ("lead_no_show", nil, "no_show"), ("lead_neutral", nil, "neutral"), ("campaign_completed", nil, nil),
        ]
        for (type, activity, interest) in expected {
            let observation = try XCTUnwrap(read(type), type)
            XCTAssertEqual(observation.activity, activity, type)
            XCTAssertEqual(observation.interestStatus, interest, type)
            XCTAssertEqual(observation.email, "bo@x.io", type)
            XCTAssertEqual(observation.occurredAt, 1_786_699_800_000, type)
            XCTAssertNil(observation.productInterest, type)
        }
    }

    func testInstantlyWithoutALeadSaysNothingAboutAPerson() {
        XCTAssertNil(instantly("campaign_completed", #"{"timestamp": "2026-08-14T09:30:00Z", "event_type": "campaign_completed", "workspace": "w", "campaign_id": "c", "campaign_name": "n"}"#))
        XCTAssertNil(instantly("email_opened", #"{"timestamp": "2026-08-14T09:30:00Z", "campaign_id": "c", "lead_email": null}"#))
        XCTAssertNil(instantly("email_opened", #"{"timestamp": "2026-08-14T09:30:00Z", "campaign_id": "c", "lead_email": "  "}"#))
    }

    func testInstantlyTimestampsWithOffsetsAndFallback() {
        func occurred(_ timestamp: String) -> Int64? {
            instantly("email_sent", #"{"timestamp": "\#(timestamp)", "campaign_id": "c", "lead_email": "a@b.c"}"#, receivedAt: 42)?.occurredAt
        }
        XCTAssertEqual(occurred("2026-08-14T09:30:00Z"), 1_786_699_800_000)
        XCTAssertEqual(occurred("2026-08-14T11:30:00+02:00"), 1_786_699_800_000)
        XCTAssertEqual(occurred("2026-08-14T04:00:00.5-0530"), 1_786_699_800_500)
        XCTAssertEqual(occurred("2026-08-14T09:30:00.123456Z"), 1_786_699_800_123)
        XCTAssertEqual(occurred("2024-02-29T00:00:00Z"), 1_709_164_800_000)
        XCTAssertEqual(occurred("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(occurred("yesterday"), 42)
        XCTAssertEqual(occurred("2026-02-30T00:00:00Z"), 42)
        XCTAssertEqual(occurred("2026-08-14T09:30:00Zjunk"), 42)
        XCTAssertEqual(instantly("email_sent", #"{"campaign_id": "c", "lead_email": "a@b.c"}"#, receivedAt: 99)?.occurredAt, 99)
    }

    func testInstantlyLeadIDAndProductInterestFromLinks() throws {
        let click = try XCTUnwrap(instantly("email_link_clicked", """
            {"timestamp": "2026-08-14T09:30:00Z", "event_type": "link_clicked", "campaign_id": "7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f",
             "lead_email": "a@b.c", "lead_id": "lead-1", "link": "https://www.Example.com/coaching/signup?utm=1"}
            """))
        XCTAssertEqual(click.leadID, "lead-1")
        XCTAssertEqual(click.productInterest, "coaching", "a matching link wins over the campaign's interest")
        let other = try XCTUnwrap(instantly("email_link_clicked", """
            {"campaign_id": "c-unmapped", "lead_email": "a@b.c", "lead": "lead-2", "clicked_url": "https://example.com/blog"}
            """))
        XCTAssertEqual(other.leadID, "lead-2")
        XCTAssertEqual(other.productInterest, "site")
        let unmatched = try XCTUnwrap(instantly("email_link_clicked", """
            {"campaign_id": "7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f", "lead_email": "a@b.c", "url": "https://elsewhere.io/"}
            """))
        XCTAssertEqual(unmatched.productInterest, "course")
        let open = try XCTUnwrap(instantly("email_opened", """
            {"campaign_id": "c-unmapped", "lead_email": "a@b.c", "link": "https://example.com/coaching"}
            """))
        XCTAssertNil(open.productInterest, "only clicks are matched against links")
    }

    func testLinkPatterns() {
        XCTAssertTrue(LinkInterest(pattern: "*example.com/course*", product: "p").matches("https://example.com/course"))
        XCTAssertTrue(LinkInterest(pattern: "https://*.example.com/*", product: "p").matches("https://a.b.example.com/x"))
        XCTAssertFalse(LinkInterest(pattern: "https://*.example.com/*", product: "p").matches("https://example.com/x"))
        XCTAssertFalse(LinkInterest(pattern: "example.com/course", product: "p").matches("https://example.com/course"))
        XCTAssertTrue(LinkInterest(pattern: "*a*b*", product: "p").matches("xxaxxbxx"))
        XCTAssertFalse(LinkInterest(pattern: "*a*b", product: "p").matches("xxaxxbxx"))
        XCTAssertTrue(LinkInterest(pattern: "**", product: "p").matches(""))
    }

    // MARK: Stripe

    func testCustomerCreatedLinksCustomerAndEmail() throws {
        let observation = try XCTUnwrap(stripe("""
            {"id": "evt_1", "object": "event", "api_version": "2025-12-15.clover", "created": 1786699800,
             "livemode": false, "type": "customer.created", "request": {"id": "req_1", "idempotency_key": "k"},
             "data": {"object": {"id": "cus_Ann", "object": "customer", "email": "Ann@Example.com", "name": "Ann Lee",
                                 "metadata": {"hookyard_email": "other@example.com"}, "created": 1786699800}}}
            """))
        XCTAssertEqual(observation, ContactObservation(eventID: 9, source: .stripe, occurredAt: 1_786_699_800_000,
                                                       email: "ann@example.com", stripeCustomerID: "cus_Ann"))
        let withoutEmail = try XCTUnwrap(stripe("""
            {"id": "evt_2", "created": 1786699800, "type": "customer.updated",
             "data": {"object": {"id": "cus_Ann", "object": "customer", "email": null,
                                 "metadata": {"hookyard_email": "Lead@Example.com"}},
                      "previous_attributes": {"email": "ann@example.com"}}}
            """))
        XCTAssertEqual(withoutEmail.email, "lead@example.com")
    }

    func testPaidCheckoutSessionInPaymentMode() throws {
        let observation = try XCTUnwrap(stripe("""
            {"id": "evt_3", "object": "event", "created": 1786699800, "type": "checkout.session.completed",
             "data": {"object": {"id": "cs_test_a1", "object": "checkout.session", "mode": "payment",
               "payment_status": "paid", "status": "complete", "amount_subtotal": 4900, "amount_total": 4900,
               "currency": "USD", "customer": "cus_Ann", "customer_email": null,
               "customer_details": {"email": "typed@example.com", "name": "Ann Lee", "address": null},
               "payment_link": "plink_1", "client_reference_id": null, "subscription": null,
               "metadata": {"hookyard_email": "Ann@Example.com", "hookyard_campaign": "camp-1", "hookyard_tier": "course"}}}}
            """))
        XCTAssertEqual(observation.email, "ann@example.com")
        XCTAssertEqual(observation.stripeCustomerID, "cus_Ann")
        XCTAssertEqual(observation.campaignID, "camp-1")
        XCTAssertEqual(observation.payment, ObservedPayment(reference: "cs_test_a1", kind: .payment, amount: 4900, currency: "usd",
                                                            tier: "course", campaignID: "camp-1", paymentLink: "plink_1"))
        XCTAssertNil(observation.subscription)
    }

    func testPaymentLinkMetadataNamesTheRuleAndAClientReferenceUUIDNamesTheCampaign() throws {
        func session(metadata: String, clientReference: String) throws -> ObservedPayment? {
            try XCTUnwrap(stripe("""
                {"id": "evt_4", "object": "event", "created": 1786699800, "type": "checkout.session.completed",
                 "data": {"object": {"id": "cs_test_b2", "object": "checkout.session", "mode": "payment", "payment_status": "paid",
                   "amount_total": 900, "currency": "eur", "customer": "cus_B", "payment_link": "plink_9",
                   "client_reference_id": \(clientReference), "metadata": \(metadata)}}}
                """)).payment
        }
        let uuid = "7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f"
        // No campaign in the metadata: the client_reference_id, an Instantly campaign id, names it.
        XCTAssertEqual(try session(metadata: #"{"hookyard_rule": "send-offer", "hookyard_email": "b@example.com"}"#,
                                   clientReference: "\"\(uuid)\""),
                       ObservedPayment(reference: "cs_test_b2", kind: .payment, amount: 900, currency: "eur", campaignID: uuid,
                                       paymentLink: "plink_9", rule: "send-offer"))
        // Metadata wins over the client_reference_id; a reference that is no UUID names no campaign.
        XCTAssertEqual(try session(metadata: #"{"hookyard_campaign": "camp-2", "hookyard_email": "b@example.com"}"#,
                                   clientReference: "\"\(uuid)\"")?.campaignID, "camp-2")
        XCTAssertNil(try session(metadata: #"{"hookyard_email": "b@example.com"}"#, clientReference: #""order-17""#)?.campaignID)
        XCTAssertNil(try session(metadata: #"{"hookyard_email": "b@example.com"}"#,
                                 clientReference: #""7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6""#)?.campaignID)
    }

    func testCheckoutSessionFallbacksAndNoPaymentUnlessPaidOneOff() throws {
        let subscriptionMode = try XCTUnwrap(stripe("""
            {"id": "evt_4", "created": 1786699800, "type": "checkout.session.completed",
             "data": {"object": {"id": "cs_test_b2", "object": "checkout.session", "mode": "subscription",
               "payment_status": "paid", "amount_total": 2900, "currency": "usd", "customer": "cus_Bob",
               "customer_details": {"email": "Bob@Example.com"}, "subscription": "sub_1",
               "metadata": {"instantly_campaign_id": "camp-2"}}}}
            """))
        XCTAssertEqual(subscriptionMode.email, "bob@example.com")
        XCTAssertEqual(subscriptionMode.stripeCustomerID, "cus_Bob")
        XCTAssertEqual(subscriptionMode.campaignID, "camp-2")
        XCTAssertNil(subscriptionMode.payment, "the subscription's invoice carries the payment")

        let unpaid = try XCTUnwrap(stripe("""
            {"id": "evt_5", "created": 1786699800, "type": "checkout.session.completed",
             "data": {"object": {"id": "cs_test_c3", "mode": "payment", "payment_status": "unpaid", "amount_total": 100,
               "currency": "eur", "customer": null, "customer_details": null, "customer_email": "cat@example.com", "metadata": {}}}}
            """))
        XCTAssertEqual(unpaid.email, "cat@example.com")
        XCTAssertNil(unpaid.stripeCustomerID)
        XCTAssertNil(unpaid.payment)

        let async = try XCTUnwrap(stripe("""
            {"id": "evt_6", "created": 1786699800, "type": "checkout.session.async_payment_succeeded",
             "data": {"object": {"id": "cs_test_c3", "mode": "payment", "payment_status": "paid", "amount_total": 100,
               "currency": "eur", "customer_email": "cat@example.com", "metadata": {}}}}
            """))
        XCTAssertEqual(async.payment, ObservedPayment(reference: "cs_test_c3", kind: .payment, amount: 100, currency: "eur"))
    }

    /// A session that costs nothing (a 100 % coupon, a free tier) completes with `no_payment_required` and amount 0:
    /// it is done and nothing is owed, so it is a purchase like a paid one (issue 13, item 13).
    func testNoCostCheckoutSessionIsAPurchaseOfZero() throws {
        for type in ["checkout.session.completed", "checkout.session.async_payment_succeeded"] {
            let observation = try XCTUnwrap(stripe("""
                {"id": "evt_7", "object": "event", "created": 1786699800, "type": "\(type)",
                 "data": {"object": {"id": "cs_test_free", "object": "checkout.session", "mode": "payment",
                   "payment_status": "no_payment_required", "status": "complete", "amount_subtotal": 4900, "amount_total": 0,
                   "total_details": {"amount_discount": 4900, "amount_shipping": 0, "amount_tax": 0},
                   "currency": "usd", "customer": "cus_Free", "customer_details": {"email": "Free@Example.com"},
                   "payment_link": "plink_free", "metadata": {"lead_email": "free@example.com", "instantly_campaign_id": "camp-9",
                   "hookyard_tier": "early-bird", "hookyard_rule": "registration-offer"}}}}
                """), type)
            XCTAssertEqual(observation.email, "free@example.com", type)
            XCTAssertEqual(observation.payment, ObservedPayment(reference: "cs_test_free", kind: .payment, amount: 0, currency: "usd",
                                                                tier: "early-bird", campaignID: "camp-9", paymentLink: "plink_free",
                                                                rule: "registration-offer"), type)
        }
    }

    /// An invoice as API versions since 2025-03-31.basil shape it (the pinned 2025-12-15.clover among them).
    func testPaidInvoiceCurrentShape() throws {
        let observation = try XCTUnwrap(stripe("""
            {"id": "evt_7", "object": "event", "api_version": "2025-12-15.clover", "created": 1786699800, "type": "invoice.paid",
             "data": {"object": {"id": "in_1", "object": "invoice", "amount_due": 2900, "amount_paid": 2900,
               "amount_remaining": 0, "billing_reason": "subscription_cycle", "currency": "usd", "customer": "cus_Bob",
               "customer_email": "Bob@Example.com", "status": "paid", "metadata": {},
               "parent": {"type": "subscription_details", "quote_details": null,
                          "subscription_details": {"metadata": {"hookyard_campaign": "camp-2"}, "subscription": "sub_1"}},
               "lines": {"object": "list", "has_more": false, "data": [
                 {"id": "il_1", "object": "line_item", "amount": 2900, "currency": "usd",
                  "parent": {"type": "subscription_item_details",
                             "subscription_item_details": {"subscription": "sub_1", "subscription_item": "si_1", "proration": false}},
                  "pricing": {"type": "price_details", "unit_amount_decimal": "2900",
                              "price_details": {"price": "price_1QproMonthly", "product": "prod_Pro"}},
                  "period": {"start": 1786699800, "end": 1789378200}, "quantity": 1}]}}}}
            """))
        XCTAssertEqual(observation.email, "bob@example.com")
        XCTAssertEqual(observation.stripeCustomerID, "cus_Bob")
        XCTAssertEqual(observation.campaignID, "camp-2")
        XCTAssertEqual(observation.payment, ObservedPayment(reference: "in_1", kind: .invoice, amount: 2900, currency: "usd",
                                                            priceID: "price_1QproMonthly", productID: "prod_Pro", tier: "pro",
                                                            campaignID: "camp-2"))
        XCTAssertNil(observation.subscription, "a paid invoice does not change the subscription's status")
    }

    /// An invoice as API versions before 2025-03-31.basil shape it: top-level `subscription`, the line's `price`.
    func testPaidInvoiceOldShapeAndTierByProduct() throws {
        let observation = try XCTUnwrap(stripe("""
            {"id": "evt_8", "object": "event", "api_version": "2024-06-20", "created": 1786699800, "type": "invoice.payment_succeeded",
             "data": {"object": {"id": "in_2", "object": "invoice", "amount_paid": 900, "currency": "gbp",
               "customer": "cus_Cat", "customer_email": "cat@example.com", "subscription": "sub_2",
               "lines": {"object": "list", "data": [
                 {"id": "il_2", "object": "line_item", "amount": 900, "type": "subscription", "subscription": "sub_2",
                  "price": {"id": "price_other", "object": "price", "product": "prod_Starter", "unit_amount": 900}}]}}}}
            """))
        XCTAssertEqual(observation.payment, ObservedPayment(reference: "in_2", kind: .invoice, amount: 900, currency: "gbp",
                                                            priceID: "price_other", productID: "prod_Starter", tier: "starter"))
        let free = try XCTUnwrap(stripe("""
            {"id": "evt_9", "created": 1786699800, "type": "invoice.paid",
             "data": {"object": {"id": "in_3", "amount_paid": 0, "currency": "usd", "customer": "cus_Cat",
                                 "customer_email": "cat@example.com", "lines": {"data": []}}}}
            """))
        XCTAssertNil(free.payment, "a zero invoice (a trial's first) is no payment")
        XCTAssertEqual(free.stripeCustomerID, "cus_Cat")
    }

    func testFailedInvoiceMarksTheSubscription() throws {
        let renewal = try XCTUnwrap(stripe("""
            {"id": "evt_10", "created": 1786699800, "type": "invoice.payment_failed",
             "data": {"object": {"id": "in_4", "amount_due": 2900, "amount_paid": 0, "attempt_count": 1,
               "billing_reason": "subscription_cycle", "currency": "usd", "customer": "cus_Bob", "customer_email": "bob@example.com",
               "next_payment_attempt": 1786786200, "hosted_invoice_url": "https://invoice.stripe.com/i/x",
               "parent": {"type": "subscription_details", "subscription_details": {"metadata": {}, "subscription": "sub_1"}}}}}
            """))
        XCTAssertEqual(renewal.subscription, ObservedSubscription(id: "sub_1", status: "past_due"))
        XCTAssertNil(renewal.payment)
        XCTAssertEqual(renewal.email, "bob@example.com")

        let first = try XCTUnwrap(stripe("""
            {"id": "evt_11", "created": 1786699800, "type": "invoice.payment_failed",
             "data": {"object": {"id": "in_5", "billing_reason": "subscription_create", "customer": "cus_Dan",
               "subscription": "sub_3", "customer_email": null}}}
            """))
        XCTAssertEqual(first.subscription, ObservedSubscription(id: "sub_3", status: "incomplete"))

        let oneOff = try XCTUnwrap(stripe("""
            {"id": "evt_12", "created": 1786699800, "type": "invoice.payment_failed",
             "data": {"object": {"id": "in_6", "billing_reason": "manual", "customer": "cus_Dan", "parent": null}}}
            """))
        XCTAssertNil(oneOff.subscription)
    }

    func testSubscriptionEventsCurrentAndOldShapes() throws {
        let current = try XCTUnwrap(stripe("""
            {"id": "evt_13", "api_version": "2025-12-15.clover", "created": 1786699800, "type": "customer.subscription.updated",
             "data": {"object": {"id": "sub_1", "object": "subscription", "status": "active", "customer": "cus_Bob",
               "cancel_at_period_end": false, "metadata": {"hookyard_email": "Bob@Example.com"},
               "items": {"object": "list", "data": [
                 {"id": "si_1", "object": "subscription_item", "current_period_start": 1786699800, "current_period_end": 1789378200,
                  "price": {"id": "price_new", "object": "price", "product": {"id": "prod_Pro", "object": "product", "name": "Pro"}},
                  "quantity": 1, "subscription": "sub_1"}]}},
              "previous_attributes": {"status": "past_due"}}}
            """))
        XCTAssertEqual(current.stripeCustomerID, "cus_Bob")
        XCTAssertEqual(current.email, "bob@example.com")
        XCTAssertEqual(current.subscription, ObservedSubscription(id: "sub_1", status: "active", priceID: "price_new",
                                                                  productID: "prod_Pro", tier: "pro-by-product",
                                                                  currentPeriodEnd: 1_789_378_200_000))

        let old = try XCTUnwrap(stripe("""
            {"id": "evt_14", "api_version": "2024-06-20", "created": 1786699800, "type": "customer.subscription.created",
             "data": {"object": {"id": "sub_2", "object": "subscription", "status": "trialing", "customer": "cus_Cat",
               "current_period_end": 1787000000, "metadata": {},
               "items": {"data": [{"id": "si_2", "price": {"id": "price_1QproMonthly", "product": "prod_Starter"}}]}}}}
            """))
        XCTAssertEqual(old.subscription, ObservedSubscription(id: "sub_2", status: "trialing", priceID: "price_1QproMonthly",
                                                              productID: "prod_Starter", tier: "pro",
                                                              currentPeriodEnd: 1_787_000_000_000), "the price's tier wins over the product's")
        XCTAssertNil(old.email)

        let deleted = try XCTUnwrap(stripe("""
            {"id": "evt_15", "created": 1786699800, "type": "customer.subscription.deleted",
             "data": {"object": {"id": "sub_1", "object": "subscription", "status": "active", "customer": "cus_Bob",
               "items": {"data": [{"id": "si_1", "current_period_end": 1789378200, "price": {"id": "price_x", "product": "prod_x"}}]}}}}
            """))
        XCTAssertEqual(deleted.subscription?.status, "canceled", "deleted means canceled whatever the snapshot says")
        XCTAssertNil(deleted.subscription?.tier)
    }

    func testInstantlyLeadFieldsAreKeptAsTextWhenConfigured() throws {
        let reader = ContactEventReader(leadFields: ["industry", "companyName", "seats", "trial", "score", "empty", "nested",
                                                     "missing", "nothing"])
        let body = json("""
            {"timestamp": "2026-08-14T09:30:00Z", "event_type": "email_sent", "workspace": "w", "campaign_id": "c-1",
             "campaign_name": "n", "lead_email": "ann@example.com", "industry": "Retail", "companyName": "Acme Ltd",
             "seats": 12, "trial": true, "score": 4.5, "empty": "", "nested": {"a": 1}, "nothing": null, "jobTitle": "CTO"}
            """)
        let observation = try XCTUnwrap(reader.observation(eventID: 1, source: .instantly, type: "email_sent", body: body,
                                                           receivedAt: 0))
        XCTAssertEqual(observation.leadFields, ["industry": "Retail", "companyName": "Acme Ltd", "seats": "12",
                                                "trial": "true", "score": "4.5"],
                       "only the configured keys; an empty string, a map and null are no value")
        // Without lead_fields, nothing is kept.
        XCTAssertNil(ContactEventReader().observation(eventID: 1, source: .instantly, type: "email_sent", body: body,
                                                      receivedAt: 0)?.leadFields)
    }

    func testCatalogLookupKeysGiveTierAndProductInterestWhenTiersDoNotNameThePrice() throws {
        let reader = ContactEventReader(tiers: ["price_mapped": "gold"],
                                        lookupKeyTiers: ["coaching-pro": "pro", "webinar-regular": "regular"],
                                        lookupKeyProducts: ["coaching-pro": "coaching", "webinar-regular": "webinar"])
        func subscription(price: String, lookupKey: String) -> ContactObservation? {
            let event = json("""
                {"id": "evt_s", "created": 1786699800, "type": "customer.subscription.created",
                 "data": {"object": {"id": "sub_9", "status": "active", "customer": "cus_9",
                   "items": {"data": [{"id": "si_9", "current_period_end": 1789378200,
                     "price": {"id": "\(price)", "object": "price", "product": "prod_9", "lookup_key": "\(lookupKey)"}}]}}}}
                """)
            return reader.observation(eventID: 1, source: .stripe, type: "customer.subscription.created", body: event,
                                      receivedAt: 0)
        }
        let byLookupKey = try XCTUnwrap(subscription(price: "price_new", lookupKey: "coaching-pro"))
        XCTAssertEqual(byLookupKey.subscription?.tier, "pro")
        XCTAssertEqual(byLookupKey.productInterest, "coaching")
        let explicit = try XCTUnwrap(subscription(price: "price_mapped", lookupKey: "coaching-pro"))
        XCTAssertEqual(explicit.subscription?.tier, "gold", "contacts.tiers wins over the catalog")
        let unknown = try XCTUnwrap(subscription(price: "price_new", lookupKey: "someone-elses"))
        XCTAssertNil(unknown.subscription?.tier)
        XCTAssertNil(unknown.productInterest)

        let invoice = try XCTUnwrap(reader.observation(eventID: 2, source: .stripe, type: "invoice.paid", body: json("""
            {"id": "evt_i", "created": 1786699800, "type": "invoice.paid",
             "data": {"object": {"id": "in_9", "amount_paid": 6900, "currency": "usd", "customer": "cus_9",
               "customer_email": "ann@example.com", "lines": {"data": [
                 {"id": "il_9", "price": {"id": "price_w", "product": "prod_w", "lookup_key": "webinar-regular"}}]}}}}
            """), receivedAt: 0))
        XCTAssertEqual(invoice.payment?.tier, "regular")
        XCTAssertEqual(invoice.productInterest, "webinar")
    }

    func testRefundedCharge() throws {
        let observation = try XCTUnwrap(stripe("""
            {"id": "evt_16", "created": 1786699800, "type": "charge.refunded",
             "data": {"object": {"id": "ch_1", "object": "charge", "amount": 4900, "amount_captured": 4900,
               "amount_refunded": 2000, "currency": "usd", "customer": "cus_Ann", "refunded": false,
               "billing_details": {"email": null, "name": "Ann"}, "receipt_email": "Ann@Example.com",
               "payment_intent": "pi_1"},
              "previous_attributes": {"amount_refunded": 0}}}
            """))
        XCTAssertEqual(observation.email, "ann@example.com")
        XCTAssertEqual(observation.payment, ObservedPayment(reference: "ch_1", kind: .refund, amount: 2000, currency: "usd"))
    }

    func testOtherStripeEventsOnlyLinkIdentity() throws {
        let intent = try XCTUnwrap(stripe("""
            {"id": "evt_17", "created": 1786699800, "type": "payment_intent.succeeded",
             "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 4900, "amount_received": 4900,
               "currency": "usd", "customer": {"id": "cus_Ann", "object": "customer"}, "receipt_email": null, "metadata": {}}}}
            """))
        XCTAssertEqual(intent, ContactObservation(eventID: 9, source: .stripe, occurredAt: 1_786_699_800_000, stripeCustomerID: "cus_Ann"))
        XCTAssertNil(stripe("""
            {"id": "evt_18", "created": 1786699800, "type": "product.created",
             "data": {"object": {"id": "prod_1", "object": "product", "name": "Pro", "metadata": {}}}}
            """))
        XCTAssertNil(stripe(#"{"id": "evt_19", "created": 1786699800, "type": "invoice.paid", "data": {}}"#))
        XCTAssertNil(stripe(#"{"id": "evt_20", "created": 1786699800, "type": "customer.created", "data": {"object": {"id": "cus_X", "email": null}}}"#)?.email)
    }
}
