import Store

/// Every payment, invoice and refund stored before a report's `until` (`ReportQueries.paymentHistory`), indexed by
/// contact, and the report's formulas over them (docs/metrics.md): attribution, first purchases, lifetime value,
/// churn, payment links paid, control-group conversions. The formulas are written once here for every engine; the
/// engines only read rows and look up per-contact activity by index (`ReportQueries`).
///
/// Immutable after `init`: may be read from several threads at once (`Sendable`).
/// - Complexity: `init` O(n log n) for n rows; each per-contact question O(that contact's rows).
struct ReportPaymentHistory: Sendable {
    let records: [ReportPaymentRecord]
    /// Indices into `records` of the rows with a contact, ordered by (contact, time, id).
    private let byContact: [Int]
    /// Each contact's run in `byContact`.
    private let contactRanges: [Int64: Range<Int>]
    /// Payment link ids of the orders (payments and invoices).
    private let paidLinks: Set<String>
    /// Every row's end of the history: all rows are before it.
    let until: Int64

    init(_ records: [ReportPaymentRecord], until: Int64) {
        self.records = records
        self.until = until
        var byContact = records.indices.filter { records[$0].contactID != nil }
        byContact.sort {
            (records[$0].contactID!, records[$0].occurredAt, records[$0].id) < (records[$1].contactID!, records[$1].occurredAt, records[$1].id)
        }
        var ranges: [Int64: Range<Int>] = [:]
        var start = 0
        while start < byContact.count {
            let contact = records[byContact[start]].contactID!
            var end = start + 1
            while end < byContact.count && records[byContact[end]].contactID == contact { end += 1 }
            ranges[contact] = start..<end
            start = end
        }
        self.byContact = byContact
        contactRanges = ranges
        paidLinks = Set(records.lazy.filter { $0.kind != .refund }.compactMap(\.paymentLink))
    }

    /// The indices into `records` of a contact's rows, oldest first (time, then id).
    private func rows(of contact: Int64) -> ArraySlice<Int> {
        byContact[contactRanges[contact] ?? 0..<0]
    }

    /// Whether the contact has an order (payment or invoice) in the time window, both ends optional and exclusive
    /// (`after`), inclusive (`from`) or exclusive (`before`).
    private func hasOrder(of contact: Int64, after: Int64? = nil, from: Int64? = nil, before: Int64) -> Bool {
        rows(of: contact).contains { index in
            let time = records[index].occurredAt
            return records[index].kind != .refund && time < before && (after.map { time > $0 } ?? true) && (from.map { time >= $0 } ?? true)
        }
    }

    /// The index of the contact's first order (payment or invoice): the earliest by time, then id.
    private func firstOrder(of contact: Int64) -> Int? {
        rows(of: contact).first { records[$0].kind != .refund }
    }

    // MARK: Attribution

    /// The period's rows, in time order (then id), each attributed (docs/metrics.md, "Attribution"):
    /// - a refund is attributed as the contact's latest order in its currency at or before it (its sale);
    /// - last touch: the sale's link campaign, else the contact's latest touch within the lookback before the sale;
    /// - first touch: the contact's first campaign if touched at or before the sale, else the link campaign;
    /// - an erased contact's row keeps the campaigns stored with it;
    /// - `withRule`: the sale's link rule, else the contact's latest rule run within the lookback before the sale.
    /// `queries` looks the touches and rule runs up, in one batch each.
    func attributed(since: Int64, lookbackMilliseconds: Int64, withRule: Bool,
                    lookups queries: any ReportQueries) throws -> [ReportPaymentRow] {
        let period = records.indices.filter { records[$0].occurredAt >= since }
            .sorted { (records[$0].occurredAt, records[$0].id) < (records[$1].occurredAt, records[$1].id) }
        /// Per period row: the index of the row whose link, tier and time attribute it (its sale, for a refund).
        let bases = period.map { index in
            let row = records[index]
            guard row.kind == .refund, let contact = row.contactID else { return index }
            return rows(of: contact).last { sale in
                records[sale].kind != .refund && records[sale].currency == row.currency && records[sale].occurredAt <= row.occurredAt
            } ?? index
        }
        func window(_ contact: Int64, before at: Int64) -> ReportContactWindow {
            let (from, overflow) = at.subtractingReportingOverflow(lookbackMilliseconds)
            return ReportContactWindow(contact: contact, from: overflow ? .min : from, through: at)
        }
        var touchLookups: [ReportContactWindow] = [], touchSlots: [Int: Int] = [:]
        var ruleLookups: [ReportContactWindow] = [], ruleSlots: [Int: Int] = [:]
        for (position, index) in period.enumerated() {
            guard let contact = records[index].contactID else { continue }
            let base = records[bases[position]]
            if base.linkCampaign == nil {
                touchSlots[position] = touchLookups.count
                touchLookups.append(window(contact, before: base.occurredAt))
            }
            if withRule && base.linkRule == nil {
                ruleSlots[position] = ruleLookups.count
                ruleLookups.append(window(contact, before: base.occurredAt))
            }
        }
        let touches = touchLookups.isEmpty ? [] : try queries.lookUp(.lastTouch, touchLookups)
        let rules = ruleLookups.isEmpty ? [] : try queries.lookUp(.lastRuleRun, ruleLookups)
        guard touches.count == touchLookups.count, rules.count == ruleLookups.count else {
            throw StoreError.corrupt("the report's lookups answered \(touches.count) of \(touchLookups.count) touches and "
                                     + "\(rules.count) of \(ruleLookups.count) rule runs")
        }
        let firstOrders = Dictionary(period.compactMap { records[$0].contactID }.map { ($0, firstOrder(of: $0)) },
                                     uniquingKeysWith: { first, _ in first })
        return period.enumerated().map { position, index in
            let row = records[index]
            let base = records[bases[position]]
            let at = base.occurredAt
            var result = ReportPaymentRow(contactID: row.contactID, reference: row.reference, kind: row.kind,
                                          amount: row.amount, currency: row.currency, occurredAt: row.occurredAt, tier: base.tier,
                                          rule: withRule ? base.linkRule ?? ruleSlots[position].flatMap { rules[$0] } : nil,
                                          viaLink: base.viaLink, firstPurchase: false)
            guard let contact = row.contactID else {
                result.firstTouch = row.storedFirstTouch
                result.lastTouch = row.storedLastTouch
                return result
            }
            let touchedFirst = row.contact.flatMap { payer in payer.firstCampaignAt.flatMap { $0 <= at ? $0 : nil } }
            result.firstTouch = (touchedFirst != nil ? row.contact?.firstCampaign : nil) ?? base.linkCampaign
            result.lastTouch = base.linkCampaign ?? touchSlots[position].flatMap { touches[$0] }
            result.firstPurchase = firstOrders[contact] == index
            if result.firstPurchase, let touchedFirst {
                // Both times are stored as received: a difference that does not fit is no duration.
                let (duration, overflow) = row.occurredAt.subtractingReportingOverflow(touchedFirst)
                result.timeToFirstPurchase = overflow ? nil : duration
            }
            return result
        }
    }

