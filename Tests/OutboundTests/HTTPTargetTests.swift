import Foundation
import HTTPServer
import TestSupport
import XCTest
@testable import Outbound

/// `http.post` targets: signed JSON posts to a real loopback server, checked with an HMAC that shares no code with
/// Hookyard's.
final class HTTPTargetTests: XCTestCase {
    private let secret = "hys_fulfilment_3f9a"

    private func target(_ fake: FakeAPIServer, path: String = "/hooks/hookyard/?src=hy") throws -> HTTPTarget {
        let url = fake.baseURL + path
        let base = try XCTUnwrap(HTTPTarget.split(url: url)).base
        let transport = LiveProviderTransport(provider: "http:fulfilment", baseURL: base, apiKey: nil,
                                              limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test")
        return HTTPTarget(name: "fulfilment", url: url, secret: secret, transport: transport)
    }

    func testIndependentHMACMatchesRFC4231() {
        let mac = IndependentHMAC.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(IndependentHMAC.hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        let long = IndependentHMAC.hmacSHA256(key: longKey, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        XCTAssertEqual(IndependentHMAC.hex(long), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    func testSplitKeepsThePathAsConfigured() {
        XCTAssertEqual(HTTPTarget.split(url: "https://fulfil.example.com")?.base, "https://fulfil.example.com")
        XCTAssertEqual(HTTPTarget.split(url: "https://fulfil.example.com")?.path, "/")
        XCTAssertEqual(HTTPTarget.split(url: "http://10.0.0.5:8443/hooks/?a=1#frag")?.base, "http://10.0.0.5:8443")
        XCTAssertEqual(HTTPTarget.split(url: "http://10.0.0.5:8443/hooks/?a=1#frag")?.path, "/hooks/?a=1")
        XCTAssertEqual(HTTPTarget.split(url: "https://x.example?q=1")?.path, "/?q=1")
        XCTAssertNil(HTTPTarget.split(url: "ftp://x.example/"))
        XCTAssertNil(HTTPTarget.split(url: "https:///path"))
        XCTAssertNil(HTTPTarget.split(url: "https://user@x.example/"))
    }

    func testPostIsSignedLikeStripeAndCarriesTheIdempotencyKey() throws {
        let fake = try FakeAPIServer { _ in .json(status: 200, #"{"received":true}"#) }
        let body = Array(#"{"email":"ann@example.com","seats":3,"tier":"team"}"#.utf8)
        let response = try target(fake).post(body: body, idempotencyKey: "hookyard-flow%3Asale%3Aevent%3A7%3Afulfil",
                                             timestamp: 1_764_000_000)
        XCTAssertEqual(response.status, 200)
        let request = try XCTUnwrap(fake.requests.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.target, "/hooks/hookyard/?src=hy")
        XCTAssertEqual(request.body, String(decoding: body, as: UTF8.self))
        XCTAssertEqual(request.headers["Content-Type"], "application/json")
        XCTAssertEqual(request.headers["Idempotency-Key"], "hookyard-flow%3Asale%3Aevent%3A7%3Afulfil")
        XCTAssertNil(request.headers["Authorization"], "the secret never travels; only the signature does")
        let expected = IndependentHMAC.hex(IndependentHMAC.hmacSHA256(key: Array(secret.utf8), message: Array("1764000000.".utf8) + body))
        XCTAssertEqual(request.headers["Hookyard-Signature"], "t=1764000000,v1=\(expected)")
        XCTAssertFalse(request.headers["Hookyard-Signature"]?.contains(secret) ?? true)
    }

    func testFailuresAreClassifiedLikeAProvider() throws {
        let fake = try FakeAPIServer { _ in .json(status: 200, "{}") }
        let target = try target(fake)
        // The 429 comes last: it pauses this target's limiter for its Retry-After.
        fake.inject(.status(503, headers: [], body: #"{"error":"maintenance"}"#),
                    .status(422, headers: [], body: #"{"message":"unknown sku"}"#),
                    .status(429, headers: [("Retry-After", "7")], body: "{}"))
        let unavailable = expectFailure { () throws(ProviderFailure) in try target.post(body: [], idempotencyKey: "k", timestamp: 1) }
        XCTAssertEqual(unavailable?.retryable, true)
        XCTAssertEqual(unavailable?.message, "http:fulfilment answered 503: maintenance")
        let rejected = expectFailure { () throws(ProviderFailure) in try target.post(body: [], idempotencyKey: "k", timestamp: 1) }
        XCTAssertEqual(rejected?.retryable, false)
        XCTAssertEqual(rejected?.status, 422)
        let limited = expectFailure { () throws(ProviderFailure) in try target.post(body: [], idempotencyKey: "k", timestamp: 1) }
        XCTAssertEqual(limited?.retryable, true)
        XCTAssertEqual(limited?.retryAfterMilliseconds, 7_000)

        let refused = HTTPTarget(name: "gone", url: "http://127.0.0.1:1/x", secret: secret,
                                 transport: LiveProviderTransport(provider: "http:gone", baseURL: "http://127.0.0.1:1", apiKey: nil,
                                                                  limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test"))
        XCTAssertEqual(expectFailure { () throws(ProviderFailure) in try refused.post(body: [], idempotencyKey: "k", timestamp: 1) }?.retryable, true)
    }
}
