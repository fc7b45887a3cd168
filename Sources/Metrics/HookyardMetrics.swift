import Dispatch
import Synchronization

/// Hookyard's named metrics, registered in one registry. The modules that record take an optional instance
/// (`nil`: record nothing), so tests and tools that do not scrape need not create one.
///
/// Thread-safe. See `docs/observability.md` for what each metric means.
public final class HookyardMetrics: Sendable {
    public let registry: MetricsRegistry
    /// `source`, `type` (an event type the intake recognises, `other`, or `unknown` before it is known), `status`.
    public let webhooksReceived: Counter
    /// `source`, `reason`.
    public let signatureFailures: Counter
    /// `source`.
    public let webhookDuplicates: Counter
    /// `source`: seconds from the request reaching the router to its answer.
    public let intakeDuration: Histogram
    /// `action` (job kind), `outcome` (`succeeded`, `skipped`, `retrying`, `dead`, `lease_lost`).
    public let jobAttempts: Counter
    /// No labels: claim round trips that took at least one job (rounds that found nothing due are not counted, so
    /// `jobsClaimed / jobClaims` is the mean number of jobs per claim).
    public let jobClaims: Counter
    /// No labels: jobs claimed (one per attempt started by a worker pool).
    public let jobsClaimed: Counter
    /// `provider`, `status` (HTTP status or `error`).
    public let outboundRequests: Counter
    /// `provider`.
    public let outboundDuration: Histogram
    /// `provider`.
    public let rateLimiterWait: Counter
    /// `version`, always 1.
    public let buildInfo: Gauge
    /// `kind`: alert notifications of a raised condition (the first of each episode and each repeat).
    public let alertsRaised: Counter
    /// `listener` (`public`, `admin`): connections closed to make room for a new one (the connection table was full).
    public let connectionsEvicted: Counter

