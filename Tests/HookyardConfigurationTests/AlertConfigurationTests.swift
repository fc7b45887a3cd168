import Foundation
import XCTest
@testable import HookyardConfiguration

/// `alerts:`, `deliverability:` and the alert webhook secret.
final class AlertConfigurationTests: ConfigurationTestCase {
    private let url = "https://hooks.slack.com/services/T0001/B0002/s3cr3tt0k3n"

    func testDefaults() throws {
        let configuration = try load("listen: 127.0.0.1:8080\n")
        XCTAssertEqual(configuration.alerts.repeatIntervalMilliseconds, 3_600_000)
        XCTAssertEqual(configuration.alerts.webhookURL, "")
        let deliverability = configuration.deliverability
        XCTAssertEqual(deliverability.windowMilliseconds, 7 * 86_400_000)
        XCTAssertEqual(deliverability.minimumSent, 50)
        XCTAssertEqual(deliverability.maxBounceRate, 0.02)
        XCTAssertEqual(deliverability.maxUnsubscribeRate, 0.003)
        XCTAssertNil(deliverability.minReplyRate)
        XCTAssertFalse(deliverability.pauseCampaigns)
    }

    func testTheShippedExampleStatesTheDefaults() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/hookyard.example.yaml").standardized
        let example = try ConfigurationLoader.load(path: url.path, environment: [:], defaultFile: "/nonexistent")
        let defaults = try load("")
        XCTAssertEqual(example.alerts.repeatIntervalMilliseconds, defaults.alerts.repeatIntervalMilliseconds)
        XCTAssertEqual(example.deliverability, defaults.deliverability)
    }

    func testFileValues() throws {
        let configuration = try load("""
            alerts:
              repeat_interval: 30m
            deliverability:
              window: 3d
              min_sent: 200
              max_bounce_rate: 3%
              max_unsubscribe_rate: 0.005
              min_reply_rate: 1.5%
              pause_campaigns: true
            """)
        XCTAssertEqual(configuration.alerts.repeatIntervalMilliseconds, 1_800_000)
        let deliverability = configuration.deliverability
        XCTAssertEqual(deliverability.windowMilliseconds, 3 * 86_400_000)
        XCTAssertEqual(deliverability.minimumSent, 200)
        XCTAssertEqual(try XCTUnwrap(deliverability.maxBounceRate), 0.03, accuracy: 1e-12)
        XCTAssertEqual(deliverability.maxUnsubscribeRate, 0.005)
        XCTAssertEqual(try XCTUnwrap(deliverability.minReplyRate), 0.015, accuracy: 1e-12)
        XCTAssertTrue(deliverability.pauseCampaigns)
        let off = try load("deliverability:\n  max_bounce_rate: off\n  max_unsubscribe_rate: 'off'\n")
        XCTAssertNil(off.deliverability.maxBounceRate)
        XCTAssertNil(off.deliverability.maxUnsubscribeRate)
    }

    func testEveryErrorHasFileLineAndKey() {
        let yaml = """
            alerts:
              repeat_interval: soon
              webhook_url: https://example.com/hook
            deliverability:
              window: 10m
              min_sent: 0
              max_bounce_rate: 2
              max_unsubscribe_rate: lots
              pause_campaigns: sometimes
              colour: blue
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            let text = (error as! ConfigurationErrors).issues.map(\.description)
            let file = directory.appendingPathComponent("hookyard.yaml").path
            XCTAssertEqual(text, [
                "\(file):2: alerts.repeat_interval: must be a duration such as 30m, 1h, 7d",
                "\(file):3: alerts.webhook_url: unknown key (alerts has repeat_interval; the webhook URL is the secret HOOKYARD_ALERT_WEBHOOK_URL)",
                "\(file):5: deliverability.window: must be at least 1h",
                "\(file):6: deliverability.min_sent: must be at least 1",
                "\(file):7: deliverability.max_bounce_rate: '2' must be between 0 and 1 as a fraction (0.02), or between 0% and 100% (write '2%' for two percent)",
                "\(file):8: deliverability.max_unsubscribe_rate: 'lots' must be a fraction (0.02), a percentage ('2%') or off",
                "\(file):9: deliverability.pause_campaigns: must be true or false",
                "\(file):10: deliverability.colour: unknown key (deliverability has window, min_sent, max_bounce_rate, max_unsubscribe_rate, min_reply_rate, pause_campaigns)",
            ])
        }
    }

    func testTheWebhookURLIsASecretReadLikeTheOthers() throws {
        XCTAssertEqual(try load("", environment: ["HOOKYARD_ALERT_WEBHOOK_URL": url]).alerts.webhookURL, url)
        let file = directory.appendingPathComponent("alert-url")
        try (url + "\n").write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try load("", environment: ["HOOKYARD_ALERT_WEBHOOK_URL_FILE": file.path]).alerts.webhookURL, url)
        let credentials = directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try url.write(to: credentials.appendingPathComponent("HOOKYARD_ALERT_WEBHOOK_URL"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try load("", environment: ["CREDENTIALS_DIRECTORY": credentials.path]).alerts.webhookURL, url)

        XCTAssertThrowsError(try load("", environment: ["HOOKYARD_ALERT_WEBHOOK_URL": "hooks.slack.com/services/T0001/s3cr3tt0k3n"])) { error in
            let text = "\(error)"
            XCTAssertEqual(text, "environment: HOOKYARD_ALERT_WEBHOOK_URL: must be one http:// or https:// URL with a host (the value is not shown: it is a secret)")
            XCTAssertFalse(text.contains("s3cr3t"))
        }
        XCTAssertThrowsError(try load("", environment: ["HOOKYARD_ALERT_WEBHOOK_URL": url, "HOOKYARD_ALERT_WEBHOOK_URL_FILE": file.path])) { error in
            XCTAssertTrue("\(error)".contains("both HOOKYARD_ALERT_WEBHOOK_URL and HOOKYARD_ALERT_WEBHOOK_URL_FILE are set"), "\(error)")
        }
    }
}
