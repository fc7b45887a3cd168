import Alerts
import Foundation
import Logging
import Metrics
import Outbound
import Store
import Workflows
import HookyardConfiguration
import HookyardFoundation

/// The alert center and what reports to it, built from the configuration for `serve` and the CLI commands that
/// change alert state (`jobs retry`, `jobs discard`, `maintain`).
struct AlertComponents: Sendable {
    let center: AlertCenter
    /// `nil` when `HOOKYARD_ALERT_WEBHOOK_URL` is not set.
    let webhook: AlertWebhook?
    let deliverability: DeliverabilityWatch
    let deadJobs: DeadJobAlerts

    /// - Parameter daemon: `serve` commits alert state with `synchronous=NORMAL`, and queues notification jobs only when
    ///   it has the webhook URL. The CLI commits durably and always queues them: it cannot know whether the daemon has
    ///   the URL (a systemd credential belongs to the service alone); a daemon without one records them as skipped.
    init(_ settings: HookyardConfiguration, logger: Logger, metrics: HookyardMetrics? = nil, daemon: Bool = false,
         clock: @escaping MillisecondClock = WallClock.system) {
        webhook = settings.alerts.webhookURL.isEmpty ? nil
            : AlertWebhook.live(url: settings.alerts.webhookURL, userAgent: "hookyard/\(Hookyard.version)",
                                connectTimeoutMilliseconds: settings.outbound.connectTimeoutMilliseconds,
                                totalTimeoutMilliseconds: settings.outbound.timeoutMilliseconds, metrics: metrics)
        center = AlertCenter(configuration: .init(location: settings.databaseLocation,
                                                  repeatIntervalMilliseconds: settings.alerts.repeatIntervalMilliseconds,
                                                  postsToWebhook: !daemon || webhook != nil, durableCommits: !daemon),
                             logger: logger, metrics: metrics, clock: clock)
        deliverability = DeliverabilityWatch(alerts: center, policy: settings.deliverability, logger: logger, clock: clock)
        deadJobs = DeadJobAlerts(alerts: center, logger: logger)
    }

    /// Applies a reloaded configuration (the webhook URL applies at the next start).
    func update(_ settings: HookyardConfiguration) {
        center.update(repeatIntervalMilliseconds: settings.alerts.repeatIntervalMilliseconds)
        deliverability.update(policy: settings.deliverability)
    }

    /// The `/metrics` deliverability samples, from a connection opened per scrape (scrapes are rare, and a reader is
    /// not thread-safe); empty on error.
    func metricsSamples(database: DatabaseLocation) -> [DeliverabilitySample] {
        do {
            let reader = try DeliverabilityRatesReadingOpening.open(database)
            defer { reader.close() }
            return deliverability.samples(reader: reader)
        } catch {
            return []
        }
    }
}
