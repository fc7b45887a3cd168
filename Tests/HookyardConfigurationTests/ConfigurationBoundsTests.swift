import Foundation
import XCTest
@testable import HookyardConfiguration

/// Whole numbers in the configuration have a ceiling, so nothing computed from them (seconds to milliseconds, days
/// to milliseconds, a time plus a delay) can overflow at startup or at run time.
final class ConfigurationBoundsTests: ConfigurationTestCase {
    func testWholeNumbersAboveTheCeilingAreRefusedWithTheirKey() {
        let yaml = """
            workers: {lease_seconds: 9223372036854775807, max_job_seconds: 2147483648}
            retention: {payload_days: 9223372036854775807}
            contacts: {loop_guard_seconds: 99999999999999}
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            let text = "\(error)"
            for key in ["lease_seconds", "max_job_seconds", "payload_days", "loop_guard_seconds"] {
                XCTAssertTrue(text.contains("\(key): must be at most 2147483647"), "\(key): \(text)")
            }
        }
        XCTAssertThrowsError(try load("", environment: ["HOOKYARD_RETRY_CAP_MS": "9223372036854775807"])) { error in
            XCTAssertTrue("\(error)".contains("is not a whole number from 1 to 2147483647"), "\(error)")
        }
        XCTAssertNoThrow(try load("workers: {lease_seconds: 2147483647}\nretention: {payload_days: 2147483647}\n"))
    }
}
