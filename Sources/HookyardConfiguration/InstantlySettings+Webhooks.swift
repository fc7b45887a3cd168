import Alerts
import Outbound
import Workflows

extension HookyardConfiguration.InstantlySettings {
    /// How this configuration tells Hookyard's webhooks from others (`InstantlyWebhookOwnership`).
    public var webhookOwnership: InstantlyWebhookOwnership {
        InstantlyWebhookOwnership(publicURL: publicURL, secretHeader: secretHeader, secrets: webhookSecrets)
    }

    /// Why the webhook watcher does not run, or `nil` when it does.
    public var watchOffReason: String? {
        if webhookWatchIntervalMilliseconds == 0 { return "instantly.webhook_watch_interval is 0" }
        if apiKey.isEmpty { return "INSTANTLY_API_KEY is not set (dry-run)" }
        if !webhookOwnership.canIdentify { return "neither instantly.public_url nor INSTANTLY_WEBHOOK_SECRET is set, so no webhook can be told to be Hookyard's" }
        return nil
    }

    /// `every 10m; Hookyard's: ...` or `off: <reason>` (check-config).
    public var watchDescription: String {
        if let reason = watchOffReason { return "off: \(reason)" }
        let target = publicURL.map { "pointing at \(webhookOwnership.redacted($0)) or " } ?? ""
        return "every \(StepSchedule.format(webhookWatchIntervalMilliseconds)); Hookyard's webhooks are those \(target)carrying INSTANTLY_WEBHOOK_SECRET"
    }
}
