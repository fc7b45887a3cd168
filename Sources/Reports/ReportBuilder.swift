import Dispatch
import Synchronization
import HookyardFoundation
import Store
import SQLite

/// Computes the `Report` for a `ReportQuery` from the rows its `ReportQueries` read (see docs/metrics.md for every
/// formula): the queries read rows and look activity up by contact, `ReportPaymentHistory` attributes the payments
/// and computes lifetime value, churn, links paid and control groups, the builder counts, sums and groups. It only
/// reads.
///
/// With a second set of queries (`activityQueries`: a second connection, as the path and location initialisers open),
/// `build` reads the email activity, the payment links and the rollout cohorts on a worker thread (and computes lifetime
/// value there) while the calling thread reads the payment history, attributes it, and reads churn and deliverability:
/// two independent readers (SQLite WAL readers, or two PostgreSQL sessions), so the report takes about the longer of
/// the two instead of their sum. The figures are the same either way.
///
/// Not thread-safe: one builder (its queries, one or two connections) per thread or request; `build` uses its
/// connections only until it returns; `close()` (or deinit) closes the connections it opened.
public final class ReportBuilder {
    /// Rows for `Report.deliverability`, computed elsewhere (per sending account and campaign); `nil`: none. `build`
    /// calls it on the calling thread, concurrently with the worker thread's queries.
    public typealias DeliverabilityProvider = @Sendable (ReportQuery) throws -> [DeliverabilityRow]
    /// One attributed payment row (`ReportPaymentRow`), under the name the builder's arithmetic uses.
    typealias AttributedPayment = ReportPaymentRow
    /// One payment link row (`ReportLinkRow`).
    typealias LinkSent = ReportLinkRow

    private let queries: any ReportQueries
    /// Read on a worker thread while `queries` reads on the caller's: the email activity; `nil`: `queries` reads it too.
    private let activityQueries: (any ReportQueries)?
    private let deliverability: DeliverabilityProvider?

    /// Opens the SQLite database at `path` for reading on two connections (`SQLiteReportQueries`: the email activity
    /// on the second, in parallel).
    /// - Throws: `StoreError.missingDatabase` when there is none, `StoreError.newerSchema`, or SQLite's error.
    public convenience init(path: String, deliverability: DeliverabilityProvider? = nil) throws {
        let queries = try SQLiteReportQueries(path: path)
        self.init(queries: queries, activityQueries: try SQLiteReportQueries(path: path), deliverability: deliverability)
    }

    /// Reads through an open SQLite connection the caller owns (and keeps open while the builder is used).
    public convenience init(database: SQLiteDatabase, deliverability: DeliverabilityProvider? = nil) {
        self.init(queries: SQLiteReportQueries(database: database), deliverability: deliverability)
    }

    /// Opens the queries for `location` twice (`ReportQueriesOpening`: SQLite's `query_only` readers or read-only
    /// PostgreSQL sessions; the email activity on the second, in parallel); `close()` closes them.
    /// - Throws: `StoreError.missingDatabase` (SQLite: no file), `StoreError.newerSchema`, or the engine's error.
    public convenience init(_ location: DatabaseLocation, deliverability: DeliverabilityProvider? = nil) throws {
        let queries = try ReportQueriesOpening.open(location)
        self.init(queries: queries, activityQueries: try ReportQueriesOpening.open(location), deliverability: deliverability)
    }

    /// Reads through `queries` (any engine's), and the email activity through `activityQueries` when given (another
    /// connection to the same database, read on a worker thread during `build`; `nil`: through `queries`, after the
    /// rest); `close()` closes both.
    public init(queries: any ReportQueries, activityQueries: (any ReportQueries)? = nil,
                deliverability: DeliverabilityProvider? = nil) {
        self.queries = queries
        self.activityQueries = activityQueries
        self.deliverability = deliverability
    }

    deinit { close() }

    /// Closes the connections the builder's queries opened. Safe to call twice.
    public func close() {
        queries.close()
        activityQueries?.close()
    }

