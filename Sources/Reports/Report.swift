import HookyardFoundation
/// The success-metrics report: everything `hookyard report` prints and `GET /report` draws, computed by
/// `ReportBuilder` from the store for one `ReportQuery`. A value type (Codable, Sendable, Equatable): safe to share
/// between threads; it holds no connection.
///
/// Conventions for every field below:
/// - Times are Unix milliseconds in Swift; the JSON encoding writes points in time as ISO 8601 text (UTC) and
///   durations as milliseconds (`…_ms`).
/// - Rates are fractions from 0 to 1 (0.25 = 25 %), `nil` (JSON `null`) when their denominator is 0.
/// - Money is a list of `Money`, one entry per currency, sorted by currency code; amounts are never converted or
///   summed across currencies. An empty list means no money moved.
/// - "In the period" means `query.since <= occurred_at < query.until`.
/// - JSON keys are snake_case and always present (optional values are written as `null`), so they are stable.
public struct Report: Codable, Sendable, Equatable {
    /// What was asked: the period, the attribution model, the grouping and the last-touch lookback.
    public var query: ReportQuery
    /// When the report was computed (Unix milliseconds).
    public var generatedAt: Int64
    /// `true` when the database was filled by `hookyard demo seed`: every renderer must say "synthetic demo data".
    public var synthetic: Bool
    /// The totals over everything in the period (no grouping).
    public var headline: ReportHeadline
    /// Sent → opened → clicked → replied → link sent → link clicked → paid, in that order (see `FunnelStage`).
    public var funnel: [FunnelStage]
    /// One row per group of `query.grouping` (campaign, rule, source or tier): most orders first, then most emails
    /// sent, then by key.
    public var groups: [ReportGroup]
    /// Time from first touch to first purchase of the period's new customers, as histogram buckets
    /// (<1d, 1–3d, 3–7d, 7–14d, 14–30d, 30–60d, ≥60d), in that order, empty buckets included.
    public var timeToPurchase: [DurationBucket]
    /// Subscription churn by onboarding sequence, one row per sequence (and "none").
    public var churn: [ChurnRow]
    /// Customer lifetime value by acquisition source (first-touch campaign of the first payment, or "direct").
    public var lifetimeValue: [LifetimeValueRow]
    /// Treated versus held-back (rollout control group) conversion, one row per rule that held anyone back.
    public var controlGroups: [ControlGroupRow]
    /// Bounce, unsubscribe and reply rates per sending account and per campaign. Not computed by `ReportBuilder`:
    /// filled by the deliverability provider the caller passes (empty when none).
    public var deliverability: [DeliverabilityRow]
    /// What the figures leave out and why, one sentence each: payment rows whose amount is beyond
    /// `MoneySum.plausibleLimit` or would overflow their currency's 64-bit total (named by kind, reference, amount
    /// and time), and lifetime values that could not be summed. Empty when every stored row was counted.
    public var notes: [String]