    // MARK: Lifetime value

    /// Per acquisition source (the first-touch campaign of the customer's first order, if touched at or before it,
    /// else that order's link campaign, else direct): its customers (a row without currency), and per currency its
    /// paying customers, their net revenue of plausible amounts (`nil` when the total does not fit 64 bits) and how
    /// many rows were left out as implausible. Erased contacts' rows are left out.
    func lifetimeValueRows() -> [ReportLifetimeValueRow] {
        struct Sum {
            var payers = 0
            var total: Int128 = 0
            var implausible = 0

            mutating func add(_ amount: Int64) {
                if MoneySum.isPlausible(amount) { total += Int128(amount) } else { implausible += 1 }
            }

            mutating func merge(_ other: Sum) {
                payers += other.payers
                total += other.total
                implausible += other.implausible
            }
        }
        var customers: [String: Int] = [:]
        var sums: [String: [String: Sum]] = [:]
        for (contact, range) in contactRanges {
            guard let payer = records[byContact[range.lowerBound]].contact, let first = firstOrder(of: contact) else { continue }
            let touched = payer.firstCampaignAt.map { $0 <= records[first].occurredAt } ?? false
            let source = (touched ? payer.firstCampaign : nil) ?? records[first].linkCampaign ?? ReportBuilder.direct
            customers[source, default: 0] += 1
            // A contact pays in one or two currencies: a short list, not a dictionary per contact.
            var perCurrency: [(currency: String, sum: Sum)] = []
            for index in rows(of: contact) {
                let currency = records[index].currency
                if let slot = perCurrency.firstIndex(where: { $0.currency == currency }) {
                    perCurrency[slot].sum.add(records[index].amount)
                } else {
                    var sum = Sum(payers: 1)
                    sum.add(records[index].amount)
                    perCurrency.append((currency, sum))
                }
            }
            for (currency, sum) in perCurrency { sums[source, default: [:]][currency, default: Sum()].merge(sum) }
        }
        var result = customers.map { ReportLifetimeValueRow(source: $0.key, currency: nil, count: $0.value, revenue: 0, implausible: 0) }
        for (source, currencies) in sums {
            for (currency, sum) in currencies {
                result.append(ReportLifetimeValueRow(source: source, currency: currency, count: sum.payers,
                                                     revenue: Int64(exactly: sum.total), implausible: sum.implausible))
            }
        }
        return result
    }

    // MARK: Churn