    /// Computes the report. `now` is `generatedAt` (the dead-job count is always the current one).
    /// - Throws: SQLite's error, or the deliverability provider's.
    public func build(_ query: ReportQuery, now: Int64) throws -> Report {
        // With a second connection, the email activity (the largest read), the payment links, lifetime value and control
        // groups on a worker thread; the payment history, attribution and its figures per group, churn, and the
        // deliverability rows (the provider's own connection) here, on `queries` (the two halves cost about the same).
        // The worker needs the history too: it is read here and handed over. Without a second connection the worker's
        // share comes after the rest, on `queries`.
        let history = HistoryHandoff()
        let second = activityQueries
        let (parallel, rest) = try Self.concurrently({ () throws -> Parallel? in
            try second.map { try Parallel(query, from: $0, history: history) }
        }, { () throws -> Sequential in
            do {
                let names = try queries.campaignNames()
                let read = ReportPaymentHistory(try queries.paymentHistory(until: query.until), until: query.until)
                history.fulfil(.success(read))
                return try sequential(query, names: names, history: read)
            } catch {
                history.fulfil(.failure(error))
                throw error
            }
        })
        return try report(query, now: now, parallel ?? Parallel(query, from: queries, history: history), rest)
    }

    /// What `build` reads on the second connection (on a worker thread), or after the rest on `queries` without one.
    private struct Parallel {
        var activity: (total: ActivityFigures, byCampaign: [String: ActivityFigures])
        var links: [LinkSent]
        var lifetimeValueRows: [ReportLifetimeValueRow]
        var controlGroups: [ControlGroupRow]

        init(_ query: ReportQuery, from queries: any ReportQueries, history: HistoryHandoff) throws {
            activity = try ReportBuilder.activityFigures(query, from: queries)
            let linkRecords = try queries.paymentLinks(since: query.since, until: query.until)
            let rollout = try queries.rolloutEntries(since: query.since, until: query.until)
            let history = try history.wait()
            links = history.linksSent(linkRecords, lookbackMilliseconds: query.lookbackMilliseconds)
            lifetimeValueRows = history.lifetimeValueRows()
            controlGroups = ReportBuilder.controlGroups(history.controlGroupRows(rollout))
        }
    }

    /// What `build` reads on `queries` (the calling thread).
    private struct Sequential {
        var names: [String: String]
        var payments: [AttributedPayment]
        /// The money figures of all `payments`, and of each group's (by `query.grouping`).
        var paymentFigures: ReportFigures
        var paymentFiguresByKey: [String: ReportFigures]
        var interventions: (retried: Int, discarded: Int)
        var notes: [String]
        var churnRows: [(sequence: String, base: Int, churned: Int)]
        var deliverability: [DeliverabilityRow]
        var synthetic: Bool
        var deadJobs: Int
    }

    /// The calling thread's share of `build`, from the payment history it read.
    private func sequential(_ query: ReportQuery, names: [String: String], history: ReportPaymentHistory) throws -> Sequential {
        // Rows whose amount cannot be counted (implausible, or overflowing their currency's total) are left out of
        // every figure below and named in the report's notes.
        let (payments, paymentNotes) = Self.countable(try history.attributed(
            since: query.since, lookbackMilliseconds: query.lookbackMilliseconds, withRule: query.grouping == .rule, lookups: queries))
        let churnRows = try history.churnRows(since: query.since, lookups: queries)
        let deliverabilityRows = try deliverability?(query) ?? []
        let keyOf = Self.groupKey(query)
        return Sequential(names: names, payments: payments, paymentFigures: Self.paymentFigures(payments),
                          paymentFiguresByKey: Dictionary(grouping: payments, by: keyOf).mapValues(Self.paymentFigures),
                          interventions: try queries.manualInterventions(since: query.since, until: query.until),
                          notes: paymentNotes, churnRows: churnRows, deliverability: deliverabilityRows,
                          synthetic: try queries.isSynthetic(), deadJobs: try queries.deadJobCount())
    }