    public init(query: ReportQuery, generatedAt: Int64, synthetic: Bool, headline: ReportHeadline, funnel: [FunnelStage],
                groups: [ReportGroup], timeToPurchase: [DurationBucket], churn: [ChurnRow], lifetimeValue: [LifetimeValueRow],
                controlGroups: [ControlGroupRow], deliverability: [DeliverabilityRow], notes: [String] = []) {
        self.query = query
        self.generatedAt = generatedAt
        self.synthetic = synthetic
        self.headline = headline
        self.funnel = funnel
        self.groups = groups
        self.timeToPurchase = timeToPurchase
        self.churn = churn
        self.lifetimeValue = lifetimeValue
        self.controlGroups = controlGroups
        self.deliverability = deliverability
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case query, synthetic, headline, funnel, groups, churn, deliverability, notes
        case generatedAt = "generated_at"
        case timeToPurchase = "time_to_purchase"
        case lifetimeValue = "lifetime_value"
        case controlGroups = "control_groups"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        query = try container.decode(ReportQuery.self, forKey: .query)
        generatedAt = try ReportTime.decode(container, .generatedAt)
        synthetic = try container.decode(Bool.self, forKey: .synthetic)
        headline = try container.decode(ReportHeadline.self, forKey: .headline)
        funnel = try container.decode([FunnelStage].self, forKey: .funnel)
        groups = try container.decode([ReportGroup].self, forKey: .groups)
        timeToPurchase = try container.decode([DurationBucket].self, forKey: .timeToPurchase)
        churn = try container.decode([ChurnRow].self, forKey: .churn)
        lifetimeValue = try container.decode([LifetimeValueRow].self, forKey: .lifetimeValue)
        controlGroups = try container.decode([ControlGroupRow].self, forKey: .controlGroups)
        deliverability = try container.decode([DeliverabilityRow].self, forKey: .deliverability)
        notes = try container.decodeIfPresent([String].self, forKey: .notes) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(query, forKey: .query)
        try container.encode(ISO8601Timestamp.string(generatedAt), forKey: .generatedAt)
        try container.encode(synthetic, forKey: .synthetic)
        try container.encode(headline, forKey: .headline)
        try container.encode(funnel, forKey: .funnel)
        try container.encode(groups, forKey: .groups)
        try container.encode(timeToPurchase, forKey: .timeToPurchase)
        try container.encode(churn, forKey: .churn)
        try container.encode(lifetimeValue, forKey: .lifetimeValue)
        try container.encode(controlGroups, forKey: .controlGroups)
        try container.encode(deliverability, forKey: .deliverability)
        try container.encode(notes, forKey: .notes)
    }
}

/// An amount of one currency in its smallest unit (cents for `usd`, whole yen for `jpy`), as Stripe sends it.
public struct Money: Codable, Sendable, Equatable, Hashable {
    /// Stripe's lower-case ISO 4217 code (`usd`, `eur`).
    public var currency: String
    /// Minor units; negative for refunds.
    public var amount: Int64

    public init(currency: String, amount: Int64) {
        self.currency = currency
        self.amount = amount
    }
}

/// A fractional amount of one currency in its smallest unit, for ratios such as revenue per email sent
/// (`amount` = 4.5 means 4.5 cents per email for `usd`).
public struct MoneyRate: Codable, Sendable, Equatable {
    public var currency: String
    /// Minor units, not rounded.
    public var amount: Double

    public init(currency: String, amount: Double) {
        self.currency = currency
        self.amount = amount
    }
}

/// A count in one currency (e.g. orders paid in `eur`).
public struct CurrencyCount: Codable, Sendable, Equatable {
    public var currency: String
    public var count: Int

    public init(currency: String, count: Int) {
        self.currency = currency
        self.count = count
    }
}

