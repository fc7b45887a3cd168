/// How one sending account or campaign fared over a time window: the Instantly activities counted by kind, and the
/// rates the deliverability watch judges (each = that kind's count / emails sent; `nil` when nothing was sent).
public struct DeliverabilityRates: Sendable, Equatable {
    /// What the counts are grouped by: Instantly's `email_account` (the mailbox that sent) or `campaign_id`.
    public enum Scope: String, Sendable, CaseIterable {
        case account, campaign
    }

    public var scope: Scope
    /// The account's address (lower case) or the campaign id.
    public var key: String
    /// `email_sent` events in the window.
    public var sent: Int
    /// `email_bounced` events in the window.
    public var bounced: Int
    /// `lead_unsubscribed` events in the window.
    public var unsubscribed: Int
    /// `reply_received` events in the window.
    public var replied: Int

    public init(scope: Scope, key: String, sent: Int, bounced: Int, unsubscribed: Int, replied: Int) {
        self.scope = scope
        self.key = key
        self.sent = sent
        self.bounced = bounced
        self.unsubscribed = unsubscribed
        self.replied = replied
    }

    public var bounceRate: Double? { rate(bounced) }
    public var unsubscribeRate: Double? { rate(unsubscribed) }
    public var replyRate: Double? { rate(replied) }

    private func rate(_ count: Int) -> Double? { sent > 0 ? Double(count) / Double(sent) : nil }
}

/// Where the deliverability watch, `/metrics` and the report read sending rates from, whatever engine stores the
/// contacts' activity (`SQLiteDeliverabilityReader` today). Events count by their own time in `(now - window, now]`.
/// Thread-safety is the implementation's: `SQLiteDeliverabilityReader` is used by one thread at a time.
public protocol DeliverabilityRatesReading: AnyObject {
    /// Every account and every campaign with at least `minimumSent` emails sent in the window, accounts first, each
    /// scope sorted by key.
    func rates(windowMilliseconds: Int64, now: Int64, minimumSent: Int) throws -> [DeliverabilityRates]
    /// The rates of one account or campaign in the window (zero counts when it sent nothing).
    func rates(scope: DeliverabilityRates.Scope, key: String, windowMilliseconds: Int64, now: Int64) throws -> DeliverabilityRates
    /// Releases the reader's own connection, if it has one.
    func close()
}
