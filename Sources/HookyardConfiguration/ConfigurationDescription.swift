import Foundation
import Outbound

/// What `check-config` and the daemon's start line say about a configuration: never a secret's value. Stateless.
extension HookyardConfiguration {
    /// "set (n)" or "not set": never the value.
    public static func describe(secrets: [String]) -> String {
        switch secrets.count {
        case 0: "not set"
        case 1: "set"
        default: "set (\(secrets.count) secrets)"
        }
    }

    /// How `check-config` and the start line describe the alert webhook: its host, never the URL.
    public var alertWebhookDescription: String {
        let settings = self
        guard let host = HTTPTarget.split(url: settings.alerts.webhookURL)?.base else { return "not set: alerts are log lines only" }
        return "set (posts to \(host))"
    }

    /// What is valid but will not work as an installed daemon should: a rule path into an Instantly event that names
    /// no documented field (with file and line), a webhook route that will answer 503, a configuration file with no rule.
    public var startWarnings: [String] {
        let settings = self
        var warnings = settings.warnings.map(\.description)
        if settings.stripe.webhookSecrets.isEmpty {
            warnings.append("STRIPE_WEBHOOK_SECRET is not set: POST /webhooks/stripe will answer 503 source_not_configured and "
                            + "Stripe's deliveries will not be stored. Set it (or STRIPE_WEBHOOK_SECRET_FILE, or the systemd "
                            + "credential) to the endpoint's signing secret (whsec_…).")
        }
        if settings.instantly.webhookSecrets.isEmpty {
            warnings.append("INSTANTLY_WEBHOOK_SECRET is not set: POST /webhooks/instantly will answer 503 source_not_configured "
                            + "and Instantly's deliveries will not be stored. Set it (or INSTANTLY_WEBHOOK_SECRET_FILE, or the "
                            + "systemd credential), then run `hookyard instantly register`.")
        }
        if let file = settings.file, settings.rules.isEmpty {
            warnings.append("\(file) has no rules: events are stored, but no workflow runs. Add rules: (see deploy/examples/ "
                            + "and docs/workflows.md).")
        }
        if !warnings.isEmpty, ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] == nil,
           settings.stripe.webhookSecrets.isEmpty || settings.instantly.webhookSecrets.isEmpty {
            warnings.append("this shell has no CREDENTIALS_DIRECTORY: a secret the service gets as a systemd credential is not "
                            + "seen here. Check as the service sees it with: sudo CREDENTIALS_DIRECTORY=/etc/hookyard/credentials "
                            + "hookyard check-config")
        }
        return warnings
    }
}