/// The metrics computed for the whole period (headline) and for each group. Fields that only make sense for some
/// groupings are `nil` elsewhere (e.g. email counts for `--by tier`, where a tier sends no email).
public struct ReportFigures: Codable, Sendable, Equatable {
    /// Rows of kind `sent` in the period (one per email Instantly reported sent). Per group: the activity's own
    /// campaign (`--by campaign` only; `nil` for other groupings).
    public var emailsSent: Int?
    /// Distinct contacts with a `sent` row in the period (the denominator of the rates below).
    public var contacted: Int?
    /// Distinct contacts among `contacted` with an `opened` row in the period (same campaign for a group).
    public var opened: Int?
    /// Distinct contacts among `contacted` with a `clicked` row in the period.
    public var clicked: Int?
    /// Distinct contacts among `contacted` with a `replied` row in the period.
    public var replied: Int?
    /// opened / contacted. Unreliable: privacy proxies and Apple Mail Privacy Protection "open" every email.
    public var openRate: Double?
    /// clicked / contacted.
    public var clickRate: Double?
    /// replied / contacted.
    public var replyRate: Double?
    /// Payment links Hookyard created (`stripe.create_payment_link`) in the period; per group: the link's campaign
    /// (`--by campaign`), the rule that made it (`--by rule`), all under `payment_link` (`--by source`), `nil` for
    /// `--by tier`.
    public var linksSent: Int?
    /// Links among `linksSent` whose contact has a `clicked` activity in the link's campaign at or after the link
    /// was created and before `until` (Instantly's click event does not say which link was clicked: an approximation).
    public var linksClicked: Int?
    /// Links among `linksSent` followed by a paid payment or invoice before `until`: one carrying the link's id, or
    /// any by the link's contact at or after its creation within the lookback.
    public var linksPaid: Int?
    /// linksClicked / linksSent.
    public var linkClickThrough: Double?
    /// linksPaid / linksSent.
    public var linkToPaid: Double?
    /// Distinct contacts with a payment or invoice in the period attributed to the group. Erased contacts cannot be
    /// told apart and are not counted (their money still is).
    public var customers: Int
    /// Customers whose first-ever payment or invoice is in the period, attributed (by that first payment) to the group.
    public var newCustomers: Int
    /// Lead → customer: newCustomers / contacted (headline); per campaign: new customers attributed to the campaign /
    /// distinct contacts the campaign touched (any activity) in the period. `nil` for groupings without contacts.
    public var conversion: Double?
    /// Net revenue: payments + invoices + refunds (negative) in the period, per currency.
    public var revenue: [Money]
    /// Payments + invoices in the period, per currency (before refunds).
    public var grossRevenue: [Money]
    /// Refunds in the period, per currency (negative amounts).
    public var refunds: [Money]
    /// Payment and invoice rows in the period (each one-off payment, first invoice and renewal is one order).
    public var orders: Int
    /// `orders` per currency.
    public var ordersByCurrency: [CurrencyCount]
    /// Average order value per currency: net revenue / orders in that currency (refunds reduce it), rounded to the
    /// nearest minor unit.
    public var averageOrderValue: [Money]
    /// Net revenue / emailsSent, per currency (`--by campaign` and the headline; empty when no email was sent).
    public var revenuePerEmail: [MoneyRate]
    /// New customers with a touch before their first purchase (those measured for the two figures below).
    public var timeToFirstPurchaseCount: Int
    /// Median of (first purchase − first touch), nearest-rank, in milliseconds.
    public var medianTimeToFirstPurchaseMs: Int64?
    /// 90th percentile of (first purchase − first touch), nearest-rank, in milliseconds.
    public var p90TimeToFirstPurchaseMs: Int64?

    public init(emailsSent: Int? = nil, contacted: Int? = nil, opened: Int? = nil, clicked: Int? = nil, replied: Int? = nil,
                openRate: Double? = nil, clickRate: Double? = nil, replyRate: Double? = nil, linksSent: Int? = nil,
                linksClicked: Int? = nil, linksPaid: Int? = nil, linkClickThrough: Double? = nil, linkToPaid: Double? = nil,
                customers: Int = 0, newCustomers: Int = 0, conversion: Double? = nil, revenue: [Money] = [],
                grossRevenue: [Money] = [], refunds: [Money] = [], orders: Int = 0, ordersByCurrency: [CurrencyCount] = [],
                averageOrderValue: [Money] = [], revenuePerEmail: [MoneyRate] = [], timeToFirstPurchaseCount: Int = 0,
                medianTimeToFirstPurchaseMs: Int64? = nil, p90TimeToFirstPurchaseMs: Int64? = nil) {
        self.emailsSent = emailsSent
        self.contacted = contacted
        self.opened = opened
        self.clicked = clicked
        self.replied = replied
        self.openRate = openRate
        self.clickRate = clickRate
        self.replyRate = replyRate
        self.linksSent = linksSent
        self.linksClicked = linksClicked
        self.linksPaid = linksPaid
        self.linkClickThrough = linkClickThrough
        self.linkToPaid = linkToPaid
        self.customers = customers
        self.newCustomers = newCustomers
        self.conversion = conversion
        self.revenue = revenue
        self.grossRevenue = grossRevenue
        self.refunds = refunds
        self.orders = orders
        self.ordersByCurrency = ordersByCurrency
        self.averageOrderValue = averageOrderValue
        self.revenuePerEmail = revenuePerEmail
        self.timeToFirstPurchaseCount = timeToFirstPurchaseCount
        self.medianTimeToFirstPurchaseMs = medianTimeToFirstPurchaseMs
        self.p90TimeToFirstPurchaseMs = p90TimeToFirstPurchaseMs
    }

