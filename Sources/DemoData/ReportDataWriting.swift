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
/// The caller groups calls in the engine's transactions. Thread-safety is the implementation's:
/// `SQLiteReportDataWriter` is used by one thread at a time.
public protocol ReportDataWriting: AnyObject {
    /// Events written so far.
    var eventsWritten: Int { get }
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
    func job(kind: String, state: String, error: String?, at: Int64) throws -> Int64
    func adminAction(_ action: String, jobID: Int64?, count: Int, at: Int64) throws
    /// Marks the store as the demo dataset (`table`, one row: seed, contacts, time).
    func markDemoData(table: String, seed: UInt64, contacts: Int, at now: Int64) throws
    /// Derives the contacts' and payments' computed columns from what was written.
    func finish() throws
    /// Erases `ids` as `hookyard contacts erase` would.
    func erase(contacts ids: [Int64], at: Int64) throws
}
