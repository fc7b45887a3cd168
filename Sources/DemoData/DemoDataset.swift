import Foundation
import PostgreSQL
import Store
import SQLite

/// A realistic, clearly labelled synthetic dataset for the report (`hookyard demo seed`, `make report-screenshot`, the
/// report benchmark): over the 90 days before `now`, leads in five outreach campaigns (names start with "Demo:",
/// addresses are @example.com and @example.org) with different open, click and reply rates; payment links after
/// clicks and replies; one-off payments in two tiers and subscriptions with monthly renewals, in usd and eur; refunds;
/// cancellations that depend on the onboarding sequence; a rule with a rollout holdback (the control group converts
/// less); a few erased contacts; dead jobs, most retried or discarded by an admin, some still dead.
///
/// Deterministic: the same seed, contact count and `now` give the same database. Stateless apart from its options.
public struct DemoDataset: Sendable {
    /// Marks a demo database; `ReportBuilder` reports `synthetic` when it exists.
    public static let markerTable = "demo_data"

    public var contacts: Int
    public var seed: UInt64
    /// The end of the dataset (Unix milliseconds); activity spans the 90 days before it.
    public var now: Int64

    public init(contacts: Int = 5_000, seed: UInt64 = 1, now: Int64) {
        self.contacts = contacts
        self.seed = seed
        self.now = now
    }

    /// What `generate` wrote.
    public struct Summary: Sendable, Equatable {
        public var contacts = 0
        public var events = 0
        public var payments = 0
        public var links = 0
    }

    /// Why `create` refused a database.
    public enum Refusal: Error, CustomStringConvertible, Equatable {
        /// The database holds events or contacts that are not demo data: demo data is never mixed into it.
        case realData(path: String, events: Int, contacts: Int)
        /// It is a demo database already; `force` replaces it.
        case alreadySeeded(path: String)

        public var description: String {
            switch self {
            case .realData(let path, let events, let contacts):
                "\(path) holds real data (\(events) events, \(contacts) contacts that are not demo data); demo data is never "
                    + "mixed into a real database: give a new path with --database"
            case .alreadySeeded(let path):
                "\(path) already holds demo data; --force replaces it"
            }
        }
    }

