import Store

/// What the report reads from the store, whatever engine holds it (`SQLiteReportQueries`, `PostgreSQLReportQueries`):
/// the email activity per contact and campaign, rows as stored (payments, links, rollout cohorts), and per-contact
/// lookups by index. The formulas over them are the engine-independent `ReportPaymentHistory` and `ReportBuilder`
/// (docs/metrics.md), so every engine gives the same report.
///
/// Contract every implementation keeps: it only reads (never blocks or changes what the daemon writes); periods are
/// half-open, `[since, until)`, in Unix milliseconds; a lookup batch answers every lookup, in order; a stored value it
/// cannot read is an error. Not thread-safe: one instance (one connection) is used by one thread at a time.
public protocol ReportQueries: AnyObject {
    /// Campaign names by campaign id.
    func campaignNames() throws -> [String: String]
    /// The period's email activity per contact and campaign (the contact-less rows, `contactID == nil`, per campaign),
    /// one row per pair, in no particular order, each passed to `body`.
    func forEachActivity(since: Int64, until: Int64, _ body: (ReportActivityRow) throws -> Void) throws
    /// Every payment, invoice and refund row stored before `until`, with its contact's first touch and subscription,
    /// in no particular order. `ReportPaymentHistory` computes the attribution, lifetime value, churn, link and
    /// control-group figures from them.
    func paymentHistory(until: Int64) throws -> [ReportPaymentRecord]
    /// Per window, in order: what `lookup` finds for its contact in it (`ReportLookup.subquery`, the same SQL on every
    /// engine), or `nil`. A batch is answered in one statement.
    func lookUp(_ lookup: ReportLookup, _ windows: [ReportContactWindow]) throws -> [String?]
    /// The payment links created in the period, each with whether its contact clicked in the link's campaign (any
    /// campaign for a link without one) at or after its creation and before `until`.
    func paymentLinks(since: Int64, until: Int64) throws -> [ReportLinkRecord]
    /// The rollout cohorts of the period: every run of a rule that held anyone back by rollout in the period, and
    /// every such holdback, with a contact, in no particular order.
    func rolloutEntries(since: Int64, until: Int64) throws -> [ReportRolloutEntry]
    /// Jobs retried and discarded by hand in the period.
    func manualInterventions(since: Int64, until: Int64) throws -> (retried: Int, discarded: Int)
    /// Dead jobs now.
    func deadJobCount() throws -> Int
    /// Whether the store holds generated demo data (`hookyard demo seed`).
    func isSynthetic() throws -> Bool
    /// Releases the connection the queries opened themselves (a shared one is left open). Safe to call twice.
    func close()
}

/// One payment, invoice or refund row as stored, with what the report's formulas need of it and of its contact.
public struct ReportPaymentRecord: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case payment, invoice, refund
    }

    /// The row's id (ties between rows of the same time are broken by it).
    public var id: Int64
    /// `nil`: an erased contact's row.
    public var contactID: Int64?
    public var kind: Kind
    public var amount: Int64
    public var currency: String
    public var occurredAt: Int64
    /// Checkout Session, invoice or charge id.
    public var reference: String
    public var tier: String?
    /// The campaign in the payment link's metadata.
    public var linkCampaign: String?
    public var paymentLink: String?
    /// The rule stored with the row, else the rule that created its payment link.
    public var linkRule: String?
    /// Paid through a payment link: its id, its metadata campaign, or a recorded purchase by link with its reference.
    public var viaLink: Bool
    /// The first and last touch stored with the row; read only for an erased contact's row (`nil` otherwise).
    public var storedFirstTouch: String?
    public var storedLastTouch: String?
    /// The contact's row, when there is one.
    public var contact: ReportPayer?

    public init(id: Int64, contactID: Int64?, kind: Kind, amount: Int64, currency: String, occurredAt: Int64,
                reference: String, tier: String? = nil, linkCampaign: String? = nil, paymentLink: String? = nil,
                linkRule: String? = nil, viaLink: Bool = false, storedFirstTouch: String? = nil, storedLastTouch: String? = nil,
                contact: ReportPayer? = nil) {
        self.id = id
        self.contactID = contactID
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.occurredAt = occurredAt
        self.reference = reference
        self.tier = tier
        self.linkCampaign = linkCampaign
        self.paymentLink = paymentLink
        self.linkRule = linkRule
        self.viaLink = viaLink
        self.storedFirstTouch = storedFirstTouch
        self.storedLastTouch = storedLastTouch
        self.contact = contact
    }
}

