import HookyardConfiguration
import Alerts
import Cluster
import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Intake
import Logging
import Metrics
import Outbound
import Reports
import Store
import Synchronization
import Workflows

/// The parts `serve` builds from the configuration: provider transports, HTTP targets, the job-count gauge, the
/// daemon's status record.
extension Serve {
    /// Records the daemon's pid, version, mode and configuration file for `hookyard stats` and the commands that use
    /// the daemon's configuration. Only the CLI reads it: a failure is a warning, not a refusal to serve.
    static func recordStart(_ settings: HookyardConfiguration, at now: Int64, logger: Logger) {
        do {
            try DaemonStatus.recordStart(DaemonStatus(pid: getpid(), version: Hookyard.version, startedAt: now,
                                                      stripeLive: !settings.stripe.apiKey.isEmpty,
                                                      instantlyLive: !settings.instantly.apiKey.isEmpty,
                                                      configFile: settings.file.map { URL(fileURLWithPath: $0).standardizedFileURL.path }),
                                         location: settings.databaseLocation)
        } catch {
            logger.warning("cannot record the daemon's status for `hookyard stats`", metadata: ["error": "\(error)"])
        }
    }

    /// `hookyard_jobs{state}` at each scrape, from a read connection of its own (opened per scrape: scrapes are
    /// rare, and a `SQLiteStoreReader` is not thread-safe). On error the family is left empty and the error logged.
    static func jobCounts(database: DatabaseLocation, logger: Logger) -> @Sendable () -> [(labels: [String], value: Double)] {
        return {
            do {
                return try StorageOpening.reader(database).jobCounts().map { (labels: [$0.key], value: Double($0.value)) }
            } catch {
                logger.error("metrics: cannot read job counts", metadata: ["error": "\(error)"])
                return []
            }
        }
    }

    /// Live transports for the providers whose API key is set, dry-run transports for the others. The rate
    /// limiters are shared by every worker and space requests 1/max_rps apart from an empty start (`RateLimiter`), so
    /// no one-second window ever holds more than the configured rate, right after a restart or an idle spell too.
    static func providers(_ settings: HookyardConfiguration, limiters: Limiters, metrics: HookyardMetrics? = nil) -> ProviderSet {
        let userAgent = "hookyard/\(Hookyard.version)"
        let stripe: any ProviderTransport = settings.stripe.apiKey.isEmpty
            ? DryRunProviderTransport(provider: "Stripe", baseURL: settings.stripe.apiBase)
            : LiveProviderTransport(provider: "Stripe", baseURL: settings.stripe.apiBase, apiKey: settings.stripe.apiKey,
                                    extraHeaders: [("Stripe-Version", settings.stripe.apiVersion)],
                                    limiter: limiters.stripe,
                                    userAgent: userAgent,
                                    connectTimeoutMilliseconds: settings.outbound.connectTimeoutMilliseconds,
                                    totalTimeoutMilliseconds: settings.outbound.timeoutMilliseconds, metrics: metrics)
        let instantly: any ProviderTransport = settings.instantly.apiKey.isEmpty
            ? DryRunProviderTransport(provider: "Instantly", baseURL: settings.instantly.apiBase)
            : LiveProviderTransport(provider: "Instantly", baseURL: settings.instantly.apiBase, apiKey: settings.instantly.apiKey,
                                    limiter: limiters.instantly,
                                    userAgent: userAgent,
                                    connectTimeoutMilliseconds: settings.outbound.connectTimeoutMilliseconds,
                                    totalTimeoutMilliseconds: settings.outbound.timeoutMilliseconds, metrics: metrics)
        return ProviderSet(stripe: stripe, instantly: instantly, stripeDryRun: settings.stripe.apiKey.isEmpty,
                           instantlyDryRun: settings.instantly.apiKey.isEmpty)
    }

    /// A live transport per `http_targets:` entry (its own rate limiter, no API key: requests are signed instead),
    /// for `http.post`. Always live: a target is only configured with a URL to send to.
    /// With neither API key (the daemon is wholly in dry-run, as `make run` starts it), `http.post` records its
    /// requests too instead of sending them.
    static func httpTargets(_ settings: HookyardConfiguration, metrics: HookyardMetrics? = nil) -> [HTTPTarget] {
        let dryRun = settings.stripe.apiKey.isEmpty && settings.instantly.apiKey.isEmpty
        return settings.httpTargets.compactMap { target in
            guard let base = HTTPTarget.split(url: target.url)?.base else { return nil }  // validated when read
            if dryRun {
                return HTTPTarget(name: target.name, url: target.url, secret: target.secret,
                                  transport: DryRunProviderTransport(provider: "http:\(target.name)", baseURL: base))
            }
            let transport = LiveProviderTransport(provider: "http:\(target.name)", baseURL: base, apiKey: nil,
                                                  limiter: RateLimiter(requestsPerSecond: target.maxRequestsPerSecond),
                                                  userAgent: "hookyard/\(Hookyard.version)",
                                                  connectTimeoutMilliseconds: settings.outbound.connectTimeoutMilliseconds,
                                                  totalTimeoutMilliseconds: settings.outbound.timeoutMilliseconds, metrics: metrics)
            return HTTPTarget(name: target.name, url: target.url, secret: target.secret, transport: transport)
        }
    }
}

/// The two providers' rate limiters, kept so a reload can change their rates: this process's own on SQLite, and on
/// PostgreSQL limits shared by every node (`ClusterRateLimiter`), so `max_rps` holds for the cluster. Thread-safe.
struct Limiters: Sendable {
    let stripe: any RequestRateLimiting
    let instantly: any RequestRateLimiting

    init(_ settings: HookyardConfiguration, logger: Logger = Logger(label: "hookyard")) {
        switch settings.databaseLocation {
        case .sqlite:
            stripe = RateLimiter(requestsPerSecond: settings.stripe.effectiveRequestsPerSecond)
            instantly = RateLimiter(requestsPerSecond: settings.instantly.maxRequestsPerSecond)
        case .postgresql(let url, let password):
            stripe = ClusterRateLimiter(name: "stripe", requestsPerSecond: settings.stripe.effectiveRequestsPerSecond,
                                        url: url, password: password, logger: logger)
            instantly = ClusterRateLimiter(name: "instantly", requestsPerSecond: settings.instantly.maxRequestsPerSecond,
                                           url: url, password: password, logger: logger)
        }
    }

    func update(_ settings: HookyardConfiguration) {
        stripe.update(requestsPerSecond: settings.stripe.effectiveRequestsPerSecond)
        instantly.update(requestsPerSecond: settings.instantly.maxRequestsPerSecond)
    }
}