    /// Fills a new database at `path` (or replaces a demo database when `force`).
    /// - Throws: `Refusal` for a database with real data (always) or existing demo data (without `force`), or
    ///   SQLite's error.
    public func create(path: String, force: Bool) throws -> Summary {
        if FileManager.default.fileExists(atPath: path) {
            let (demo, events, contacts) = try SQLiteReportDataWriter.existingData(path: path, markerTable: Self.markerTable)
            if events > 0 || contacts > 0 { throw Refusal.realData(path: path, events: events, contacts: contacts) }
            if demo {
                guard force else { throw Refusal.alreadySeeded(path: path) }
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
        }
        let database = try LoadingConnection.open(path: path)
        defer { database.close() }
        return try generate(into: database)
    }

    /// Fills a new database at `location` (SQLite: a new file, or a demo file replaced when `force`; PostgreSQL: an
    /// empty database, or a demo database emptied first when `force`).
    /// - Throws: `Refusal` for a database with real data (always) or existing demo data (without `force`), or the
    ///   engine's error.
    public func create(_ location: DatabaseLocation, force: Bool) throws -> Summary {
        switch location {
        case .sqlite(let path):
            return try create(path: path, force: force)
        case .postgresql(let url, let password):
            let connection = try PostgreSQLStoreConnection.open(url: url, password: password, applicationName: "hookyard demo",
                                                                durableCommits: false)
            defer { connection.close() }
            let (demo, events, contacts) = try PostgreSQLReportDataWriter.existingData(connection: connection, markerTable: Self.markerTable)
            if events > 0 || contacts > 0 {
                throw Refusal.realData(path: location.description, events: events, contacts: contacts)
            }
            if demo {
                guard force else { throw Refusal.alreadySeeded(path: location.description) }
                try PostgreSQLReportDataWriter.clearDemoData(connection: connection, markerTable: Self.markerTable)
            }
            return try generate(into: PostgreSQLReportDataWriter(connection: connection, keyPrefix: "demo:"))
        }
    }

    /// Writes the dataset into an empty, migrated SQLite database, in transactions of a few hundred contacts.
    public func generate(into database: SQLiteDatabase) throws -> Summary {
        try generate(into: try SQLiteReportDataWriter(database: database, keyPrefix: "demo:"))
    }

    /// Writes the dataset through `writer` (an empty, migrated database of either engine), in transactions of a few
    /// hundred contacts. The same seed, contact count and `now` write the same rows on either engine.
    public func generate(into writer: any ReportDataWriting) throws -> Summary {
        var random = SplitMix64(seed: seed)
        var summary = Summary()
        let start = now - 90 * Self.day
        try writer.transaction {
            try writer.markDemoData(table: Self.markerTable, seed: seed, contacts: contacts, at: now)
            for (id, name) in Self.outreach.map({ ($0.id, $0.name) }) + Self.onboarding.map({ ($0.id, $0.name) }) {
                try writer.campaign(id: id, name: name, at: start)
            }
        }
        var erased: [Int64] = []
        var batchStart = 0
        while batchStart < contacts {
            let batchEnd = min(batchStart + 500, contacts)
            try writer.transaction {
                for index in batchStart..<batchEnd {
                    let person = try lead(index, writer: writer, random: &random, start: start, summary: &summary)
                    if random.chance(0.005) { erased.append(person) }
                }
            }
            batchStart = batchEnd
        }
        try writer.transaction {
            try operations(writer: writer, random: &random, start: start)
            try writer.finish()
            try writer.erase(contacts: erased, at: now)
        }
        summary.contacts = contacts
        summary.events = writer.eventsWritten
        return summary
    }

    // MARK: The model

    /// The demo's sending mailboxes (Instantly's `email_account`), all on a reserved example domain.
    static let sendingAccounts = ["ana@mail.demo.example.org", "ben@mail.demo.example.org", "cy@mail.demo.example.org",
                                  "dee@outreach.demo.example.org"]
    static let day: Int64 = 86_400_000
    static let hour: Int64 = 3_600_000

    /// An outreach campaign and how its leads behave: the chance per lead of opening its emails (an opener opens most
    /// of them), of a click, of a reply, and (before anything else happens) of a purchase.
    struct Campaign: Sendable {
        var id: String
        var name: String
        var open: Double
        var click: Double
        var reply: Double
        var buy: Double
        /// How often it is picked for a lead.
        var weight: Double
    }

    static let outreach: [Campaign] = [
        Campaign(id: "de000000-0000-4000-8000-000000000001", name: "Demo: Agencies - spring outreach",
                 open: 0.55, click: 0.10, reply: 0.07, buy: 0.05, weight: 3),
        Campaign(id: "de000000-0000-4000-8000-000000000002", name: "Demo: SaaS founders - cold intro",
                 open: 0.42, click: 0.05, reply: 0.03, buy: 0.03, weight: 3),
        Campaign(id: "de000000-0000-4000-8000-000000000003", name: "Demo: E-commerce - case study",
                 open: 0.60, click: 0.14, reply: 0.04, buy: 0.06, weight: 2),
        Campaign(id: "de000000-0000-4000-8000-000000000004", name: "Demo: Coaches - webinar invite",
                 open: 0.35, click: 0.04, reply: 0.02, buy: 0.02, weight: 1.5),
        Campaign(id: "de000000-0000-4000-8000-000000000005", name: "Demo: Re-engagement - past leads",
                 open: 0.30, click: 0.03, reply: 0.06, buy: 0.04, weight: 1),
    ]

    /// An onboarding sequence for new subscribers: its emails, a day apart, and the chance that a subscription is
    /// canceled at each renewal.
    struct Onboarding: Sendable {
        var id: String
        var name: String
        var emails: Int
        var churn: Double
    }

    static let onboarding: [Onboarding] = [
        Onboarding(id: "de000000-0000-4000-8000-000000000011", name: "Demo: Onboarding - 5-day email course", emails: 5, churn: 0.05),
        Onboarding(id: "de000000-0000-4000-8000-000000000012", name: "Demo: Onboarding - single welcome email", emails: 1, churn: 0.30),
    ]

    static let linkRule = "demo-send-payment-link"
    static let nudgeRule = "demo-follow-up-nudge"

    /// One lead's whole history. - Returns: the contact's id.
    private func lead(_ index: Int, writer: any ReportDataWriting, random: inout SplitMix64, start: Int64,
                      summary: inout Summary) throws -> Int64 {
        let email = "demo.lead\(index)@" + (index % 3 == 0 ? "example.org" : "example.com")
        let firstSeen = start + random.int(0..<(86 * Self.day))
        let contact = try writer.contact(email: email, firstSeenAt: firstSeen)
        let currency = random.chance(0.25) ? "eur" : "usd"
        var buyer = Buyer(contact: contact, currency: currency)

        if random.chance(0.015) {
            // Found the offer on their own: a direct customer, no email.
            try purchase(&buyer, at: firstSeen, campaign: nil, chance: 1, writer: writer, random: &random, summary: &summary)
            return contact
        }
        var enrolled = firstSeen
        for enrollment in 0..<2 {
            if enrollment == 1 && !random.chance(0.4) { break }
            let campaign = Self.outreach[random.weighted(Self.outreach.map(\.weight))]
            try sequence(campaign, from: enrolled, buyer: &buyer, writer: writer, random: &random, summary: &summary)
            enrolled += random.int((20 * Self.day)..<(45 * Self.day))
            if buyer.paid || enrolled >= now { break }
        }
        return contact
    }

    /// What is known of a lead while their history is written.
    private struct Buyer {
        var contact: Int64
        var currency: String
        var paid = false
        var link: String?
        var nudged: Bool?
    }

    /// A campaign's emails to one lead (5 to 7, days apart), their opens, clicks and reply, the payment link a click or
    /// reply brings, the nudge rule (80 % rollout), and perhaps a purchase.
    private func sequence(_ campaign: Campaign, from start: Int64, buyer: inout Buyer, writer: any ReportDataWriting,
                          random: inout SplitMix64, summary: inout Summary) throws {
        let steps = 5 + random.int(0..<3)
        // The mailbox that writes to this lead; the last one bounces more, so the deliverability table has a story.
        let accountIndex = Int(buyer.contact % Int64(Self.sendingAccounts.count))
        let account = Self.sendingAccounts[accountIndex]
        let opener = random.chance(campaign.open)
        var at = start
        var engaged = false
        var lastTouch = start
        for step in 0..<steps {
            if step > 0 { at += random.int((2 * Self.day)..<(5 * Self.day)) }
            guard at < now else { return }
            try writer.activity(contact: buyer.contact, kind: "sent", campaign: campaign.id, at: at, account: account)
            lastTouch = at
            if step == 0 && random.chance(accountIndex == Self.sendingAccounts.count - 1 ? 0.05 : 0.012) {
                try writer.activity(contact: buyer.contact, kind: "bounced", campaign: campaign.id, at: at + 60_000, account: account)
                return
            }
            if opener && random.chance(0.7) {
                var opened = at + random.int((5 * 60_000)..<(30 * Self.hour))
                for _ in 0..<(random.chance(0.3) ? 2 : 1) where opened < now {
                    try writer.activity(contact: buyer.contact, kind: "opened", campaign: campaign.id, at: opened, account: account)
                    lastTouch = max(lastTouch, opened)
                    opened += random.int(Self.hour..<(48 * Self.hour))
                }
                engaged = true
            }
            let clickAt = at + random.int(Self.hour..<(40 * Self.hour))
            if random.chance(campaign.click / Double(steps) * 1.6), clickAt < now {
                try writer.activity(contact: buyer.contact, kind: "clicked", campaign: campaign.id, at: clickAt, account: account)
                lastTouch = max(lastTouch, clickAt)
                engaged = true
                try sendLink(&buyer, campaign: campaign, at: clickAt + 10 * 60_000, writer: writer, random: &random, summary: &summary)
            }
            let replyAt = at + random.int((2 * Self.hour)..<(72 * Self.hour))
            if random.chance(campaign.reply / Double(steps) * 1.6), replyAt < now {
                try writer.activity(contact: buyer.contact, kind: "replied", campaign: campaign.id, at: replyAt, account: account)
                lastTouch = max(lastTouch, replyAt)
                try sendLink(&buyer, campaign: campaign, at: replyAt + 30 * 60_000, writer: writer, random: &random, summary: &summary)
                break
            }
            if random.chance(0.004) {
                try writer.activity(contact: buyer.contact, kind: "unsubscribed", campaign: campaign.id, at: at + Self.hour, account: account)
                return
            }
        }
        if engaged && buyer.nudged == nil && buyer.link == nil {
            // The follow-up rule runs for 80 % of engaged leads; the rest are its control group.
            let ruleAt = lastTouch + 2 * Self.hour
            if ruleAt < now {
                buyer.nudged = random.chance(0.8)
                if buyer.nudged == true {
                    try writer.ruleRun(rule: Self.nudgeRule, contact: buyer.contact, at: ruleAt)
                } else {
                    try writer.holdback(rule: Self.nudgeRule, contact: buyer.contact, reason: "rollout", at: ruleAt)
                }
            }
        }
        var chance = campaign.buy + (engaged ? 0.04 : 0)
        if buyer.link != nil { chance += 0.30 }
        if buyer.nudged == true { chance += 0.06 }
        try purchase(&buyer, at: lastTouch, campaign: campaign, chance: chance, writer: writer, random: &random, summary: &summary)
    }

    /// The payment link rule: a link for the lead (once), naming the campaign in its metadata.
    private func sendLink(_ buyer: inout Buyer, campaign: Campaign, at: Int64, writer: any ReportDataWriting, random: inout SplitMix64,
                          summary: inout Summary) throws {
        guard buyer.link == nil, at < now, random.chance(0.7) else { return }
        let link = "plink_demo\(buyer.contact)"
        try writer.ruleRun(rule: Self.linkRule, contact: buyer.contact, at: at)
        try writer.linkSent(id: link, contact: buyer.contact, campaign: campaign.id, rule: Self.linkRule, at: at)
        buyer.link = link
        summary.links += 1
        // Most open the email with the link and click it (Instantly reports the click, not which link).
        let clickAt = at + random.int((10 * 60_000)..<(36 * Self.hour))
        if random.chance(0.6), clickAt < now {
            try writer.activity(contact: buyer.contact, kind: "clicked", campaign: campaign.id, at: clickAt, account: nil)
        }
    }

    /// Perhaps a purchase some time after `after` (hours to weeks): a one-off payment (sometimes refunded) or a
    /// subscription with monthly renewals until it is canceled or `now`.
    private func purchase(_ buyer: inout Buyer, at after: Int64, campaign: Campaign?, chance: Double, writer: any ReportDataWriting,
                          random: inout SplitMix64, summary: inout Summary) throws {
        guard !buyer.paid, random.chance(chance) else { return }
        // Log-uniform between 2 hours and 40 days.
        let delay = Int64(exp(log(2.0 / 24) + random.uniform() * (log(40.0) - log(2.0 / 24))) * Double(Self.day))
        let at = after + delay
        guard at < now else { return }
        buyer.paid = true
        let viaLink = buyer.link != nil && random.chance(0.85)
        let linkCampaign = viaLink ? campaign?.id : nil
        let usd = buyer.currency == "usd"
        let reference = "demo\(buyer.contact)"
        if random.chance(0.65) {
            let pro = random.chance(0.35)
            let amount: Int64 = pro ? (usd ? 14_900 : 13_900) : (usd ? 4_900 : 4_500)
            try writer.payment(contact: buyer.contact, kind: .payment, reference: "cs_\(reference)", amount: amount, currency: buyer.currency,
                               at: at, tier: pro ? "pro" : "starter", linkCampaign: linkCampaign,
                               paymentLink: viaLink ? buyer.link : nil, rule: viaLink ? Self.linkRule : nil)
            summary.payments += 1
            if random.chance(0.05), at + 2 * Self.day < now {
                let refundAt = at + random.int((2 * Self.day)..<(10 * Self.day))
                if refundAt < now {
                    try writer.payment(contact: buyer.contact, kind: .refund, reference: "ch_\(reference)",
                                       amount: random.chance(0.7) ? amount : amount / 2, currency: buyer.currency, at: refundAt,
                                       tier: nil, linkCampaign: nil, paymentLink: nil, rule: nil)
                    summary.payments += 1
                }
            }
            return
        }
        // A monthly subscription; its onboarding sequence starts an hour after the first invoice.
        let amount: Int64 = usd ? 2_900 : 2_700
        let sequence = Self.onboarding[random.int(0..<Self.onboarding.count)]
        for email in 0..<sequence.emails where at + Self.hour + Int64(email) * Self.day < now {
            try writer.activity(contact: buyer.contact, kind: "sent", campaign: sequence.id, at: at + Self.hour + Int64(email) * Self.day,
                                account: nil)
        }
        var invoiceAt = at
        var month = 0
        while invoiceAt < now {
            if month > 0 && random.chance(sequence.churn) {
                try writer.subscription(contact: buyer.contact, id: "sub_\(reference)", status: "canceled", tier: "monthly", at: invoiceAt)
                return
            }
            try writer.payment(contact: buyer.contact, kind: .invoice, reference: "in_\(reference)_\(month)", amount: amount,
                               currency: buyer.currency, at: invoiceAt, tier: "monthly",
                               linkCampaign: month == 0 ? linkCampaign : nil, paymentLink: nil, rule: month == 0 && viaLink ? Self.linkRule : nil)
            summary.payments += 1
            month += 1
            invoiceAt += 30 * Self.day
        }
        try writer.subscription(contact: buyer.contact, id: "sub_\(reference)", status: "active", tier: "monthly", at: at)
    }

    /// Jobs that went dead over the period: most retried by an admin a few hours later, some discarded, some still dead;
    /// and one "retry all" after an outage.
    private func operations(writer: any ReportDataWriting, random: inout SplitMix64, start: Int64) throws {
        let failures = max(6, contacts / 300)
        for index in 0..<failures {
            let at = start + random.int(0..<(89 * Self.day))
            // One in seven is still dead, one in seven was discarded, the rest were retried and succeeded.
            let state = index % 7 == 0 ? "dead" : index % 7 == 1 ? "discarded" : "succeeded"
            let job = try writer.job(kind: random.chance(0.5) ? "stripe.create_payment_link" : "instantly.set_lead_variables",
                                     state: state, error: state == "succeeded" ? nil : "HTTP 400 from the provider", at: at)
            let handled = min(at + random.int(Self.hour..<(20 * Self.hour)), now - 1)
            if state == "succeeded" { try writer.adminAction("retry", jobID: job, count: 1, at: handled) }
            if state == "discarded" { try writer.adminAction("discard", jobID: job, count: 1, at: handled) }
        }
        try writer.adminAction("retry_all", jobID: nil, count: 3 + contacts / 2_000, at: now - 20 * Self.day)
    }
}

/// SplitMix64: a small, fast generator whose sequence depends only on its seed (Swift's own generator is not
/// reproducible). A value type; each copy continues independently.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// In [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func chance(_ probability: Double) -> Bool { uniform() < probability }

    mutating func int(_ range: Range<Int64>) -> Int64 { range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound)) }

    mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound)) }

    /// An index drawn with the given weights.
    mutating func weighted(_ weights: [Double]) -> Int {
        var point = uniform() * weights.reduce(0, +)
        for (index, weight) in weights.enumerated() {
            point -= weight
            if point < 0 { return index }
        }
        return weights.count - 1
    }
}
