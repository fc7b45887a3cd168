import XCTest
@testable import Jobs

final class RetryPolicyTests: XCTestCase {
    let policy = RetryPolicy(baseMilliseconds: 2000, capMilliseconds: 3_600_000, maxAttempts: 10)

    func testCeilingDoublesUpToTheCap() {
        // With the random source returning its upper bound, the delay is the ceiling itself.
        let ceilings = (1...9).map { policy.delayMilliseconds(afterAttempt: $0, random: { $0 }) }
        XCTAssertEqual(ceilings, [2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000])
        let capped = RetryPolicy(baseMilliseconds: 2000, capMilliseconds: 10_000, maxAttempts: 100)
        XCTAssertEqual(capped.delayMilliseconds(afterAttempt: 50, random: { $0 }), 10_000)
        XCTAssertEqual(capped.delayMilliseconds(afterAttempt: 99, random: { $0 }), 10_000, "no overflow on large attempts")
    }

    func testFullJitterStaysWithinZeroAndTheCeiling() {
        var seen = Set<Int64>()
        for _ in 0..<1000 {
            let delay = policy.delayMilliseconds(afterAttempt: 3)!
            XCTAssertTrue((0...8000).contains(delay))
            seen.insert(delay / 1000)
        }
        XCTAssertGreaterThan(seen.count, 5, "delays are spread, not synchronised")
    }

    func testRetryAfterIsNeverUndercut() {
        XCTAssertEqual(policy.delayMilliseconds(afterAttempt: 1, retryAfterMilliseconds: 30_000, random: { _ in 0 }), 30_000)
        XCTAssertEqual(policy.delayMilliseconds(afterAttempt: 5, retryAfterMilliseconds: 1000, random: { $0 }), 32_000)
    }

    func testBudgetIsSpentAfterMaxAttempts() {
        XCTAssertNotNil(policy.delayMilliseconds(afterAttempt: 9))
        XCTAssertNil(policy.delayMilliseconds(afterAttempt: 10))
        XCTAssertNil(RetryPolicy(maxAttempts: 1).delayMilliseconds(afterAttempt: 1))
    }

    func testDefaults() {
        XCTAssertEqual(RetryPolicy(), RetryPolicy(baseMilliseconds: 2000, capMilliseconds: 3_600_000, maxAttempts: 10))
    }
}
