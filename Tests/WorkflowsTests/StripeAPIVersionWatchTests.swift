import XCTest
@testable import Workflows

/// One warning per Stripe API version that differs from `stripe.api_version` (issue 13, item 16).
final class StripeAPIVersionWatchTests: XCTestCase {
    func testEachDifferingVersionIsReportedOnce() {
        let watch = StripeAPIVersionWatch(configured: "2025-12-15.clover")
        XCTAssertFalse(watch.firstDifferent("2025-12-15.clover"), "the configured version")
        XCTAssertFalse(watch.firstDifferent(nil))
        XCTAssertFalse(watch.firstDifferent(""))
        XCTAssertTrue(watch.firstDifferent("2024-06-20"))
        XCTAssertFalse(watch.firstDifferent("2024-06-20"), "once")
        XCTAssertTrue(watch.firstDifferent("2025-03-31.basil"))
        watch.update(configured: "2025-12-15.clover")
        XCTAssertFalse(watch.firstDifferent("2024-06-20"), "the same configuration: still reported")
        watch.update(configured: "2025-03-31.basil")
        XCTAssertTrue(watch.firstDifferent("2024-06-20"), "a new configured version: judged again")
        XCTAssertFalse(watch.firstDifferent("2025-03-31.basil"))
        XCTAssertTrue(watch.firstDifferent("2025-12-15.clover"))
        XCTAssertFalse(StripeAPIVersionWatch(configured: nil).firstDifferent("2024-06-20"), "nothing configured: nothing judged")
    }
}
