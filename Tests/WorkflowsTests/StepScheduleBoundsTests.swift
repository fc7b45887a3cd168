import Outbound
import StrictJSON
import Workflows
import XCTest

/// `at:` times come from event data and durations from configuration: both are bounded, so a time plus an offset
/// always fits 64 bits, and an absurd value is "not a time", never a trap.
final class StepScheduleBoundsTests: XCTestCase {
    private func time(_ value: JSONValue) -> Int64? { StepSchedule.time(of: value, iso8601: { _ in nil }) }

    func testAbsurdTimesAreNoTime() {
        XCTAssertNil(time(.number(1e300)))
        XCTAssertNil(time(.number(-1e300)))
        XCTAssertNil(time(.number(9.3e18)))
        XCTAssertNil(time(.integer(.max)))
        XCTAssertNil(time(.string("9223372036854775807")))
        XCTAssertNil(time(.integer(StepSchedule.latestTime + 1)))
        XCTAssertEqual(time(.integer(StepSchedule.latestTime)), StepSchedule.latestTime)
        XCTAssertEqual(time(.number(1_764_000_000.7)), 1_764_000_000_000)
        XCTAssertEqual(time(.integer(1_764_000_000)), 1_764_000_000_000)
    }

    func testDurationsAreCheckedAndCapped() {
        XCTAssertEqual(StepSchedule.duration("1000000w"), StepSchedule.maximumDuration)
        XCTAssertNil(StepSchedule.duration("1000000w1s"))
        XCTAssertNil(StepSchedule.duration(String(repeating: "1000000w", count: 20_000)), "a sum that would overflow")
        XCTAssertNil(StepSchedule.duration("10000000d"))
    }
}
