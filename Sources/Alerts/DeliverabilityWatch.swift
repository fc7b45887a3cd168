import Foundation
import HookyardFoundation
import Logging
import Metrics
import Outbound
import Store
import StrictJSON
import Synchronization

/// The deliverability thresholds (`deliverability:` in the configuration). Defaults and their sources are in
/// `docs/deliverability.md`: bounces above 2 % (the ceiling cold-email practice keeps to), unsubscribes above 0.3 %
/// (the spam-complaint rate Google's and Yahoo's 2024 sender requirements tell bulk senders never to reach; Instantly
/// reports no complaints, and an unsubscribe is the nearest signal it sends), no reply-rate floor.
public struct DeliverabilityPolicy: Sendable, Equatable {
    /// How far back activity counts.
    public var windowMilliseconds: Int64
    /// Below this many emails sent in the window, an account or campaign is not judged (nor shown in `/metrics`).
    public var minimumSent: Int
    /// A fraction (0.02 = 2 %); `nil` turns the check off.
    public var maxBounceRate: Double?
    public var maxUnsubscribeRate: Double?
    /// A reply rate below this alerts; `nil` (the default) turns the check off.
    public var minReplyRate: Double?
    /// Pause a campaign through the Instantly API when its bounce or unsubscribe rate crosses the threshold.
    public var pauseCampaigns: Bool

    public init(windowMilliseconds: Int64 = 7 * 86_400_000, minimumSent: Int = 50, maxBounceRate: Double? = 0.02,
                maxUnsubscribeRate: Double? = 0.003, minReplyRate: Double? = nil, pauseCampaigns: Bool = false) {
        self.windowMilliseconds = windowMilliseconds
        self.minimumSent = max(1, minimumSent)
        self.maxBounceRate = maxBounceRate
        self.maxUnsubscribeRate = maxUnsubscribeRate
        self.minReplyRate = minReplyRate
        self.pauseCampaigns = pauseCampaigns
    }
}

/// Watches the Instantly sending accounts and campaigns: raises `instantly_account_error` on an `account_error`
/// event (cleared by the next `email_sent` from that account), and `deliverability` alerts when an account's or a
/// campaign's bounce, unsubscribe or reply rate over the window crosses its threshold (subject
/// `campaign:<id>:bounce_rate`, `account:<email>:unsubscribe_rate`, ...), cleared when it is back within it or the
/// sample falls below the minimum.
///
/// When `pauseCampaigns` is on, a campaign whose bounce or unsubscribe rate crosses gets a
/// `deliverability.pause_campaign` job (through the queue: rate-limited, retried, visible in `hookyard jobs`), once
/// per crossing: its key names the alert's episode. An account crossing only alerts: Instantly pauses campaigns, not
/// sending accounts. A low reply rate only alerts: it says more about the copy than about the sender's reputation.
///
/// Rates are evaluated after each Instantly bounce, unsubscribe or reply for that event's account and campaign only
/// (after a send too when a reply-rate floor is set or an alert of theirs is raised, since sends can only lower the
/// rates), and for everyone in the maintenance pass, which also clears what the passing window resolved.
///
/// Thread-safe; `update(policy:)` applies to evaluations that start afterwards. A node's evaluations (reading the rates
/// and deciding) run one at a time, so they decide in the order they read; nodes sharing a PostgreSQL database do not
/// coordinate theirs (a stale decision there is corrected by the next evaluation of that account or campaign).
public final class DeliverabilityWatch: Sendable {
    /// The kind of the jobs that pause a campaign.
    public static let pauseJobKind = "deliverability.pause_campaign"

    /// The rates judged, named as in alert subjects.
    enum Metric: String, CaseIterable {
        case bounce = "bounce_rate", unsubscribe = "unsubscribe_rate", reply = "reply_rate"
    }

    /// Instantly event types whose activity can change a rate.
    private static let judgedTypes: Set<String> = ["email_bounced", "lead_unsubscribed", "reply_received"]