    enum CodingKeys: String, CodingKey {
        case contacted, opened, clicked, replied, customers, conversion, revenue, refunds, orders
        case emailsSent = "emails_sent"
        case openRate = "open_rate"
        case clickRate = "click_rate"
        case replyRate = "reply_rate"
        case linksSent = "links_sent"
        case linksClicked = "links_clicked"
        case linksPaid = "links_paid"
        case linkClickThrough = "link_click_through"
        case linkToPaid = "link_to_paid"
        case newCustomers = "new_customers"
        case grossRevenue = "gross_revenue"
        case ordersByCurrency = "orders_by_currency"
        case averageOrderValue = "average_order_value"
        case revenuePerEmail = "revenue_per_email"
        case timeToFirstPurchaseCount = "time_to_first_purchase_count"
        case medianTimeToFirstPurchaseMs = "median_time_to_first_purchase_ms"
        case p90TimeToFirstPurchaseMs = "p90_time_to_first_purchase_ms"
    }

    /// Writes every key, `null` for absent values (the synthesized encoder would leave them out).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(emailsSent, forKey: .emailsSent)
        try container.encode(contacted, forKey: .contacted)
        try container.encode(opened, forKey: .opened)
        try container.encode(clicked, forKey: .clicked)
        try container.encode(replied, forKey: .replied)
        try container.encode(openRate, forKey: .openRate)
        try container.encode(clickRate, forKey: .clickRate)
        try container.encode(replyRate, forKey: .replyRate)
        try container.encode(linksSent, forKey: .linksSent)
        try container.encode(linksClicked, forKey: .linksClicked)
        try container.encode(linksPaid, forKey: .linksPaid)
        try container.encode(linkClickThrough, forKey: .linkClickThrough)
        try container.encode(linkToPaid, forKey: .linkToPaid)
        try container.encode(customers, forKey: .customers)
        try container.encode(newCustomers, forKey: .newCustomers)
        try container.encode(conversion, forKey: .conversion)
        try container.encode(revenue, forKey: .revenue)
        try container.encode(grossRevenue, forKey: .grossRevenue)
        try container.encode(refunds, forKey: .refunds)
        try container.encode(orders, forKey: .orders)
        try container.encode(ordersByCurrency, forKey: .ordersByCurrency)
        try container.encode(averageOrderValue, forKey: .averageOrderValue)
        try container.encode(revenuePerEmail, forKey: .revenuePerEmail)
        try container.encode(timeToFirstPurchaseCount, forKey: .timeToFirstPurchaseCount)
        try container.encode(medianTimeToFirstPurchaseMs, forKey: .medianTimeToFirstPurchaseMs)
        try container.encode(p90TimeToFirstPurchaseMs, forKey: .p90TimeToFirstPurchaseMs)
    }
}

