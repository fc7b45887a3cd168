import Foundation
import TestSupport
import XCTest
@testable import Outbound

/// `InstantlyClient`'s webhook and delivery-log calls, through libcurl against `FakeInstantlyAPI`.
final class InstantlyWebhookClientTests: XCTestCase {
    private let target = "https://hooks.example.com/webhooks/instantly"
    private let campaign = "f9cc070d-8dba-4341-b847-f083c358e460"

    private func client(_ fake: FakeInstantlyAPI) -> InstantlyClient {
        InstantlyClient(transport: liveTransport(fake.server, provider: "Instantly", apiKey: fake.apiKey))
    }

    func testListFollowsTheCursorAcrossPages() throws {
        let fake = try FakeInstantlyAPI()
        let ids = (1...103).map { fake.addWebhook(targetURL: "https://tool\($0).example.com/hook", name: "tool \($0)") }

        let webhooks = try client(fake).webhooks()

        XCTAssertEqual(webhooks.map(\.id), ids)
        XCTAssertEqual(webhooks[102], InstantlyWebhook(id: ids[102], name: "tool 103", targetURL: "https://tool103.example.com/hook",
                                                       eventType: "all_events", campaign: nil, headers: [:], status: 1,
                                                       created: webhooks[102].created, disabledAt: nil))
        XCTAssertEqual(fake.requests.map(\.target), ["/api/v2/webhooks?limit=100", "/api/v2/webhooks?limit=100&starting_after=\(ids[99])"])
        XCTAssertEqual(fake.requests.map(\.method), ["GET", "GET"])
        XCTAssertNil(fake.requests[0].headers["Content-Type"].flatMap { $0.isEmpty ? nil : $0 })

        let page = try client(fake).webhooksPage(limit: 2, startingAfter: ids[100])
        XCTAssertEqual(page.items.map(\.id), [ids[101], ids[102]])
        XCTAssertNil(page.nextStartingAfter)
        let first = try client(fake).webhooksPage(limit: 2)
        XCTAssertEqual(first.nextStartingAfter, ids[1])
    }