    public let alerts: AlertCenter
    private let policy: Mutex<DeliverabilityPolicy>
    /// Held while rates are read and judged, so evaluations decide in the order they read: without it, a worker that
    /// read the rates before another worker's bounce was committed could clear the alert that worker had just raised
    /// on the newer rows (and the next evaluation raise it again, notifying twice). Each evaluation reads after its
    /// own event was committed, so the last one to decide has read everything committed before it.
    private let evaluation = Mutex<Void>(())
    private let logger: Logger
    private let clock: MillisecondClock

    public init(alerts: AlertCenter, policy: DeliverabilityPolicy = DeliverabilityPolicy(), logger: Logger,
                clock: @escaping MillisecondClock = WallClock.system) {
        self.alerts = alerts
        self.policy = Mutex(policy)
        self.logger = logger
        self.clock = clock
    }

    public var currentPolicy: DeliverabilityPolicy { policy.withLock { $0 } }

    /// Replaces the thresholds (configuration reload).
    public func update(policy newPolicy: DeliverabilityPolicy) { policy.withLock { $0 = newPolicy } }

    /// Acts on one stored Instantly event after it was applied to its contact.
    /// - Parameters:
    ///   - account: the event's `email_account` (`ContactEventReader.sendingAccount(in:)`).
    ///   - campaign: its `campaign_id`.
    ///   - occurredAt: the event's own time; the window ends at it when it is ahead of the clock.
    ///   - reader: on the caller's connection (called outside any transaction).
    /// - Returns: the campaign pauses to queue (with the event's job, so a retry does not lose them).
    public func observe(type: String, account: String?, campaign: String?, eventID: Int64, occurredAt: Int64,
                        reader: any DeliverabilityRatesReading) -> [NewJob] {
        if type == "account_error", account == nil {
            logger.warning("Instantly account_error event names no email_account; not alerted", metadata: ["event": .stringConvertible(eventID)])
        }
        if let account {
            if type == "account_error" {
                var context = ["account": account, "event_id": String(eventID)]
                if let campaign { context["campaign"] = campaign }
                alerts.raise(AlertCondition(.instantlyAccountError, subject: account), message: """
                    Instantly reported an error on sending account \(account)\(campaign.map { " (campaign \($0))" } ?? ""): \
                    it sends nothing until fixed. Reconnect the account in Instantly (Email Accounts) or fix its SMTP/IMAP \
                    settings; this clears with the next email Instantly sends from it.
                    """, context: context)
            } else if type == "email_sent" {
                alerts.clear(AlertCondition(.instantlyAccountError, subject: account), message: "Instantly sends from \(account) again")
            }
        }
        let policy = currentPolicy
        let scopes = [(DeliverabilityRates.Scope.account, account), (.campaign, campaign)].compactMap { scope, key in key.map { (scope, $0) } }
        guard !scopes.isEmpty, Self.judgedTypes.contains(type) || type == "email_sent" else { return [] }
        return evaluation.withLock { _ in
            var pauses: [NewJob] = []
            for (scope, key) in scopes {
                do {
                    let rates = try reader.rates(scope: scope, key: key, windowMilliseconds: policy.windowMilliseconds,
                                                 now: max(clock(), occurredAt))
                    if type == "email_sent", !sendNeedsJudging(rates, policy: policy) { continue }
                    pauses += judge(rates, policy: policy, eventID: eventID).pauses
                } catch {
                    logger.error("deliverability: cannot read rates; the maintenance pass checks again",
                                 metadata: ["scope": "\(scope.rawValue)", "key": "\(key)", "error": "\(error)"])
                }
            }
            return pauses
        }
    }