    /// Runs `first` on a worker thread and `second` on the calling thread, and returns both results once both ended
    /// (the first error, in argument order, is thrown after both ended, so neither outlives the call).
    private static func concurrently<First, Second>(_ first: @escaping () throws -> First,
                                                    _ second: () throws -> Second) throws -> (First, Second) {
        let worker = WorkerHandoff(first)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global(qos: .userInitiated).async {
            worker.run()
            done.signal()
        }
        let secondResult = Result { try second() }
        done.wait()
        return (try worker.result!.get(), try secondResult.get())
    }

    private func report(_ query: ReportQuery, now: Int64, _ read: Parallel, _ rest: Sequential) throws -> Report {
        let (names, payments, links, interventions) = (rest.names, rest.payments, read.links, rest.interventions)
        var notes = rest.notes
        let lifetimeValue = Self.lifetimeValue(read.lifetimeValueRows, names: names, notes: &notes)
        let activity = read.activity
        let linkKey: ((LinkSent) -> String)? = switch query.grouping {
        case .campaign: { $0.campaign ?? Self.direct }
        case .rule: { $0.rule }
        case .source: { _ in "payment_link" }
        case .tier: nil
        }

        var headline = rest.paymentFigures
        headline.apply(activity.total)
        headline.apply(LinkFigures(links))
        headline.conversion = Self.rate(headline.newCustomers, activity.total.contacted)
        headline.revenuePerEmail = Self.perEmail(headline.revenue, emails: activity.total.emailsSent)

        var keys = Set(rest.paymentFiguresByKey.keys)
        if let linkKey { keys.formUnion(links.map(linkKey)) }
        if query.grouping == .campaign { keys.formUnion(activity.byCampaign.keys) }
        let linksByKey = linkKey.map { Dictionary(grouping: links, by: $0) } ?? [:]
        var groups: [ReportGroup] = keys.map { key in
            var figures = rest.paymentFiguresByKey[key] ?? Self.paymentFigures([])
            if linkKey != nil { figures.apply(LinkFigures(linksByKey[key] ?? [])) }
            if query.grouping == .campaign {
                let campaign = activity.byCampaign[key] ?? ActivityFigures()
                figures.apply(campaign)
                figures.conversion = Self.rate(figures.newCustomers, campaign.touched)
                figures.revenuePerEmail = Self.perEmail(figures.revenue, emails: campaign.emailsSent)
            }
            let name = query.grouping == .campaign || query.grouping == .source ? names[key] ?? key : key
            return ReportGroup(key: key, name: name, figures: figures)
        }
        groups.sort {
            ($1.figures.orders, $1.figures.emailsSent ?? 0, $0.key) < ($0.figures.orders, $0.figures.emailsSent ?? 0, $1.key)
        }

        let funnel: [FunnelStage] = [
            FunnelStage(stage: .sent, count: activity.total.contacted),
            FunnelStage(stage: .opened, count: activity.total.opened),
            FunnelStage(stage: .clicked, count: activity.total.clicked),
            FunnelStage(stage: .replied, count: activity.total.replied),
            FunnelStage(stage: .linkSent, count: Set(links.compactMap(\.contactID)).count),
            FunnelStage(stage: .linkClicked, count: Set(links.filter(\.clicked).compactMap(\.contactID)).count),
            FunnelStage(stage: .paid, count: headline.customers),
        ]
        return Report(
            query: query, generatedAt: now, synthetic: rest.synthetic, headline: ReportHeadline(
                figures: headline, manualInterventions: interventions.retried + interventions.discarded,
                jobsRetried: interventions.retried, jobsDiscarded: interventions.discarded, deadJobsNow: rest.deadJobs),
            funnel: funnel, groups: groups, timeToPurchase: Self.histogram(payments.compactMap(\.timeToFirstPurchase)),
            churn: Self.churn(rest.churnRows, names: names), lifetimeValue: lifetimeValue,
            controlGroups: read.controlGroups, deliverability: rest.deliverability, notes: notes)
    }

    /// The group a payment belongs to in `query.grouping`.
    private static func groupKey(_ query: ReportQuery) -> (AttributedPayment) -> String {
        { payment in
            switch query.grouping {
            case .campaign: payment.campaign(query.model) ?? direct
            case .source: payment.viaLink ? "payment_link" : payment.campaign(query.model) == nil ? direct : "outreach"
            case .tier: payment.tier ?? none
            case .rule: payment.rule ?? none
            }
        }
    }

