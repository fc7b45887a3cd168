/// The kinds of payment rows generated report data holds.
public enum ReportDataPaymentKind: String, Sendable {
    /// A one-off Checkout Session payment.
    case payment
    /// A paid invoice: a subscription's first or a renewal.
    case invoice
    /// A charge's refund; `amount` is given positive and stored negative.
    case refund
}

/// Writes generated report data into a store the way the daemon would have left it, whatever engine holds it
/// (`SQLiteReportDataWriter` today): events with their activity and payment rows, contacts, campaigns, links,
/// subscriptions, rule runs and holdbacks, jobs and admin actions; `finish()` derives what the daemon computes as it
/// applies events. For generated data only (`hookyard demo seed`, the report benchmark, tests).
///
/// The caller groups calls in transactions with `transaction { }` (an implementation may buffer rows until its
/// commit). Thread-safety is the implementation's: `SQLiteReportDataWriter` and `PostgreSQLReportDataWriter` are used
/// by one thread at a time.
public protocol ReportDataWriting: AnyObject {
    /// Events written so far.
    var eventsWritten: Int { get }
    /// Runs `body` in one of the engine's transactions, with everything it wrote stored before the commit.
    func transaction<R>(_ body: () throws -> R) throws -> R
    /// Stores what earlier calls buffered (before reading the database on another connection outside `transaction`).
    func flush() throws
    /// Closes the connection when the writer opened it (`ReportDataWritingOpening`); safe to call twice.
    func close()
    func campaign(id: String, name: String, at: Int64) throws
    /// - Returns: the new contact's id.
    func contact(email: String, firstSeenAt: Int64) throws -> Int64
    func activity(contact: Int64?, kind: String, campaign: String?, at: Int64, account: String?) throws
    func payment(contact: Int64?, kind: ReportDataPaymentKind, reference: String, amount: Int64, currency: String, at: Int64,
                 tier: String?, linkCampaign: String?, paymentLink: String?, rule: String?) throws
    func linkSent(id: String, contact: Int64?, campaign: String?, rule: String, at: Int64) throws
    func subscription(contact: Int64, id: String, status: String, tier: String?, at: Int64) throws
    func ruleRun(rule: String, contact: Int64, at: Int64) throws
    func holdback(rule: String, contact: Int64?, reason: String, at: Int64) throws
    /// - Returns: the new job's id.
    @discardableResult
    func job(kind: String, state: String, error: String?, at: Int64) throws -> Int64
    func adminAction(_ action: String, jobID: Int64?, count: Int, at: Int64) throws
    /// Marks the store as the demo dataset (`table`, one row: seed, contacts, time).
    func markDemoData(table: String, seed: UInt64, contacts: Int, at now: Int64) throws
    /// Derives the contacts' and payments' computed columns from what was written.
    func finish() throws
    /// Erases `ids` as `hookyard contacts erase` would.
    func erase(contacts ids: [Int64], at: Int64) throws
}

/// The shorter calls generated histories use most (protocol requirements take no default arguments).
extension ReportDataWriting {
    /// An activity without a sending account.
    public func activity(contact: Int64?, kind: String, campaign: String?, at: Int64) throws {
        try activity(contact: contact, kind: kind, campaign: campaign, at: at, account: nil)
    }

    /// A payment without tier, link or rule.
    public func payment(contact: Int64?, kind: ReportDataPaymentKind, reference: String, amount: Int64, currency: String,
                        at: Int64) throws {
        try payment(contact: contact, kind: kind, reference: reference, amount: amount, currency: currency, at: at, tier: nil,
                    linkCampaign: nil, paymentLink: nil, rule: nil)
    }

    /// A payment in a tier, without link or rule.
    public func payment(contact: Int64?, kind: ReportDataPaymentKind, reference: String, amount: Int64, currency: String,
                        at: Int64, tier: String?) throws {
        try payment(contact: contact, kind: kind, reference: reference, amount: amount, currency: currency, at: at, tier: tier,
                    linkCampaign: nil, paymentLink: nil, rule: nil)
    }

    /// A rollout holdback (the control group).
    public func holdback(rule: String, contact: Int64?, at: Int64) throws {
        try holdback(rule: rule, contact: contact, reason: "rollout", at: at)
    }

    /// One job's admin action.
    public func adminAction(_ action: String, jobID: Int64?, at: Int64) throws {
        try adminAction(action, jobID: jobID, count: 1, at: at)
    }

    /// A job without an error. - Returns: its id.
    @discardableResult
    public func job(kind: String, state: String, at: Int64) throws -> Int64 {
        try job(kind: kind, state: state, error: nil, at: at)
    }
}
