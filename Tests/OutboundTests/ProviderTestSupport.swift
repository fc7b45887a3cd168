import Foundation
import HTTPServer
import TestSupport
import XCTest
@testable import Outbound

/// A live transport pointed at a fake server, with a limiter generous enough not to matter unless the test wants it to.
func liveTransport(_ fake: FakeAPIServer, provider: String = "Stripe", apiKey: String = "sk_test_123",
                   extraHeaders: [(String, String)] = [], limiter: RateLimiter = RateLimiter(requestsPerSecond: 1000),
                   totalTimeoutMilliseconds: Int = 30_000) -> LiveProviderTransport {
    LiveProviderTransport(provider: provider, baseURL: fake.baseURL + "/", apiKey: apiKey, extraHeaders: extraHeaders,
                          limiter: limiter, userAgent: "hookyard/test", totalTimeoutMilliseconds: totalTimeoutMilliseconds)
}

/// Runs `body`, which must throw a `ProviderFailure`, and returns it.
func expectFailure<T>(_ body: () throws(ProviderFailure) -> T, file: StaticString = #filePath, line: UInt = #line) -> ProviderFailure? {
    do {
        let value = try body()
        XCTFail("expected a ProviderFailure, got \(value)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// The JSON text of a recorded body, parsed, for comparisons that should not depend on key order.
func parsedJSON(_ text: String) -> NSDictionary? {
    try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
}

/// A fixed transport answer for client tests that need no network.
final class CannedTransport: ProviderTransport {
    let provider: String
    let response: HTTPClientResponse

    init(provider: String, status: Int = 200, body: String) {
        self.provider = provider
        response = HTTPClientResponse(status: status, headers: [:], body: Array(body.utf8))
    }

    func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse { response }
}