    /// The group of purchases attributed to no campaign.
    static let direct = "direct"
    /// The group of purchases with no tier or rule.
    static let none = "(none)"

    // MARK: Activity

    /// Email counts of one campaign, or of everything (where `touched` is not used).
    struct ActivityFigures {
        var emailsSent = 0
        var contacted = 0
        var opened = 0
        var clicked = 0
        var replied = 0
        /// Distinct contacts with any activity of the campaign in the period (the conversion denominator).
        var touched = 0

        /// Counts one contact's (or the contact-less) row of this campaign.
        mutating func count(_ row: ReportActivityRow) {
            emailsSent += row.sent
            guard row.contactID != nil else { return }
            touched += 1
            guard row.sent > 0 else { return }
            contacted += 1
            if row.opened { opened += 1 }
            if row.clicked { clicked += 1 }
            if row.replied { replied += 1 }
        }
    }

    /// One pass over the period's activity rows (one per contact and campaign, in any order): summed per campaign
    /// and, over each contact's campaigns, for the headline.
    private static func activityFigures(_ query: ReportQuery,
                                        from queries: any ReportQueries) throws -> (total: ActivityFigures, byCampaign: [String: ActivityFigures]) {
        var total = ActivityFigures()
        var byCampaign: [String: ActivityFigures] = [:]
        /// Per contact, over all its campaigns: whether it was sent (1), opened (2), clicked (4) and replied to (8).
        var contacts: [Int64: UInt8] = [:]
        /// The campaign of the last rows and its figures so far: rows of one campaign usually come together (SQLite's
        /// do), so its figures are looked up and stored once per run of rows, not per row.
        var current: (campaign: String, figures: ActivityFigures)?
        try queries.forEachActivity(since: query.since, until: query.until) { row in
            total.emailsSent += row.sent
            if let contact = row.contactID {
                contacts[contact, default: 0] |= (row.sent > 0 ? 1 : 0) | (row.opened ? 2 : 0) | (row.clicked ? 4 : 0) | (row.replied ? 8 : 0)
            }
            guard let campaign = row.campaign else { return }
            if current?.campaign != campaign {
                if let current { byCampaign[current.campaign] = current.figures }
                current = (campaign, byCampaign[campaign] ?? ActivityFigures())
            }
            current?.figures.count(row)
        }
        if let current { byCampaign[current.campaign] = current.figures }
        total.touched = contacts.count
        for flags in contacts.values where flags & 1 != 0 {
            total.contacted += 1
            if flags & 2 != 0 { total.opened += 1 }
            if flags & 4 != 0 { total.clicked += 1 }
            if flags & 8 != 0 { total.replied += 1 }
        }
        return (total, byCampaign)
    }

    // MARK: Payments

    /// The most left-out rows the notes name one by one; the rest are counted in one more note.
    static let maximumNotes = 20

    /// The payments whose amounts can be counted, in their order, and a note for each one left out: an amount beyond
    /// `MoneySum.plausibleLimit`, or one that would overflow its currency's total. Amounts are added smallest
    /// magnitude first, so when a total would overflow the largest rows are the ones left out. Every subset of the
    /// rows kept (a group, gross, refunds) then sums without overflow too.
    static func countable(_ payments: [AttributedPayment]) -> (kept: [AttributedPayment], notes: [String]) {
        var sums: [String: MoneySum] = [:]
        var excluded: [(index: Int, reason: MoneySum.Exclusion)] = []
        let order = payments.indices.sorted {
            (payments[$0].amount.magnitude, $0) < (payments[$1].amount.magnitude, $1)
        }
        for index in order {
            let payment = payments[index]
            if let reason = sums[payment.currency, default: MoneySum()].add(payment.amount) {
                excluded.append((index, reason))
            }
        }
        guard !excluded.isEmpty else { return (payments, []) }
        excluded.sort { $0.index < $1.index }
        let left = Set(excluded.map(\.index))
        var notes: [String] = []
        for (count, entry) in excluded.enumerated() {
            guard count < maximumNotes else {
                notes.append("\(excluded.count - maximumNotes) more payment rows left out of every figure for the same reasons.")
                break
            }
            let payment = payments[entry.index]
            let why = switch entry.reason {
            case .implausible: "its magnitude exceeds \(SVGChart.grouped(MoneySum.plausibleLimit)), more than Stripe can charge"
            case .overflow: "adding it would overflow the 64-bit \(payment.currency.uppercased()) total"
            }
            notes.append("Left out of every figure: \(payment.kind.rawValue) \(payment.reference.isEmpty ? "(no reference)" : payment.reference) "
                         + "of \(payment.amount) \(payment.currency) smallest units at \(ISO8601Timestamp.string(payment.occurredAt)): \(why).")
        }
        return (payments.indices.filter { !left.contains($0) }.map { payments[$0] }, notes)
    }

