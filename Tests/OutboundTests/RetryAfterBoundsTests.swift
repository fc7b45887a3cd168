import Foundation
import Outbound
import XCTest

/// `Retry-After` is a provider's header: any text, however large, is clamped, never converted blindly.
final class RetryAfterBoundsTests: XCTestCase {
    func testHugeInfiniteAndNaNValuesAreClampedOrIgnored() {
        let day = ProviderFailure.maximumRetryAfterMilliseconds
        XCTAssertEqual(day, 86_400_000)
        XCTAssertEqual(ProviderFailure.retryAfter("1e300"), day)
        XCTAssertEqual(ProviderFailure.retryAfter("9223372036854775807"), day)
        XCTAssertEqual(ProviderFailure.retryAfter("inf"), day)
        XCTAssertEqual(ProviderFailure.retryAfter("-inf"), 0)
        XCTAssertNil(ProviderFailure.retryAfter("nan"))
        XCTAssertEqual(ProviderFailure.retryAfter("2.5"), 2_500)
        let now = Date(timeIntervalSince1970: 1_764_000_000)
        XCTAssertEqual(ProviderFailure.retryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now: now), day)
    }
}
