import Foundation
import HTTPServer
import TestSupport
import XCTest
@testable import Outbound

/// Drives the fake Stripe and Instantly APIs through Outbound's libcurl client, as the daemon will.
final class FakeProvidersTests: XCTestCase {
    private let campaignA = "0e7c1d2a-1111-4a5b-9c3d-aaaaaaaaaaaa"
    private let campaignB = "0e7c1d2a-2222-4a5b-9c3d-bbbbbbbbbbbb"

    // MARK: Helpers

    private func stripe(_ fake: FakeStripeAPI, _ method: String, _ path: String, _ form: [(String, FormValue)] = [],
                        idempotencyKey: String? = nil, apiKey: String? = nil, client: HTTPClient? = nil) throws -> HTTPClientResponse {
        var headers = [("Authorization", "Bearer \(apiKey ?? fake.apiKey)")]
        if !form.isEmpty { headers.append(("Content-Type", "application/x-www-form-urlencoded")) }
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        return try (client ?? HTTPClient(userAgent: "hookyard/test"))
            .send(method: method, url: fake.baseURL + path, headers: headers, body: Array(FormEncoder.encode(form).utf8))
    }

    private func instantly(_ fake: FakeInstantlyAPI, _ method: String, _ path: String, _ json: String? = nil,
                           apiKey: String? = nil, client: HTTPClient? = nil) throws -> HTTPClientResponse {
        var headers: [(String, String)] = []
        let key = apiKey ?? fake.apiKey
        if !key.isEmpty { headers.append(("Authorization", "Bearer \(key)")) }
        if json != nil { headers.append(("Content-Type", "application/json")) }
        return try (client ?? HTTPClient(userAgent: "hookyard/test"))
            .send(method: method, url: fake.baseURL + path, headers: headers, body: Array((json ?? "").utf8))
    }

    private func object(_ response: HTTPClientResponse) throws -> TestJSON { try TestJSON(parsing: response.body) }

    // MARK: Stripe

    func testStripeRejectsMissingOrWrongKey() throws {
        let fake = try FakeStripeAPI(apiKey: "sk_test_right_key_1234")
        let client = HTTPClient(userAgent: "hookyard/test")
        let missing = try client.send(method: "GET", url: fake.baseURL + "/v1/customers", headers: [], body: [])
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(try object(missing)["error"]?["type"], "invalid_request_error")
        XCTAssertTrue(missing.headers["request-id"]?.hasPrefix("req_") ?? false)
        let wrong = try stripe(fake, "GET", "/v1/customers", apiKey: "sk_test_wrong_key_9999", client: client)
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(try object(wrong)["error"]?["message"]?.stringValue?.hasPrefix("Invalid API Key provided: sk_test_"), true)
        XCTAssertFalse(wrong.bodyText.contains("wrong_key"), "the key is masked")
    }

