import Foundation
import HTTPServer
import Synchronization
import TestSupport
import XCTest
@testable import Outbound

final class LiveProviderTransportTests: XCTestCase {
    func testHeadersOfRequestsWithAndWithoutBody() throws {
        let fake = try FakeAPIServer()
        let transport = liveTransport(fake, extraHeaders: [("Stripe-Version", "2025-10-29.clover")])
        XCTAssertEqual(transport.provider, "Stripe")

        let response = try transport.send(ProviderRequest(method: "GET", path: "/v1/prices/price_1?expand%5B%5D=product"))
        XCTAssertEqual(response.status, 200)
        _ = try transport.send(ProviderRequest(method: "POST", path: "/v1/customers", contentType: "application/x-www-form-urlencoded",
                                           body: Array("email=a%40b.c".utf8), idempotencyKey: "job-1-step-2"))
        _ = try transport.send(ProviderRequest(method: "POST", path: "/v1/payment_links/plink_1/noop"))

        let requests = fake.requests
        XCTAssertEqual(requests.count, 3)
        for request in requests {
            XCTAssertEqual(request.headers["Authorization"], "Bearer sk_test_123")
            XCTAssertEqual(request.headers["Stripe-Version"], "2025-10-29.clover")
            XCTAssertEqual(request.headers["User-Agent"], "hookyard/test")
        }
        XCTAssertEqual(requests[0].method, "GET")
        XCTAssertEqual(requests[0].target, "/v1/prices/price_1?expand%5B%5D=product")
        XCTAssertNil(requests[0].headers["Content-Type"])
        XCTAssertNil(requests[0].headers["Idempotency-Key"])
        XCTAssertEqual(requests[0].body, "")

        XCTAssertEqual(requests[1].method, "POST")
        XCTAssertEqual(requests[1].target, "/v1/customers")
        XCTAssertEqual(requests[1].headers["Content-Type"], "application/x-www-form-urlencoded")
        XCTAssertEqual(requests[1].headers["Idempotency-Key"], "job-1-step-2")
        XCTAssertEqual(requests[1].body, "email=a%40b.c")

        // A bodiless POST carries no Content-Type (libcurl would add a form type of its own).
        XCTAssertEqual(requests[2].method, "POST")
        XCTAssertNil(requests[2].headers["Content-Type"])
        XCTAssertEqual(requests[2].body, "")
    }