    /// Money, orders, customers and time to first purchase of a set of attributed payments (rows `countable` kept:
    /// a row it would leave out is skipped here too rather than overflow).
    static func paymentFigures(_ payments: [AttributedPayment]) -> ReportFigures {
        var net: [String: MoneySum] = [:]
        var gross: [String: MoneySum] = [:]
        var refunds: [String: MoneySum] = [:]
        var orders: [String: Int] = [:]
        var customers = Set<Int64>()
        var newCustomers = Set<Int64>()
        var durations: [Int64] = []
        for payment in payments {
            guard net[payment.currency, default: MoneySum()].add(payment.amount) == nil else { continue }
            if payment.isOrder {
                gross[payment.currency, default: MoneySum()].add(payment.amount)
                orders[payment.currency, default: 0] += 1
                if let contact = payment.contactID { customers.insert(contact) }
            } else {
                refunds[payment.currency, default: MoneySum()].add(payment.amount)
            }
            if payment.firstPurchase, let contact = payment.contactID { newCustomers.insert(contact) }
            if let duration = payment.timeToFirstPurchase { durations.append(duration) }
        }
        durations.sort()
        let netTotals = net.mapValues(\.total)
        var figures = ReportFigures(
            customers: customers.count, newCustomers: newCustomers.count, revenue: money(netTotals),
            grossRevenue: money(gross.mapValues(\.total)), refunds: money(refunds.mapValues(\.total)),
            orders: orders.values.reduce(0, +),
            ordersByCurrency: orders.keys.sorted().map { CurrencyCount(currency: $0, count: orders[$0]!) },
            averageOrderValue: orders.keys.sorted().map { Money(currency: $0, amount: divide(netTotals[$0] ?? 0, by: orders[$0]!)) })
        figures.timeToFirstPurchaseCount = durations.count
        figures.medianTimeToFirstPurchaseMs = nearestRank(durations, 0.5)
        figures.p90TimeToFirstPurchaseMs = nearestRank(durations, 0.9)
        return figures
    }

    // MARK: Payment links

    struct LinkFigures {
        var sent = 0
        var clicked = 0
        var paid = 0

        init(_ links: [LinkSent]) {
            sent = links.count
            clicked = links.count(where: \.clicked)
            paid = links.count(where: \.paid)
        }
    }

    // MARK: Lifetime value, churn, control groups

