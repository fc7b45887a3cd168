import Foundation
import HTTPServer
import TestSupport
import XCTest
@testable import Outbound

/// Response bodies shaped like Stripe's (API version 2025-10-29), trimmed to a realistic subset.
enum StripeFixtures {
    static let customer = #"""
    {"id":"cus_TQ1x2y3z","object":"customer","address":null,"balance":0,"created":1764000000,"currency":null,
     "default_source":null,"delinquent":false,"description":null,"email":"ann+lead@example.com",
     "invoice_prefix":"5C3B1E2A","livemode":false,"metadata":{"lead_email":"ann+lead@example.com","campaign":"c-1"},
     "name":"Ann Lee","phone":null,"preferred_locales":[],"tax_exempt":"none","test_clock":null}
    """#

    static let paymentLink = #"""
    {"id":"plink_1SXa2b","object":"payment_link","active":true,"after_completion":{"hosted_confirmation":{"custom_message":null},"type":"hosted_confirmation"},
     "allow_promotion_codes":false,"currency":"usd","livemode":false,"metadata":{"lead_email":"ann+lead@example.com","rule":"pay-1"},
     "restrictions":null,"url":"https://buy.stripe.com/test_6oE5lQ0kq"}
    """#

    static let checkoutSession = #"""
    {"id":"cs_test_a1b2","object":"checkout.session","amount_subtotal":4900,"amount_total":4900,"client_reference_id":"lead-42",
     "currency":"usd","customer":{"id":"cus_TQ1x2y3z","object":"customer"},"customer_details":{"address":null,"email":"ann@example.com","name":"Ann Lee"},
     "livemode":false,"metadata":{"campaign":"c-1"},"mode":"payment","payment_link":"plink_1SXa2b","payment_status":"paid","status":"complete",
     "subscription":null}
    """#

    static let price = #"""
    {"id":"price_1Pq","object":"price","active":false,"billing_scheme":"per_unit","created":1764000000,"currency":"eur","livemode":false,
     "lookup_key":"pro-monthly","metadata":{},"product":"prod_Q1","recurring":{"interval":"month","interval_count":1,"usage_type":"licensed"},
     "tax_behavior":"unspecified","type":"recurring","unit_amount":1900,"unit_amount_decimal":"1900"}
    """#
}

final class StripeClientTests: XCTestCase {
    private func stripe(_ fake: FakeAPIServer) -> StripeClient {
        StripeClient(transport: liveTransport(fake, extraHeaders: [("Stripe-Version", "2025-10-29.clover")]))
    }

    /// Answers like Stripe for the endpoints under test.
    private func fakeStripe() throws -> FakeAPIServer {
        try FakeAPIServer { request in
            switch (request.method, String(request.path)) {
            case ("GET", "/v1/customers"):
                let empty = request.target.contains("nobody")
                return .json(status: 200, #"{"object":"list","data":[\#(empty ? "" : StripeFixtures.customer)],"has_more":false,"url":"/v1/customers"}"#)
            case ("POST", "/v1/customers"), ("POST", "/v1/customers/cus_TQ1x2y3z"): return .json(status: 200, StripeFixtures.customer)
            case ("POST", "/v1/payment_links"), ("GET", "/v1/payment_links/plink_1SXa2b"): return .json(status: 200, StripeFixtures.paymentLink)
            case ("GET", "/v1/checkout/sessions/cs_test_a1b2"): return .json(status: 200, StripeFixtures.checkoutSession)
            case ("GET", "/v1/prices/price_1Pq"): return .json(status: 200, StripeFixtures.price)
            default:
                return .json(status: 404, #"{"error":{"type":"invalid_request_error","message":"Unrecognized request URL"}}"#)
            }
        }
    }

    func testFindCustomerUsesTheListEndpoint() throws {
        let fake = try fakeStripe()
        let client = stripe(fake)
        let customer = try XCTUnwrap(try client.findCustomer(email: "ann+lead@example.com"))
        XCTAssertEqual(customer, StripeCustomer(id: "cus_TQ1x2y3z", email: "ann+lead@example.com", name: "Ann Lee",
                                                metadata: ["lead_email": "ann+lead@example.com", "campaign": "c-1"]))
        XCTAssertNil(try client.findCustomer(email: "nobody@example.com"))

        let request = try XCTUnwrap(fake.requests.first)
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.target, "/v1/customers?email=ann%2Blead%40example.com&limit=1")
        XCTAssertEqual(request.body, "")
        XCTAssertNil(request.headers["Content-Type"])
        XCTAssertNil(request.headers["Idempotency-Key"])
        XCTAssertEqual(request.headers["Authorization"], "Bearer sk_test_123")
        XCTAssertEqual(request.headers["Stripe-Version"], "2025-10-29.clover")
        XCTAssertEqual(request.headers["User-Agent"], "hookyard/test")
    }

    func testCreateCustomerSendsFieldsInOrderAndTheSameIdempotencyKeyOnRetry() throws {
        let fake = try fakeStripe()
        fake.inject(.status(500, headers: [("Request-Id", "req_500")], body: #"{"error":{"type":"api_error","message":"Try again"}}"#))
        let client = stripe(fake)
        func create() throws(ProviderFailure) -> StripeCustomer {
            try client.createCustomer(email: "ann+lead@example.com", name: "Ann Lee",
                                      metadata: [("lead_email", "ann+lead@example.com"), ("campaign", "c 1/2")], idempotencyKey: "job-9:customer")
        }
        let failure = try XCTUnwrap(expectFailure(create))
        XCTAssertTrue(failure.retryable)
        XCTAssertEqual(failure.message, "Stripe answered 500: api_error: Try again (request req_500)")
        XCTAssertEqual(try create().id, "cus_TQ1x2y3z")

        let requests = fake.requests
        XCTAssertEqual(requests.count, 2)
        for request in requests {
            XCTAssertEqual(request.method, "POST")
            XCTAssertEqual(request.target, "/v1/customers")
            XCTAssertEqual(request.headers["Content-Type"], "application/x-www-form-urlencoded")
            XCTAssertEqual(request.headers["Idempotency-Key"], "job-9:customer")
            XCTAssertEqual(request.body, "email=ann%2Blead%40example.com&name=Ann%20Lee"
                           + "&metadata%5Blead_email%5D=ann%2Blead%40example.com&metadata%5Bcampaign%5D=c%201%2F2")
        }
        XCTAssertEqual(requests[0].body, requests[1].body)

        _ = try client.createCustomer(email: "bo@example.com", name: nil, metadata: [], idempotencyKey: "k2")
        XCTAssertEqual(fake.requests.last?.body, "email=bo%40example.com")
    }

    func testUpdateCustomerMetadata() throws {
        let fake = try fakeStripe()
        let customer = try stripe(fake).updateCustomerMetadata(id: "cus_TQ1x2y3z", metadata: [("paid", "true"), ("plan", "")], idempotencyKey: "job-9:meta")
        XCTAssertEqual(customer.id, "cus_TQ1x2y3z")
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.target, "/v1/customers/cus_TQ1x2y3z")
        XCTAssertEqual(request.headers["Idempotency-Key"], "job-9:meta")
        XCTAssertEqual(request.body, "metadata%5Bpaid%5D=true&metadata%5Bplan%5D=")
    }

    func testCreateAndRetrievePaymentLink() throws {
        let fake = try fakeStripe()
        let client = stripe(fake)
        let link = try client.createPaymentLink(price: "price_1Pq", quantity: 2, metadata: [("lead_email", "ann+lead@example.com"), ("rule", "pay-1")],
                                                idempotencyKey: "job-9:link")
        let expected = StripePaymentLink(id: "plink_1SXa2b", url: "https://buy.stripe.com/test_6oE5lQ0kq", active: true,
                                         metadata: ["lead_email": "ann+lead@example.com", "rule": "pay-1"])
        XCTAssertEqual(link, expected)
        let request = try XCTUnwrap(fake.requests.last)
        XCTAssertEqual(request.target, "/v1/payment_links")
        XCTAssertEqual(request.headers["Idempotency-Key"], "job-9:link")
        XCTAssertEqual(request.body, "line_items%5B0%5D%5Bprice%5D=price_1Pq&line_items%5B0%5D%5Bquantity%5D=2"
                       + "&metadata%5Blead_email%5D=ann%2Blead%40example.com&metadata%5Brule%5D=pay-1")

        XCTAssertEqual(try client.retrievePaymentLink(id: "plink_1SXa2b"), expected)
        XCTAssertEqual(fake.requests.last?.method, "GET")
        XCTAssertEqual(fake.requests.last?.target, "/v1/payment_links/plink_1SXa2b")
        XCTAssertNil(fake.requests.last?.headers["Content-Type"])
    }

    func testRetrieveCheckoutSessionWithExpandedCustomer() throws {
        let fake = try fakeStripe()
        let session = try stripe(fake).retrieveCheckoutSession(id: "cs_test_a1b2")
        XCTAssertEqual(session, StripeCheckoutSession(id: "cs_test_a1b2", paymentStatus: "paid", status: "complete", amountTotal: 4900, currency: "usd",
                                                      customer: "cus_TQ1x2y3z", customerEmail: "ann@example.com", paymentLink: "plink_1SXa2b",
                                                      clientReferenceID: "lead-42", metadata: ["campaign": "c-1"]))
        XCTAssertEqual(fake.requests.last?.target, "/v1/checkout/sessions/cs_test_a1b2")
    }

    func testRetrievePrice() throws {
        let fake = try fakeStripe()
        let price = try stripe(fake).retrievePrice(id: "price_1Pq")
        XCTAssertEqual(price, StripePrice(id: "price_1Pq", active: false, currency: "eur", unitAmount: 1900, product: "prod_Q1",
                                          type: "recurring", recurringInterval: "month", lookupKey: "pro-monthly"))
        XCTAssertEqual(fake.requests.last?.target, "/v1/prices/price_1Pq")
    }

    func testErrorsThroughTheClientKeepStripesWords() throws {
        let fake = try fakeStripe()
        fake.inject(.status(400, headers: [("Request-Id", "req_q1")],
                            body: #"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such price: 'price_x'","param":"line_items[0][price]","request_log_url":"https://dashboard.stripe.com/test/logs/req_q1"}}"#))
        let failure = try XCTUnwrap(expectFailure { () throws(ProviderFailure) in
            try stripe(fake).createPaymentLink(price: "price_x", quantity: 1, metadata: [], idempotencyKey: "k")
        })
        XCTAssertFalse(failure.retryable)
        XCTAssertEqual(failure.status, 400)
        XCTAssertTrue(failure.message.contains("No such price: 'price_x'"), failure.message)
        XCTAssertTrue(failure.message.contains("req_q1"), failure.message)
    }

    func testSuccessWithoutTheExpectedObjectIsNotRetryable() {
        func client(_ body: String) -> StripeClient { StripeClient(transport: CannedTransport(provider: "Stripe", body: body)) }
        var failure = expectFailure { () throws(ProviderFailure) in
            try client(#"{"object":"payment_link","url":"https://buy.stripe.com/x"}"#).createPaymentLink(price: "p", quantity: 1, metadata: [], idempotencyKey: "k")
        }
        XCTAssertEqual(failure?.message, "Stripe answered 200 to POST /v1/payment_links without an id")
        XCTAssertEqual(failure?.retryable, false)
        XCTAssertEqual(failure?.status, 200)

        failure = expectFailure { () throws(ProviderFailure) in try client(#"{"id":"plink_1"}"#).retrievePaymentLink(id: "plink_1") }
        XCTAssertEqual(failure?.message, "Stripe answered 200 to GET /v1/payment_links/plink_1 without a url")

        // The query (an email address) stays out of the message.
        failure = expectFailure { () throws(ProviderFailure) in try client("<html>maintenance</html>").findCustomer(email: "ann@example.com") }
        XCTAssertEqual(failure?.message, "Stripe answered 200 to GET /v1/customers with a body that is not a JSON object: <html>maintenance</html>")
        XCTAssertEqual(failure?.retryable, false)

        failure = expectFailure { () throws(ProviderFailure) in try client(#"{"object":"list"}"#).findCustomer(email: "ann@example.com") }
        XCTAssertEqual(failure?.message, "Stripe answered 200 to GET /v1/customers without a data list")

        failure = expectFailure { () throws(ProviderFailure) in try client("").retrievePrice(id: "price_1") }
        XCTAssertEqual(failure?.message, "Stripe answered 200 to GET /v1/prices/price_1 with a body that is not a JSON object: (empty)")
        XCTAssertEqual(failure?.retryable, false)
    }
}