    func testStripeCustomersParseBracketedFormsAndMergeMetadata() throws {
        let fake = try FakeStripeAPI()
        let client = HTTPClient(userAgent: "hookyard/test")
        let created = try stripe(fake, "POST", "/v1/customers", [
            ("email", "ann+lead@example.com"), ("name", "Ann Lee"),
            ("metadata", ["lead_email": "ann+lead@example.com", "campaign id": "c/1 & 2", "stale": "x"]),
        ], client: client)
        XCTAssertEqual(created.status, 200, created.bodyText)
        let customer = try object(created)
        XCTAssertEqual(customer["id"], "cus_1")
        XCTAssertEqual(customer["object"], "customer")
        XCTAssertEqual(customer["metadata"], ["lead_email": "ann+lead@example.com", "campaign id": "c/1 & 2", "stale": "x"])
        XCTAssertEqual(fake.customers.first?.email, "ann+lead@example.com")

        // Lookup by exact email reads its own write.
        let found = try stripe(fake, "GET", "/v1/customers?email=\(FormEncoder.percentEncode("ann+lead@example.com"))&limit=1", client: client)
        XCTAssertEqual(try object(found)["data"]?.arrayValue?.map { $0["id"] }, ["cus_1"])
        XCTAssertEqual(try object(found)["url"], "/v1/customers")
        let other = try stripe(fake, "GET", "/v1/customers?email=ANN%2Blead%40example.com", client: client)
        XCTAssertEqual(try object(other)["data"], [])

        // Update merges metadata; an empty value deletes a key.
        let updated = try stripe(fake, "POST", "/v1/customers/cus_1", [("metadata", ["paid": "true", "stale": ""])], client: client)
        XCTAssertEqual(try object(updated)["metadata"], ["lead_email": "ann+lead@example.com", "campaign id": "c/1 & 2", "paid": "true"])
        XCTAssertEqual(fake.customers.first?.metadata["paid"], "true")

        let missing = try stripe(fake, "POST", "/v1/customers/cus_404", [("name", "x")], client: client)
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(try object(missing)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try object(missing)["error"]?["message"], "No such customer: 'cus_404'")

        let unknown = try stripe(fake, "POST", "/v1/customers", [("emial", "typo@example.com")], client: client)
        XCTAssertEqual(unknown.status, 400)
        XCTAssertEqual(try object(unknown)["error"]?["param"], "emial")
        XCTAssertEqual(fake.customers.count, 1)
    }