/// The period's totals: the shared figures (encoded flat beside the fields below) and the operational load.
public struct ReportHeadline: Codable, Sendable, Equatable {
    /// Totals over the period; email and link fields are always set here.
    public var figures: ReportFigures
    /// Always `true`: open counts are inflated by privacy proxies and Apple Mail Privacy Protection; renderers mark
    /// the open rate as unreliable.
    public var opensUnreliable: Bool
    /// Manual interventions: jobs an admin retried or discarded in the period (`admin_actions`, sum of `count`);
    /// `jobsRetried + jobsDiscarded`. The operational load automation should drive down.
    public var manualInterventions: Int
    /// Jobs requeued by `hookyard jobs retry` (one id, or `--all-dead`) in the period.
    public var jobsRetried: Int
    /// Jobs discarded by `hookyard jobs discard` in the period.
    public var jobsDiscarded: Int
    /// Jobs in the dead-letter queue when the report was computed (not limited to the period).
    public var deadJobsNow: Int

    public init(figures: ReportFigures, opensUnreliable: Bool = true, manualInterventions: Int, jobsRetried: Int,
                jobsDiscarded: Int, deadJobsNow: Int) {
        self.figures = figures
        self.opensUnreliable = opensUnreliable
        self.manualInterventions = manualInterventions
        self.jobsRetried = jobsRetried
        self.jobsDiscarded = jobsDiscarded
        self.deadJobsNow = deadJobsNow
    }

    enum CodingKeys: String, CodingKey {
        case opensUnreliable = "opens_unreliable"
        case manualInterventions = "manual_interventions"
        case jobsRetried = "jobs_retried"
        case jobsDiscarded = "jobs_discarded"
        case deadJobsNow = "dead_jobs_now"
    }

    public init(from decoder: any Decoder) throws {
        figures = try ReportFigures(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        opensUnreliable = try container.decode(Bool.self, forKey: .opensUnreliable)
        manualInterventions = try container.decode(Int.self, forKey: .manualInterventions)
        jobsRetried = try container.decode(Int.self, forKey: .jobsRetried)
        jobsDiscarded = try container.decode(Int.self, forKey: .jobsDiscarded)
        deadJobsNow = try container.decode(Int.self, forKey: .deadJobsNow)
    }

    public func encode(to encoder: any Encoder) throws {
        try figures.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(opensUnreliable, forKey: .opensUnreliable)
        try container.encode(manualInterventions, forKey: .manualInterventions)
        try container.encode(jobsRetried, forKey: .jobsRetried)
        try container.encode(jobsDiscarded, forKey: .jobsDiscarded)
        try container.encode(deadJobsNow, forKey: .deadJobsNow)
    }
}

/// One group of the report (a campaign, a rule, an acquisition source or a tier) and its figures, encoded flat.
public struct ReportGroup: Codable, Sendable, Equatable {
    /// The stable key: a campaign id, `direct`, a rule name, `payment_link`/`outreach`/`direct`, a tier, or `(none)`.
    public var key: String
    /// What to show: the campaign's latest name from Instantly (the id when unknown), else the key.
    public var name: String
    /// The group's metrics (see `ReportFigures` for which apply to which grouping).
    public var figures: ReportFigures

    public init(key: String, name: String, figures: ReportFigures) {
        self.key = key
        self.name = name
        self.figures = figures
    }

    enum CodingKeys: String, CodingKey { case key, name }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        name = try container.decode(String.self, forKey: .name)
        figures = try ReportFigures(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(name, forKey: .name)
        try figures.encode(to: encoder)
    }
}

/// One step of the funnel from email to payment.
public struct FunnelStage: Codable, Sendable, Equatable {
    /// The steps, in funnel order.
    public enum Step: String, Codable, Sendable, CaseIterable {
        case sent, opened, clicked, replied
        case linkSent = "link_sent"
        case linkClicked = "link_clicked"
        case paid

        /// What a renderer shows.
        public var label: String {
            switch self {
            case .sent: "Sent"
            case .opened: "Opened"
            case .clicked: "Clicked"
            case .replied: "Replied"
            case .linkSent: "Link sent"
            case .linkClicked: "Link clicked"
            case .paid: "Paid"
            }
        }
    }

