import Alerts
import HookyardConfiguration
import Logging
import Outbound
import Workflows

extension Serve {
    /// The watcher that resumes Hookyard's Instantly webhooks when Instantly disables them, on `transport` (the
    /// workers' Instantly transport, so its calls share their rate limit), not yet started. - Returns: the watcher,
    /// or `nil` (logged) when it does not run: interval 0, no API key, or nothing to tell Hookyard's webhooks by.
    static func makeInstantlyWebhookWatcher(_ settings: HookyardConfiguration, transport: any ProviderTransport,
                                            alerts: any AlertRaising, logger: Logger) -> InstantlyWebhookWatcher? {
        if let reason = settings.instantly.watchOffReason {
            logger.info("Instantly webhook watcher off", metadata: ["reason": "\(reason)"])
            return nil
        }
        let configuration = InstantlyWebhookWatcher.Configuration(intervalMilliseconds: settings.instantly.webhookWatchIntervalMilliseconds,
                                                                  ownership: settings.instantly.webhookOwnership)
        return InstantlyWebhookWatcher(configuration: configuration, client: InstantlyClient(transport: transport), alerts: alerts,
                                       logger: logger, taskLock: settings.databaseLocation.periodicTaskLock())
    }

    /// Starts `watcher` and logs what it watches.
    static func start(_ watcher: InstantlyWebhookWatcher, _ settings: HookyardConfiguration, logger: Logger) {
        watcher.start()
        logger.info("watching Instantly webhooks", metadata: ["every": "\(StepSchedule.format(settings.instantly.webhookWatchIntervalMilliseconds))",
                                                             "public_url": "\(settings.instantly.publicURL.map(settings.instantly.webhookOwnership.redacted) ?? "not set")"])
    }
}
