import Alerts
import Foundation
import Outbound
import Store
import Workflows
import Yams

extension HookyardConfiguration {
    /// `alerts:` and the alert webhook secret.
    public struct AlertSettings: Sendable {
        /// `alerts.repeat_interval`: a condition that holds is notified again after this long.
        public var repeatIntervalMilliseconds = AlertCenter.Configuration(location: .sqlite(path: "")).repeatIntervalMilliseconds
        /// `HOOKYARD_ALERT_WEBHOOK_URL` (a secret: never logged); empty: alerts are log lines only.
        public var webhookURL = ""
    }
}

/// The secret naming where alert notifications are posted.
public let alertWebhookVariable = "HOOKYARD_ALERT_WEBHOOK_URL"

extension YAMLReader {
    /// `alerts: {repeat_interval: 1h}`.
    public mutating func readAlerts(_ node: Node, into configuration: inout HookyardConfiguration) {
        forEachKey(node, "alerts") { reader, name, value, path in
            switch name {
            case "repeat_interval":
                if let milliseconds = reader.duration(value, path, minimum: 60_000) { configuration.alerts.repeatIntervalMilliseconds = milliseconds }
            default: reader.issue(value, path, "unknown key (alerts has repeat_interval; the webhook URL is the secret \(alertWebhookVariable))")
            }
        }
    }

    /// `deliverability: {window: 7d, min_sent: 50, max_bounce_rate: 2%, max_unsubscribe_rate: 0.3%, min_reply_rate: off,
    /// pause_campaigns: false}`.
    public mutating func readDeliverability(_ node: Node, into configuration: inout HookyardConfiguration) {
        forEachKey(node, "deliverability") { reader, name, value, path in
            switch name {
            case "window":
                if let milliseconds = reader.duration(value, path, minimum: 3_600_000) { configuration.deliverability.windowMilliseconds = milliseconds }
            case "min_sent": reader.int(value, path, min: 1) { configuration.deliverability.minimumSent = $0 }
            case "max_bounce_rate": reader.rate(value, path) { configuration.deliverability.maxBounceRate = $0 }
            case "max_unsubscribe_rate": reader.rate(value, path) { configuration.deliverability.maxUnsubscribeRate = $0 }
            case "min_reply_rate": reader.rate(value, path) { configuration.deliverability.minReplyRate = $0 }
            case "pause_campaigns":
                guard let flag = value.bool else { return reader.issue(value, path, "must be true or false") }
                configuration.deliverability.pauseCampaigns = flag
            default:
                reader.issue(value, path, "unknown key (deliverability has window, min_sent, max_bounce_rate, max_unsubscribe_rate, min_reply_rate, pause_campaigns)")
            }
        }
    }

    private mutating func forEachKey(_ node: Node, _ section: String, _ body: (inout YAMLReader, String, Node, String) -> Void) {
        guard let mapping = node.mapping else { return issue(node, section, "must be a mapping") }
        for (key, value) in mapping {
            let name = key.string ?? ""
            body(&self, name, value, "\(section).\(name)")
        }
    }

    /// A duration such as `30m`, `1h`, `7d` of at least `minimum` milliseconds.
    private mutating func duration(_ node: Node, _ key: String, minimum: Int64) -> Int64? {
        guard let text = node.scalar?.string, let milliseconds = StepSchedule.duration(text) else {
            issue(node, key, "must be a duration such as 30m, 1h, 7d")
            return nil
        }
        guard milliseconds >= minimum else {
            issue(node, key, "must be at least \(AlertText.duration(minimum))")
            return nil
        }
        return milliseconds
    }

    /// A rate as a fraction (`0.02`) or a percentage (`2%`), within 0...1; `off` turns the check off (`nil`).
    private mutating func rate(_ node: Node, _ key: String, _ set: (Double?) -> Void) {
        guard let text = node.scalar?.string.trimmingCharacters(in: .whitespaces) else {
            return issue(node, key, "must be a fraction (0.02), a percentage ('2%') or off")
        }
        if ["off", "false", "no", "none", "null", "~", ""].contains(text.lowercased()) { return set(nil) }
        let percent = text.hasSuffix("%")
        guard let number = Double(percent ? String(text.dropLast()).trimmingCharacters(in: .whitespaces) : text), number.isFinite else {
            return issue(node, key, "'\(text)' must be a fraction (0.02), a percentage ('2%') or off")
        }
        let fraction = percent ? number / 100 : number
        guard (0...1).contains(fraction) else {
            return issue(node, key, "'\(text)' must be between 0 and 1 as a fraction (0.02), or between 0% and 100% (write '2%' for two percent)")
        }
        set(fraction)
    }
}

extension ConfigurationLoader {
    /// Reads `HOOKYARD_ALERT_WEBHOOK_URL` like the other secrets (`NAME`, `NAME_FILE`, `$CREDENTIALS_DIRECTORY/NAME`).
    /// Problems never show the value: the URL is the credential.
    public static func applyAlertWebhook(_ environment: [String: String], to configuration: inout HookyardConfiguration,
                                  issues: inout [ConfigurationIssue]) {
        let values: [String]?
        do {
            values = try SecretResolver.resolve(alertWebhookVariable, environment: environment)
        } catch {
            return issues.append(error)
        }
        guard let values else { return }
        guard values.count == 1, HTTPTarget.split(url: values[0]) != nil else {
            return issues.append(ConfigurationIssue(origin: "environment", line: nil, key: alertWebhookVariable,
                                                    message: "must be one http:// or https:// URL with a host (the value is not shown: it is a secret)"))
        }
        configuration.alerts.webhookURL = values[0]
    }
}
