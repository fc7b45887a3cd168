import Foundation
import Logging
import XCTest
@testable import Contacts
@testable import Store
import TestSupport
import SQLite
import Workflows

/// `ContactStorage` behaviour, each test one body run on both engines (`onEachEngine`), except those about SQLite's
/// file and write-ahead log and the address matcher itself.
final class ContactStoreTests: ContactStoreTestCase {
    let policy = EngagementPolicy()
    static let day: Int64 = 86_400_000
    let t0: Int64 = 1_732_500_000_000

    static let hot = SegmentQuery.both(name: "hot", sql: "c.engagement = ?", parameters: [.text("high")])
    static let quiet = SegmentQuery.both(name: "quiet", sql: "(? - COALESCE(c.last_engagement_at, 0)) / 86400000 >= ?",
                                    parameters: [.now, .integer(30)])
    static let interested = SegmentQuery.both(name: "interested", sql: "c.interest_status = ?", parameters: [.text("interested")])
    static let subscribers = SegmentQuery.both(name: "subscribers", sql: "c.subscription_status = ?", parameters: [.text("active")])
    static let customers = SegmentQuery.both(name: "customers", sql: "c.payment_status = ?", parameters: [.text("customer")])
    static let openers = SegmentQuery.both(name: "openers", sql: "c.opened >= ?", parameters: [.integer(1)])


    // MARK: Helpers

    private func instantly(_ activity: ContactActivity?, email: String? = "alice@example.com", at: Int64,
                           campaign: String? = "camp-1", lead: String? = nil, interest: String? = nil,
                           body: String = "{}") -> ContactObservation {
        ContactObservation(eventID: storeEvent(.instantly, type: activity.map { "email_\($0.rawValue)" } ?? "lead_interest",
                                               body: body, receivedAt: at),
                           source: .instantly, occurredAt: at, email: email, campaignID: campaign, leadID: lead,
                           activity: activity, interestStatus: interest)
    }

    private func stripe(email: String?, customer: String?, at: Int64, payment: ObservedPayment? = nil,
                        subscription: ObservedSubscription? = nil, body: String = "{}") -> ContactObservation {
        ContactObservation(eventID: storeEvent(.stripe, type: "stripe.event", body: body, receivedAt: at), source: .stripe,
                           occurredAt: at, email: email, stripeCustomerID: customer, payment: payment,
                           subscription: subscription)
    }

    @discardableResult
    private func apply(_ observation: ContactObservation, segments: [SegmentQuery] = [], now: Int64? = nil,
                       policy: EngagementPolicy? = nil) throws -> ContactChange {
        try store.apply(observation, policy: policy ?? self.policy, segments: segments, now: now ?? observation.occurredAt)
    }

    private func contact(_ email: String = "alice@example.com") throws -> Contact {
        try XCTUnwrap(try store.contact(email: email), "no contact \(email)")
    }

    // MARK: Creating and finding

    func testCreatesAContactAndFindsItByNormalisedEmail() throws {
        try onEachEngine {
            let first = try apply(instantly(.sent, email: "  Alice@Example.COM ", at: t0, lead: "lead-1"))
            XCTAssertTrue(first.created)
            XCTAssertFalse(first.alreadyApplied)
            XCTAssertEqual(first.email, "alice@example.com")
            let id = try XCTUnwrap(first.contactID)
            let second = try apply(instantly(.opened, email: "ALICE@example.com", at: t0 + 1000))
            XCTAssertFalse(second.created)
            XCTAssertEqual(second.contactID, id)
            // An earlier event arriving late moves first_seen back, not the engagement time forward.
            try apply(instantly(.clicked, email: "alice@example.com", at: t0 - 5000), now: t0 + 2000)

            let contact = try XCTUnwrap(try store.contact(email: " alice@EXAMPLE.com"))
            XCTAssertEqual(contact.id, id)
            XCTAssertEqual(contact.email, "alice@example.com")
            XCTAssertEqual(contact.counts[.sent], 1)
            XCTAssertEqual(contact.counts[.opened], 1)
            XCTAssertEqual(contact.counts[.clicked], 1)
            XCTAssertEqual(contact.counts[.replied], 0)
            XCTAssertEqual(contact.firstSeenAt, t0 - 5000)
            XCTAssertEqual(contact.lastEngagementAt, t0 + 1000)
            XCTAssertEqual(contact.leads, ["camp-1": "lead-1"])
            XCTAssertEqual(contact.paymentStatus, .prospect)
            XCTAssertEqual(contact.updatedAt, t0 + 2000)
            XCTAssertEqual(try store.contact(id: id), contact)
            XCTAssertNil(try store.contact(email: "bob@example.com"))
            XCTAssertNil(try store.contact(id: id + 100))
        }
    }

    func testReapplyingAnEventChangesNothingAndReturnsItsTransitions() throws {
        try onEachEngine {
            let observation = instantly(.opened, at: t0)
            let first = try apply(observation, segments: [Self.openers])
            XCTAssertEqual(first.transitions.map(\.segment), ["openers"])
            XCTAssertEqual(first.transitions.first?.eventID, observation.eventID)
            XCTAssertEqual(first.transitions.first?.entry, 1)

            let again = try apply(observation, segments: [Self.openers], now: t0 + Self.day)
            XCTAssertTrue(again.alreadyApplied)
            XCTAssertFalse(again.created)
            XCTAssertEqual(again.contactID, first.contactID)
            XCTAssertEqual(again.email, "alice@example.com")
            XCTAssertEqual(again.transitions, first.transitions)
            let contact = try contact()
            XCTAssertEqual(contact.counts[.opened], 1)
            XCTAssertEqual(contact.updatedAt, t0, "a re-apply writes nothing")
        }
    }

    func testAnEventNamingNoOneIsRecordedOnce() throws {
        try onEachEngine {
            let observation = instantly(.opened, email: nil, at: t0)
            let change = try apply(observation)
            XCTAssertNil(change.contactID)
            XCTAssertFalse(change.pending)
            XCTAssertFalse(change.alreadyApplied)
            XCTAssertTrue(try apply(observation).alreadyApplied)
            XCTAssertEqual(try store.contacts(matching: nil, paymentStatus: nil, engagement: nil, limit: 10, now: t0).count, 0)
        }
    }

    func testLeadsAndCampaignsKeepTheEarliestAndLatestTouches() throws {
        try onEachEngine {
            try apply(instantly(.sent, at: t0 + 1000, campaign: "camp-c"))
            try apply(instantly(.opened, at: t0 + 3000, campaign: "camp-b"))
            try apply(instantly(.clicked, at: t0, campaign: "camp-a"))
            try apply(instantly(.sent, at: t0 + 500, campaign: "camp-a", lead: "lead-a"))
            try store.linkLead(email: "ALICE@example.com", campaignID: "camp-b", leadID: "lead-b", eventID: 0, segments: [], now: t0 + 4000)
            try store.linkLead(email: "new@example.com", campaignID: "camp-z", leadID: "lead-z", eventID: 0, segments: [], now: t0)
            // A payment between the touches credits the last campaign before it, or the one its metadata names.
            try apply(stripe(email: "alice@example.com", customer: nil, at: t0 + 2000,
                             payment: ObservedPayment(reference: "cs_1", kind: .payment, amount: 100, currency: "usd")))
            try apply(stripe(email: "alice@example.com", customer: nil, at: t0 + 2500,
                             payment: ObservedPayment(reference: "cs_2", kind: .payment, amount: 100, currency: "usd",
                                                      campaignID: "camp-m")))

            let contact = try contact()
            XCTAssertEqual(contact.firstCampaign, "camp-a")
            XCTAssertEqual(contact.lastCampaign, "camp-b")
            XCTAssertEqual(contact.leads, ["camp-a": "lead-a", "camp-b": "lead-b", "camp-c": ""], "camp-c's lead id was never seen")
            XCTAssertEqual(try self.contact("new@example.com").leads, ["camp-z": "lead-z"])
            let payments = try XCTUnwrap(try store.export(email: "alice@example.com")).payments
            XCTAssertEqual(payments.map(\.reference), ["cs_1", "cs_2"])
            XCTAssertEqual(payments.map(\.firstCampaign), ["camp-a", "camp-a"])
            XCTAssertEqual(payments.map(\.lastCampaign), ["camp-c", "camp-m"])
        }
    }