    public var stage: Step
    /// `stage.label`, kept in the JSON for other readers.
    public var label: String
    /// Distinct contacts at this step in the period: sent/opened/clicked/replied = contacts with such an activity;
    /// link sent = contacts a payment link was created for; link clicked = contacts of `linksClicked`; paid =
    /// `customers`. Each step is counted on its own (a contact can pay without a link), so a later step can exceed
    /// an earlier one.
    public var count: Int

    public init(stage: Step, count: Int) {
        self.stage = stage
        self.label = stage.label
        self.count = count
    }
}

/// A histogram bucket of durations: `lowerMs <= duration < upperMs` (no upper bound when `upperMs` is nil).
public struct DurationBucket: Codable, Sendable, Equatable {
    /// `<1d`, `1-3d`, …, `>=60d`.
    public var label: String
    public var lowerMs: Int64
    public var upperMs: Int64?
    public var count: Int

    public init(label: String, lowerMs: Int64, upperMs: Int64?, count: Int) {
        self.label = label
        self.lowerMs = lowerMs
        self.upperMs = upperMs
        self.count = count
    }

    enum CodingKeys: String, CodingKey {
        case label, count
        case lowerMs = "lower_ms"
        case upperMs = "upper_ms"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(label, forKey: .label)
        try container.encode(lowerMs, forKey: .lowerMs)
        try container.encode(upperMs, forKey: .upperMs)
        try container.encode(count, forKey: .count)
    }
}

/// Subscription churn for the contacts onboarded by one sequence.
public struct ChurnRow: Codable, Sendable, Equatable {
    /// The onboarding sequence: the campaign of the contact's first `sent` activity at or after their first invoice,
    /// or `none`.
    public var sequence: String
    /// The campaign's name, else `sequence`.
    public var name: String
    /// The base: subscribers (a paid invoice before `until`) who had not churned before `since`.
    public var subscribers: Int
    /// Subscribers whose subscription ended (canceled or incomplete_expired) in the period.
    public var churned: Int
    /// churned / subscribers.
    public var rate: Double?

    public init(sequence: String, name: String, subscribers: Int, churned: Int, rate: Double?) {
        self.sequence = sequence
        self.name = name
        self.subscribers = subscribers
        self.churned = churned
        self.rate = rate
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(name, forKey: .name)
        try container.encode(subscribers, forKey: .subscribers)
        try container.encode(churned, forKey: .churned)
        try container.encode(rate, forKey: .rate)
    }
}

/// Customer lifetime value for one acquisition source.
public struct LifetimeValueRow: Codable, Sendable, Equatable {
    /// The first-touch campaign of the customer's first payment, or `direct`.
    public var source: String
    /// The campaign's name, else `source`.
    public var name: String
    /// Customers (a payment or invoice before `until`) acquired by this source.
    public var customers: Int
    /// Their net revenue (payments + invoices + refunds) before `until`, all time, per currency.
    public var revenue: [Money]
    /// Of `customers`, those who paid in each currency (the CLV denominators).
    public var customersByCurrency: [CurrencyCount]
    /// revenue / customersByCurrency per currency, rounded to the nearest minor unit.
    public var lifetimeValue: [Money]

    public init(source: String, name: String, customers: Int, revenue: [Money], customersByCurrency: [CurrencyCount],
                lifetimeValue: [Money]) {
        self.source = source
        self.name = name
        self.customers = customers
        self.revenue = revenue
        self.customersByCurrency = customersByCurrency
        self.lifetimeValue = lifetimeValue
    }

