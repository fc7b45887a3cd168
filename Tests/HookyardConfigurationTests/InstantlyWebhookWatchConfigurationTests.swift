import Foundation
import TestSupport
import XCTest
@testable import HookyardConfiguration

/// `instantly.public_url` and `instantly.webhook_watch_interval` as the configuration reads and describes them.
final class InstantlyWebhookWatchConfigurationTests: ConfigurationTestCase {
    private let target = "https://hooks.example.com/webhooks/instantly"

    func testPublicURLAndWatchIntervalAreRead() throws {
        let defaults = try load("")
        XCTAssertNil(defaults.instantly.publicURL)
        XCTAssertEqual(defaults.instantly.webhookWatchIntervalMilliseconds, 600_000)

        let bare = try load("instantly:\n  public_url: https://hooks.example.com\n  webhook_watch_interval: 30s\n")
        XCTAssertEqual(bare.instantly.publicURL, target)
        XCTAssertEqual(bare.instantly.webhookWatchIntervalMilliseconds, 30_000)
        XCTAssertEqual(try load("instantly:\n  public_url: https://h.example.com/\n").instantly.publicURL, "https://h.example.com/webhooks/instantly")
        XCTAssertEqual(try load("instantly:\n  public_url: http://h.example.com:8443/hy/webhooks/instantly\n").instantly.publicURL,
                       "http://h.example.com:8443/hy/webhooks/instantly")
        XCTAssertEqual(try load("instantly:\n  webhook_watch_interval: 0\n").instantly.webhookWatchIntervalMilliseconds, 0)
        XCTAssertEqual(try load("instantly:\n  webhook_watch_interval: 1h30m\n").instantly.webhookWatchIntervalMilliseconds, 5_400_000)
    }

    func testBadValuesAreReportedWithFileLineAndKey() {
        let yaml = """
            instantly:
              max_rps: 5
              public_url: hooks.example.com
              webhook_watch_interval: 600
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            let file = directory.appendingPathComponent("hookyard.yaml").path
            XCTAssertEqual((error as? ConfigurationErrors)?.issues.map(\.description), [
                "\(file):3: instantly.public_url: 'hooks.example.com' must be an http:// or https:// URL (Instantly accepts no other)",
                "\(file):4: instantly.webhook_watch_interval: '600' is not an interval such as 30s, 10m or 1h (at least 1s; 0 turns the watcher off)",
            ])
        }
        for bad in ["500ms", "-1m", "0s", "https://"] {
            XCTAssertThrowsError(try load("instantly:\n  webhook_watch_interval: \"\(bad)\"\n  public_url: \"https://\"\n"), bad) { error in
                XCTAssertEqual((error as? ConfigurationErrors)?.issues.count, 2, "\(error)")
            }
        }
    }

    func testCheckConfigSaysWhetherAndHowTheWatcherRuns() throws {
        let yaml = "instantly:\n  public_url: https://hooks.example.com\n"
        XCTAssertEqual(try load(yaml).instantly.watchDescription, "off: INSTANTLY_API_KEY is not set (dry-run)")
        XCTAssertEqual(try load(yaml, environment: ["INSTANTLY_API_KEY": "k", "INSTANTLY_WEBHOOK_SECRET": "s"]).instantly.watchDescription,
                       "every 10m; Hookyard's webhooks are those pointing at \(target) or carrying INSTANTLY_WEBHOOK_SECRET")
        XCTAssertEqual(try load("instantly:\n  webhook_watch_interval: 0\n", environment: ["INSTANTLY_API_KEY": "k"]).instantly.watchDescription,
                       "off: instantly.webhook_watch_interval is 0")
        XCTAssertEqual(try load("", environment: ["INSTANTLY_API_KEY": "k"]).instantly.watchDescription,
                       "off: neither instantly.public_url nor INSTANTLY_WEBHOOK_SECRET is set, so no webhook can be told to be Hookyard's")
    }
}