extension ReportPaymentRecord {
    /// The SELECT and FROM of `ReportQueries.paymentHistory`, in SQL both engines run as it is (each adds its WHERE with
    /// its own parameter syntax): the payment `p`, its contact `c`, and the columns in the order both decode them
    /// (id, contact, kind, amount, currency, time, reference, tier, link campaign, payment link, link rule, via link,
    /// stored first and last touch, whether the contact exists, its first campaign and time, subscription status and
    /// time). A row's link rule is looked up only where it does not carry one.
    static let selectFromPaymentsAndContacts = """
        SELECT p.id, p.contact_id, p.kind, p.amount, p.currency, p.occurred_at, p.reference, p.tier, p.link_campaign,
               p.payment_link, coalesce(p.link_rule, (SELECT l.rule FROM payment_links_sent l WHERE l.link_id = p.payment_link)),
               p.payment_link IS NOT NULL OR p.link_campaign IS NOT NULL
                   OR EXISTS (SELECT 1 FROM purchases u WHERE u.reference = p.reference AND u.payment_link IS NOT NULL),
               CASE WHEN p.contact_id IS NULL THEN p.first_campaign END, CASE WHEN p.contact_id IS NULL THEN p.last_campaign END,
               c.id IS NOT NULL, c.first_campaign, c.first_campaign_at, c.subscription_status, c.subscription_at
        FROM contact_payments p LEFT JOIN contacts c ON c.id = p.contact_id
        """
}

/// What the report needs of a paying contact's row.
public struct ReportPayer: Sendable, Equatable {
    /// The contact's first campaign and when it was first touched by one.
    public var firstCampaign: String?
    public var firstCampaignAt: Int64?
    /// The subscription's latest status (`canceled`, `active`, …) and when it was recorded.
    public var subscriptionStatus: String?
    public var subscriptionAt: Int64?

    public init(firstCampaign: String?, firstCampaignAt: Int64?, subscriptionStatus: String?, subscriptionAt: Int64?) {
        self.firstCampaign = firstCampaign
        self.firstCampaignAt = firstCampaignAt
        self.subscriptionStatus = subscriptionStatus
        self.subscriptionAt = subscriptionAt
    }
}

/// A per-contact lookup of the report, by index, in a window of time (`ReportContactWindow`).
public enum ReportLookup: Sendable, CaseIterable {
    /// The campaign of the contact's latest activity with a campaign (ties: the latest stored): a payment's last touch.
    case lastTouch
    /// The rule of the contact's latest rule run: a payment's rule when its link names none.
    case lastRuleRun
    /// The campaign of the contact's first `sent` activity with a campaign (ties: the first stored): a subscriber's
    /// onboarding sequence.
    case firstSend

    /// A scalar subquery over one window `x` (`x.contact`, `x.since`, `x.through`, both ends included), in SQL both
    /// engines run as it is. Each reads one covering range of a per-contact index, in the order it needs (no sort):
    /// `contact_activity_by_contact (contact_id, occurred_at, id, kind, campaign_id)`, `rule_runs_by_contact_time
    /// (contact_id, at, rule)`.
    public var subquery: String {
        switch self {
        case .lastTouch: """
            SELECT t.campaign_id FROM contact_activity t WHERE t.contact_id = x.contact AND t.occurred_at >= x.since
            AND t.occurred_at <= x.through AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1
            """
        case .lastRuleRun: """
            SELECT r.rule FROM rule_runs r WHERE r.contact_id = x.contact AND r.at >= x.since AND r.at <= x.through
            ORDER BY r.at DESC LIMIT 1
            """
        case .firstSend: """
            SELECT t.campaign_id FROM contact_activity t WHERE t.contact_id = x.contact AND t.occurred_at >= x.since
            AND t.occurred_at <= x.through AND t.kind = 'sent' AND t.campaign_id IS NOT NULL ORDER BY t.occurred_at, t.id LIMIT 1
            """
        }
    }
}

/// A contact and a window of time, both ends included, for a per-contact lookup.
public struct ReportContactWindow: Sendable, Equatable {
    public var contact: Int64
    public var from: Int64
    public var through: Int64

    public init(contact: Int64, from: Int64, through: Int64) {
        self.contact = contact
        self.from = from
        self.through = through
    }
}

/// A payment link created in a report's period.
public struct ReportLinkRecord: Sendable, Equatable {
    public var linkID: String
    public var contactID: Int64?
    public var campaign: String?
    public var rule: String
    public var createdAt: Int64
    /// Its contact clicked in its campaign (any campaign for a link without one) at or after its creation, before the
    /// period's end.
    public var clicked: Bool

    public init(linkID: String, contactID: Int64?, campaign: String?, rule: String, createdAt: Int64, clicked: Bool) {
        self.linkID = linkID
        self.contactID = contactID
        self.campaign = campaign
        self.rule = rule
        self.createdAt = createdAt
        self.clicked = clicked
    }
}

/// A rule's run for a contact (treated) or its rollout holdback (control), in a report's period.
public struct ReportRolloutEntry: Sendable, Equatable {
    public var rule: String
    public var control: Bool
    public var contactID: Int64
    public var at: Int64

    public init(rule: String, control: Bool, contactID: Int64, at: Int64) {
        self.rule = rule
        self.control = control
        self.contactID = contactID
        self.at = at
    }
}

/// One contact's (or the contact-less) email activity in one campaign in a report's period.
public struct ReportActivityRow: Sendable, Equatable {
    public var contactID: Int64?
    public var campaign: String?
    public var sent: Int
    public var opened: Bool
    public var clicked: Bool
    public var replied: Bool

    public init(contactID: Int64?, campaign: String?, sent: Int, opened: Bool, clicked: Bool, replied: Bool) {
        self.contactID = contactID
        self.campaign = campaign
        self.sent = sent
        self.opened = opened
        self.clicked = clicked
        self.replied = replied
    }
}