    func testPaymentsKeepTheirLinkCampaignLinkAndRuleAndCampaignsTheirLatestName() throws {
        try onEachEngine {
            var sent = instantly(.sent, at: t0 + 2000, campaign: "camp-a")
            sent.campaignName = "Spring launch"
            try apply(sent)
            var older = instantly(.opened, at: t0 + 1000, campaign: "camp-a")
            older.campaignName = "Spring (draft)"
            try apply(older)
            try apply(stripe(email: "alice@example.com", customer: nil, at: t0 + 3000,
                             payment: ObservedPayment(reference: "cs_1", kind: .payment, amount: 100, currency: "usd",
                                                      campaignID: "camp-m", paymentLink: "plink_1", rule: "offer")))
            try apply(stripe(email: "alice@example.com", customer: nil, at: t0 + 4000,
                             payment: ObservedPayment(reference: "in_1", kind: .invoice, amount: 900, currency: "eur")))
            let payments = try rawRows("""
                SELECT reference, coalesce(link_campaign, '-'), coalesce(payment_link, '-'), coalesce(link_rule, '-'), last_campaign
                FROM contact_payments ORDER BY id
                """, columns: 5)
            XCTAssertEqual(payments, [["cs_1", "camp-m", "plink_1", "offer", "camp-m"], ["in_1", "-", "-", "-", "camp-a"]])
            let names = try rawRows("SELECT id, name, updated_at FROM campaigns", columns: 3)
            XCTAssertEqual(names, [["camp-a", "Spring launch", "\(t0 + 2000)"]], "an older event's name does not replace it")
        }
    }

    func testInterestAndProductInterestKeepTheLatest() throws {
        try onEachEngine {
            try apply(instantly(nil, at: t0 + 2000, interest: "interested"))
            try apply(instantly(nil, at: t0 + 1000, interest: "not_interested"))
            var contact = try contact()
            XCTAssertEqual(contact.interestStatus, "interested")
            XCTAssertEqual(contact.lastEngagementAt, t0 + 2000)
            // An auto-reply is the latest status but not the person engaging.
            try apply(instantly(nil, at: t0 + 3000, interest: "out_of_office"))
            var late = instantly(nil, at: t0 + 500)
            late.productInterest = "course"
            try apply(late)
            var older = instantly(nil, at: t0 + 100)
            older.productInterest = "ebook"
            try apply(older)
            contact = try self.contact()
            XCTAssertEqual(contact.interestStatus, "out_of_office")
            XCTAssertEqual(contact.lastEngagementAt, t0 + 2000)
            XCTAssertEqual(contact.productInterest, "course")
        }
    }

    // MARK: Stripe

