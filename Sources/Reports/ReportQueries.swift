import Store

/// What the report reads from the store, whatever engine holds it (`SQLiteReportQueries` today): the period's rows,
/// already joined and attributed, that `ReportBuilder` turns into figures. Every formula is in docs/metrics.md.
///
/// Contract every implementation keeps: it only reads (never blocks or changes what the daemon writes); periods are
/// half-open, `[since, until)`, in Unix milliseconds; a stored value it cannot read is an error. Thread-safety is the
/// implementation's: `SQLiteReportQueries` is used by one thread at a time.
public protocol ReportQueries: AnyObject {
    /// Campaign names by campaign id.
    func campaignNames() throws -> [String: String]
    /// The period's email activity per contact and campaign (the contact-less rows, `contactID == nil`, per campaign),
    /// one row per pair, in no particular order, each passed to `body`.
    func forEachActivity(since: Int64, until: Int64, _ body: (ReportActivityRow) throws -> Void) throws
    /// The period's payment, invoice and refund rows, each attributed (first and last touch within `lookback`;
    /// `withRule`: the rule each is credited to).
    func attributedPayments(since: Int64, until: Int64, lookbackMilliseconds: Int64, withRule: Bool) throws -> [ReportPaymentRow]
    /// The payment links created in the period, with whether each was clicked and paid (within `lookback`).
    func linksSent(since: Int64, until: Int64, lookbackMilliseconds: Int64) throws -> [ReportLinkRow]
    /// Per acquisition source: its customers (a row with `currency == nil`), and per currency its paying customers and
    /// net revenue before `until`.
    func lifetimeValueRows(until: Int64) throws -> [ReportLifetimeValueRow]
    /// Per onboarding sequence: the subscriber base and those whose subscription ended in the period.
    func churnRows(since: Int64, until: Int64) throws -> [(sequence: String, base: Int, churned: Int)]
    /// Per rule and side (control or treated) of its rollout in the period: how many contacts, and how many paid later.
    func controlGroupRows(since: Int64, until: Int64) throws -> [(rule: String, control: Bool, size: Int, converted: Int)]
    /// Jobs retried and discarded by hand in the period.
    func manualInterventions(since: Int64, until: Int64) throws -> (retried: Int, discarded: Int)
    /// Dead jobs now.
    func deadJobCount() throws -> Int
    /// Whether the store holds generated demo data (`hookyard demo seed`).
    func isSynthetic() throws -> Bool
    /// Releases the connection the queries opened themselves (a shared one is left open). Safe to call twice.
    func close()
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

/// One payment, invoice or refund row of the period with what attribution needs.
public struct ReportPaymentRow: Sendable, Equatable {
    public var contactID: Int64?
    /// The row's own reference (Checkout Session, invoice or charge id), for notes.
    public var reference: String = ""
    public var kind: String
    public var amount: Int64
    public var currency: String
    public var occurredAt: Int64
    /// Per the models (a refund: those of the sale it reduces).
    public var firstTouch: String?
    public var lastTouch: String?
    public var tier: String?
    public var rule: String?
    /// Paid through a payment link (its id, its metadata campaign, or a recorded purchase with a link).
    public var viaLink: Bool
    /// The contact's first-ever payment or invoice.
    public var firstPurchase: Bool
    /// For a first purchase after a touch: purchase time − first touch time.
    public var timeToFirstPurchase: Int64?

    public init(contactID: Int64?, reference: String = "", kind: String, amount: Int64, currency: String, occurredAt: Int64,
                firstTouch: String? = nil, lastTouch: String? = nil, tier: String? = nil, rule: String? = nil, viaLink: Bool,
                firstPurchase: Bool, timeToFirstPurchase: Int64? = nil) {
        self.contactID = contactID
        self.reference = reference
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.occurredAt = occurredAt
        self.firstTouch = firstTouch
        self.lastTouch = lastTouch
        self.tier = tier
        self.rule = rule
        self.viaLink = viaLink
        self.firstPurchase = firstPurchase
        self.timeToFirstPurchase = timeToFirstPurchase
    }

    func campaign(_ model: AttributionModel) -> String? { model == .first ? firstTouch : lastTouch }
    var isOrder: Bool { kind != "refund" }
}

/// A payment link created in the period, and whether it was (approximately) clicked and paid.
public struct ReportLinkRow: Sendable, Equatable {
    public var contactID: Int64?
    public var campaign: String?
    public var rule: String
    public var clicked: Bool
    public var paid: Bool

    public init(contactID: Int64?, campaign: String?, rule: String, clicked: Bool, paid: Bool) {
        self.contactID = contactID
        self.campaign = campaign
        self.rule = rule
        self.clicked = clicked
        self.paid = paid
    }
}

/// One row of the lifetime-value query: a source's customers (`currency == nil`), or its payers and revenue in one
/// currency.
public struct ReportLifetimeValueRow: Sendable, Equatable {
    public var source: String
    public var currency: String?
    /// Customers (no currency) or paying customers in `currency`.
    public var count: Int
    /// Net revenue of plausible amounts in `currency`; `nil` when the total does not fit 64 bits.
    public var revenue: Int64?
    /// Rows left out of `revenue` for an implausible magnitude.
    public var implausible: Int

    public init(source: String, currency: String?, count: Int, revenue: Int64?, implausible: Int) {
        self.source = source
        self.currency = currency
        self.count = count
        self.revenue = revenue
        self.implausible = implausible
    }
}
