import Foundation
@testable import HookyardConfiguration
import XCTest
@testable import hookyard

/// The daemon's transports for `http_targets:`: recorded, not sent, while the daemon is wholly in dry-run.
final class HTTPTargetWiringTests: XCTestCase {
    func testTargetsAreDryRunWithNeitherAPIKeyAndLiveWithOne() {
        var configuration = HookyardConfiguration()
        configuration.httpTargets = [
            HTTPTargetSettings(name: "fulfilment", url: "https://fulfil.example.com/hooks/", secret: "whsec_f"),
            HTTPTargetSettings(name: "lms", url: "http://10.0.0.7:8080/enrol?src=hookyard", secret: "lms-s3cret", maxRequestsPerSecond: 2),
        ]
        XCTAssertEqual(Serve.httpTargets(configuration).map(\.isDryRun), [true, true], "with neither API key, the daemon is wholly in dry-run")
        var live = configuration
        live.stripe.apiKey = "sk_test_x"
        let targets = Serve.httpTargets(live)
        XCTAssertEqual(targets.map(\.name), ["fulfilment", "lms"])
        XCTAssertEqual(targets.map(\.isDryRun), [false, false])
    }
}
