import Foundation
import HTTPServer
import TestSupport
import XCTest
@testable import Outbound

/// Payment link seat limits and deactivation, lead removal, and campaign pause/resume, through the real libcurl
/// client against the fake Stripe and Instantly APIs.
final class LinkAndCampaignClientTests: XCTestCase {
    private let campaign = "0e7c1d2a-1111-4a5b-9c3d-aaaaaaaaaaaa"

    private func stripe(_ fake: FakeStripeAPI) -> StripeClient {
        StripeClient(transport: liveTransport(fake.server, apiKey: fake.apiKey))
    }

    private func instantly(_ fake: FakeInstantlyAPI) -> InstantlyClient {
        InstantlyClient(transport: liveTransport(fake.server, provider: "Instantly", apiKey: fake.apiKey))
    }

    func testSeatLimitIsSentAsACompletedSessionsRestrictionAndClosesTheLink() throws {
        let fake = try FakeStripeAPI()
        fake.addPrice(id: "price_team", unitAmount: 9900)
        let link = try stripe(fake).createPaymentLink(price: "price_team", quantity: 1, metadata: [("tier", "team")], seatLimit: 2,
                                                      idempotencyKey: "hookyard-seat-1")
        XCTAssertEqual(link.seatLimit, 2)
        XCTAssertTrue(link.active)
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertTrue(request.body.hasSuffix("&restrictions%5Bcompleted_sessions%5D%5Blimit%5D=2"), request.body)
        XCTAssertEqual(fake.paymentLinks.first?.seatLimit, 2)

        try fake.addCheckoutSession(paymentLinkID: link.id, email: "a@example.com")
        XCTAssertTrue(try stripe(fake).retrievePaymentLink(id: link.id).active)
        try fake.addCheckoutSession(paymentLinkID: link.id, email: "b@example.com")
        let full = try stripe(fake).retrievePaymentLink(id: link.id)
        XCTAssertFalse(full.active, "Stripe deactivates the link when the limit is reached")
        XCTAssertThrowsError(try fake.addCheckoutSession(paymentLinkID: link.id, email: "c@example.com"))
        XCTAssertEqual(fake.paymentLinks.first?.completedSessions, 2)

        // Without a seat limit no restriction is sent.
        _ = try stripe(fake).createPaymentLink(price: "price_team", quantity: 1, metadata: [], idempotencyKey: "hookyard-seat-2")
        XCTAssertFalse(try XCTUnwrap(fake.requests.last).body.contains("restrictions"))
        XCTAssertNil(fake.paymentLinks.last?.seatLimit)
    }

    func testDeactivatePaymentLinkPostsActiveFalseWithTheIdempotencyKey() throws {
        let fake = try FakeStripeAPI()
        fake.addPrice(id: "price_team", unitAmount: 9900)
        let client = stripe(fake)
        let link = try client.createPaymentLink(price: "price_team", quantity: 1, metadata: [], idempotencyKey: "hookyard-create")
        let deactivated = try client.deactivatePaymentLink(id: link.id, idempotencyKey: "hookyard-off")
        XCTAssertEqual(deactivated.id, link.id)
        XCTAssertFalse(deactivated.active)
        XCTAssertEqual(fake.paymentLinks.first?.active, false)
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/v1/payment_links/\(link.id)")
        XCTAssertEqual(request.body, "active=false")
        XCTAssertEqual(request.headers["Idempotency-Key"], "hookyard-off")
        XCTAssertThrowsError(try fake.addCheckoutSession(paymentLinkID: link.id, email: "a@example.com"))

        let missing = expectFailure { () throws(ProviderFailure) in try client.deactivatePaymentLink(id: "plink_404", idempotencyKey: "k2") }
        XCTAssertEqual(missing?.status, 404)
        XCTAssertEqual(missing?.retryable, false)
    }

    func testDeleteLeadSendsNoBodyAndRemovesTheLead() throws {
        let fake = try FakeInstantlyAPI()
        let id = fake.addLead(email: "ann@example.com", campaign: campaign)
        let other = fake.addLead(email: "bob@example.com", campaign: campaign)
        let deleted = try instantly(fake).deleteLead(id: id)
        XCTAssertEqual(deleted.id, id)
        XCTAssertEqual(deleted.email, "ann@example.com")
        XCTAssertEqual(fake.leads.map(\.id), [other])
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.method, "DELETE")
        XCTAssertEqual(request.path, "/api/v2/leads/\(id)")
        XCTAssertEqual(request.body, "")
        XCTAssertNil(request.headers["Content-Type"], "Instantly answers 400 to an empty JSON body")

        let again = expectFailure { () throws(ProviderFailure) in try instantly(fake).deleteLead(id: id) }
        XCTAssertEqual(again?.status, 404)
        XCTAssertEqual(again?.retryable, false)
    }

    func testCampaignStatusPauseAndActivate() throws {
        let fake = try FakeInstantlyAPI()
        fake.addCampaign(id: campaign, name: "Outreach", status: 1)
        let client = instantly(fake)
        XCTAssertEqual(try client.campaign(id: campaign), InstantlyCampaign(id: campaign, name: "Outreach", status: 1))
        let paused = try client.pauseCampaign(id: campaign)
        XCTAssertEqual(paused.status, InstantlyCampaign.paused)
        XCTAssertEqual(paused.statusName, "paused")
        XCTAssertEqual(fake.campaign(id: campaign)?.status, 2)
        let pause = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(pause.method, "POST")
        XCTAssertEqual(pause.path, "/api/v2/campaigns/\(campaign)/pause")
        XCTAssertNil(pause.headers["Content-Type"])
        let active = try client.activateCampaign(id: campaign)
        XCTAssertEqual(active.statusName, "active")
        XCTAssertEqual(fake.campaign(id: campaign)?.status, 1)
        XCTAssertEqual(fake.requests.last?.path, "/api/v2/campaigns/\(campaign)/activate")

        let missing = expectFailure { () throws(ProviderFailure) in
            try client.pauseCampaign(id: "0e7c1d2a-9999-4a5b-9c3d-aaaaaaaaaaaa")
        }
        XCTAssertEqual(missing?.status, 404)
        XCTAssertEqual(InstantlyCampaign(id: "x", status: -99).statusName, "account_suspended")
        XCTAssertEqual(InstantlyCampaign(id: "x", status: 7).statusName, "7")
    }

    func testDryRunAnswersTheNewEndpoints() throws {
        let stripe = StripeClient(transport: DryRunProviderTransport(provider: "Stripe"))
        XCTAssertFalse(try stripe.deactivatePaymentLink(id: "plink_1", idempotencyKey: "k").active)
        let instantly = InstantlyClient(transport: DryRunProviderTransport(provider: "Instantly"))
        XCTAssertEqual(try instantly.campaign(id: campaign).status, InstantlyCampaign.draft)
        XCTAssertEqual(try instantly.pauseCampaign(id: campaign), InstantlyCampaign(id: campaign, name: "dry run", status: 2))
        XCTAssertEqual(try instantly.activateCampaign(id: campaign).status, 1)
        XCTAssertEqual(try instantly.deleteLead(id: "lead-1").id, "lead-1")
    }
}