    func testOutOfOrderSubscriptionEventsKeepTheLatestState() throws {
        try onEachEngine {
            let email = "sub@example.com"
            let pro = ObservedSubscription(id: "sub_1", status: "active", priceID: "price_pro", productID: "prod_pro",
                                           tier: "pro", currentPeriodEnd: t0 + 30 * Self.day)
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 2000, subscription: pro))
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 1000,
                             subscription: ObservedSubscription(id: "sub_1", status: "incomplete", priceID: "price_basic")))
            var contact = try self.contact(email)
            XCTAssertEqual(contact.subscription, ContactSubscription(id: "sub_1", status: "active", priceID: "price_pro",
                                                                     productID: "prod_pro", tier: "pro",
                                                                     currentPeriodEnd: t0 + 30 * Self.day))
            XCTAssertEqual(contact.paymentStatus, .customer)
            XCTAssertEqual(contact.tier, "pro")

            // A newer event leaving fields out keeps them; the same time with a lower-ranked status changes nothing.
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 3000,
                             subscription: ObservedSubscription(id: "sub_1", status: "past_due")))
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 3000,
                             subscription: ObservedSubscription(id: "sub_1", status: "active")))
            contact = try self.contact(email)
            XCTAssertEqual(contact.subscription?.status, "past_due")
            XCTAssertEqual(contact.subscription?.priceID, "price_pro")
            XCTAssertEqual(contact.subscription?.currentPeriodEnd, t0 + 30 * Self.day)
            XCTAssertEqual(contact.paymentStatus, .pastDue)

            // Deleted, then an older update arrives: stays canceled; and a canceled subscription never comes back.
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 5000,
                             subscription: ObservedSubscription(id: "sub_1", status: "canceled")))
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 4000,
                             subscription: ObservedSubscription(id: "sub_1", status: "active")))
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 6000,
                             subscription: ObservedSubscription(id: "sub_1", status: "active")))
            contact = try self.contact(email)
            XCTAssertEqual(contact.subscription?.status, "canceled")
            XCTAssertEqual(contact.paymentStatus, .canceled)

            // A new subscription replaces it, its missing fields reset; the end of another subscription does not
            // replace a live one.
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 7000,
                             subscription: ObservedSubscription(id: "sub_2", status: "trialing")))
            try apply(stripe(email: email, customer: "cus_1", at: t0 + 8000,
                             subscription: ObservedSubscription(id: "sub_old", status: "canceled")))
            contact = try self.contact(email)
            XCTAssertEqual(contact.subscription, ContactSubscription(id: "sub_2", status: "trialing"))
            XCTAssertEqual(contact.paymentStatus, .customer)
            XCTAssertNil(contact.tier)
        }
    }

    func testStripeOnlyContactPaymentStatusAndRevenueFollowPaymentsInvoicesAndRefunds() throws {
        try onEachEngine {
            let email = "pay@example.com"
            try apply(stripe(email: email, customer: "cus_9", at: t0))
            XCTAssertEqual(try contact(email).paymentStatus, .prospect)
            XCTAssertEqual(try contact(email).revenue, [:])
            // A zero-amount invoice (a trial starting) is not a payment.
            try apply(stripe(email: nil, customer: "cus_9", at: t0 + 1000,
                             payment: ObservedPayment(reference: "in_0", kind: .invoice, amount: 0, currency: "usd")))
            XCTAssertEqual(try contact(email).paymentStatus, .prospect)
            try apply(stripe(email: nil, customer: "cus_9", at: t0 + 2000,
                             payment: ObservedPayment(reference: "in_1", kind: .invoice, amount: 2000, currency: "usd",
                                                      tier: "basic")))
            var contact = try self.contact(email)
            XCTAssertEqual(contact.paymentStatus, .customer)
            XCTAssertEqual(contact.revenue, ["usd": 2000])
            XCTAssertEqual(contact.tier, "basic")
            // The same invoice reported by another event is counted once.
            try apply(stripe(email: nil, customer: "cus_9", at: t0 + 2100,
                             payment: ObservedPayment(reference: "in_1", kind: .invoice, amount: 2000, currency: "usd")))
            // Refunds carry the charge's cumulative amount: the larger wins whatever the order.
            try apply(stripe(email: nil, customer: "cus_9", at: t0 + 4000,
                             payment: ObservedPayment(reference: "ch_1", kind: .refund, amount: 1500, currency: "usd")))
            try apply(stripe(email: nil, customer: "cus_9", at: t0 + 3000,
                             payment: ObservedPayment(reference: "ch_1", kind: .refund, amount: 500, currency: "usd")))
            try apply(stripe(email: nil, customer: "cus_9", at: t0 + 5000,
                             payment: ObservedPayment(reference: "cs_1", kind: .payment, amount: 700, currency: "eur")))
            contact = try self.contact(email)
            XCTAssertEqual(contact.revenue, ["usd": 500, "eur": 700])
            XCTAssertEqual(contact.paymentStatus, .customer)
            XCTAssertEqual(contact.stripeCustomerIDs, ["cus_9"])
            let refund = try XCTUnwrap(try store.export(email: email)?.payments.first { $0.kind == .refund })
            XCTAssertEqual(refund.amount, -1500)
            XCTAssertEqual(refund.occurredAt, t0 + 4000)

            // A one-off checkout makes a customer even when fully discounted.
            try apply(stripe(email: "free@example.com", customer: nil, at: t0,
                             payment: ObservedPayment(reference: "cs_free", kind: .payment, amount: 0, currency: "usd")))
            XCTAssertEqual(try self.contact("free@example.com").paymentStatus, .customer)
        }
    }

    func testPendingCustomerIsResolvedByALaterEventNamingTheEmail() throws {
        try onEachEngine {
            let active = ObservedSubscription(id: "sub_p", status: "active", tier: "pro")
            let pending = stripe(email: nil, customer: "cus_p", at: t0, subscription: active)
            let change = try apply(pending, segments: [Self.subscribers])
            XCTAssertTrue(change.pending)
            XCTAssertNil(change.contactID)
            let again = try apply(pending, segments: [Self.subscribers])
            XCTAssertTrue(again.alreadyApplied)
            XCTAssertTrue(again.pending)
            XCTAssertNil(try store.contact(email: "pend@example.com"))

            let checkout = stripe(email: "Pend@Example.com", customer: "cus_p", at: t0 + 1000,
                                  payment: ObservedPayment(reference: "cs_p", kind: .payment, amount: 900, currency: "usd"))
            let resolved = try apply(checkout, segments: [Self.subscribers])
            let id = try XCTUnwrap(resolved.contactID)
            XCTAssertEqual(resolved.transitions, [SegmentTransition(contactID: id, email: "pend@example.com",
                                                                    segment: "subscribers", entered: true, entry: 1,
                                                                    eventID: pending.eventID)])
            let contact = try self.contact("pend@example.com")
            XCTAssertEqual(contact.subscription?.status, "active")
            XCTAssertEqual(contact.tier, "pro")
            XCTAssertEqual(contact.revenue, ["usd": 900])
            XCTAssertEqual(contact.stripeCustomerIDs, ["cus_p"])
            XCTAssertEqual(contact.segments, ["subscribers"])
            // The pending event now counts as applied to the contact; later customer-only events go straight to it.
            XCTAssertEqual(try apply(pending).contactID, id)
            let later = try apply(stripe(email: nil, customer: "cus_p", at: t0 + 2000,
                                         subscription: ObservedSubscription(id: "sub_p", status: "canceled")),
                                  segments: [Self.subscribers])
            XCTAssertFalse(later.pending)
            XCTAssertEqual(later.contactID, id)
            XCTAssertEqual(later.transitions.map(\.entered), [false])
        }
    }

    func testPendingCustomerIsResolvedByLinkCustomer() throws {
        try onEachEngine {
            let pending = stripe(email: nil, customer: "cus_l", at: t0,
                                 payment: ObservedPayment(reference: "in_l", kind: .invoice, amount: 1500, currency: "usd"))
            XCTAssertTrue(try apply(pending).pending)
            let workflowEvent = storeEvent(.instantly, type: "reply_received", receivedAt: t0 + 500)
            let link = try store.linkCustomer(email: " Link@Example.com", customerID: "cus_l", eventID: workflowEvent,
                                              policy: policy, segments: [Self.customers], now: t0 + 1000)
            let id = try XCTUnwrap(link.contactID)
            XCTAssertTrue(link.created)
            XCTAssertFalse(link.alreadyApplied)
            XCTAssertEqual(link.transitions.map(\.eventID), [pending.eventID])
            XCTAssertEqual(link.transitions.map(\.segment), ["customers"])
            let contact = try self.contact("link@example.com")
            XCTAssertEqual(contact.revenue, ["usd": 1500])
            XCTAssertEqual(contact.firstSeenAt, t0, "the pending event is older than the link")

            let again = try store.linkCustomer(email: "link@example.com", customerID: "cus_l", eventID: workflowEvent,
                                               policy: policy, segments: [Self.customers], now: t0 + 2000)
            XCTAssertTrue(again.alreadyApplied)
            XCTAssertEqual(again.transitions, [])
            // The rerun returns nothing, so the entry waits unqueued for the maintenance pass as a backstop.
            XCTAssertEqual(try store.unqueuedTransitions(limit: 10).map(\.transition.segment), ["customers"])
            XCTAssertEqual(try self.contact("link@example.com").revenue, ["usd": 1500])
            let reapplied = try apply(pending)
            XCTAssertTrue(reapplied.alreadyApplied)
            XCTAssertEqual(reapplied.contactID, id)
            XCTAssertEqual(reapplied.transitions.map(\.segment), ["customers"])
        }
    }

    // MARK: Engagement and segments

    func testEngagementLevelsAndTheirDecay() throws {
        try onEachEngine {
            for offset in 0..<20 { try apply(instantly(.opened, at: t0 + Int64(offset))) }
            XCTAssertEqual(try contact().engagement, .medium, "opens alone never make high")
            let generous = EngagementPolicy(opensCanMakeHigh: true)
            for offset in 0..<10 { try apply(instantly(.opened, email: "bob@example.com", at: t0 + Int64(offset)), policy: generous) }
            XCTAssertEqual(try contact("bob@example.com").engagement, .high, "unless the policy lets them")

            let reply = try apply(instantly(.replied, at: t0 + 100), segments: [Self.hot])
            XCTAssertEqual(try contact().engagement, .high)
            XCTAssertEqual(reply.transitions.map(\.segment), ["hot"])
            XCTAssertEqual(try store.unqueuedTransitions(limit: 10).count, 0, "transitions of events are queued by the caller")

            // A month later nothing happened, but the window moved on: the clock's re-evaluation lowers engagement.
            let later = t0 + 31 * Self.day
            let alice = try contact().id
            let bob = try contact("bob@example.com").id
            let firstBatch = try store.reevaluate(after: 0, limit: 1, policy: policy, segments: [Self.hot], now: later)
            XCTAssertEqual(firstBatch.lastContactID, alice)
            XCTAssertEqual(firstBatch.transitions.map(\.entered), [false])
            XCTAssertEqual(firstBatch.transitions.first?.eventID, reply.transitions.first?.eventID,
                           "the clock's transitions carry the latest event")
            let secondBatch = try store.reevaluate(after: alice, limit: 1, policy: policy, segments: [Self.hot], now: later)
            XCTAssertEqual(secondBatch.lastContactID, bob)
            XCTAssertEqual(secondBatch.transitions, [])
            XCTAssertNil(try store.reevaluate(after: bob, limit: 1, policy: policy, segments: [Self.hot], now: later).lastContactID)
            XCTAssertEqual(try contact().engagement, .low)
            XCTAssertEqual(try contact().segments, [])

            let unqueued = try store.unqueuedTransitions(limit: 10)
            XCTAssertEqual(unqueued.map(\.transition), firstBatch.transitions)
            try store.markTransitionsQueued(unqueued.map(\.id))
            XCTAssertEqual(try store.unqueuedTransitions(limit: 10).count, 0)
            // Nothing changed since: a second pass records nothing.
            XCTAssertEqual(try store.reevaluate(after: 0, limit: 10, policy: policy, segments: [Self.hot], now: later)
                .transitions, [])
        }
    }

    func testSegmentEntriesAreNumberedOncePerEntry() throws {
        try onEachEngine {
            let segments = [Self.interested, Self.quiet]
            let entered = try apply(instantly(nil, at: t0, interest: "interested"), segments: segments)
            XCTAssertEqual(entered.transitions.map(\.segment), ["interested"])
            XCTAssertEqual(entered.transitions.map(\.entry), [1])
            XCTAssertEqual(try contact().segments, ["interested"])
            let stayed = try apply(instantly(.opened, at: t0 + 1000), segments: segments)
            XCTAssertEqual(stayed.transitions, [], "staying in a segment is not a new entry")
            let left = try apply(instantly(nil, at: t0 + 2000, interest: "not_interested"), segments: segments)
            XCTAssertEqual(left.transitions.map(\.entered), [false])
            XCTAssertEqual(left.transitions.map(\.entry), [1])
            XCTAssertEqual(try contact().segments, [])
            let reentered = try apply(instantly(nil, at: t0 + 3000, interest: "interested"), segments: segments)
            XCTAssertEqual(reentered.transitions.map(\.entered), [true])
            XCTAssertEqual(reentered.transitions.map(\.entry), [2])

            // The clock makes them quiet 30 days after their last engagement, once.
            let id = try contact().id
            let month = try store.reevaluate(after: 0, limit: 10, policy: policy, segments: segments, now: t0 + 3000 + 30 * Self.day)
            XCTAssertEqual(month.transitions.map(\.segment), ["quiet"])
            XCTAssertEqual(month.transitions.first?.contactID, id)
            XCTAssertEqual(try contact().segments, ["interested", "quiet"])
        }
    }

    func testEvaluateBindsRealsAndNamesBrokenSegments() throws {
        try onEachEngine {
            let id = try XCTUnwrap(try apply(instantly(.opened, at: t0)).contactID)
            let queries = [
                SegmentQuery.both(name: "a", sql: "c.opened >= ?", parameters: [.real(1.5)]),
                SegmentQuery.both(name: "b", sql: "c.opened >= ?", parameters: [.real(0.5)]),
                SegmentQuery.both(name: "c", sql: "c.email <> '?' AND c.opened * 1.0 / ? > ?", parameters: [.integer(4), .real(0.2)]),
                Self.quiet,
            ]
            XCTAssertEqual(try store.evaluate(contactID: id, queries: queries, now: t0), [false, true, true, false])
            XCTAssertEqual(try store.evaluate(contactID: id, queries: queries, now: t0 + 30 * Self.day), [false, true, true, true])
            XCTAssertEqual(try store.evaluate(contactID: id + 1, queries: queries, now: t0), [false, false, false, false])

            let broken = SegmentQuery.both(name: "broken", sql: "c.no_such_column = ?", parameters: [.integer(1)])
            XCTAssertThrowsError(try store.evaluate(contactID: id, queries: [Self.hot, broken], now: t0)) { error in
                guard case ContactStorageError.segmentQuery(let name, let message)? = error as? ContactStorageError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(name, "broken")
                XCTAssertTrue(message.contains("no_such_column"), message)
            }
            let mismatched = SegmentQuery.both(name: "mismatched", sql: "c.opened > ?", parameters: [])
            XCTAssertThrowsError(try store.count(matching: mismatched, now: t0)) { error in
                XCTAssertEqual((error as? ContactStorageError).map { "\($0)" }?.contains("mismatched"), true, "\(error)")
            }
            // A failing segment rolls the whole apply back: the event can be applied once the segment is fixed.
            let observation = instantly(.clicked, at: t0 + 1)
            XCTAssertThrowsError(try apply(observation, segments: [broken]))
            XCTAssertEqual(try contact().counts[.clicked], 0)
            XCTAssertFalse(try apply(observation, segments: [Self.hot]).alreadyApplied)
            XCTAssertEqual(try contact().counts[.clicked], 1)
        }
    }

    // MARK: Loop guard

    func testARuleCapForEveryoneHoldsBackAndCountsTheRest() throws {
        try onEachEngine {
            for (index, email) in ["a@example.com", "b@example.com", "c@example.com"].enumerated() {
                let admission = try store.admitRuleRun(rule: "launch", email: email, flow: "f\(index)", now: t0 + Int64(index),
                                                       maxPerDay: 0, maxTotalPerDay: 2, eventID: nil)
                XCTAssertEqual(admission, index < 2 ? .admitted : .ruleCap, email)
            }
            XCTAssertEqual(try store.admitRuleRun(rule: "launch", email: "c@example.com", flow: "f2", now: t0 + 10, maxPerDay: 0,
                                                  maxTotalPerDay: 2, eventID: nil), .ruleCap, "held back again: still counted once")
            try store.recordHoldback(rule: "launch", email: "d@example.com", reason: "rollout", eventID: nil, at: t0)
            try store.recordHoldback(rule: "launch", email: "d@example.com", reason: "rollout", eventID: nil, at: t0 + 1)
            let counts = try store.holdbackCounts().map { "\($0.rule) \($0.reason) \($0.contacts)" }
            XCTAssertEqual(counts, ["launch max_per_day 1", "launch ran 2", "launch rollout 1"])
            XCTAssertEqual(try store.admitRuleRun(rule: "launch", email: "c@example.com", flow: "f2", now: t0 + Self.day + 1,
                                                  maxPerDay: 0, maxTotalPerDay: 2, eventID: nil), .admitted, "a day later there is room")
        }
    }

    func testAdmitRuleRunLimitsNewFlowsPerDayButAdmitsReRuns() throws {
        try onEachEngine {
            XCTAssertTrue(try store.admits(rule: "nurture", email: "Ann@example.com", flow: "f1", now: t0, maxPerDay: 2))
            XCTAssertTrue(try store.admits(rule: "nurture", email: "ann@example.com", flow: "f2", now: t0 + 1, maxPerDay: 2))
            XCTAssertFalse(try store.admits(rule: "nurture", email: "ann@example.com", flow: "f3", now: t0 + 2, maxPerDay: 2))
            XCTAssertTrue(try store.admits(rule: "nurture", email: "ann@example.com", flow: "f1", now: t0 + 3, maxPerDay: 2),
                          "a re-run of an admitted flow is not a new run")
            XCTAssertTrue(try store.admits(rule: "other", email: "ann@example.com", flow: "f4", now: t0 + 4, maxPerDay: 2))
            XCTAssertTrue(try store.admits(rule: "nurture", email: "ben@example.com", flow: "f5", now: t0 + 5, maxPerDay: 2))
            XCTAssertFalse(try store.admits(rule: "nurture", email: "ann@example.com", flow: "f3", now: t0 + Self.day - 1,
                                                  maxPerDay: 2))
            XCTAssertTrue(try store.admits(rule: "nurture", email: "ann@example.com", flow: "f3", now: t0 + Self.day + 1,
                                                 maxPerDay: 2), "runs older than a day no longer count")
            XCTAssertEqual(try contact("ann@example.com").firstSeenAt, t0)
            XCTAssertThrowsError(try store.admits(rule: "nurture", email: "  ", flow: "f9", now: t0, maxPerDay: 2)) {
                XCTAssertEqual($0 as? ContactStorageError, .emptyEmail)
            }
        }
    }

    func testOwnWritesKeepTheLatestTimePerRule() throws {
        try onEachEngine {
            XCTAssertNil(try store.lastOwnWrite(email: "w@example.com", rule: "tag"))
            try store.recordOwnWrite(email: " W@Example.com", rule: "tag", at: t0 + 1000)
            try store.recordOwnWrite(email: "w@example.com", rule: "tag", at: t0)
            XCTAssertEqual(try store.lastOwnWrite(email: "W@example.com", rule: "tag"), t0 + 1000)
            try store.recordOwnWrite(email: "w@example.com", rule: "tag", at: t0 + 2000)
            XCTAssertEqual(try store.lastOwnWrite(email: "w@example.com", rule: "tag"), t0 + 2000)
            XCTAssertNil(try store.lastOwnWrite(email: "w@example.com", rule: "other"))
            XCTAssertEqual(try contact("w@example.com").firstSeenAt, t0 + 1000)
        }
    }

    func testDoNotContactKeepsTheFirstReason() throws {
        try onEachEngine {
            try apply(instantly(.opened, at: t0))
            XCTAssertNil(try store.doNotContact(email: "alice@example.com"))
            try apply(instantly(.bounced, at: t0 + 1))
            try apply(instantly(.unsubscribed, at: t0 + 2))
            XCTAssertEqual(try store.doNotContact(email: "ALICE@example.com"), "bounced")
            let contact = try contact()
            XCTAssertEqual(contact.doNotContact, "bounced")
            XCTAssertEqual(contact.counts[.bounced], 1)
            XCTAssertEqual(contact.counts[.unsubscribed], 1)
            XCTAssertEqual(contact.lastEngagementAt, t0, "bounces and unsubscribes are not engagement")
            try apply(instantly(.unsubscribed, email: "un@example.com", at: t0))
            XCTAssertEqual(try store.doNotContact(email: "un@example.com"), "unsubscribed")
            XCTAssertNil(try store.doNotContact(email: "nobody@example.com"))
        }
    }

    // MARK: Reading

    func testContactsMatchingAndCount() throws {
        try onEachEngine {
            try apply(instantly(.opened, email: "a@example.com", at: t0), now: t0 + 10)
            try apply(instantly(.replied, email: "b@example.com", at: t0), now: t0 + 20)
            try apply(stripe(email: "c@example.com", customer: "cus_c", at: t0,
                             payment: ObservedPayment(reference: "cs_c", kind: .payment, amount: 10, currency: "usd")),
                      now: t0 + 30)
            func emails(_ contacts: [Contact]) -> [String] { contacts.map(\.email) }
            XCTAssertEqual(emails(try store.contacts(matching: nil, paymentStatus: nil, engagement: nil, limit: 10, now: t0)),
                           ["c@example.com", "b@example.com", "a@example.com"])
            XCTAssertEqual(emails(try store.contacts(matching: nil, paymentStatus: nil, engagement: nil, limit: 1, now: t0)),
                           ["c@example.com"])
            XCTAssertEqual(emails(try store.contacts(matching: Self.hot, paymentStatus: nil, engagement: nil, limit: 10, now: t0)),
                           ["b@example.com"])
            XCTAssertEqual(emails(try store.contacts(matching: nil, paymentStatus: .customer, engagement: nil, limit: 10, now: t0)),
                           ["c@example.com"])
            XCTAssertEqual(emails(try store.contacts(matching: nil, paymentStatus: .prospect, engagement: .low, limit: 10, now: t0)),
                           ["a@example.com"])
            XCTAssertEqual(emails(try store.contacts(matching: Self.quiet, paymentStatus: nil, engagement: nil, limit: 10,
                                                     now: t0 + 40 * Self.day)),
                           ["c@example.com", "b@example.com", "a@example.com"])
            let full = try XCTUnwrap(try store.contacts(matching: Self.customers, paymentStatus: nil, engagement: nil, limit: 10,
                                                        now: t0).first)
            XCTAssertEqual(full, try contact("c@example.com"))
            XCTAssertEqual(full.stripeCustomerIDs, ["cus_c"])
            XCTAssertEqual(try store.count(matching: Self.hot, now: t0), 1)
            XCTAssertEqual(try store.count(matching: Self.quiet, now: t0), 1, "only c never engaged")
            XCTAssertEqual(try store.count(matching: Self.quiet, now: t0 + 40 * Self.day), 3)
        }
    }

    func testTimelineListsEverythingNewestFirst() throws {
        try onEachEngine {
            let opened = instantly(.opened, email: "tim@example.com", at: t0 + 1000)
            try apply(opened, segments: [Self.openers], now: t0 + 1500)
            let paid = ContactObservation(
                eventID: storeEvent(.stripe, type: "checkout.session.completed", receivedAt: t0 + 2000), source: .stripe,
                occurredAt: t0 + 1800, email: "tim@example.com",
                payment: ObservedPayment(reference: "cs_t", kind: .payment, amount: 4900, currency: "usd"))
            try apply(paid, now: t0 + 2500)
            try recordPurchase(Purchase(eventID: paid.eventID, reference: "cs_t", email: "Tim@Example.com ",
                                        amount: 4900, currency: "usd", campaignID: nil, paymentLink: nil,
                                        rule: "thank-you"), now: t0 + 3000)
            let id = try contact("tim@example.com").id
            let timeline = try store.timeline(contactID: id, limit: 20)
            XCTAssertEqual(timeline, [
                ContactTimelineEntry(at: t0 + 3000, kind: .purchase, reference: "cs_t", detail: "4900 usd thank-you"),
                ContactTimelineEntry(at: t0 + 2000, kind: .job, reference: "2", detail: "process_event queued"),
                ContactTimelineEntry(at: t0 + 2000, kind: .event, reference: "\(paid.eventID)",
                                     detail: "stripe checkout.session.completed"),
                ContactTimelineEntry(at: t0 + 1800, kind: .payment, reference: "cs_t", detail: "payment 4900 usd"),
                ContactTimelineEntry(at: t0 + 1500, kind: .segment, reference: "openers", detail: "entered #1"),
                ContactTimelineEntry(at: t0 + 1000, kind: .job, reference: "1", detail: "process_event queued"),
                ContactTimelineEntry(at: t0 + 1000, kind: .event, reference: "\(opened.eventID)", detail: "instantly email_opened"),
            ])
            XCTAssertEqual(try store.timeline(contactID: id, limit: 2).map(\.kind), [.purchase, .job])
            XCTAssertEqual(try store.timeline(contactID: id + 1, limit: 20), [])
        }
    }

    func testExportHoldsEverythingAboutThePerson() throws {
        try onEachEngine {
            let opened = instantly(.opened, email: "eve@example.com", at: t0, lead: "lead-e",
                                   body: #"{"lead_email":"eve@example.com","event_type":"email_opened"}"#)
            try apply(opened, segments: [Self.openers])
            let paid = stripe(email: "eve@example.com", customer: "cus_e", at: t0 + 100,
                              payment: ObservedPayment(reference: "cs_e", kind: .payment, amount: 1200, currency: "usd"))
            try apply(paid)
            try apply(instantly(.opened, email: "other@example.com", at: t0 + 200))
            // The first event's job failed once and waits for a retry (as the job queue records it).
            try executeRaw("""
                UPDATE jobs SET state = 'retrying', attempts = 1, next_run_at = \(t0 + 2000), last_error = 'HTTP 500',
                    updated_at = \(t0 + 1001) WHERE event_id = \(opened.eventID);
                INSERT INTO job_attempts (job_id, attempt, worker, started_at, finished_at, outcome, status, error)
                SELECT id, 1, 'w1', \(t0 + 1000), \(t0 + 1001), 'retrying', 500, 'HTTP 500' FROM jobs WHERE event_id = \(opened.eventID);
                """)
            try recordPurchase(Purchase(eventID: paid.eventID, reference: "cs_e", email: "eve@example.com",
                                        amount: 1200, currency: "usd", campaignID: nil, paymentLink: nil,
                                        rule: "r"), now: t0 + 300)
            XCTAssertTrue(try store.admits(rule: "r", email: "eve@example.com", flow: "once:eve", now: t0, maxPerDay: 1))
            try store.recordOwnWrite(email: "eve@example.com", rule: "tag", at: t0 + 400)

            let export = try XCTUnwrap(try store.export(email: "EVE@example.com"))
            XCTAssertEqual(export.contact, try contact("eve@example.com"))
            XCTAssertEqual(export.events.map(\.id), [opened.eventID, paid.eventID])
            XCTAssertEqual(String(decoding: export.events[0].body, as: UTF8.self),
                           #"{"lead_email":"eve@example.com","event_type":"email_opened"}"#)
            XCTAssertEqual(export.events[0].jobStates, ["retrying"])
            XCTAssertEqual(export.jobs.map(\.job.eventID), [opened.eventID, paid.eventID])
            XCTAssertEqual(export.jobs[0].attempts.map(\.error), ["HTTP 500"])
            XCTAssertEqual(export.jobs[1].attempts, [])
            XCTAssertEqual(export.payments, [ContactPayment(reference: "cs_e", kind: .payment, amount: 1200, currency: "usd",
                                                            occurredAt: t0 + 100, firstCampaign: "camp-1",
                                                            lastCampaign: "camp-1", eventID: paid.eventID)])
            XCTAssertEqual(export.purchases.map(\.reference), ["cs_e"])
            XCTAssertEqual(export.transitions.map(\.transition.segment), ["openers"])
            XCTAssertEqual(export.transitions.map(\.at), [t0])
            XCTAssertEqual(export.activity, [ContactExport.Activity(kind: "opened", campaignID: "camp-1", occurredAt: t0,
                                                                    eventID: opened.eventID)])
            XCTAssertEqual(export.ruleRuns, [ContactExport.RuleRun(flow: "once:eve", rule: "r", at: t0)])
            XCTAssertEqual(export.ownWrites, ["tag": t0 + 400])
            XCTAssertNil(try store.export(email: "nobody@example.com"))
        }
    }

    // MARK: Registrations and lead fields

    static let registrants = SegmentQuery.both(
        name: "registrants",
        sql: "EXISTS (SELECT 1 FROM contact_registrations r WHERE r.contact_id = c.id AND r.product = ?)",
        parameters: [.text("webinar")])

    func testRegisterCountsSeatsPerProductAndIsIdempotentPerReference() throws {
        try onEachEngine {
            let event = storeEvent(.stripe, type: "checkout.session.completed", receivedAt: t0)
            let first = try store.register(email: " Ann@Example.com", product: "webinar", reference: "cs_1", seats: 2,
                                           eventID: event, segments: [Self.registrants], now: t0 + 10)
            XCTAssertTrue(first.created)
            XCTAssertEqual(first.product, "webinar")
            XCTAssertEqual(first.registrations, 1)
            XCTAssertEqual(first.seats, 2)
            XCTAssertEqual(first.seatsLeft, 1)
            XCTAssertFalse(first.soldOut)
            XCTAssertEqual(first.transitions, [SegmentTransition(contactID: first.contactID, email: "ann@example.com",
                                                                 segment: "registrants", entered: true, entry: 1, eventID: event)])
            let created = try contact("ann@example.com")
            XCTAssertEqual(created.id, first.contactID)
            XCTAssertEqual(created.firstSeenAt, t0 + 10, "a contact a registration creates is first seen then")
            XCTAssertEqual(created.registeredFor, ["webinar"])

            // Another product counts on its own.
            let course = try store.register(email: "ann@example.com", product: "course", reference: "cs_c", seats: nil,
                                            eventID: event, segments: [Self.registrants], now: t0 + 15)
            XCTAssertEqual(course.registrations, 1)
            XCTAssertNil(course.seats)
            XCTAssertNil(course.seatsLeft)
            XCTAssertFalse(course.soldOut)
            XCTAssertEqual(course.transitions, [], "already a member")
            XCTAssertEqual(try contact("ann@example.com").registeredFor, ["course", "webinar"])

            let second = try store.register(email: "bob@example.com", product: "webinar", reference: "cs_2", seats: 2,
                                            eventID: event, segments: [Self.registrants], now: t0 + 20)
            XCTAssertEqual(second.registrations, 2)
            XCTAssertEqual(second.seatsLeft, 0)
            XCTAssertTrue(second.soldOut)
            let third = try store.register(email: "cat@example.com", product: "webinar", reference: "cs_3", seats: 2,
                                           eventID: event, segments: [], now: t0 + 30)
            XCTAssertEqual(third.registrations, 3)
            XCTAssertEqual(third.seatsLeft, 0, "never below 0")
            XCTAssertTrue(third.soldOut)

            // The same reference again: nothing new, and the counts of the first time (Ann was the 1st).
            let replay = try store.register(email: "ann@example.com", product: "webinar", reference: "cs_1", seats: 2,
                                            eventID: event, segments: [Self.registrants], now: t0 + 40)
            XCTAssertFalse(replay.created)
            XCTAssertEqual(replay.registrations, 1)
            XCTAssertFalse(replay.soldOut)
            XCTAssertEqual(replay.transitions, [])
            // The same person for the same product under another reference is still one registration.
            let twice = try store.register(email: "BOB@example.com", product: "webinar", reference: "cs_9", seats: 2,
                                           eventID: event, segments: [], now: t0 + 50)
            XCTAssertFalse(twice.created)
            XCTAssertEqual(twice.registrations, 2)
            XCTAssertEqual(try store.registrationCount(product: "webinar"), 3)
            XCTAssertEqual(try store.registrationCount(product: "course"), 1)
            XCTAssertEqual(try store.timeline(contactID: first.contactID, limit: 10).filter { $0.kind == .registration }, [
                ContactTimelineEntry(at: t0 + 15, kind: .registration, reference: "cs_c", detail: "course"),
                ContactTimelineEntry(at: t0 + 10, kind: .registration, reference: "cs_1", detail: "webinar"),
            ])
            XCTAssertEqual(try store.export(email: "ann@example.com")?.registrations, [
                ContactRegistration(product: "webinar", reference: "cs_1", eventID: event, registeredAt: t0 + 10),
                ContactRegistration(product: "course", reference: "cs_c", eventID: event, registeredAt: t0 + 15),
            ])
            XCTAssertThrowsError(try store.register(email: "ann@example.com", product: "", reference: "cs_x", seats: nil,
                                                    eventID: event, segments: [], now: t0)) { error in
                XCTAssertEqual("\(error)", "a registration needs a non-empty product")
            }
            XCTAssertThrowsError(try store.register(email: " ", product: "webinar", reference: "cs_x", seats: nil,
                                                    eventID: event, segments: [], now: t0)) { error in
                XCTAssertEqual(error as? ContactStorageError, .emptyEmail)
            }
        }
    }

    func testLeadFieldsKeepTheLatestValueByEventTime() throws {
        try onEachEngine {
            var newer = instantly(.sent, email: "lea@example.com", at: t0 + 1000)
            newer.leadFields = ["industry": "Retail", "companyName": "Acme"]
            try apply(newer)
            var older = instantly(.opened, email: "lea@example.com", at: t0)
            older.leadFields = ["industry": "Finance", "seats": "12"]
            try apply(older)
            XCTAssertEqual(try contact("lea@example.com").leadFields,
                           ["industry": "Retail", "companyName": "Acme", "seats": "12"],
                           "an older event fills in a field never seen, and changes none seen later")
            var latest = instantly(.clicked, email: "lea@example.com", at: t0 + 2000)
            latest.leadFields = ["industry": "Health"]
            try apply(latest)
            XCTAssertEqual(try contact("lea@example.com").leadFields["industry"], "Health")
            XCTAssertEqual(try contact("lea@example.com").leadFields["companyName"], "Acme")
            // A pending observation stored without the key (an earlier build) still decodes.
            let json = #"{"eventID":1,"source":"stripe","occurredAt":5}"#
            let decoded = try JSONDecoder().decode(ContactObservation.self, from: Data(json.utf8))
            XCTAssertNil(decoded.leadFields)
        }
    }

    // MARK: Erasure and retention

    /// Whether the file at `path` contains `text`, ignoring ASCII case (an absent file contains nothing).
    private func file(_ path: String, contains text: String) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let lowered = Data(data.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 })
        return lowered.range(of: Data(text.lowercased().utf8)) != nil
    }

    func testEraseTouchesOnlyTheWholeAddressAlsoPercentEncoded() throws {
        try onEachEngine {
            let t0: Int64 = 1_795_000_000_000
            try apply(instantly(.opened, email: "ann@example.com", at: t0))
            // Other people whose addresses contain hers, and a body naming her only percent-encoded (a form body).
            try apply(instantly(.opened, email: "joann@example.com", at: t0 + 1, body: #"{"lead_email":"joann@example.com"}"#))
            try apply(instantly(.opened, email: "ann@example.com.au", at: t0 + 2, body: #"{"lead_email":"ann@example.com.au"}"#))
            let encoded = storeEvent(.stripe, type: "note", body: #"{"form":"email=ANN%40example.com&x=1"}"#, receivedAt: t0 + 3)
            let sentence = storeEvent(.stripe, type: "note", body: #"{"text":"Write to ann@example.com."}"#, receivedAt: t0 + 4)
            let erasure = try XCTUnwrap(try store.erase(email: "ann@example.com"))
            XCTAssertEqual(erasure.eventsRedacted, 3, "her own event, the encoded one and the sentence")
            XCTAssertEqual(try rawInt("SELECT length(body) FROM events WHERE id = \(encoded)"), 0)
            XCTAssertEqual(try rawInt("SELECT length(body) FROM events WHERE id = \(sentence)"), 0)
            XCTAssertGreaterThan(try rawInt("SELECT length(body) FROM events WHERE id = 2") ?? 0, 0, "joann@example.com is someone else")
            XCTAssertGreaterThan(try rawInt("SELECT length(body) FROM events WHERE id = 3") ?? 0, 0, "ann@example.com.au is someone else")
            XCTAssertNotNil(try store.contact(email: "joann@example.com"))
            XCTAssertNotNil(try store.contact(email: "ann@example.com.au"))
        }
    }

    func testEraseLeavesNoByteOfTheEmailInTheDatabaseOrItsLog() throws {
        let email = "erin.erased@example.com"
        let mixed = "Erin.Erased@Example.COM"
        var opened = instantly(.opened, email: email, at: t0, campaign: "camp-e", lead: "lead-e",
                               body: #"{"lead_email":"\#(mixed)","event_type":"email_opened"}"#)
        opened.leadFields = ["industry": "Retail"]
        let paid = stripe(email: email, customer: "cus_erin", at: t0 + 100,
                          payment: ObservedPayment(reference: "cs_erin", kind: .payment, amount: 500, currency: "usd"),
                          subscription: ObservedSubscription(id: "sub_erin", status: "active"),
                          body: #"{"customer_email":"\#(email)","customer":"cus_erin"}"#)
        // An event never applied to her that still names her.
        let mention = storeEvent(.stripe, type: "customer.updated", body: #"{"previous":"\#(mixed)"}"#, receivedAt: t0 + 150)
        let bobBody = #"{"lead_email":"bob@example.com"}"#
        let bob = instantly(.opened, email: "bob@example.com", at: t0 + 200, body: bobBody)
        try apply(opened, segments: [Self.openers])
        try apply(paid, segments: [Self.openers])
        try apply(bob, segments: [Self.openers])
        try store.linkLead(email: email, campaignID: "camp-f", leadID: "lead-f", eventID: 0, segments: [], now: t0)
        _ = try store.register(email: email, product: "webinar", reference: "cs_reg_1", seats: 10, eventID: paid.eventID,
                               segments: [], now: t0)
        XCTAssertTrue(try store.admits(rule: "r", email: email, flow: "once:\(email)", now: t0, maxPerDay: 5))
        try store.recordOwnWrite(email: email, rule: "tag", at: t0)

        let queue = try SQLiteJobQueue(path: path)
        // Her event's job failed once naming her, then succeeded with a follow-up step naming her in key and input.
        var job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: t0 + 1000))
        XCTAssertEqual(job.eventID, opened.eventID)
        XCTAssertTrue(try queue.fail(jobID: job.id, owner: "w", error: "lead \(mixed) not found", status: 404,
                                     retryAt: t0 + 50, now: t0 + 1000))
        job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: t0 + 1002))
        XCTAssertEqual(job.eventID, opened.eventID)
        XCTAssertTrue(try queue.succeed(jobID: job.id, owner: "w", output: #"{"flow":"once:\#(email)"}"#, followUps: [
            NewJob(kind: "instantly.tag", idempotencyKey: "flow:r:once:\(email):tag", input: #"{"email":"\#(email)"}"#,
                   runAt: t0 + 5000),
        ], now: t0 + 1003))
        // Bob's job ended dead with an error naming her (and so is redacted too, though it is not her event's).
        job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: t0 + 1004))
        XCTAssertEqual(job.eventID, paid.eventID)
        XCTAssertTrue(try queue.succeed(jobID: job.id, owner: "w", output: "{}", now: t0 + 1005))
        job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: t0 + 1006))
        XCTAssertEqual(job.eventID, mention)
        XCTAssertTrue(try queue.succeed(jobID: job.id, owner: "w", output: "{}", now: t0 + 1007))
        job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: t0 + 1008))
        XCTAssertEqual(job.eventID, bob.eventID)
        XCTAssertTrue(try queue.fail(jobID: job.id, owner: "w", error: "duplicate of \(email)", status: nil, retryAt: nil,
                                     now: t0 + 1009))
        queue.close()
        let workflows = try SQLiteWorkflowStore(path: path)
        _ = try workflows.recordPurchase(Purchase(eventID: paid.eventID, reference: "cs_erin", email: mixed, amount: 500,
                                                  currency: "usd", campaignID: "camp-e", paymentLink: nil, rule: "r"),
                                         now: t0 + 2000)
        workflows.close()
        writer.close()
        writer = nil

        XCTAssertEqual(try contact(email).registeredFor, ["webinar"])
        XCTAssertEqual(try contact(email).leadFields, ["industry": "Retail"])
        let databaseFile = path
        let logFile = path + "-wal"
        XCTAssertTrue(try file(databaseFile, contains: email) || file(logFile, contains: email),
                      "the test must start from a database that holds the address")

        let erasure = try XCTUnwrap(try store.erase(email: " ERIN.erased@example.com"))
        XCTAssertEqual(erasure.eventsRedacted, 3)
        XCTAssertEqual(erasure.jobsRedacted, 5, "her two events' jobs, the mention's, the follow-up, and Bob's dead job")
        XCTAssertEqual(erasure.attemptsRedacted, 2)
        XCTAssertEqual(erasure.purchasesAnonymised, 1)
        XCTAssertEqual(erasure.activityAnonymised, 1)
        XCTAssertEqual(erasure.paymentsAnonymised, 1)
        XCTAssertTrue(erasure.walTruncated)
        XCTAssertNil(try store.contact(email: email))
        XCTAssertNil(try store.erase(email: email))
        XCTAssertFalse(try file(databaseFile, contains: email))
        XCTAssertFalse(try file(logFile, contains: email))

        // Bob is untouched; anonymous revenue and activity remain.
        let reader = try SQLiteStoreReader(path: path)
        XCTAssertEqual(String(decoding: try XCTUnwrap(try reader.event(String(bob.eventID))).body, as: UTF8.self), bobBody)
        XCTAssertEqual(try reader.event(String(mention))?.bodyBytes, 0)
        XCTAssertEqual(try reader.statistics().purchases["usd"]?.amount, 500)
        let raw = try SQLiteDatabase(path: path)
        XCTAssertEqual(try raw.scalarInt("SELECT count(*) FROM contact_payments WHERE contact_id IS NULL AND event_id IS NULL"), 1)
        XCTAssertEqual(try raw.scalarInt("SELECT count(*) FROM contact_activity WHERE contact_id IS NULL"), 1)
        XCTAssertEqual(try raw.scalarInt("SELECT count(*) FROM contact_registrations"), 0, "her registration is deleted")
        XCTAssertEqual(try raw.scalarInt("SELECT count(*) FROM contact_lead_fields"), 0, "her lead fields are deleted")
        XCTAssertEqual(try raw.scalarInt("SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'erased:%'"), 1)
        raw.close()
        XCTAssertEqual(try contact("bob@example.com").counts[.opened], 1)

        // A later event naming her starts a new contact.
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        let again = try apply(instantly(.opened, email: email, at: t0 + 10_000))
        XCTAssertTrue(again.created)
        let fresh = try contact(email)
        XCTAssertEqual(fresh.counts[.opened], 1)
        XCTAssertEqual(fresh.leads, ["camp-1": ""], "only the campaign of the new event")
        XCTAssertEqual(fresh.stripeCustomerIDs, [])
        XCTAssertEqual(fresh.revenue, [:])
        XCTAssertEqual(fresh.registeredFor, [])
        XCTAssertEqual(fresh.leadFields, [:])
        XCTAssertEqual(try store.registrationCount(product: "webinar"), 0)
        XCTAssertNil(try store.lastOwnWrite(email: email, rule: "tag"))
        store.close()
        store = nil
        XCTAssertTrue(try file(databaseFile, contains: email) || file(logFile, contains: email),
                      "the search finds the address once it is stored again")
    }

    func testEraseFindsAnAddressWrittenWithNonASCIICapitalsInPurchasesAndOtherEvents() throws {
        try onEachEngine {
            let stored = "zoë.ängström@example.com"
            let shouted = "ZOË.ÄNGSTRÖM@EXAMPLE.COM"
            // The same capitals in canonically decomposed form (E + U+0308 ...), as some mail clients send them.
            let decomposed = shouted.decomposedStringWithCanonicalMapping
            try apply(instantly(.opened, email: stored, at: t0, body: #"{"lead_email":"\#(stored)"}"#))
            let paid = stripe(email: shouted, customer: "cus_zoe", at: t0 + 1,
                              payment: ObservedPayment(reference: "cs_zoe", kind: .payment, amount: 900, currency: "eur"),
                              body: #"{"customer_details":{"email":"\#(shouted)"}}"#)
            try apply(paid)
            XCTAssertEqual(try contact(decomposed).id, try contact(stored).id, "one contact, however the address is written")
            // Events that name her but were never applied to her.
            let updated = storeEvent(.stripe, type: "customer.updated", body: #"{"email":"\#(shouted)"}"#, receivedAt: t0 + 2)
            let reply = storeEvent(.instantly, type: "reply_received", body: #"{"reply_text":"cc \#(decomposed)"}"#, receivedAt: t0 + 3)
            try recordPurchase(Purchase(eventID: paid.eventID, reference: "cs_zoe", email: shouted, amount: 900,
                                        currency: "eur", campaignID: nil, paymentLink: nil, rule: "sale"), now: t0 + 4)

            let erasure = try XCTUnwrap(try store.erase(email: shouted))
            XCTAssertEqual(erasure.purchasesAnonymised, 1, "her purchase row loses the address")
            XCTAssertEqual(erasure.eventsRedacted, 4, "her two events, and the two others naming her")
            XCTAssertEqual(try rawInt("SELECT count(*) FROM purchases WHERE email IS NOT NULL"), 0)
            XCTAssertEqual(try rawInt("SELECT count(*) FROM purchases WHERE reference = 'cs_zoe' AND amount = 900"), 1)
            XCTAssertEqual(try rawInt("SELECT length(body) FROM events WHERE id = \(updated)"), 0)
            XCTAssertEqual(try rawInt("SELECT length(body) FROM events WHERE id = \(reply)"), 0)
            XCTAssertNil(try store.contact(email: stored))
        }
    }

    func testAddressMatchingIsUnicodeCaseInsensitiveAndSeesEscapedForms() {
        let ann = AddressMatcher("Ann@Example.com")
        for text in ["ANN@EXAMPLE.COM", #"{"e":"ann\u0040example.com"}"#, "email=ann%40example.com&x=1", "email=ANN%2540example.com",
                     #"{"e":"\u0041nn@example.com"}"#, #"{"text":"Hi\nann@example.com"}"#, "Write to ann@example.com.",
                     #"\\u0061nn@example.com"#] {
            XCTAssertTrue(ann.isNamed(in: text), text)
        }
        XCTAssertTrue(AddressMatcher("kim@example.com").isNamed(in: "\u{212A}IM@example.com"), "KELVIN SIGN folds to k")
        for text in ["joann@example.com", "ann@example.com.au", "ann@example.community", "ann@example.co", "ännn@example.com"] {
            XCTAssertFalse(ann.isNamed(in: text), text)
        }
        XCTAssertEqual(ann.redacting(#"{"e":"ANN\u0040example.com","f":"ann%40example.com, not joann@example.com"}"#),
                       #"{"e":"[erased]","f":"[erased], not joann@example.com"}"#, "spans are replaced whole; JSON stays valid")
        let zoe = AddressMatcher("ZOË.ÄNGSTRÖM@EXAMPLE.COM")
        XCTAssertEqual(zoe.address, "zoë.ängström@example.com")
        for text in ["ZOË.ÄNGSTRÖM@EXAMPLE.COM", "ZOË.ÄNGSTRÖM@EXAMPLE.COM".decomposedStringWithCanonicalMapping,
                     #"zo\u00cb.\u00c4ngstr\u00f6m@example.com"#, "zo%C3%AB.%C3%A4ngstr%C3%B6m%40example.com"] {
            XCTAssertTrue(zoe.isNamed(in: text), text)
        }
        XCTAssertFalse(zoe.isNamed(in: "zoe.angstrom@example.com"))
    }

    func testEraseRedactsEveryOtherTableAndReportsWhatRemains() throws {
        try onEachEngine {
            let email = "cy@example.com"
            let event = instantly(.opened, email: email, at: t0, body: #"{"lead_email":"\#(email)"}"#)
            try apply(event)
            try executeRaw("""
                INSERT INTO alerts (kind, subject, state, first_raised_at, last_raised_at, last_message, context)
                VALUES ('job_dead', 'cy@example.com', 'raised', 1, 1, 'Instantly has no lead CY@example.com in campaign c',
                        '{"last_error":"Instantly has no lead cy\\u0040example.com in campaign c"}');
                INSERT INTO campaigns (id, name, updated_at) VALUES ('c', 'Follow-up for Cy%40Example.com', 1);
                UPDATE events SET headers = '{"x-forwarded-for-user":"cy@example.com"}';
                """)
            XCTAssertEqual(Set(try store.occurrences(ofEmail: "CY@EXAMPLE.COM").map(\.description)), [
                "alerts.subject (1 row)", "alerts.last_message (1 row)", "alerts.context (1 row)", "campaigns.name (1 row)",
                "contacts.email (1 row)", "events.body (1 row)", "events.headers (1 row)",
            ])
            let erasure = try XCTUnwrap(try store.erase(email: email))
            XCTAssertEqual(erasure.remaining, [])
            XCTAssertEqual(Set(erasure.otherRedacted.map(\.description)), [
                "alerts.subject (1 row)", "alerts.last_message (1 row)", "alerts.context (1 row)", "campaigns.name (1 row)",
                "events.headers (1 row)",
            ])
            XCTAssertEqual(try store.occurrences(ofEmail: email), [])
            let row = try XCTUnwrap(try rawRows("SELECT subject, last_message, context FROM alerts", columns: 3).first)
            XCTAssertEqual(row[0], "erased:alerts:1", "a value under a unique index is replaced whole")
            XCTAssertEqual(row[1], "Instantly has no lead [erased] in campaign c")
            XCTAssertEqual(row[2], #"{"last_error":"Instantly has no lead [erased] in campaign c"}"#)
            XCTAssertNil(try store.erase(email: email), "nothing names the address any more")
        }
    }

    func testPrunePayloadsSkipsEventsWithUnfinishedJobs() throws {
        try onEachEngine {
            let succeeded = storeEvent(.stripe, type: "t", body: "{\"a\":1}", receivedAt: 1000)
            let dead = storeEvent(.stripe, type: "t", body: "{\"a\":2}", receivedAt: 2000)
            let discarded = storeEvent(.stripe, type: "t", body: "{\"a\":3}", receivedAt: 3000)
            let running = storeEvent(.stripe, type: "t", body: "{\"a\":4}", receivedAt: 4000)
            let empty = storeEvent(.stripe, type: "t", body: "", receivedAt: 4500)
            let queued = storeEvent(.stripe, type: "t", body: "{\"a\":5}", receivedAt: 4600)
            let recent = storeEvent(.stripe, type: "t", body: "{\"a\":6}", receivedAt: 10_000)
            // The jobs' states as the job queue leaves them (claimed, succeeded, failed for good, discarded).
            try executeRaw("""
                UPDATE jobs SET state = 'succeeded' WHERE event_id IN (\(succeeded), \(empty));
                UPDATE jobs SET state = 'dead' WHERE event_id = \(dead);
                UPDATE jobs SET state = 'discarded' WHERE event_id = \(discarded);
                UPDATE jobs SET state = 'running', lease_owner = 'w', lease_expires_at = 64550 WHERE event_id = \(running);
                """)

            XCTAssertEqual(try store.prunePayloads(olderThan: 5000, limit: 1, now: 7000), 1)
            XCTAssertEqual(try store.prunePayloads(olderThan: 5000, limit: 1, now: 7000), 1)
            XCTAssertEqual(try store.prunePayloads(olderThan: 5000, limit: 1, now: 7000), 0)
            // Once its job finishes, the next pass (starting over) prunes it.
            try executeRaw("UPDATE jobs SET state = 'succeeded', lease_owner = NULL WHERE event_id = \(running)")
            XCTAssertEqual(try store.prunePayloads(olderThan: 5000, limit: 10, now: 9000), 1)
            XCTAssertEqual(try store.prunePayloads(olderThan: 5000, limit: 10, now: 9000), 0)

            var state: [Int64: (bytes: Int64, prunedAt: Int64?)] = [:]
            for row in try rawRows("SELECT id, length(body), pruned_at FROM events ORDER BY id", columns: 3) {
                state[Int64(row[0] ?? "") ?? -1] = (Int64(row[1] ?? "") ?? -1, row[2].flatMap { Int64($0) })
            }
            XCTAssertEqual(state[succeeded]?.bytes, 0)
            XCTAssertEqual(state[succeeded]?.prunedAt, 7000)
            XCTAssertEqual(state[discarded]?.prunedAt, 7000)
            XCTAssertEqual(state[running]?.prunedAt, 9000)
            for kept in [dead, queued, recent] {
                XCTAssertNotEqual(state[kept]?.bytes, 0, "event \(kept)")
                XCTAssertNil(state[kept]?.prunedAt, "event \(kept)")
            }
            XCTAssertNil(state[empty]?.prunedAt, "an empty body is not pruned")
        }
    }
}

private extension ContactStorage {
    /// Whether `admitRuleRun` admits the flow, with no cap for everyone.
    func admits(rule: String, email: String, flow: String, now: Int64, maxPerDay: Int) throws -> Bool {
        try admitRuleRun(rule: rule, email: email, flow: flow, now: now, maxPerDay: maxPerDay, maxTotalPerDay: nil, eventID: nil) == .admitted
    }
}
