import Alerts
import Dispatch
import Foundation
import HookyardFoundation
import Cluster
import Logging
import Outbound
import Synchronization

/// Keeps Hookyard's Instantly webhooks switched on. Every interval it lists the workspace's webhooks; each of
/// Hookyard's own (`InstantlyWebhookOwnership`) that Instantly disabled after failed deliveries (`status` -1) is
/// resumed through the API and alerted (`AlertCondition.Kind.instantlyWebhookDisabled`, subject the webhook id), with
/// a summary of its failed deliveries from Instantly's log since the previous check (the last day on the first). A
/// webhook seen active again clears its condition.
///
/// Its requests go through the client's transport, which the daemon shares with the workers, so they count against
/// the same Instantly rate limit. It runs on a queue of its own and never touches intake or the store. A check that
/// fails (network, 401) is logged at warning with the API's message and simply happens again next interval; the
/// failure window then covers the missed time. Thread-safe: `start()` once, `stop()` once; `checkOnce()` may be
/// called directly (tests) while no timer runs.
public final class InstantlyWebhookWatcher: Sendable {
    public struct Configuration: Sendable {
        /// Time between checks.
        public var intervalMilliseconds: Int64
        /// Time from `start()` to the first check.
        public var firstCheckMilliseconds: Int64
        /// How far back the first check reads the delivery log.
        public var firstWindowMilliseconds: Int64
        /// Most pages of 100 read from the delivery log per webhook and check (the summary then says "at least").
        public var maxLogPages: Int
        public var ownership: InstantlyWebhookOwnership

        /// - Parameter firstCheckMilliseconds: default the interval, at most 5 s, so a problem shows soon after start.
        public init(intervalMilliseconds: Int64, ownership: InstantlyWebhookOwnership, firstCheckMilliseconds: Int64? = nil,
                    firstWindowMilliseconds: Int64 = 86_400_000, maxLogPages: Int = 5) {
            self.intervalMilliseconds = max(1, intervalMilliseconds)
            self.firstCheckMilliseconds = firstCheckMilliseconds ?? min(self.intervalMilliseconds, 5_000)
            self.firstWindowMilliseconds = firstWindowMilliseconds
            self.maxLogPages = max(1, maxLogPages)
            self.ownership = ownership
        }
    }

    /// What one check found and did (webhook ids).
    public struct Report: Sendable, Equatable {
        /// Hookyard's webhooks among those listed.
        public var own: [String] = []
        public var resumed: [String] = []
        /// Disabled, and resuming failed.
        public var resumeFailed: [String] = []
        /// Conditions cleared: raised before, now active again or no longer Hookyard's.
        public var cleared: [String] = []

        public init(own: [String] = [], resumed: [String] = [], resumeFailed: [String] = [], cleared: [String] = []) {
            self.own = own
            self.resumed = resumed
            self.resumeFailed = resumeFailed
            self.cleared = cleared
        }
    }

    private struct State {
        /// The end of the last successful check: the next failure window starts here.
        var lastCheck: Date?
        /// Webhooks raised in this process and not cleared since.
        var raised: Set<String> = []
        /// Whether "no webhook of Hookyard's" was logged (once until one shows up).
        var warnedNoneOwn = false
        var stopping = false
    }