    /// Whether a send changes what `judge` would decide for these rates. A send lowers the rates, but it can also
    /// bring the window up to `min_sent`, from which the bounces and unsubscribes already counted are judged (with
    /// several workers, the bounce can be applied before the sends that complete the sample). So: judge when a
    /// reply-rate floor is set, when a threshold is crossed now, or to clear a raised alert.
    private func sendNeedsJudging(_ rates: DeliverabilityRates, policy: DeliverabilityPolicy) -> Bool {
        guard policy.minReplyRate == nil else { return true }
        let crossed = rates.sent >= policy.minimumSent && [Metric.bounce, .unsubscribe].contains { metric in
            guard let threshold = Self.threshold(metric, policy: policy, rates: rates).threshold,
                  let rate = Self.rate(metric, rates) else { return false }
            return rate > threshold
        }
        if crossed { return true }
        let subjects = Metric.allCases.map { Self.subject(rates.scope, rates.key, $0) }
        return (try? alerts.anyRaised(.deliverability, subjects: subjects)) ?? false
    }

    /// Judges every account and campaign (the maintenance pass), and clears the raised alerts that no longer hold.
    /// - Returns: the campaign pauses to queue, each under the event its alert's notification belongs to.
    public func evaluateAll(reader: any DeliverabilityRatesReading) -> [NewJob] {
        evaluation.withLock { _ in evaluateAllLocked(reader: reader) }
    }

    private func evaluateAllLocked(reader: any DeliverabilityRatesReading) -> [NewJob] {
        let policy = currentPolicy
        let rows: [DeliverabilityRates]
        let raised: [String]
        do {
            rows = try reader.rates(windowMilliseconds: policy.windowMilliseconds, now: clock(), minimumSent: policy.minimumSent)
            raised = try alerts.raisedSubjects(.deliverability)
        } catch {
            logger.error("deliverability: cannot read rates; the next pass checks again", metadata: ["error": "\(error)"])
            return []
        }
        var pauses: [NewJob] = []
        var holding: Set<String> = []
        for rates in rows {
            let judged = judge(rates, policy: policy, eventID: nil)
            pauses += judged.pauses
            holding.formUnion(judged.holding)
        }
        for subject in raised where !holding.contains(subject) {
            // Judged above and within its threshold (cleared already: a no-op), or below the sample now.
            alerts.clear(AlertCondition(.deliverability, subject: subject), message: """
                fewer than \(policy.minimumSent) emails sent in the last \(AlertText.duration(policy.windowMilliseconds)), \
                or its threshold is off: no longer judged
                """)
        }
        return pauses
    }

    /// The `/metrics` samples: every account and campaign with at least the minimum sample. Empty on error.
    public func samples(reader: any DeliverabilityRatesReading) -> [DeliverabilitySample] {
        let policy = currentPolicy
        do {
            return try reader.rates(windowMilliseconds: policy.windowMilliseconds, now: clock(), minimumSent: policy.minimumSent).map {
                DeliverabilitySample(scope: $0.scope.rawValue, key: $0.key, bounceRate: $0.bounceRate ?? 0,
                                     unsubscribeRate: $0.unsubscribeRate ?? 0, replyRate: $0.replyRate ?? 0)
            }
        } catch {
            logger.error("metrics: cannot read deliverability rates", metadata: ["error": "\(error)"])
            return []
        }
    }

    // MARK: Judging

    static func subject(_ scope: DeliverabilityRates.Scope, _ key: String, _ metric: Metric) -> String {
        "\(scope.rawValue):\(key):\(metric.rawValue)"
    }