    /// Per acquisition source (the first-touch campaign of the customer's first payment or invoice before `until`,
    /// else its link campaign, else direct): customers, their net revenue before `until`, and the value per customer
    /// in each currency. Erased contacts' rows cannot be told apart by person and are left out. Amounts beyond
    /// `MoneySum.plausibleLimit` are left out of the revenue, and a source's revenue in a currency whose total does
    /// not fit 64 bits is left out whole; each adds a note.
    static func lifetimeValue(_ rows: [ReportLifetimeValueRow], names: [String: String], notes: inout [String]) -> [LifetimeValueRow] {
        var customers: [String: Int] = [:]
        var revenue: [String: [String: Int64]] = [:]
        var payers: [String: [String: Int]] = [:]
        var implausible = 0
        for row in rows {
            let source = row.source
            if let currency = row.currency {
                implausible += row.implausible
                payers[source, default: [:]][currency] = row.count
                if let total = row.revenue {
                    revenue[source, default: [:]][currency] = total
                } else {
                    notes.append("Lifetime value of \(names[source] ?? source) leaves out its \(currency.uppercased()) revenue: "
                                 + "the total does not fit a 64-bit integer.")
                    payers[source]?[currency] = nil
                }
            } else {
                customers[source] = row.count
            }
        }
        if implausible > 0 {
            notes.append("Lifetime value leaves out \(implausible) payment rows whose magnitude exceeds "
                         + "\(SVGChart.grouped(MoneySum.plausibleLimit)) smallest units.")
        }
        return customers.keys.sorted { (customers[$1]!, $0) < (customers[$0]!, $1) }.map { source in
            let amounts = revenue[source] ?? [:]
            let counts = payers[source] ?? [:]
            return LifetimeValueRow(
                source: source, name: names[source] ?? source, customers: customers[source]!, revenue: Self.money(amounts),
                customersByCurrency: counts.keys.sorted().map { CurrencyCount(currency: $0, count: counts[$0]!) },
                lifetimeValue: counts.keys.sorted().map { Money(currency: $0, amount: Self.divide(amounts[$0] ?? 0, by: counts[$0]!)) })
        }
    }

    /// Subscribers (a paid invoice before `until`) by onboarding sequence (the campaign of their first `sent` at or
    /// after their first invoice and before `until`, else none): the base (not ended before `since`) and those whose
    /// subscription ended (canceled, incomplete_expired) in the period.
    private static func churn(_ rows: [(sequence: String, base: Int, churned: Int)], names: [String: String]) -> [ChurnRow] {
        var result: [ChurnRow] = []
        for (sequence, base, churned) in rows {
            guard base > 0 else { continue }
            result.append(ChurnRow(sequence: sequence, name: names[sequence] ?? sequence, subscribers: base, churned: churned,
                                   rate: Double(churned) / Double(base)))
        }
        return result.sorted { ($1.subscribers, $0.sequence) < ($0.subscribers, $1.sequence) }
    }

    /// Per rule that held anyone back by its rollout in the period: the contacts it ran for (treated) and those it held
    /// back (control) in the period, and of each, those with a payment or invoice after their first run or holdback
    /// and before `until`. Erased contacts are left out of both.
    static func controlGroups(_ rows: [(rule: String, control: Bool, size: Int, converted: Int)]) -> [ControlGroupRow] {
        var counts: [String: (treated: Int, treatedConverted: Int, control: Int, controlConverted: Int)] = [:]
        for (rule, control, size, converted) in rows {
            var entry = counts[rule] ?? (0, 0, 0, 0)
            if control { (entry.control, entry.controlConverted) = (size, converted) } else {
                (entry.treated, entry.treatedConverted) = (size, converted)
            }
            counts[rule] = entry
        }
        return counts.keys.sorted().map { rule in
            let entry = counts[rule]!
            let treatedRate = Self.rate(entry.treatedConverted, entry.treated)
            let controlRate = Self.rate(entry.controlConverted, entry.control)
            return ControlGroupRow(rule: rule, treated: entry.treated, treatedConverted: entry.treatedConverted,
                                   treatedRate: treatedRate, control: entry.control, controlConverted: entry.controlConverted,
                                   controlRate: controlRate,
                                   differencePoints: treatedRate.flatMap { treated in controlRate.map { (treated - $0) * 100 } })
        }
    }

    // MARK: Arithmetic

    static func rate(_ part: Int, _ whole: Int) -> Double? { whole > 0 ? Double(part) / Double(whole) : nil }

    /// `amount / count` rounded half away from zero, for any `amount` (no intermediate sum that could overflow).
    static func divide(_ amount: Int64, by count: Int) -> Int64 {
        guard count > 0 else { return 0 }
        let count = Int64(count)
        let (quotient, remainder) = amount.quotientAndRemainder(dividingBy: count)
        // |remainder| < count: round away from zero when the remainder is at least half the divisor.
        guard remainder.magnitude >= count.magnitude - remainder.magnitude else { return quotient }
        return remainder > 0 ? quotient + 1 : quotient - 1
    }