    /// - Parameters:
    ///   - jobCounts: called at each scrape for `hookyard_jobs{state}`; `nil` leaves that family empty.
    ///   - activeAlerts: called at each scrape for `hookyard_alerts_active{kind}`.
    ///   - deliverability: called at most once per scrape (the three rate families share its answer) for
    ///     `hookyard_deliverability_{bounce,unsubscribe,reply}_rate{scope,key}`.
    ///   - registersAlertState: `false` leaves the alert-state families (`hookyard_alerts_active`, the deliverability
    ///     rates) to `registerAlertState`, for a daemon whose alert components record into these metrics and so are
    ///     built after them; `activeAlerts` and `deliverability` are then ignored.
    public init(registry: MetricsRegistry = MetricsRegistry(), version: String,
                jobCounts: (@Sendable () -> [(labels: [String], value: Double)])? = nil,
                activeAlerts: (@Sendable () -> [(labels: [String], value: Double)])? = nil,
                deliverability: (@Sendable () -> [DeliverabilitySample])? = nil,
                registersAlertState: Bool = true) {
        self.registry = registry
        webhooksReceived = registry.counter("hookyard_webhooks_received_total",
                                            help: "Webhook deliveries answered, by source, event type and HTTP status.",
                                            labelNames: ["source", "type", "status"])
        signatureFailures = registry.counter("hookyard_signature_failures_total",
                                             help: "Deliveries rejected because their signature or shared secret did not verify.",
                                             labelNames: ["source", "reason"])
        webhookDuplicates = registry.counter("hookyard_webhook_duplicates_total",
                                             help: "Deliveries of events already stored (answered 200, nothing new stored).",
                                             labelNames: ["source"])
        intakeDuration = registry.histogram("hookyard_intake_duration_seconds",
                                            help: "Time from a webhook request reaching the router to its answer.",
                                            labelNames: ["source"])
        _ = registry.gauge("hookyard_jobs", help: "Jobs in the queue by state, read from the database at scrape time.",
                           labelNames: ["state"], collect: jobCounts)
        jobAttempts = registry.counter("hookyard_job_attempts_total",
                                       help: "Job attempts finished, by provider, action (job kind) and outcome.",
                                       labelNames: ["provider", "action", "outcome"])
        jobClaims = registry.counter("hookyard_job_claims_total",
                                     help: "Claim round trips to the job queue that took at least one job (one per claim round for all idle workers of a node).")
        jobsClaimed = registry.counter("hookyard_jobs_claimed_total",
                                       help: "Jobs claimed by the workers; divided by hookyard_job_claims_total, the mean number of jobs per claim round trip.")
        outboundRequests = registry.counter("hookyard_outbound_requests_total",
                                            help: "Provider API requests, by provider and HTTP status (error: no answer).",
                                            labelNames: ["provider", "status"])
        outboundDuration = registry.histogram("hookyard_outbound_request_duration_seconds",
                                              help: "Provider API request latency, rate-limit wait excluded.",
                                              labelNames: ["provider"],
                                              buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
        rateLimiterWait = registry.counter("hookyard_rate_limiter_wait_seconds_total",
                                           help: "Time workers spent waiting for a provider rate-limit token.",
                                           labelNames: ["provider"])
        buildInfo = registry.gauge("hookyard_build_info", help: "Always 1; the version is in the label.",
                                   labelNames: ["version"])
        buildInfo.set(1, labels: [version])
        alertsRaised = registry.counter("hookyard_alerts_raised_total",
                                        help: "Alert notifications of raised conditions (first and repeats), by alert kind.",
                                        labelNames: ["kind"])
        connectionsEvicted = registry.counter("hookyard_http_connections_evicted_total",
                                              help: "Idle or incomplete connections closed to make room for a new one (connection table full), by listener.",
                                              labelNames: ["listener"])
        if registersAlertState { registerAlertState(activeAlerts: activeAlerts, deliverability: deliverability) }
    }

    /// Registers the alert-state gauges, read at each scrape: `hookyard_alerts_active{kind}` from `activeAlerts`, the
    /// deliverability rates from `deliverability` (see `init`). Call once, on metrics made with
    /// `registersAlertState: false`; a second registration traps (`MetricsRegistry`).
    public func registerAlertState(activeAlerts: (@Sendable () -> [(labels: [String], value: Double)])?,
                                   deliverability: (@Sendable () -> [DeliverabilitySample])?) {
        _ = registry.gauge("hookyard_alerts_active", help: "Alert conditions raised now, by kind, read from the database at scrape time.",
                           labelNames: ["kind"], collect: activeAlerts)
        let samples = deliverability.map { ScrapeCache(read: $0) }
        registerRate("bounce", "bounced", samples) { $0.bounceRate }
        registerRate("unsubscribe", "unsubscribed", samples) { $0.unsubscribeRate }
        registerRate("reply", "replied", samples) { $0.replyRate }
    }

    private func registerRate(_ name: String, _ what: String, _ samples: ScrapeCache<[DeliverabilitySample]>?,
                              rate: @escaping @Sendable (DeliverabilitySample) -> Double) {
        var collect: (@Sendable () -> [(labels: [String], value: Double)])?
        if let samples {
            collect = {
                samples.value().map { sample -> (labels: [String], value: Double) in ([sample.scope, sample.key], rate(sample)) }
            }
        }
        _ = registry.gauge("hookyard_deliverability_\(name)_rate",
                           help: "Emails \(what) / emails sent over the deliverability window, per sending account or campaign with at least the minimum sample.",
                           labelNames: ["scope", "key"], collect: collect)
    }
}

/// One sending account's or campaign's rates for the deliverability gauges.
public struct DeliverabilitySample: Sendable, Equatable {
    /// `account` or `campaign`.
    public var scope: String
    public var key: String
    public var bounceRate: Double
    public var unsubscribeRate: Double
    public var replyRate: Double

    public init(scope: String, key: String, bounceRate: Double, unsubscribeRate: Double, replyRate: Double) {
        self.scope = scope
        self.key = key
        self.bounceRate = bounceRate
        self.unsubscribeRate = unsubscribeRate
        self.replyRate = replyRate
    }
}

/// A value read at most once per second, so metric families rendered in one scrape share one read. Thread-safe.
final class ScrapeCache<Value: Sendable>: Sendable {
    private let read: @Sendable () -> Value
    private let cached = Mutex<(value: Value, at: UInt64)?>(nil)

    init(read: @escaping @Sendable () -> Value) { self.read = read }

    func value() -> Value {
        let now = DispatchTime.now().uptimeNanoseconds
        if let hit = cached.withLock({ $0 }), now - hit.at < 1_000_000_000 { return hit.value }
        let value = read()
        cached.withLock { $0 = (value, now) }
        return value
    }

}

extension HookyardMetrics {
    /// The provider a job kind calls, for the `provider` label: `stripe`, `instantly` or `http` for their actions
    /// (`stripe.create_payment_link`, `http.post`; `deliverability.pause_campaign` calls Instantly), `alert` for the
    /// alert webhook's posts (`alert.notify`), `local` for the rest (`process_event`, `record_purchase`, ...).
    public static func provider(ofJobKind kind: String) -> String {
        switch kind {
        case "deliverability.pause_campaign": return "instantly"
        case "alert.notify": return "alert"
        default: break
        }
        guard let dot = kind.firstIndex(of: ".") else { return "local" }
        let prefix = String(kind[..<dot])
        return ["stripe", "instantly", "http"].contains(prefix) ? prefix : "local"
    }
}
