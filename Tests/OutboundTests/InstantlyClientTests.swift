import Foundation
import HTTPServer
import TestSupport
import XCTest
@testable import Outbound
import StrictJSON

/// Response bodies shaped like Instantly API v2's (`Lead`, `BackgroundJob` in the OpenAPI extract).
enum InstantlyFixtures {
    static func lead(id: String = "0199a8f2-5c1e-7b3d-9a11-2f6c4e8d0b17", email: String = "ann@example.com") -> String {
        #"""
        {"id":"\#(id)","timestamp_created":"2026-11-20T10:00:00.000Z","timestamp_updated":"2026-11-24T08:30:00.000Z",
         "organization":"5f2b8c1e-0d3a-4e7b-9c6f-1a2b3c4d5e6f","campaign":"f9cc070d-8dba-4341-b847-f083c358e460","status":1,
         "email":"\#(email)","first_name":"Ann","last_name":"Lee","company_name":"Lee & Co","email_open_count":3,"email_reply_count":1,
         "email_click_count":0,"company_domain":"example.com","status_summary":{},
         "payload":{"plan":"pro","seats":3,"discount":0.15,"vip":true,"note":null,"tags":["a"],"nested":{"x":1}},
         "lt_interest_status":1,"verification_status":1,"upload_method":"api","list_id":null}
        """#
    }

    static let job = #"""
    {"id":"67a1f0c2e4b0a1b2c3d4e5f6","workspace_id":"5f2b8c1e-0d3a-4e7b-9c6f-1a2b3c4d5e6f","user_id":null,"type":"move-leads",
     "entity_id":"f9cc070d-8dba-4341-b847-f083c358e460","entity_type":"campaign","data":{},"progress":0,"status":"pending",
     "created_at":"2026-11-24T08:30:00.000Z","updated_at":"2026-11-24T08:30:00.000Z"}
    """#
}

final class InstantlyClientTests: XCTestCase {
    private let campaign = "f9cc070d-8dba-4341-b847-f083c358e460"
    private let target = "a1d2c3b4-0000-4000-8000-000000000002"

    private func instantly(_ fake: FakeAPIServer) -> InstantlyClient {
        InstantlyClient(transport: liveTransport(fake, provider: "Instantly", apiKey: "inst_key_1"))
    }

    private func fakeInstantly() throws -> FakeAPIServer {
        try FakeAPIServer { request in
            switch (request.method, String(request.path)) {
            case ("POST", "/api/v2/leads/list"):
                // Someone else first: the client must pick the lead with the asked email.
                let items = String(decoding: request.body, as: UTF8.self).contains("nobody") ? ""
                    : InstantlyFixtures.lead(id: "other", email: "annette@example.com") + "," + InstantlyFixtures.lead(email: "ANN@example.com")
                return .json(status: 200, #"{"items":[\#(items)],"next_starting_after":"0199a8f2"}"#)
            case ("POST", "/api/v2/leads"), ("PATCH", _): return .json(status: 200, InstantlyFixtures.lead())
            case ("POST", "/api/v2/leads/move"): return .json(status: 200, InstantlyFixtures.job)
            case ("GET", _) where request.path.hasPrefix("/api/v2/background-jobs/"):
                return .json(status: 200, InstantlyFixtures.job.replacingOccurrences(of: #""status":"pending""#, with: #""status":"success""#))
            case ("POST", "/api/v2/leads/update-interest-status"):
                return .json(status: 202, #"{"message":"Lead interest status update background job submitted"}"#)
            default:
                return .json(status: 404, #"{"statusCode":404,"error":"Not Found","message":"Resource not found"}"#)
            }
        }
    }

    private func assertJSONHeaders(_ request: FakeAPIServer.Recorded, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(request.headers["Authorization"], "Bearer inst_key_1", file: file, line: line)
        XCTAssertEqual(request.headers["Content-Type"], "application/json", file: file, line: line)
        XCTAssertEqual(request.headers["User-Agent"], "hookyard/test", file: file, line: line)
        XCTAssertNil(request.headers["Idempotency-Key"], file: file, line: line)
    }

    func testFindLeadMatchesEmailCaseInsensitivelyAndParsesPayload() throws {
        let fake = try fakeInstantly()
        let client = instantly(fake)
        let lead = try XCTUnwrap(try client.findLead(email: "Ann@Example.com", campaign: campaign))
        XCTAssertEqual(lead, InstantlyLead(id: "0199a8f2-5c1e-7b3d-9a11-2f6c4e8d0b17", email: "ANN@example.com", campaign: campaign,
                                           status: 1, interestStatus: 1,
                                           variables: ["plan": "pro", "seats": 3, "discount": 0.15, "vip": true, "note": .null]))
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.target, "/api/v2/leads/list")
        XCTAssertEqual(request.body, #"{"campaign":"f9cc070d-8dba-4341-b847-f083c358e460","contacts":["Ann@Example.com"],"limit":1}"#)
        assertJSONHeaders(request)

        XCTAssertNil(try client.findLead(email: "nobody@example.com", campaign: nil))
        XCTAssertEqual(fake.requests.last?.body, #"{"contacts":["nobody@example.com"],"limit":1}"#)
    }

    func testCreateLeadBodyIsDeterministic() throws {
        let fake = try fakeInstantly()
        let client = instantly(fake)
        let variables: [String: InstantlyValue] = ["zeta": "last", "seats": 3, "ratio": 0.5, "big": 12_345_678_901, "vip": false,
                                                    "gone": .null, "quote": "say \"hi\"\n", "alpha": -2]
        for _ in 0..<2 {
            let lead = try client.createLead(campaign: campaign, email: "ann@example.com", firstName: "Ann", lastName: nil,
                                             companyName: "Lee & Co", variables: variables)
            XCTAssertEqual(lead.id, "0199a8f2-5c1e-7b3d-9a11-2f6c4e8d0b17")
        }
        let requests = fake.requests
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests[0].body, requests[1].body)
        XCTAssertEqual(requests[0].method, "POST")
        XCTAssertEqual(requests[0].target, "/api/v2/leads")
        XCTAssertEqual(requests[0].body, #"{"campaign":"f9cc070d-8dba-4341-b847-f083c358e460","company_name":"Lee & Co","#
                       + #""custom_variables":{"alpha":-2,"big":12345678901,"gone":null,"quote":"say \"hi\"\n","ratio":0.5,"seats":3,"vip":false,"zeta":"last"},"#
                       + #""email":"ann@example.com","first_name":"Ann","skip_if_in_campaign":true}"#)
        assertJSONHeaders(requests[0])

        _ = try client.createLead(campaign: campaign, email: "bo@example.com", firstName: nil, lastName: "Bo", companyName: nil, variables: [:])
        XCTAssertEqual(fake.requests.last?.body,
                       #"{"campaign":"f9cc070d-8dba-4341-b847-f083c358e460","email":"bo@example.com","last_name":"Bo","skip_if_in_campaign":true}"#)
    }

    func testReplaceLeadVariablesSendsTheCompleteSet() throws {
        let fake = try fakeInstantly()
        let lead = try instantly(fake).replaceLeadVariables(id: "0199a8f2-5c1e-7b3d-9a11-2f6c4e8d0b17",
                                                            variables: ["plan": "pro", "paid": true, "payment_link": "https://buy.stripe.com/x"])
        XCTAssertEqual(lead.email, "ann@example.com")
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.method, "PATCH")
        XCTAssertEqual(request.target, "/api/v2/leads/0199a8f2-5c1e-7b3d-9a11-2f6c4e8d0b17")
        XCTAssertEqual(request.body, #"{"custom_variables":{"paid":true,"payment_link":"https://buy.stripe.com/x","plan":"pro"}}"#)
        assertJSONHeaders(request)
    }

    func testMoveLeadAndPollTheBackgroundJob() throws {
        let fake = try fakeInstantly()
        let client = instantly(fake)
        let job = try client.moveLead(id: "0199a8f2-5c1e-7b3d-9a11-2f6c4e8d0b17", fromCampaign: campaign, toCampaign: target)
        XCTAssertEqual(job, InstantlyBackgroundJob(id: "67a1f0c2e4b0a1b2c3d4e5f6", status: "pending"))
        XCTAssertFalse(job.isFinished)
        XCTAssertFalse(job.succeeded)
        let move = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(move.target, "/api/v2/leads/move")
        XCTAssertEqual(move.body, #"{"campaign":"f9cc070d-8dba-4341-b847-f083c358e460","ids":["0199a8f2-5c1e-7b3d-9a11-2f6c4e8d0b17"],"#
                       + #""to_campaign_id":"a1d2c3b4-0000-4000-8000-000000000002"}"#)
        assertJSONHeaders(move)

        let done = try client.backgroundJob(id: job.id)
        XCTAssertTrue(done.isFinished)
        XCTAssertTrue(done.succeeded)
        let poll = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(poll.method, "GET")
        XCTAssertEqual(poll.target, "/api/v2/background-jobs/67a1f0c2e4b0a1b2c3d4e5f6")
        XCTAssertNil(poll.headers["Content-Type"])
        XCTAssertEqual(poll.body, "")

        XCTAssertTrue(InstantlyBackgroundJob(id: "j", status: "failed").isFinished)
        XCTAssertFalse(InstantlyBackgroundJob(id: "j", status: "failed").succeeded)
        XCTAssertFalse(InstantlyBackgroundJob(id: "j", status: "in-progress").isFinished)
    }

    func testUpdateInterestStatusAccepts202() throws {
        let fake = try fakeInstantly()
        try instantly(fake).updateInterestStatus(email: "ann@example.com", campaign: campaign, value: -1)
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.target, "/api/v2/leads/update-interest-status")
        XCTAssertEqual(request.body, #"{"campaign_id":"f9cc070d-8dba-4341-b847-f083c358e460","interest_value":-1,"lead_email":"ann@example.com"}"#)
        assertJSONHeaders(request)
    }

    func testErrorsAndUnexpectedAnswers() throws {
        let fake = try fakeInstantly()
        fake.inject(.status(400, headers: [], body: #"{"statusCode":400,"error":"Bad Request","message":"body/campaign must match format \"uuid\""}"#))
        let failure = expectFailure { () throws(ProviderFailure) in try instantly(fake).findLead(email: "a@b.c", campaign: "nope") }
        XCTAssertEqual(failure?.message, #"Instantly answered 400: body/campaign must match format "uuid""#)
        XCTAssertEqual(failure?.retryable, false)

        let canned = { (body: String) in InstantlyClient(transport: CannedTransport(provider: "Instantly", body: body)) }
        let noItems = expectFailure { () throws(ProviderFailure) in try canned(#"{"data":[]}"#).findLead(email: "a@b.c", campaign: nil) }
        XCTAssertEqual(noItems?.message, "Instantly answered 200 to POST /api/v2/leads/list without an items list")
        XCTAssertEqual(noItems?.retryable, false)
        let noJob = expectFailure { () throws(ProviderFailure) in try canned(#"{"id":"j1"}"#).backgroundJob(id: "j1") }
        XCTAssertEqual(noJob?.message, "Instantly answered 200 to GET /api/v2/background-jobs/j1 without a background job id and status")
        let noLead = expectFailure { () throws(ProviderFailure) in
            try canned("[]").createLead(campaign: "c", email: "a@b.c", firstName: nil, lastName: nil, companyName: nil, variables: [:])
        }
        XCTAssertEqual(noLead?.message, "Instantly answered 200 to POST /api/v2/leads with a body that is not a JSON object: []")
    }

    func testValuesEncodeAsNaturalJSONScalars() {
        XCTAssertEqual(JSONValue.number(3).serialized(), "3")
        XCTAssertEqual(JSONValue.number(-0.0).serialized(), "0")
        XCTAssertEqual(JSONValue.number(0.1).serialized(), "0.1")
        XCTAssertEqual(JSONValue.number(.nan).serialized(), "null")
        XCTAssertEqual(JSONValue.object(["b": InstantlyValue.bool(true).json, "a": InstantlyValue.number(2.5).json,
                                         "c": InstantlyValue.string("\u{1}é").json]).serialized(),
                       #"{"a":2.5,"b":true,"c":"\u0001é"}"#)
    }
}