    static func money(_ amounts: [String: Int64]) -> [Money] {
        amounts.keys.sorted().map { Money(currency: $0, amount: amounts[$0]!) }
    }

    static func perEmail(_ revenue: [Money], emails: Int) -> [MoneyRate] {
        emails > 0 ? revenue.map { MoneyRate(currency: $0.currency, amount: Double($0.amount) / Double(emails)) } : []
    }

    /// The nearest-rank percentile of sorted values: the value at rank ⌈p·n⌉.
    static func nearestRank(_ sorted: [Int64], _ percentile: Double) -> Int64? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((percentile * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// Histogram bucket bounds in days: <1, 1–3, 3–7, 7–14, 14–30, 30–60, ≥60.
    static let bucketDays: [Int64] = [0, 1, 3, 7, 14, 30, 60]

    static func histogram(_ durations: [Int64]) -> [DurationBucket] {
        let day: Int64 = 86_400_000
        return bucketDays.indices.map { index in
            let lower = bucketDays[index] * day
            let upper = index + 1 < bucketDays.count ? bucketDays[index + 1] * day : nil
            let label = index == 0 ? "<1d" : upper == nil ? ">=\(bucketDays[index])d" : "\(bucketDays[index])-\(bucketDays[index + 1])d"
            return DurationBucket(label: label, lowerMs: lower, upperMs: upper,
                                  count: durations.count { $0 >= lower && (upper == nil || $0 < upper!) })
        }
    }
}

/// The payment history `build` reads on the calling thread, handed to the worker thread, which needs it for the links
/// and lifetime value. Thread-safe: the first `fulfil` sets it (a later one is ignored) and wakes every `wait`.
private final class HistoryHandoff: Sendable {
    private let value = Mutex<Result<ReportPaymentHistory, any Error>?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func fulfil(_ result: Result<ReportPaymentHistory, any Error>) {
        let first = value.withLock { value in
            guard value == nil else { return false }
            value = result
            return true
        }
        if first { ready.signal() }
    }

    /// Blocks until `fulfil`; the history, or the error reading it threw.
    func wait() throws -> ReportPaymentHistory {
        ready.wait()
        ready.signal()
        return try value.withLock { $0 }!.get()
    }
}

/// A closure run on a worker thread and its result, handed back to the thread that waits for it.
///
/// `@unchecked Sendable`: `work` and `result` are used by one thread at a time: the worker from `run()`'s start to its
/// end, and the waiting thread only after the worker signalled the end (`ReportBuilder.concurrently`'s semaphore
/// orders the two). `work` (not `Sendable`: it may capture a connection) is run once and released there.
private final class WorkerHandoff<Value>: @unchecked Sendable {
    private var work: (() throws -> Value)?
    private(set) var result: Result<Value, any Error>?

    init(_ work: @escaping () throws -> Value) { self.work = work }

    func run() {
        guard let work else { preconditionFailure("WorkerHandoff.run() called twice") }
        self.work = nil
        result = Result { try work() }
    }
}

private extension ReportFigures {
    mutating func apply(_ activity: ReportBuilder.ActivityFigures) {
        emailsSent = activity.emailsSent
        contacted = activity.contacted
        opened = activity.opened
        clicked = activity.clicked
        replied = activity.replied
        openRate = ReportBuilder.rate(activity.opened, activity.contacted)
        clickRate = ReportBuilder.rate(activity.clicked, activity.contacted)
        replyRate = ReportBuilder.rate(activity.replied, activity.contacted)
    }

    mutating func apply(_ links: ReportBuilder.LinkFigures) {
        linksSent = links.sent
        linksClicked = links.clicked
        linksPaid = links.paid
        linkClickThrough = ReportBuilder.rate(links.clicked, links.sent)
        linkToPaid = ReportBuilder.rate(links.paid, links.sent)
    }
}