    /// Raises or clears the three alerts of one account or campaign. - Returns: the pauses to queue (under
    /// `eventID`, else under the alert's event), and the subjects that hold.
    private func judge(_ rates: DeliverabilityRates, policy: DeliverabilityPolicy, eventID: Int64?)
        -> (pauses: [NewJob], holding: [String]) {
        var pauses: [NewJob] = []
        var holding: [String] = []
        let window = AlertText.duration(policy.windowMilliseconds)
        for metric in Metric.allCases {
            let subject = Self.subject(rates.scope, rates.key, metric)
            let condition = AlertCondition(.deliverability, subject: subject)
            let (threshold, count, setting) = Self.threshold(metric, policy: policy, rates: rates)
            guard let threshold else {
                alerts.clear(condition, message: "\(setting) is off")
                continue
            }
            guard rates.sent >= policy.minimumSent, let rate = Self.rate(metric, rates) else {
                alerts.clear(condition, message: "fewer than \(policy.minimumSent) emails sent in the last \(window): no longer judged")
                continue
            }
            let crossed = metric == .reply ? rate < threshold : rate > threshold
            let figures = "\(metric.rawValue.replacingOccurrences(of: "_", with: " ")) \(Self.percent(rate)) (\(count) of \(rates.sent) emails sent in the last \(window))"
            guard crossed else {
                alerts.clear(condition, message: "\(rates.scope.rawValue) \(rates.key): \(figures) is back within \(Self.percent(threshold))")
                continue
            }
            holding.append(subject)
            let pausing = policy.pauseCampaigns && rates.scope == .campaign && metric != .reply
            let message = ("\(rates.scope.rawValue) \(rates.key): \(figures) is \(metric == .reply ? "below" : "above") the "
                + "\(Self.percent(threshold)) threshold (\(setting)). \(Self.advice(metric)) \(Self.action(rates.scope, metric: metric, pausing: pausing))")
                .trimmingCharacters(in: .whitespaces)
            var context = ["scope": rates.scope.rawValue, rates.scope.rawValue: rates.key, "metric": metric.rawValue,
                           "rate": Self.percent(rate), "threshold": Self.percent(threshold), "sent": String(rates.sent),
                           "count": String(count), "window": window, "paused": pausing ? "true" : "false"]
            if let eventID { context["event_id"] = String(eventID) }
            guard let change = alerts.raiseCondition(condition, message: message, context: context), pausing,
                  let event = eventID ?? change.record.eventID else { continue }
            let input = JSONValue.object(["campaign": .string(rates.key), "alert": .string(subject)])
            pauses.append(NewJob(kind: Self.pauseJobKind, idempotencyKey: "deliverability-pause:\(subject):\(change.record.firstRaisedAt)",
                                 input: input.serialized(), runAt: clock(), eventID: event))
        }
        return (pauses, holding)
    }

    /// The threshold of `metric` (`nil`: off), the count it divides, and its configuration key.
    private static func threshold(_ metric: Metric, policy: DeliverabilityPolicy, rates: DeliverabilityRates)
        -> (threshold: Double?, count: Int, setting: String) {
        switch metric {
        case .bounce: (policy.maxBounceRate, rates.bounced, "deliverability.max_bounce_rate")
        case .unsubscribe: (policy.maxUnsubscribeRate, rates.unsubscribed, "deliverability.max_unsubscribe_rate")
        case .reply: (policy.minReplyRate, rates.replied, "deliverability.min_reply_rate")
        }
    }

    private static func rate(_ metric: Metric, _ rates: DeliverabilityRates) -> Double? {
        switch metric {
        case .bounce: rates.bounceRate
        case .unsubscribe: rates.unsubscribeRate
        case .reply: rates.replyRate
        }
    }

    private static func advice(_ metric: Metric) -> String {
        switch metric {
        case .bounce:
            "Mailbox providers throttle and junk senders whose mail bounces: verify the lead list and remove invalid addresses before sending more."
        case .unsubscribe:
            "Unsubscribes come with spam complaints, which Google and Yahoo ask bulk senders to keep under 0.3%: review the targeting and the copy."
        case .reply:
            "Few people answer: review the targeting and the copy."
        }
    }

    private static func action(_ scope: DeliverabilityRates.Scope, metric: Metric, pausing: Bool) -> String {
        if pausing { return "Hookyard is pausing the campaign through the Instantly API (deliverability.pause_campaigns); resume it in Instantly once fixed." }
        if scope == .account {
            return "Instantly pauses campaigns, not sending accounts, so Hookyard only alerts: check this mailbox's warm-up and the lists sent from it."
        }
        return metric == .reply ? "" : "Pause the campaign in Instantly, or set deliverability.pause_campaigns: true to have Hookyard pause it."
    }

    /// `3%`, `0.3%`, `2.25%`: a fraction as a percentage with at most two decimals.
    public static func percent(_ fraction: Double) -> String {
        var text = String(format: "%.2f", fraction * 100)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text + "%"
    }
}