    enum CodingKeys: String, CodingKey {
        case source, name, customers, revenue
        case customersByCurrency = "customers_by_currency"
        case lifetimeValue = "lifetime_value"
    }
}

/// A rule's staged rollout as an experiment: contacts it ran for (treated) beside those its `rollout:` held back
/// (control). Small groups are noisy: renderers show the sizes beside the rates.
public struct ControlGroupRow: Codable, Sendable, Equatable {
    public var rule: String
    /// Distinct contacts the rule ran for in the period.
    public var treated: Int
    /// Of `treated`, those with a payment or invoice after their first run in the period and before `until`.
    public var treatedConverted: Int
    /// treatedConverted / treated.
    public var treatedRate: Double?
    /// Distinct contacts held back by the rollout in the period.
    public var control: Int
    /// Of `control`, those with a payment or invoice after their holdback and before `until`.
    public var controlConverted: Int
    /// controlConverted / control.
    public var controlRate: Double?
    /// (treatedRate − controlRate) × 100, in percentage points; `nil` when either rate is.
    public var differencePoints: Double?

    public init(rule: String, treated: Int, treatedConverted: Int, treatedRate: Double?, control: Int,
                controlConverted: Int, controlRate: Double?, differencePoints: Double?) {
        self.rule = rule
        self.treated = treated
        self.treatedConverted = treatedConverted
        self.treatedRate = treatedRate
        self.control = control
        self.controlConverted = controlConverted
        self.controlRate = controlRate
        self.differencePoints = differencePoints
    }

    enum CodingKeys: String, CodingKey {
        case rule, treated, control
        case treatedConverted = "treated_converted"
        case treatedRate = "treated_rate"
        case controlConverted = "control_converted"
        case controlRate = "control_rate"
        case differencePoints = "difference_points"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(treated, forKey: .treated)
        try container.encode(treatedConverted, forKey: .treatedConverted)
        try container.encode(treatedRate, forKey: .treatedRate)
        try container.encode(control, forKey: .control)
        try container.encode(controlConverted, forKey: .controlConverted)
        try container.encode(controlRate, forKey: .controlRate)
        try container.encode(differencePoints, forKey: .differencePoints)
    }
}

/// Deliverability of one sending account or campaign over the provider's window (filled by the deliverability
/// provider, not by `ReportBuilder`).
public struct DeliverabilityRow: Codable, Sendable, Equatable {
    /// What `key` names.
    public enum Scope: String, Codable, Sendable {
        /// A sending account (`email_account` in Instantly events).
        case account
        /// An Instantly campaign id.
        case campaign
    }

    public var scope: Scope
    /// The sending account's address or the campaign id.
    public var key: String
    public var sent: Int
    public var bounced: Int
    public var unsubscribed: Int
    public var replied: Int
    /// bounced / sent.
    public var bounceRate: Double?
    /// unsubscribed / sent.
    public var unsubscribeRate: Double?
    /// replied / sent.
    public var replyRate: Double?

    public init(scope: Scope, key: String, sent: Int, bounced: Int, unsubscribed: Int, replied: Int,
                bounceRate: Double?, unsubscribeRate: Double?, replyRate: Double?) {
        self.scope = scope
        self.key = key
        self.sent = sent
        self.bounced = bounced
        self.unsubscribed = unsubscribed
        self.replied = replied
        self.bounceRate = bounceRate
        self.unsubscribeRate = unsubscribeRate
        self.replyRate = replyRate
    }

    enum CodingKeys: String, CodingKey {
        case scope, key, sent, bounced, unsubscribed, replied
        case bounceRate = "bounce_rate"
        case unsubscribeRate = "unsubscribe_rate"
        case replyRate = "reply_rate"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scope, forKey: .scope)
        try container.encode(key, forKey: .key)
        try container.encode(sent, forKey: .sent)
        try container.encode(bounced, forKey: .bounced)
        try container.encode(unsubscribed, forKey: .unsubscribed)
        try container.encode(replied, forKey: .replied)
        try container.encode(bounceRate, forKey: .bounceRate)
        try container.encode(unsubscribeRate, forKey: .unsubscribeRate)
        try container.encode(replyRate, forKey: .replyRate)
    }
}
