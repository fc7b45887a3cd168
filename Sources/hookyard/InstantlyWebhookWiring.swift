import Alerts
import Logging
import Outbound
import Workflows

extension HookyardConfiguration.InstantlySettings {
    /// How this configuration tells Hookyard's webhooks from others (`InstantlyWebhookOwnership`).
    var webhookOwnership: InstantlyWebhookOwnership {
        InstantlyWebhookOwnership(publicURL: publicURL, secretHeader: secretHeader, secrets: webhookSecrets)
    }

    /// Why the webhook watcher does not run, or `nil` when it does.
    var watchOffReason: String? {
        if webhookWatchIntervalMilliseconds == 0 { return "instantly.webhook_watch_interval is 0" }
        if apiKey.isEmpty { return "INSTANTLY_API_KEY is not set (dry-run)" }
        if !webhookOwnership.canIdentify { return "neither instantly.public_url nor INSTANTLY_WEBHOOK_SECRET is set, so no webhook can be told to be Hookyard's" }
        return nil
    }

    /// `every 10m; Hookyard's: ...` or `off: <reason>` (check-config).
    var watchDescription: String {
        if let reason = watchOffReason { return "off: \(reason)" }
        let target = publicURL.map { "pointing at \(webhookOwnership.redacted($0)) or " } ?? ""
        return "every \(StepSchedule.format(webhookWatchIntervalMilliseconds)); Hookyard's webhooks are those \(target)carrying INSTANTLY_WEBHOOK_SECRET"
    }
}

extension Serve {
    /// Starts the watcher that resumes Hookyard's Instantly webhooks when Instantly disables them, on `transport` (the
    /// workers' Instantly transport, so its calls share their rate limit). - Returns: the watcher, or `nil` (logged)
    /// when it does not run: interval 0, no API key, or nothing to tell Hookyard's webhooks by.
    static func startInstantlyWebhookWatcher(_ settings: HookyardConfiguration, transport: any ProviderTransport,
                                             alerts: any AlertRaising, logger: Logger) -> InstantlyWebhookWatcher? {
        if let reason = settings.instantly.watchOffReason {
            logger.info("Instantly webhook watcher off", metadata: ["reason": "\(reason)"])
            return nil
        }
        let configuration = InstantlyWebhookWatcher.Configuration(intervalMilliseconds: settings.instantly.webhookWatchIntervalMilliseconds,
                                                                  ownership: settings.instantly.webhookOwnership)
        let watcher = InstantlyWebhookWatcher(configuration: configuration, client: InstantlyClient(transport: transport), alerts: alerts,
                                              logger: logger)
        watcher.start()
        logger.info("watching Instantly webhooks", metadata: ["every": "\(StepSchedule.format(configuration.intervalMilliseconds))",
                                                             "public_url": "\(settings.instantly.publicURL.map(settings.instantly.webhookOwnership.redacted) ?? "not set")"])
        return watcher
    }
}