    func testStripeErrorIsNotRetryableAndKeepsMessageAndRequestID() throws {
        let fake = try FakeAPIServer()
        fake.inject(.status(400, headers: [("Request-Id", "req_abc")],
                            body: #"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such price: 'price_x'","param":"line_items[0][price]"}}"#))
        let failure = try XCTUnwrap(expectFailure { () throws(ProviderFailure) in try liveTransport(fake).send(ProviderRequest(method: "GET", path: "/v1/prices/price_x")) })
        XCTAssertFalse(failure.retryable)
        XCTAssertEqual(failure.status, 400)
        XCTAssertEqual(failure.message, "Stripe answered 400: invalid_request_error (resource_missing): No such price: 'price_x' [param line_items[0][price]] (request req_abc)")
    }

    func testTooManyRequestsIsRetryableAndPausesTheSharedLimiter() throws {
        let fake = try FakeAPIServer()
        fake.inject(.status(429, headers: [("Retry-After", "1")], body: #"{"statusCode":429,"error":"Too Many Requests","message":"Rate limit exceeded"}"#))
        let limiter = RateLimiter(requestsPerSecond: 100)
        let first = liveTransport(fake, provider: "Instantly", limiter: limiter)
        let second = liveTransport(fake, provider: "Instantly", apiKey: "other", limiter: limiter)

        let failure = try XCTUnwrap(expectFailure { () throws(ProviderFailure) in try first.send(ProviderRequest(method: "GET", path: "/api/v2/leads/l1")) })
        XCTAssertTrue(failure.retryable)
        XCTAssertEqual(failure.status, 429)
        XCTAssertEqual(failure.retryAfterMilliseconds, 1000)
        XCTAssertEqual(failure.message, "Instantly answered 429: Rate limit exceeded")

        // Another caller sharing the limiter waits out the Retry-After before its request leaves.
        let start = Date()
        XCTAssertEqual(try second.send(ProviderRequest(method: "GET", path: "/api/v2/leads/l2")).status, 200)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.9)
        XCTAssertEqual(fake.requests.count, 2)
    }

    func testTooManyRequestsWithoutRetryAfterPausesOneSecond() throws {
        let fake = try FakeAPIServer()
        fake.inject(.status(429, headers: [], body: "{}"))
        let limiter = RateLimiter(requestsPerSecond: 100)
        let transport = liveTransport(fake, limiter: limiter)
        let failure = expectFailure { () throws(ProviderFailure) in try transport.send(ProviderRequest(method: "GET", path: "/v1/prices/p")) }
        XCTAssertEqual(failure?.retryable, true)
        XCTAssertNil(failure?.retryAfterMilliseconds)
        XCTAssertGreaterThan(limiter.tryAcquire(), 900)
    }

    func testServerErrorIsRetryable() throws {
        let fake = try FakeAPIServer()
        fake.inject(.status(500, headers: [], body: #"{"error":{"type":"api_error","message":"Something went wrong"}}"#))
        let transport = liveTransport(fake)
        let failure = expectFailure { () throws(ProviderFailure) in try transport.send(ProviderRequest(method: "GET", path: "/v1/prices/p")) }
        XCTAssertEqual(failure?.retryable, true)
        XCTAssertEqual(failure?.status, 500)
        // The pooled client is still good for the next request.
        XCTAssertEqual(try transport.send(ProviderRequest(method: "GET", path: "/v1/prices/p")).status, 200)
    }

    func testConnectionRefusedIsARetryableTransportFailure() {
        let transport = LiveProviderTransport(provider: "Stripe", baseURL: "http://127.0.0.1:1", apiKey: "sk_test_123",
                                              limiter: RateLimiter(requestsPerSecond: 100), userAgent: "hookyard/test")
        let failure = expectFailure { () throws(ProviderFailure) in try transport.send(ProviderRequest(method: "GET", path: "/v1/prices/p")) }
        XCTAssertEqual(failure?.retryable, true)
        XCTAssertNil(failure?.status)
        XCTAssertTrue(failure?.message.contains("127.0.0.1:1/v1/prices/p") == true, failure?.message ?? "")
        XCTAssertFalse(failure?.message.contains("sk_test_123") == true)
    }

    func testTotalTimeoutIsConfigurable() throws {
        let fake = try FakeAPIServer()
        fake.inject(.delay(.seconds(2)))
        let transport = liveTransport(fake, totalTimeoutMilliseconds: 300)
        let start = Date()
        let failure = expectFailure { () throws(ProviderFailure) in try transport.send(ProviderRequest(method: "GET", path: "/slow")) }
        XCTAssertEqual(failure?.retryable, true)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.5)
    }

    func testLimiterThrottlesRequests() throws {
        let fake = try FakeAPIServer()
        let transport = liveTransport(fake, limiter: RateLimiter(requestsPerSecond: 5))
        let start = Date()
        for index in 0..<11 { _ = try transport.send(ProviderRequest(method: "GET", path: "/v1/prices/p\(index)")) }
        let elapsed = Date().timeIntervalSince(start)
        // Eleven at 5/s, the first one interval after the limiter was created (it starts empty): about 2.2 s.
        XCTAssertGreaterThanOrEqual(elapsed, 1.8)
        XCTAssertLessThan(elapsed, 3)
        XCTAssertEqual(fake.requests.count, 11)
    }

    func testConcurrentCallersShareThePool() throws {
        let fake = try FakeAPIServer { request in .json(status: 200, "{\"path\":\"\(request.target)\"}") }
        let transport = liveTransport(fake)
        let mismatches = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            for index in 0..<5 {
                let path = "/v1/prices/w\(worker)i\(index)"
                let body = (try? transport.send(ProviderRequest(method: "GET", path: path)))?.bodyText
                if body != "{\"path\":\"\(path)\"}" { mismatches.withLock { $0 += 1 } }
            }
        }
        XCTAssertEqual(mismatches.withLock { $0 }, 0)
        XCTAssertEqual(fake.requests.count, 30)
    }
}

final class DryRunProviderTransportTests: XCTestCase {
    /// The same job run twice on fresh dry-run transports: identical requests and answers.
    func testDeterministicAndRecordsWithoutCredentials() throws {
        func run() throws -> ([ProviderRequest], [ProviderRequest], [String]) {
            let stripeTransport = DryRunProviderTransport(provider: "Stripe")
            let instantlyTransport = DryRunProviderTransport(provider: "Instantly")
            let stripe = StripeClient(transport: stripeTransport)
            let instantly = InstantlyClient(transport: instantlyTransport)
            var outputs: [String] = []
            XCTAssertNil(try stripe.findCustomer(email: "ann@example.com"))
            let customer = try stripe.createCustomer(email: "ann@example.com", name: "Ann", metadata: [("lead_email", "ann@example.com"), ("campaign", "c 1")],
                                                     idempotencyKey: "job-7-customer")
            XCTAssertEqual(customer.metadata, ["lead_email": "ann@example.com", "campaign": "c 1"])
            outputs.append(customer.id)
            let link = try stripe.createPaymentLink(price: "price_1", quantity: 1, metadata: [("lead_email", "ann@example.com")], idempotencyKey: "job-7-link")
            XCTAssertTrue(link.url.hasPrefix("https://dry-run.invalid/dry_run_"))
            XCTAssertEqual(link.metadata, ["lead_email": "ann@example.com"])
            outputs += [link.id, link.url]
            XCTAssertEqual(try stripe.retrievePaymentLink(id: link.id).id, link.id)
            XCTAssertEqual(try stripe.retrievePrice(id: "price_1").id, "price_1")
            XCTAssertEqual(try stripe.retrieveCheckoutSession(id: "cs_1").id, "cs_1")

            let lead = try XCTUnwrap(try instantly.findLead(email: "Ann@Example.com", campaign: "camp-a"))
            XCTAssertEqual(lead.email, "Ann@Example.com")
            XCTAssertEqual(lead.campaign, "camp-a")
            XCTAssertEqual(lead.status, 1)
            XCTAssertTrue(lead.id.hasPrefix("dry-run-lead-"))
            XCTAssertEqual(lead.id.count, "dry-run-lead-".count + 12)
            outputs.append(lead.id)
            // An update answers with the updated lead's own id.
            XCTAssertEqual(try instantly.replaceLeadVariables(id: lead.id, variables: ["paid": true]).id, lead.id)
            let job = try instantly.moveLead(id: lead.id, fromCampaign: "camp-a", toCampaign: "camp-b")
            XCTAssertEqual(job.status, "pending")
            XCTAssertFalse(job.isFinished)
            outputs.append(job.id)
            XCTAssertTrue(try instantly.backgroundJob(id: job.id).succeeded)
            try instantly.updateInterestStatus(email: "ann@example.com", campaign: "camp-b", value: 4)
            outputs.append(try instantly.createLead(campaign: "camp-b", email: "bob@example.com", firstName: nil, lastName: nil,
                                                    companyName: nil, variables: [:]).id)
            return (stripeTransport.requests, instantlyTransport.requests, outputs)
        }
        let (stripeRequests, instantlyRequests, outputs) = try run()
        let again = try run()
        XCTAssertEqual(stripeRequests, again.0)
        XCTAssertEqual(instantlyRequests, again.1)
        XCTAssertEqual(outputs, again.2)
        XCTAssertEqual(stripeRequests.map { "\($0.method) \($0.path)" },
                       ["GET /v1/customers?email=ann%40example.com&limit=1", "POST /v1/customers", "POST /v1/payment_links",
                        "GET /v1/payment_links/\(outputs[1])", "GET /v1/prices/price_1", "GET /v1/checkout/sessions/cs_1"])
        XCTAssertEqual(instantlyRequests.map { "\($0.method) \($0.path)" },
                       ["POST /api/v2/leads/list", "PATCH /api/v2/leads/\(outputs[3])", "POST /api/v2/leads/move",
                        "GET /api/v2/background-jobs/\(outputs[4])",
                        "POST /api/v2/leads/update-interest-status", "POST /api/v2/leads"])
        // Different writes get different ids; a different lead gets a different dry-run id.
        XCTAssertEqual(Set(outputs).count, outputs.count)
        // Nothing recorded carries a credential: the transport never had one.
        for request in stripeRequests + instantlyRequests {
            XCTAssertFalse("\(request)".contains("Bearer"))
            XCTAssertFalse("\(request)".lowercased().contains("authorization"))
        }
    }

    func testSynthesizedBodies() throws {
        let transport = DryRunProviderTransport(provider: "Stripe")
        XCTAssertEqual(try transport.send(ProviderRequest(method: "GET", path: "/v1/customers?email=a%40b.c&limit=1")).bodyText,
                       #"{"data":[],"has_more":false,"object":"list"}"#)
        XCTAssertEqual(try transport.send(ProviderRequest(method: "GET", path: "/api/v2/background-jobs/job9")).bodyText,
                       #"{"id":"job9","status":"success","type":"move-leads"}"#)
        XCTAssertEqual(try transport.send(ProviderRequest(method: "POST", path: "/api/v2/leads/update-interest-status", contentType: "application/json",
                                                          body: Array("{}".utf8))).bodyText, #"{"message":"dry run"}"#)
        XCTAssertEqual(try transport.send(ProviderRequest(method: "GET", path: "/v1/prices/price_9")).bodyText,
                       #"{"id":"price_9","metadata":{},"object":"dry_run","url":"https://dry-run.invalid/price_9"}"#)
        let write = ProviderRequest(method: "POST", path: "/v1/customers", contentType: "application/x-www-form-urlencoded",
                                    body: Array("email=a%40b.c&metadata%5Bnote%5D=x%26y&metadata%5Bnested%5D%5Bk%5D=z".utf8))
        let id = "dry_run_" + DryRunProviderTransport.fingerprint("POST\n/v1/customers\n" + write.bodyText)
        XCTAssertEqual(try transport.send(write).bodyText,
                       #"{"id":"\#(id)","metadata":{"note":"x&y"},"object":"dry_run","status":"pending","url":"https://dry-run.invalid/\#(id)"}"#)
        var other = write
        other.body = Array("email=b%40b.c".utf8)
        XCTAssertNotEqual(try transport.send(other).bodyText, try transport.send(write).bodyText)
        XCTAssertEqual(transport.requests.count, 7)
        XCTAssertEqual(DryRunProviderTransport.fingerprint("abc").count, 12)
        XCTAssertEqual(DryRunProviderTransport.fingerprint(""), "cbf29ce48422")
    }
}

final class RecordingProviderTransportTests: XCTestCase {
    func testRecordsRequestsInOrderWithStatusOrFailure() throws {
        let fake = try FakeAPIServer()
        fake.inject(.status(500, headers: [], body: "{}"))
        let recording = RecordingProviderTransport(liveTransport(fake, provider: "Instantly"))
        XCTAssertEqual(recording.provider, "Instantly")
        let first = ProviderRequest(method: "GET", path: "/api/v2/leads/1")
        let second = ProviderRequest(method: "POST", path: "/api/v2/leads/list", contentType: "application/json", body: Array("{}".utf8))
        let third = ProviderRequest(method: "GET", path: "/api/v2/leads/3")
        XCTAssertEqual(expectFailure { () throws(ProviderFailure) in try recording.send(first) }?.status, 500)
        _ = try recording.send(second)
        _ = try recording.send(third)
        XCTAssertEqual(recording.requests, [first, second, third])
        let exchanges = recording.exchanges
        XCTAssertEqual(exchanges.map(\.status), [500, 200, 200])
        XCTAssertEqual(exchanges[0].failure?.retryable, true)
        XCTAssertNil(exchanges[1].failure)
    }
}