    func testStripeIdempotentReplayAndKeyReuseWithOtherParameters() throws {
        let fake = try FakeStripeAPI()
        fake.addPrice(id: "price_pro", unitAmount: 4900, currency: "usd")
        let client = HTTPClient(userAgent: "hookyard/test")
        let form: [(String, FormValue)] = [("line_items", [["price": "price_pro", "quantity": 1]]),
                                           ("metadata", ["lead_email": "a@b.com", "campaign_id": "c1"])]
        let first = try stripe(fake, "POST", "/v1/payment_links", form, idempotencyKey: "job-1-step-2", client: client)
        XCTAssertEqual(first.status, 200, first.bodyText)
        XCTAssertNil(first.headers["idempotent-replayed"])
        let link = try object(first)
        XCTAssertEqual(link["id"], "plink_1")
        XCTAssertEqual(link["url"], "https://buy.stripe.com/test_1")
        XCTAssertEqual(link["metadata"], ["lead_email": "a@b.com", "campaign_id": "c1"])
        XCTAssertEqual(link["line_items"]?["data"]?.arrayValue?.first?["price"]?["id"], "price_pro")

        let replay = try stripe(fake, "POST", "/v1/payment_links", form, idempotencyKey: "job-1-step-2", client: client)
        XCTAssertEqual(replay.status, 200)
        XCTAssertEqual(replay.body, first.body)
        XCTAssertEqual(replay.headers["idempotent-replayed"], "true")
        XCTAssertEqual(replay.headers["original-request"], first.headers["request-id"])
        XCTAssertNotEqual(replay.headers["request-id"], first.headers["request-id"])
        XCTAssertEqual(fake.paymentLinks.count, 1, "a replay creates nothing")

        let reused = try stripe(fake, "POST", "/v1/payment_links", [("line_items", [["price": "price_pro", "quantity": 2]])],
                                idempotencyKey: "job-1-step-2", client: client)
        XCTAssertEqual(reused.status, 400)
        XCTAssertEqual(try object(reused)["error"]?["type"], "idempotency_error")
        XCTAssertEqual(fake.paymentLinks.count, 1)

        // An endpoint error is stored and replayed too.
        let noPrice: [(String, FormValue)] = [("line_items", [["price": "price_gone", "quantity": 1]])]
        let missing = try stripe(fake, "POST", "/v1/payment_links", noPrice, idempotencyKey: "k2", client: client)
        XCTAssertEqual(missing.status, 400)
        XCTAssertEqual(try object(missing)["error"], ["type": "invalid_request_error", "code": "resource_missing",
                                                      "message": "No such price: 'price_gone'", "param": "line_items[0][price]",
                                                      "request_log_url": .string("https://dashboard.stripe.com/test/logs/\(missing.headers["request-id"]!)")])
        fake.addPrice(id: "price_gone", unitAmount: 100)
        let missingAgain = try stripe(fake, "POST", "/v1/payment_links", noPrice, idempotencyKey: "k2", client: client)
        XCTAssertEqual(missingAgain.status, 400)
        XCTAssertEqual(missingAgain.headers["idempotent-replayed"], "true")

        // An injected 500 never reached the endpoint: nothing is stored, the retry runs.
        fake.inject(.status(500, headers: [], body: #"{"error":{"type":"api_error","message":"boom"}}"#))
        let failed = try stripe(fake, "POST", "/v1/payment_links", form, idempotencyKey: "k3", client: client)
        XCTAssertEqual(failed.status, 500)
        XCTAssertNotNil(failed.headers["request-id"])
        let retried = try stripe(fake, "POST", "/v1/payment_links", form, idempotencyKey: "k3", client: client)
        XCTAssertEqual(retried.status, 200)
        XCTAssertNil(retried.headers["idempotent-replayed"])
        XCTAssertEqual(fake.paymentLinks.count, 2)
    }

    func testStripePaymentLinkCheckoutSessionAndLookups() throws {
        let fake = try FakeStripeAPI()
        fake.addPrice(id: "price_monthly", unitAmount: 2900, currency: "eur", recurringInterval: "month")
        let client = HTTPClient(userAgent: "hookyard/test")
        let created = try stripe(fake, "POST", "/v1/payment_links", [
            ("line_items", [["price": "price_monthly", "quantity": 2]]),
            ("metadata", ["lead_email": "zoë@example.com"]),
            ("after_completion", ["type": "redirect", "redirect": ["url": "https://example.com/thanks?x=1"]]),
        ], client: client)
        XCTAssertEqual(created.status, 200, created.bodyText)
        let link = try XCTUnwrap(fake.paymentLinks.first)
        XCTAssertEqual(link.metadata, ["lead_email": "zoë@example.com"])
        XCTAssertEqual(link.lineItems, [.init(priceID: "price_monthly", quantity: 2)])
        XCTAssertEqual(link.parameters["after_completion[redirect][url]"], "https://example.com/thanks?x=1")
        XCTAssertEqual(try object(try stripe(fake, "GET", "/v1/payment_links/\(link.id)", client: client))["after_completion"]?["redirect"]?["url"],
                       "https://example.com/thanks?x=1")

        let session = try fake.addCheckoutSession(paymentLinkID: link.id, email: "zoë@example.com", clientReferenceID: "lead-7")
        XCTAssertTrue(session.id.hasPrefix("cs_test_"))
        let fetched = try object(try stripe(fake, "GET", "/v1/checkout/sessions/\(session.id)", client: client))
        XCTAssertEqual(fetched, session.object)
        XCTAssertEqual(fetched["payment_link"], .string(link.id))
        XCTAssertEqual(fetched["amount_total"], 5800)
        XCTAssertEqual(fetched["currency"], "eur")
        XCTAssertEqual(fetched["mode"], "subscription")
        XCTAssertEqual(fetched["payment_status"], "paid")
        XCTAssertEqual(fetched["customer_details"]?["email"], "zoë@example.com")
        XCTAssertEqual(fetched["metadata"], ["lead_email": "zoë@example.com"])
        XCTAssertEqual(fetched["client_reference_id"], "lead-7")
        let event = try TestJSON(parsing: Array(session.completedEvent().utf8))
        XCTAssertEqual(event["type"], "checkout.session.completed")
        XCTAssertEqual(event["data"]?["object"], session.object)

        XCTAssertEqual(try object(try stripe(fake, "GET", "/v1/prices/price_monthly", client: client))["recurring"]?["interval"], "month")
        for (path, message) in [("/v1/prices/price_x", "No such price: 'price_x'"),
                                ("/v1/payment_links/plink_x", "No such payment_link: 'plink_x'"),
                                ("/v1/checkout/sessions/cs_x", "No such checkout.session: 'cs_x'")] {
            let response = try stripe(fake, "GET", path, client: client)
            XCTAssertEqual(response.status, 404, path)
            XCTAssertEqual(try object(response)["error"]?["message"]?.stringValue, message)
            XCTAssertEqual(try object(response)["error"]?["param"], "id")
        }
    }

    func testStripeForcedStatusPersistsUntilCleared() throws {
        let fake = try FakeStripeAPI()
        fake.addPrice(id: "price_pro", unitAmount: 4900)
        let client = HTTPClient(userAgent: "hookyard/test")
        let form: [(String, FormValue)] = [("line_items", [["price": "price_pro", "quantity": 1]])]
        fake.forceStatus(pathPrefix: "/v1/payment_links", status: 400)
        for attempt in 0..<3 {
            let response = try stripe(fake, "POST", "/v1/payment_links", form, idempotencyKey: "same", client: client)
            XCTAssertEqual(response.status, 400, "attempt \(attempt)")
            XCTAssertNotNil(response.headers["request-id"])
        }
        XCTAssertEqual(try stripe(fake, "POST", "/v1/customers", [("email", "a@b.c")], client: client).status, 200)
        XCTAssertTrue(fake.paymentLinks.isEmpty)
        fake.clearForcedStatus()
        XCTAssertEqual(try stripe(fake, "POST", "/v1/payment_links", form, idempotencyKey: "same", client: client).status, 200)
        XCTAssertEqual(fake.requestCount(path: "/v1/payment_links", method: "POST"), 4)
    }

    // MARK: Instantly

    func testInstantlyRejectsMissingOrWrongKey() throws {
        let fake = try FakeInstantlyAPI(apiKey: "right")
        let missing = try instantly(fake, "GET", "/api/v2/leads/\(campaignA)", apiKey: "")
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(try object(missing), ["statusCode": 401, "error": "Unauthorized", "message": "Missing Authorization header"])
        XCTAssertEqual(try instantly(fake, "GET", "/api/v2/leads/\(campaignA)", apiKey: "wrong").status, 401)
    }

    func testInstantlyCreateSkipsLeadAlreadyInCampaignAndListFindsIt() throws {
        let fake = try FakeInstantlyAPI()
        let client = HTTPClient(userAgent: "hookyard/test")
        let body = #"{"campaign":"\#(campaignA)","email":"Ann@Example.com","first_name":"Ann","custom_variables":{"plan":"pro","seats":3,"trial":false,"coupon":null},"skip_if_in_campaign":true}"#
        let created = try instantly(fake, "POST", "/api/v2/leads", body, client: client)
        XCTAssertEqual(created.status, 200, created.bodyText)
        let lead = try object(created)
        XCTAssertEqual(lead["payload"], ["plan": "pro", "seats": 3, "trial": false, "coupon": nil])
        XCTAssertEqual(lead["status"], 1)
        XCTAssertNil(lead["lt_interest_status"])
        let again = try instantly(fake, "POST", "/api/v2/leads", body.replacingOccurrences(of: "Ann@", with: "ann@"), client: client)
        XCTAssertEqual(try object(again)["id"], lead["id"], "skip_if_in_campaign answers the existing lead")
        XCTAssertEqual(fake.leads.count, 1)
        fake.addLead(email: "ann@example.com", campaign: campaignB)

        let list = try instantly(fake, "POST", "/api/v2/leads/list",
                                 #"{"campaign":"\#(campaignA)","contacts":["ANN@example.com"],"limit":1}"#, client: client)
        XCTAssertEqual(list.status, 200, list.bodyText)
        XCTAssertEqual(try object(list)["items"]?.arrayValue?.map { $0["id"] }, [lead["id"]])
        XCTAssertEqual(try object(list)["next_starting_after"], .null)
        let everywhere = try instantly(fake, "POST", "/api/v2/leads/list", #"{"contacts":["ann@example.com"],"limit":1}"#, client: client)
        XCTAssertEqual(try object(everywhere)["items"]?.arrayValue?.count, 1)
        XCTAssertEqual(try object(everywhere)["next_starting_after"], lead["id"])

        let nested = try instantly(fake, "POST", "/api/v2/leads",
                                   #"{"campaign":"\#(campaignA)","email":"x@example.com","custom_variables":{"tags":["a"]}}"#, client: client)
        XCTAssertEqual(nested.status, 400)
        XCTAssertEqual(try object(nested)["message"], "body/custom_variables/tags must be string,number,boolean,null")
        let notUUID = try instantly(fake, "POST", "/api/v2/leads", #"{"campaign":"camp-1","email":"x@example.com"}"#, client: client)
        XCTAssertEqual(notUUID.status, 400)
        let emptyJSON = try client.send(method: "POST", url: fake.baseURL + "/api/v2/leads/list",
                                        headers: [("Authorization", "Bearer \(fake.apiKey)"), ("Content-Type", "application/json")], body: [])
        XCTAssertEqual(emptyJSON.status, 400)
        XCTAssertEqual(fake.leads.count, 2)
    }

    func testInstantlyPatchReplacesThePayload() throws {
        let fake = try FakeInstantlyAPI()
        let id = fake.addLead(email: "bo@example.com", campaign: campaignA, firstName: "Bo", variables: ["plan": "pro", "seats": 3])
        let patched = try instantly(fake, "PATCH", "/api/v2/leads/\(id)", #"{"custom_variables":{"payment_link":"https://buy.stripe.com/test_1"}}"#)
        XCTAssertEqual(patched.status, 200, patched.bodyText)
        XCTAssertEqual(try object(patched)["payload"], ["payment_link": "https://buy.stripe.com/test_1"])
        XCTAssertEqual(fake.lead(id: id)?.payload, ["payment_link": "https://buy.stripe.com/test_1"], "plan and seats are gone")
        XCTAssertEqual(fake.lead(id: id)?.firstName, "Bo")
        XCTAssertEqual(try object(try instantly(fake, "GET", "/api/v2/leads/\(id)"))["payload"], ["payment_link": "https://buy.stripe.com/test_1"])

        let nested = try instantly(fake, "PATCH", "/api/v2/leads/\(id)", #"{"custom_variables":{"x":{"y":1}}}"#)
        XCTAssertEqual(nested.status, 400)
        XCTAssertEqual(fake.lead(id: id)?.payload, ["payment_link": "https://buy.stripe.com/test_1"])
        let unknown = try instantly(fake, "PATCH", "/api/v2/leads/\(campaignB)", #"{"first_name":"x"}"#)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(try object(unknown)["error"], "Not Found")
    }

    func testInstantlyMoveRunsAsABackgroundJob() throws {
        let fake = try FakeInstantlyAPI()
        let id = fake.addLead(email: "cy@example.com", campaign: campaignA)
        fake.addLead(email: "other@example.com", campaign: campaignA)
        let withoutSource = try instantly(fake, "POST", "/api/v2/leads/move", #"{"ids":["\#(id)"],"to_campaign_id":"\#(campaignB)"}"#)
        XCTAssertEqual(withoutSource.status, 400)
        XCTAssertEqual(fake.lead(id: id)?.campaign, campaignA)

        let moved = try instantly(fake, "POST", "/api/v2/leads/move",
                                  #"{"ids":["\#(id)"],"campaign":"\#(campaignA)","to_campaign_id":"\#(campaignB)"}"#)
        XCTAssertEqual(moved.status, 200, moved.bodyText)
        let job = try object(moved)
        XCTAssertEqual(job["status"], "pending")
        XCTAssertEqual(job["type"], "move-leads")
        let jobID = try XCTUnwrap(job["id"]?.stringValue)
        XCTAssertEqual(jobID.count, 24)
        let polled = try object(try instantly(fake, "GET", "/api/v2/background-jobs/\(jobID)"))
        XCTAssertEqual(polled["status"], "success")
        XCTAssertEqual(polled["data"]?["moved_lead_emails"], ["cy@example.com"])
        XCTAssertEqual(fake.lead(id: id)?.campaign, campaignB)
        XCTAssertEqual(fake.lead(email: "other@example.com", campaign: nil)?.campaign, campaignA)
        XCTAssertEqual(try instantly(fake, "GET", "/api/v2/background-jobs/000000000000000000000000").status, 404)
    }

    func testInstantlyMoveTakesEffectAfterTheConfiguredDelay() throws {
        let fake = try FakeInstantlyAPI(moveJobDuration: .milliseconds(200))
        let id = fake.addLead(email: "di@example.com", campaign: campaignA)
        let job = try object(try instantly(fake, "POST", "/api/v2/leads/move",
                                           #"{"ids":["\#(id)"],"campaign":"\#(campaignA)","to_campaign_id":"\#(campaignB)"}"#))
        let jobID = try XCTUnwrap(job["id"]?.stringValue)
        XCTAssertEqual(try object(try instantly(fake, "GET", "/api/v2/background-jobs/\(jobID)"))["status"], "pending")
        XCTAssertEqual(fake.lead(id: id)?.campaign, campaignA)
        Thread.sleep(forTimeInterval: 0.25)
        XCTAssertEqual(try object(try instantly(fake, "GET", "/api/v2/background-jobs/\(jobID)"))["status"], "success")
        XCTAssertEqual(fake.lead(id: id)?.campaign, campaignB)
    }

    func testInstantlyInterestStatusIsAcceptedAndApplied() throws {
        let fake = try FakeInstantlyAPI()
        let inA = fake.addLead(email: "ed@example.com", campaign: campaignA)
        let inB = fake.addLead(email: "ed@example.com", campaign: campaignB)
        let accepted = try instantly(fake, "POST", "/api/v2/leads/update-interest-status",
                                     #"{"lead_email":"ED@example.com","interest_value":1,"campaign_id":"\#(campaignA)"}"#)
        XCTAssertEqual(accepted.status, 202)
        XCTAssertEqual(try object(accepted), ["message": "Lead interest status update background job submitted"])
        XCTAssertEqual(fake.lead(id: inA)?.interestStatus, 1)
        XCTAssertNil(fake.lead(id: inB)?.interestStatus)
        XCTAssertEqual(try object(try instantly(fake, "GET", "/api/v2/leads/\(inA)"))["lt_interest_status"], 1)

        let missing = try instantly(fake, "POST", "/api/v2/leads/update-interest-status", #"{"interest_value":1}"#)
        XCTAssertEqual(missing.status, 400)
        XCTAssertEqual(try object(missing), ["error": "Invalid lead email"])
        let reset = try instantly(fake, "POST", "/api/v2/leads/update-interest-status",
                                  #"{"lead_email":"ed@example.com","interest_value":null,"campaign_id":"\#(campaignA)"}"#)
        XCTAssertEqual(reset.status, 202)
        XCTAssertNil(fake.lead(id: inA)?.interestStatus)
    }

    // MARK: Faults

    func testDropIsATransportErrorAndChangesNothing() throws {
        let fake = try FakeInstantlyAPI()
        fake.inject(.drop)
        // A fresh client: libcurl silently retries a request once when a *reused* connection dies before any answer.
        XCTAssertThrowsError(try instantly(fake, "POST", "/api/v2/leads", #"{"campaign":"\#(campaignA)","email":"f@example.com"}"#)) { error in
            let failure = error as! HTTPClientError
            XCTAssertTrue(ProviderFailure.transport(failure).retryable)
        }
        XCTAssertTrue(fake.leads.isEmpty)
        XCTAssertEqual(fake.requests.count, 1)
        XCTAssertNotNil(fake.requests.first?.fault)
    }

    func testDropAfterProcessingLosesTheAnswerButNotTheChange() throws {
        let fake = try FakeStripeAPI()
        fake.inject(.dropAfterProcessing)
        XCTAssertThrowsError(try stripe(fake, "POST", "/v1/customers", [("email", "g@example.com")], idempotencyKey: "k1")) { error in
            XCTAssertTrue(error is HTTPClientError, "\(error)")
        }
        XCTAssertEqual(fake.customers.map(\.email), ["g@example.com"])
        // The retry with the same key gets the lost answer; nothing is created twice.
        let retried = try stripe(fake, "POST", "/v1/customers", [("email", "g@example.com")], idempotencyKey: "k1")
        XCTAssertEqual(retried.headers["idempotent-replayed"], "true")
        XCTAssertEqual(try object(retried)["id"], "cus_1")
        XCTAssertEqual(fake.customers.count, 1)
    }

    func testLibcurlResendsOnceWhenAReusedConnectionIsDropped() throws {
        // Documents libcurl's behaviour the daemon inherits: a request on a kept-alive connection that dies before
        // any answer byte is sent again on a fresh connection, so one dropped-after-processing POST runs twice.
        let fake = try FakeInstantlyAPI()
        let client = HTTPClient(userAgent: "hookyard/test")
        XCTAssertEqual(try instantly(fake, "POST", "/api/v2/leads/list", "{}", client: client).status, 200)
        fake.inject(.dropAfterProcessing)
        let response = try instantly(fake, "POST", "/api/v2/leads", #"{"campaign":"\#(campaignA)","email":"h@example.com"}"#, client: client)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(fake.requestCount(path: "/api/v2/leads", method: "POST"), 2)
        XCTAssertEqual(fake.leads.count, 2, "no skip_if_in_campaign: the resent request made a duplicate")
    }

    func testRandomFaultsFollowTheFractionAndTheSeed() throws {
        func run(seed: UInt64) throws -> [Int] {
            let fake = try FakeAPIServer()
            fake.failRandomly(fraction: 0.25, seed: seed, faults: [.status(500, headers: [], body: "{}"), .status(429, headers: [], body: "{}")])
            let client = try TestHTTPClient(port: fake.port)
            return try (0..<400).map { index in try client.roundTrip("GET", "/r\(index)").status }
        }
        let statuses = try run(seed: 42)
        let failures = statuses.filter { $0 != 200 }.count
        XCTAssertTrue((70...130).contains(failures), "\(failures) of 400 failed with fraction 0.25")
        XCTAssertTrue(statuses.contains(500) && statuses.contains(429))
        XCTAssertEqual(try run(seed: 42), statuses, "the same seed fails the same requests")
        XCTAssertNotEqual(try run(seed: 7), statuses)
    }

    func testMaxRequestsInAnyWindow() throws {
        let fake = try FakeAPIServer()
        XCTAssertEqual(fake.maxRequestsInAnyWindow(milliseconds: 1000), 0)
        let client = try TestHTTPClient(port: fake.port)
        for index in 0..<4 {
            _ = try client.roundTrip("GET", "/spaced\(index)")
            Thread.sleep(forTimeInterval: 0.06)
        }
        XCTAssertEqual(fake.maxRequestsInAnyWindow(milliseconds: 50), 1)
        for index in 0..<10 { _ = try client.roundTrip("GET", "/burst\(index)") }
        XCTAssertGreaterThanOrEqual(fake.maxRequestsInAnyWindow(milliseconds: 50), 10)
        XCTAssertEqual(fake.maxRequestsInAnyWindow(milliseconds: 60_000), 14)
        let times = fake.requests.map(\.receivedAtMilliseconds)
        XCTAssertEqual(times, times.sorted())
    }
}