    private let configuration: Configuration
    private let client: InstantlyClient
    private let alerts: any AlertRaising
    private let logger: Logger
    private let clock: @Sendable () -> Date
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "hookyard.instantly-webhook-watcher", qos: .utility)
    /// Created by `start()`: a dispatch source must not be released while it was never resumed.
    private let timer = Mutex<TimerHandle?>(nil)
    private let taskLock: any PeriodicTaskLock

    /// - Parameters:
    ///   - client: on the transport the workers use (its rate limiter is shared).
    ///   - alerts: where disabled webhooks are raised and cleared.
    ///   - clock: wall-clock time (the delivery log's times are real); injectable for tests.
    ///   - taskLock: keeps the checks to one node of a cluster at a time (PostgreSQL); every check runs by default.
    public init(configuration: Configuration, client: InstantlyClient, alerts: any AlertRaising, logger: Logger,
                clock: @escaping @Sendable () -> Date = { Date() }, taskLock: any PeriodicTaskLock = SingleNodeTaskLock()) {
        self.configuration = configuration
        self.taskLock = taskLock
        self.client = client
        self.alerts = alerts
        self.logger = logger
        self.clock = clock
    }

    /// Checks `firstCheckMilliseconds` after start, then every interval.
    public func start() {
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + .milliseconds(Int(configuration.firstCheckMilliseconds)),
                        repeating: .milliseconds(Int(configuration.intervalMilliseconds)), leeway: .milliseconds(100))
        source.setEventHandler { [self] in
            guard !state.withLock({ $0.stopping }) else { return }
            do {
                var checked: Report?
                try taskLock.runIfNoOtherNodeIs("instantly-webhook-watch") { checked = try checkOnce() }
                guard let report = checked else { return }
                logger.debug("Instantly webhooks checked", metadata: ["own": "\(report.own.joined(separator: ","))",
                                                                     "resumed": "\(report.resumed.joined(separator: ","))"])
            } catch {
                let message = (error as? ProviderFailure)?.message ?? "\(error)"
                logger.warning("checking Instantly's webhooks failed; the next check retries", metadata: [
                    "error": "\(message)", "next_check_seconds": .stringConvertible(configuration.intervalMilliseconds / 1000)])
            }
        }
        source.resume()
        timer.withLock { $0 = TimerHandle(source) }
    }

    /// Stops the timer and waits for a check in progress, which ends after its current request.
    public func stop() {
        state.withLock { $0.stopping = true }
        timer.withLock { $0 }?.source.cancel()
        queue.sync {}
    }

    /// One check: list, resume and raise the disabled ones, clear the active ones.
    /// - Throws: the `ProviderFailure` of listing the webhooks (nothing else was done then). Failures to read the
    ///   delivery log or to resume are reported in the alert instead.
    @discardableResult
    public func checkOnce() throws(ProviderFailure) -> Report {
        let now = clock()
        let (since, raisedBefore) = state.withLock { state in
            (state.lastCheck ?? now.addingTimeInterval(-Double(configuration.firstWindowMilliseconds) / 1000), state.raised)
        }
        let own = try client.webhooks().filter(configuration.ownership.owns)
        var report = Report(own: own.map(\.id))
        warnIfNoneOwn(own.isEmpty)
        var raised = raisedBefore
        for webhook in own {
            if state.withLock({ $0.stopping }) { break }
            let condition = AlertCondition(.instantlyWebhookDisabled, subject: webhook.id)
            let target = configuration.ownership.redacted(webhook.targetURL)
            if webhook.isDisabled {
                let failures = failureSummary(webhook, since: since)
                var resumeError: ProviderFailure?
                do {
                    _ = try client.resumeWebhook(id: webhook.id)
                    report.resumed.append(webhook.id)
                } catch {
                    resumeError = error
                    report.resumeFailed.append(webhook.id)
                }
                var context = failures.context
                context["webhook_id"] = webhook.id
                context["target"] = target
                context["resumed"] = resumeError == nil ? "true" : "false"
                if let disabledAt = webhook.disabledAt { context["disabled_at"] = disabledAt }
                if let resumeError { context["resume_error"] = resumeError.message }
                alerts.raise(condition, message: message(webhook, target: target, failures: failures, resumeError: resumeError), context: context)
                raised.insert(webhook.id)
            } else {
                alerts.clear(condition, message: "Instantly webhook \(webhook.id) (\(target)) is active again")
                if raised.remove(webhook.id) != nil { report.cleared.append(webhook.id) }
            }
        }
        let ownIDs = Set(own.map(\.id))
        for id in raised.subtracting(ownIDs).sorted() {
            alerts.clear(AlertCondition(.instantlyWebhookDisabled, subject: id),
                         message: "Instantly webhook \(id) is no longer among Hookyard's webhooks (deleted, or pointed elsewhere)")
            raised.remove(id)
            report.cleared.append(id)
        }
        state.withLock { state in
            state.lastCheck = now
            state.raised = raised
        }
        return report
    }

    private func warnIfNoneOwn(_ none: Bool) {
        let warn = state.withLock { state -> Bool in
            defer { state.warnedNoneOwn = none }
            return none && !state.warnedNoneOwn
        }
        guard warn else { return }
        logger.warning("no Instantly webhook of Hookyard's found; run `hookyard instantly register` to create it", metadata: [
            "public_url": "\(configuration.ownership.publicURL.map(configuration.ownership.redacted) ?? "not set")"])
    }

    /// The failed deliveries to one webhook since a time, summarised for a person and for the alert's context.
    struct FailureSummary {
        var text: String
        var context: [String: String]
        /// The HTTP status of the latest failure; `nil` when none came or the log could not be read.
        var lastStatus: Int?
        var lastError: String?
        var count: Int
    }

    /// Reads Instantly's delivery log for the webhook's URL (`search`, `success=false`, `from` the day of `since`),
    /// keeping failures at or after `since`. Never throws: an unreadable log is said in the text.
    func failureSummary(_ webhook: InstantlyWebhook, since: Date) -> FailureSummary {
        let sinceMilliseconds = WallClock.milliseconds(of: since)
        let sinceText = ISO8601Timestamp.string(sinceMilliseconds)
        let query = InstantlyDeliveryQuery(search: webhook.targetURL, success: false, from: String(sinceText.prefix(10)))
        let read: (deliveries: [InstantlyWebhookDelivery], complete: Bool)
        do {
            read = try client.webhookDeliveries(query, maxPages: configuration.maxLogPages)
        } catch {
            // A transport error names the URL with its query, which holds the target: never a secret in its path.
            let redacted = configuration.ownership.redacted(webhook.targetURL)
            let message = error.message.replacingOccurrences(of: FormEncoder.percentEncode(webhook.targetURL), with: FormEncoder.percentEncode(redacted))
                .replacingOccurrences(of: webhook.targetURL, with: redacted)
            return FailureSummary(text: "Instantly's delivery log could not be read (\(message))", context: ["log_error": message], count: 0)
        }
        let failures = read.deliveries.compactMap { delivery -> (time: Int64, delivery: InstantlyWebhookDelivery)? in
            guard !delivery.success, InstantlyWebhookOwnership.sameURL(delivery.webhookURL, webhook.targetURL),
                  let time = ISO8601Timestamp.milliseconds(delivery.created), time >= sinceMilliseconds else { return nil }
            return (time, delivery)
        }.sorted { ($0.time, $0.delivery.id) < ($1.time, $1.delivery.id) }
        let count = "\(read.complete ? "" : "at least ")\(failures.count)"
        guard let first = failures.first, let last = failures.last else {
            return FailureSummary(text: "Instantly's delivery log shows no failed delivery since \(sinceText)",
                                  context: ["failures": "0", "failures_since": sinceText], count: 0)
        }
        let status = last.delivery.statusCode.map { "HTTP \($0)" } ?? "no HTTP answer"
        let error = last.delivery.errorMessage.map { String($0.prefix(200)) }
        var text = "\(count) failed deliver\(failures.count == 1 ? "y" : "ies") since \(sinceText) (first \(ISO8601Timestamp.string(first.time)), "
            + "last \(ISO8601Timestamp.string(last.time)): \(status)"
        if let error { text += ", \"\(error)\"" }
        text += ")"
        var context = ["failures": count, "failures_since": sinceText, "first_failure": ISO8601Timestamp.string(first.time),
                       "last_failure": ISO8601Timestamp.string(last.time), "last_status": last.delivery.statusCode.map(String.init) ?? "none"]
        if let error { context["last_error"] = error }
        return FailureSummary(text: text, context: context, lastStatus: last.delivery.statusCode, lastError: error, count: failures.count)
    }

    /// One line for a person: what happened, what was done, and what to do.
    private func message(_ webhook: InstantlyWebhook, target: String, failures: FailureSummary, resumeError: ProviderFailure?) -> String {
        var text = "Instantly disabled Hookyard's webhook \(webhook.id) (\(target))"
        if let disabledAt = webhook.disabledAt { text += " at \(disabledAt)" }
        text += " after failed deliveries: \(failures.text). "
        if let resumeError {
            text += "Resuming it failed (\(resumeError.message)); Hookyard tries again at the next check. Resume it in Instantly "
                + "(Settings → Integrations → Webhooks) or run `hookyard instantly register` once the cause is fixed. "
        } else {
            text += "Hookyard resumed it. "
        }
        return text + Self.advice(failures)
    }

    /// What the latest failure suggests the admin should look at.
    static func advice(_ failures: FailureSummary) -> String {
        guard failures.count > 0 else { return "Check that Hookyard was reachable at that URL." }
        switch failures.lastStatus {
        case 401?:
            return "Hookyard refused the deliveries (401): the webhook's secret header does not match INSTANTLY_WEBHOOK_SECRET; "
                + "run `hookyard instantly register` to set it."
        case 404?:
            return "The URL answered 404: check that it ends in /webhooks/instantly (run `hookyard instantly register --url`)."
        case let status? where status >= 500:
            return "Hookyard or its proxy answered \(status): check Hookyard's log (503 store_not_writable means a full or failing disk)."
        case let status?:
            return "The URL answered \(status): check the proxy in front of Hookyard and Hookyard's log."
        case nil:
            return "Instantly got no answer: check that Hookyard and its proxy are up and reachable from the internet (DNS, TLS, firewall)."
        }
    }
}
