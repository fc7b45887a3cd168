/// One condition an admin is told about: what kind of trouble it is and what it concerns. Two alerts with the same
/// kind and subject are the same condition: it is notified at most once per interval, and cleared once.
public struct AlertCondition: Hashable, Sendable, CustomStringConvertible {
    /// The kinds of trouble Hookyard alerts on.
    public enum Kind: String, Sendable, CaseIterable {
        /// A job exhausted its attempts or failed permanently (subject: the rule or action, so a failing action
        /// alerts once, not once per job).
        case jobDead = "job_dead"
        /// The store could not commit an event (subject: the database path, or its URI without the password).
        case storeCommitFailed = "store_commit_failed"
        /// A sending account or campaign crossed a deliverability threshold (subject: `account:<email>` or
        /// `campaign:<id>` and the metric).
        case deliverability
        /// Instantly reported an `account_error` event (subject: the sending account).
        case instantlyAccountError = "instantly_account_error"
        /// Instantly disabled one of Hookyard's webhooks (subject: the webhook id).
        case instantlyWebhookDisabled = "instantly_webhook_disabled"
    }

    public let kind: Kind
    public let subject: String

    public init(_ kind: Kind, subject: String) {
        self.kind = kind
        self.subject = subject
    }

    public var description: String { "\(kind.rawValue):\(subject)" }
}

/// Where code that notices trouble reports it. Implementations log at error level, notify the alert webhook through
/// the job queue, and keep each condition's state durably so a restart neither repeats nor forgets an alert.
/// Implementations are thread-safe; both calls are cheap for a condition that is already in the state asked for.
public protocol AlertRaising: Sendable {
    /// The condition holds: alert now unless it was already notified within the repeat interval.
    /// - Parameters:
    ///   - message: one line for a person, saying what is wrong and what to do; never a secret or a full payload.
    ///   - context: structured fields for the log line and the notification (`job_id`, `account`, `webhook_id`, ...).
    func raise(_ condition: AlertCondition, message: String, context: [String: String])
    /// The condition no longer holds: say so once if it had been raised, otherwise do nothing.
    func clear(_ condition: AlertCondition, message: String)
}