    func testCreateSendsEveryFieldAndParsesTheWebhook() throws {
        let fake = try FakeInstantlyAPI()
        let fields = InstantlyWebhookFields(targetURL: target, name: "hookyard", eventType: "all_events", campaign: .some(nil),
                                            headers: ["X-Webhook-Secret": "s3cret"])

        let created = try client(fake).createWebhook(fields)

        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.target, "/api/v2/webhooks")
        XCTAssertEqual(request.headers["Content-Type"], "application/json")
        XCTAssertEqual(request.body, #"{"campaign":null,"event_type":"all_events","headers":{"X-Webhook-Secret":"s3cret"},"name":"hookyard","target_hook_url":"https://hooks.example.com/webhooks/instantly"}"#)
        let stored = try XCTUnwrap(fake.webhooks.first)
        XCTAssertEqual(created, InstantlyWebhook(id: stored.id, name: "hookyard", targetURL: target, eventType: "all_events", campaign: nil,
                                                 headers: ["X-Webhook-Secret": "s3cret"], status: 1, created: created.created))
        XCTAssertEqual(stored.headers, ["X-Webhook-Secret": "s3cret"])
        XCTAssertNotNil(created.created)

        // Without campaign in the fields, null is still sent: the whole workspace.
        _ = try client(fake).createWebhook(InstantlyWebhookFields(targetURL: target, eventType: "email_sent"))
        XCTAssertEqual(fake.requests.last?.body, #"{"campaign":null,"event_type":"email_sent","target_hook_url":"https://hooks.example.com/webhooks/instantly"}"#)
    }

    func testUpdateSendsOnlyTheChangedFields() throws {
        let fake = try FakeInstantlyAPI()
        let id = fake.addWebhook(targetURL: "https://old.example.com/webhooks/instantly", name: "hookyard", headers: ["X-Webhook-Secret": "old"])

        let updated = try client(fake).updateWebhook(id: id, InstantlyWebhookFields(targetURL: target, campaign: .some(campaign),
                                                                                     headers: ["X-Webhook-Secret": "new"]))

        XCTAssertEqual(fake.requests.last?.method, "PATCH")
        XCTAssertEqual(fake.requests.last?.target, "/api/v2/webhooks/\(id)")
        XCTAssertEqual(fake.requests.last?.body,
                       #"{"campaign":"f9cc070d-8dba-4341-b847-f083c358e460","headers":{"X-Webhook-Secret":"new"},"target_hook_url":"https://hooks.example.com/webhooks/instantly"}"#)
        XCTAssertEqual(updated.targetURL, target)
        XCTAssertEqual(updated.campaign, campaign)
        XCTAssertEqual(updated.name, "hookyard")
        XCTAssertEqual(fake.webhook(id: id)?.headers, ["X-Webhook-Secret": "new"])

        // Back to the whole workspace: campaign null is sent.
        _ = try client(fake).updateWebhook(id: id, InstantlyWebhookFields(campaign: .some(nil)))
        XCTAssertEqual(fake.requests.last?.body, #"{"campaign":null}"#)
        XCTAssertNil(fake.webhook(id: id)?.campaign)
        XCTAssertEqual(InstantlyWebhookFields(campaign: .some(nil), headers: ["A": "x"]).names, ["campaign", "headers"])
    }

    func testResumeTurnsADisabledWebhookBackOn() throws {
        let fake = try FakeInstantlyAPI()
        let id = fake.addWebhook(targetURL: target)
        fake.disableWebhook(id: id, at: Date(timeIntervalSince1970: 1_795_000_000))
        let listed = try XCTUnwrap(try client(fake).webhooks().first)
        XCTAssertTrue(listed.isDisabled)
        XCTAssertEqual(listed.statusName, "disabled")
        XCTAssertEqual(listed.disabledAt, "2026-11-18T11:06:40.000Z")

        let resumed = try client(fake).resumeWebhook(id: id)

        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.target, "/api/v2/webhooks/\(id)/resume")
        XCTAssertEqual(request.body, "")
        XCTAssertEqual(request.headers["Content-Type"] ?? "", "", "no body, so no JSON content type (Fastify answers 400 to one)")
        XCTAssertEqual(resumed.status, 1)
        XCTAssertNil(resumed.disabledAt)
        XCTAssertEqual(fake.webhook(id: id)?.status, 1)
    }

    func testDeliveryLogIsFilteredByURLSuccessAndDayNewestFirst() throws {
        let fake = try FakeInstantlyAPI()
        let day = 86_400.0
        let t0 = Date(timeIntervalSince1970: 1_795_478_400)  // 2026-11-24T00:00:00Z
        let old = fake.addDelivery(webhookURL: target, success: false, statusCode: 500, at: t0.addingTimeInterval(-day + 60))
        let first = fake.addDelivery(webhookURL: target, success: false, statusCode: 401, errorMessage: "Unauthorized",
                                     at: t0.addingTimeInterval(3600), retryCount: 2, willRetry: true, leadEmail: "ann@example.com")
        fake.addDelivery(webhookURL: target, success: true, statusCode: 200, at: t0.addingTimeInterval(3700))
        fake.addDelivery(webhookURL: "https://other.example.com/hook", success: false, statusCode: 500, at: t0.addingTimeInterval(3800))
        let last = fake.addDelivery(webhookURL: target, success: false, statusCode: nil, errorMessage: "Connection timeout",
                                    at: t0.addingTimeInterval(7200))

        let (deliveries, complete) = try client(fake).webhookDeliveries(
            InstantlyDeliveryQuery(search: target, success: false, from: "2026-11-24"), maxPages: 3)

        XCTAssertTrue(complete)
        XCTAssertEqual(fake.requests.last?.target,
                       "/api/v2/webhook-events?from=2026-11-24&limit=100&search=https%3A%2F%2Fhooks.example.com%2Fwebhooks%2Finstantly&success=false")
        XCTAssertEqual(deliveries, [
            InstantlyWebhookDelivery(id: last, created: "2026-11-24T02:00:00.000Z", success: false, webhookURL: target, statusCode: nil,
                                     errorMessage: "Connection timeout"),
            InstantlyWebhookDelivery(id: first, created: "2026-11-24T01:00:00.000Z", success: false, webhookURL: target, statusCode: 401,
                                     errorMessage: "Unauthorized", retryCount: 2, willRetry: true, leadEmail: "ann@example.com"),
        ])
        let everything = try client(fake).webhookDeliveries(InstantlyDeliveryQuery(search: target, to: "2026-11-23"), maxPages: 1)
        XCTAssertEqual(everything.deliveries.map(\.id), [old])
    }

    func testDeliveryLogStopsAtMaxPagesAndSaysSo() throws {
        let fake = try FakeInstantlyAPI()
        let start = Date(timeIntervalSince1970: 1_795_478_400)
        for index in 0..<230 { fake.addDelivery(webhookURL: target, success: false, statusCode: 503, at: start.addingTimeInterval(Double(index))) }

        let capped = try client(fake).webhookDeliveries(InstantlyDeliveryQuery(search: target), maxPages: 2)
        XCTAssertFalse(capped.complete)
        XCTAssertEqual(capped.deliveries.count, 200)
        let all = try client(fake).webhookDeliveries(InstantlyDeliveryQuery(search: target), maxPages: 3)
        XCTAssertTrue(all.complete)
        XCTAssertEqual(all.deliveries.count, 230)
        XCTAssertEqual(Set(all.deliveries.map(\.id)).count, 230)
    }

    func testFailuresCarryInstantlysMessage() throws {
        let fake = try FakeInstantlyAPI()
        let invalid = expectFailure { () throws(ProviderFailure) in
            try client(fake).createWebhook(InstantlyWebhookFields(targetURL: target, eventType: "lead_bought"))
        }
        XCTAssertEqual(invalid?.message, "Instantly answered 400: body/event_type must be equal to one of the allowed values")
        XCTAssertEqual(invalid?.retryable, false)

        fake.forceStatus(pathPrefix: "/api/v2/webhooks", status: 402,
                         body: #"{"statusCode":402,"error":"Payment Required","message":"Workspace does not have an active paid plan"}"#)
        let unpaid = expectFailure { () throws(ProviderFailure) in try client(fake).webhooks() }
        XCTAssertEqual(unpaid?.message, "Instantly answered 402: Workspace does not have an active paid plan")
        XCTAssertEqual(unpaid?.status, 402)
        fake.clearForcedStatus()

        let missing = expectFailure { () throws(ProviderFailure) in try client(fake).resumeWebhook(id: "0198f3a3-0b0c-7000-8000-0000000000ff") }
        XCTAssertEqual(missing?.message, "Instantly answered 404: Webhook not found")

        let malformed = InstantlyClient(transport: CannedTransport(provider: "Instantly", body: #"{"items":[{"id":"w1"}]}"#))
        XCTAssertEqual(expectFailure { () throws(ProviderFailure) in try malformed.webhooks() }?.message,
                       "Instantly answered 200 to GET /api/v2/webhooks with a webhook without an id or target_hook_url")
        let noItems = InstantlyClient(transport: CannedTransport(provider: "Instantly", body: #"{"data":[]}"#))
        XCTAssertEqual(expectFailure { () throws(ProviderFailure) in try noItems.webhookDeliveriesPage(InstantlyDeliveryQuery()) }?.message,
                       "Instantly answered 200 to GET /api/v2/webhook-events without an items list")
    }
}
