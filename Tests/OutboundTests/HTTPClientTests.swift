import Foundation
import HTTPServer
import TestSupport
import XCTest
@testable import Outbound
import StrictJSON

final class HTTPClientTests: XCTestCase {
    func testSendsRequestAndCapturesStatusHeadersAndBody() throws {
        let fake = try FakeAPIServer { request in
            var response = HTTPResponse.json(status: 201, "{\"echo\":\(JSONText.quote(String(decoding: request.body, as: UTF8.self)))}")
            response.headers.add(name: "Request-Id", value: "req_123")
            return response
        }
        let client = HTTPClient(userAgent: "hookyard/test")
        let response = try client.send(method: "POST", url: fake.baseURL + "/v1/customers",
                                       headers: [("Authorization", "Bearer sk_test_x"), ("Content-Type", "application/x-www-form-urlencoded")],
                                       body: Array("email=a%40b.c".utf8))
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.headers["request-id"], "req_123")
        XCTAssertEqual(response.bodyText, "{\"echo\":\"email=a%40b.c\"}")
        let recorded = try XCTUnwrap(fake.requests.first)
        XCTAssertEqual(recorded.method, "POST")
        XCTAssertEqual(recorded.target, "/v1/customers")
        XCTAssertEqual(recorded.headers["User-Agent"], "hookyard/test")
        XCTAssertEqual(recorded.headers["Authorization"], "Bearer sk_test_x")
        XCTAssertNil(recorded.headers["Expect"])
        // The same client keeps working for further requests (its connection is reused).
        XCTAssertEqual(try client.send(method: "GET", url: fake.baseURL + "/v1/prices/p", headers: [], body: []).status, 201)
        XCTAssertEqual(fake.requests.last?.method, "GET")
    }

    func testTimeoutCarriesCurlsMessage() throws {
        let fake = try FakeAPIServer()
        fake.inject(.delay(.seconds(2)))
        let client = HTTPClient(userAgent: "hookyard/test")
        client.totalTimeoutMilliseconds = 300
        XCTAssertThrowsError(try client.send(method: "GET", url: fake.baseURL + "/slow", headers: [], body: [])) { error in
            let failure = error as! HTTPClientError
            XCTAssertTrue(failure.isTimeout)
            XCTAssertTrue(failure.description.contains("Timeout") || failure.description.contains("timed out"), failure.description)
            XCTAssertTrue(ProviderFailure.transport(failure).retryable)
        }
    }

    func testConnectionRefused() throws {
        let client = HTTPClient(userAgent: "hookyard/test")
        XCTAssertThrowsError(try client.send(method: "GET", url: "http://127.0.0.1:1/x", headers: [], body: [])) { error in
            XCTAssertTrue("\(error)".contains("127.0.0.1:1"), "\(error)")
        }
    }

    func testInjectedFaultsComeFirst() throws {
        let fake = try FakeAPIServer()
        fake.inject(.status(429, headers: [("Retry-After", "2")], body: "{}"), .status(500, headers: [], body: "{}"))
        let client = HTTPClient(userAgent: "hookyard/test")
        let statuses = try (0..<3).map { _ in try client.send(method: "GET", url: fake.baseURL, headers: [], body: []).status }
        XCTAssertEqual(statuses, [429, 500, 200])
    }
}

final class ProviderFailureTests: XCTestCase {
    private func response(_ status: Int, _ body: String, _ headers: [String: String] = [:]) -> HTTPClientResponse {
        HTTPClientResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    func testStripeErrorsAreParsedAndClassified() {
        let missing = ProviderFailure.classify(response(400, #"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such price: 'price_x'","param":"price"}}"#,
                                                        ["request-id": "req_1"]), provider: "Stripe")
        XCTAssertFalse(missing.retryable)
        XCTAssertEqual(missing.status, 400)
        XCTAssertEqual(missing.message, "Stripe answered 400: invalid_request_error (resource_missing): No such price: 'price_x' [param price] (request req_1)")
        let lock = ProviderFailure.classify(response(400, #"{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"locked"}}"#), provider: "Stripe")
        XCTAssertTrue(lock.retryable)
        let conflict = ProviderFailure.classify(response(409, #"{"error":{"type":"idempotency_error","message":"in use"}}"#), provider: "Stripe")
        XCTAssertTrue(conflict.retryable)
        XCTAssertFalse(ProviderFailure.classify(response(401, #"{"error":{"type":"invalid_request_error","message":"Invalid API Key"}}"#), provider: "Stripe").retryable)
    }

    func testRetryableStatusesAndShouldRetryOverride() {
        XCTAssertTrue(ProviderFailure.classify(response(500, "oops"), provider: "Stripe").retryable)
        XCTAssertTrue(ProviderFailure.classify(response(503, ""), provider: "Instantly").retryable)
        XCTAssertTrue(ProviderFailure.classify(response(429, "", ["retry-after": "3"]), provider: "Instantly").retryable)
        XCTAssertFalse(ProviderFailure.classify(response(500, "{}", ["stripe-should-retry": "false"]), provider: "Stripe").retryable)
        XCTAssertTrue(ProviderFailure.classify(response(400, "{}", ["stripe-should-retry": "true"]), provider: "Stripe").retryable)
        XCTAssertFalse(ProviderFailure.classify(response(404, "{}"), provider: "Instantly").retryable)
    }

    func testRetryAfterSecondsAndDates() {
        XCTAssertEqual(ProviderFailure.classify(response(429, "", ["retry-after": "3"]), provider: "Instantly").retryAfterMilliseconds, 3000)
        let now = Date(timeIntervalSince1970: 1_764_000_000)
        XCTAssertEqual(ProviderFailure.retryAfter("Mon, 24 Nov 2025 16:00:10 GMT", now: now), 10_000)
        XCTAssertEqual(ProviderFailure.retryAfter("Mon, 24 Nov 2025 15:00:00 GMT", now: now), 0)
        XCTAssertNil(ProviderFailure.retryAfter("soon"))
        XCTAssertNil(ProviderFailure.retryAfter(nil))
    }

    func testInstantlyErrorMessages() {
        XCTAssertEqual(ProviderFailure.classify(response(400, #"{"statusCode":400,"error":"Bad Request","message":"campaign must be a UUID"}"#), provider: "Instantly").message,
                       "Instantly answered 400: campaign must be a UUID")
        XCTAssertEqual(ProviderFailure.classify(response(402, #"{"error":"Upgrade required"}"#), provider: "Instantly").message,
                       "Instantly answered 402: Upgrade required")
    }
}