    /// Subscribers (a paid invoice before `until`) by onboarding sequence (the campaign of their first `sent` at or
    /// after their first invoice and before `until`, else `none`): the base (those whose subscription did not end
    /// before `since`) and the churned (ended, `canceled` or `incomplete_expired`, in the period). A subscription
    /// whose end has no time is in the base and not churned. `queries` looks the sequences up in one batch.
    func churnRows(since: Int64, lookups queries: any ReportQueries) throws -> [(sequence: String, base: Int, churned: Int)] {
        var subscribers: [(payer: ReportPayer, firstInvoice: Int64)] = []
        var lookups: [ReportContactWindow] = []
        for (contact, range) in contactRanges where until > .min {
            guard let payer = records[byContact[range.lowerBound]].contact,
                  let invoice = rows(of: contact).first(where: { records[$0].kind == .invoice }) else { continue }
            subscribers.append((payer, records[invoice].occurredAt))
            lookups.append(ReportContactWindow(contact: contact, from: records[invoice].occurredAt, through: until - 1))
        }
        let sequences = lookups.isEmpty ? [] : try queries.lookUp(.firstSend, lookups)
        guard sequences.count == lookups.count else {
            throw StoreError.corrupt("the report's lookups answered \(sequences.count) of \(lookups.count) onboarding sequences")
        }
        var counts: [String: (base: Int, churned: Int)] = [:]
        for (subscriber, sequence) in zip(subscribers, sequences) {
            let ended = ["canceled", "incomplete_expired"].contains(subscriber.payer.subscriptionStatus ?? "")
            let endedAt = ended ? subscriber.payer.subscriptionAt : nil
            var entry = counts[sequence ?? "none", default: (0, 0)]
            if !(endedAt.map { $0 < since } ?? false) { entry.base += 1 }
            if let endedAt, endedAt >= since, endedAt < until { entry.churned += 1 }
            counts[sequence ?? "none"] = entry
        }
        return counts.keys.sorted().map { ($0, counts[$0]!.base, counts[$0]!.churned) }
    }

    // MARK: Payment links

    /// Each link with whether it was paid: an order before `until` carries its id, or its contact ordered at or after
    /// its creation, within the lookback and before `until`.
    func linksSent(_ links: [ReportLinkRecord], lookbackMilliseconds: Int64) -> [ReportLinkRow] {
        links.map { link in
            var paid = paidLinks.contains(link.linkID)
            if !paid, let contact = link.contactID {
                let (end, overflow) = link.createdAt.addingReportingOverflow(lookbackMilliseconds)
                paid = hasOrder(of: contact, from: link.createdAt, before: overflow ? until : min(until, end))
            }
            return ReportLinkRow(contactID: link.contactID, campaign: link.campaign, rule: link.rule, clicked: link.clicked, paid: paid)
        }
    }

    // MARK: Control groups

    /// Per rule and side (control or treated): how many contacts, and how many of them ordered after their first run
    /// or holdback in the period and before `until`.
    func controlGroupRows(_ entries: [ReportRolloutEntry]) -> [(rule: String, control: Bool, size: Int, converted: Int)] {
        struct Side: Hashable {
            var rule: String
            var control: Bool
        }
        var firsts: [Side: [Int64: Int64]] = [:]
        for entry in entries {
            let side = Side(rule: entry.rule, control: entry.control)
            let earlier = firsts[side]?[entry.contactID]
            if earlier.map({ entry.at < $0 }) ?? true { firsts[side, default: [:]][entry.contactID] = entry.at }
        }
        return firsts.keys.sorted { ($0.rule, $0.control ? 1 : 0) < ($1.rule, $1.control ? 1 : 0) }.map { side in
            let contacts = firsts[side]!
            let converted = contacts.count { contact, at in hasOrder(of: contact, after: at, before: until) }
            return (side.rule, side.control, contacts.count, converted)
        }
    }
}

/// One payment, invoice or refund row of the period with what attribution needs.
struct ReportPaymentRow: Sendable, Equatable {
    var contactID: Int64?
    /// The row's own reference (Checkout Session, invoice or charge id), for notes.
    var reference: String = ""
    var kind: ReportPaymentRecord.Kind
    var amount: Int64
    var currency: String
    var occurredAt: Int64
    /// Per the models (a refund: those of the sale it reduces).
    var firstTouch: String?
    var lastTouch: String?
    var tier: String?
    var rule: String?
    /// Paid through a payment link (its id, its metadata campaign, or a recorded purchase with a link).
    var viaLink: Bool
    /// The contact's first-ever payment or invoice.
    var firstPurchase: Bool
    /// For a first purchase after a touch: purchase time − first touch time.
    var timeToFirstPurchase: Int64?

    func campaign(_ model: AttributionModel) -> String? { model == .first ? firstTouch : lastTouch }
    var isOrder: Bool { kind != .refund }
}

/// A payment link created in the period, and whether it was (approximately) clicked and paid.
struct ReportLinkRow: Sendable, Equatable {
    var contactID: Int64?
    var campaign: String?
    var rule: String
    var clicked: Bool
    var paid: Bool
}

/// One row of lifetime value: a source's customers (`currency == nil`), or its payers and revenue in one
/// currency.
struct ReportLifetimeValueRow: Sendable, Equatable {
    var source: String
    var currency: String?
    /// Customers (no currency) or paying customers in `currency`.
    var count: Int
    /// Net revenue of plausible amounts in `currency`; `nil` when the total does not fit 64 bits.
    var revenue: Int64?
    /// Rows left out of `revenue` for an implausible magnitude.
    var implausible: Int
}
