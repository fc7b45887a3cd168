import Contacts
import DemoData
import Foundation
@testable import Reports
import Store
import Synchronization
import TestSupport
import XCTest

/// The report on a small constructed history whose every figure is worked out by hand below.
///
/// The period is 30 days from T = 2026-08-01 (days are written T+n); the lookback is 30 days. Campaigns: camp-a
/// "Spring", camp-b "Summer", camp-c "Autumn", and two onboarding sequences without names (onb-1, onb-2).
///
/// | who | touches (activity)                                         | money                                              |
/// |-----|------------------------------------------------------------|----------------------------------------------------|
/// | ann | sent a T-40, sent b T+2, opened b T+3                      | payment 100.00 usd T+5 (tier pro)                  |
/// | bob | sent a T-26                                                | payment 50.00 eur T+5                              |
/// | cat | sent c T+1, sent b T+2, clicked b T+3, sent c T+3.5        | payment 200.00 usd T+4 by link plink_cat (metadata |
/// |     |                                                            | campaign b, rule offer, tier pro); refund 50 usd T+10 |
/// | dan | sent onb-1 T+7 (after his first invoice)                   | invoice 30.00 usd T+6 (tier monthly), renewal T+36;|
/// |     |                                                            | subscription canceled T+20                         |
/// | eve | sent a T+1; then erased                                    | payment 70.00 usd T+8                              |
/// | fay | sent a T+1                                                 | payment 10.00 usd T+2 (tier starter; a recorded    |
/// |     |                                                            | purchase by link), payment 20.00 eur T+3           |
/// | gus | sent a T-20, sent c T+1                                    | payment 30.00 eur T-19, payment 40.00 usd T+2,     |
/// |     |                                                            | refund 30.00 eur T+12                              |
/// | kim | sent c T+1, opened c T+2, replied c T+3                    | none                                               |
/// | max | sent onb-2 T-9                                             | invoice 20.00 usd T-10; subscription active        |
/// | ned | sent onb-1 T-39                                            | invoice 15.00 usd T-40; subscription canceled T-5  |
///
/// Links sent: plink_cat (cat, b, T+2 1h), plink_kim (kim, c, T+2), plink_bob (bob, a, T+4), plink_old (ann, b, T-3).
/// Rule "nudge" ran for ann and bob at T+1 and dan at T+7, and held fay and kim back (rollout) at T+1.
/// Admin: retry T-5, retry T+3, retry_all of 4 at T+9, discard T+11; two jobs dead now.
///
/// Every test runs on both engines (`forEachStorageEngine`) with the same expected figures: the history is written
/// through each engine's `ReportDataWriting` and read back through its `ReportQueries`.
final class ReportBuilderTests: XCTestCase {
    static let day: Int64 = 86_400_000
    /// 2026-08-01T00:00:00Z.
    static let t: Int64 = 1_785_542_400_000
    /// The database the current engine's body reads.
    var location: DatabaseLocation!

    func at(_ days: Double) -> Int64 { Self.t + Int64(days * Double(Self.day)) }

    /// Runs `body` once per engine, on a database holding the history above.
    func withHistory(_ body: () throws -> Void) throws {
        try forEachStorageEngine { location in
            self.location = location
            try writeHistory(location)
            try body()
        }
    }

    func writeHistory(_ location: DatabaseLocation) throws {
        let write = try ReportDataWritingOpening.open(location, keyPrefix: "test:")
        defer { write.close() }
        var eve: Int64 = 0
        try write.transaction {
            try write.campaign(id: "camp-a", name: "Spring", at: at(-50))
            try write.campaign(id: "camp-b", name: "Summer", at: at(-50))
            try write.campaign(id: "camp-c", name: "Autumn", at: at(-50))
            let ann = try write.contact(email: "ann@example.com", firstSeenAt: at(-40))
            let bob = try write.contact(email: "bob@example.com", firstSeenAt: at(-26))
            let cat = try write.contact(email: "cat@example.com", firstSeenAt: at(1))
            let dan = try write.contact(email: "dan@example.com", firstSeenAt: at(6))
            eve = try write.contact(email: "eve@example.com", firstSeenAt: at(1))
            let fay = try write.contact(email: "fay@example.com", firstSeenAt: at(1))
            let gus = try write.contact(email: "gus@example.com", firstSeenAt: at(-20))
            let kim = try write.contact(email: "kim@example.com", firstSeenAt: at(1))
            let max = try write.contact(email: "max@example.com", firstSeenAt: at(-10))
            let ned = try write.contact(email: "ned@example.com", firstSeenAt: at(-40))
            let touches: [(Int64, String, String, Double)] = [
                (ann, "sent", "camp-a", -40), (ann, "sent", "camp-b", 2), (ann, "opened", "camp-b", 3),
                (bob, "sent", "camp-a", -26),
                (cat, "sent", "camp-c", 1), (cat, "sent", "camp-b", 2), (cat, "clicked", "camp-b", 3), (cat, "sent", "camp-c", 3.5),
                (dan, "sent", "onb-1", 7), (eve, "sent", "camp-a", 1), (fay, "sent", "camp-a", 1),
                (gus, "sent", "camp-a", -20), (gus, "sent", "camp-c", 1),
                (kim, "sent", "camp-c", 1), (kim, "opened", "camp-c", 2), (kim, "replied", "camp-c", 3),
                (max, "sent", "onb-2", -9), (ned, "sent", "onb-1", -39),
            ]
            for (contact, kind, campaign, day) in touches {
                try write.activity(contact: contact, kind: kind, campaign: campaign, at: at(day))
            }
            try write.payment(contact: ann, kind: .payment, reference: "cs_ann", amount: 10_000, currency: "usd", at: at(5), tier: "pro")
            try write.payment(contact: bob, kind: .payment, reference: "cs_bob", amount: 5_000, currency: "eur", at: at(5))
            try write.payment(contact: cat, kind: .payment, reference: "cs_cat", amount: 20_000, currency: "usd", at: at(4), tier: "pro",
                              linkCampaign: "camp-b", paymentLink: "plink_cat", rule: "offer")
            try write.payment(contact: cat, kind: .refund, reference: "ch_cat", amount: 5_000, currency: "usd", at: at(10))
            try write.payment(contact: dan, kind: .invoice, reference: "in_dan1", amount: 3_000, currency: "usd", at: at(6), tier: "monthly")
            try write.payment(contact: dan, kind: .invoice, reference: "in_dan2", amount: 3_000, currency: "usd", at: at(36), tier: "monthly")
            try write.payment(contact: eve, kind: .payment, reference: "cs_eve", amount: 7_000, currency: "usd", at: at(8))
            try write.payment(contact: fay, kind: .payment, reference: "cs_fay_usd", amount: 1_000, currency: "usd", at: at(2), tier: "starter")
            try write.payment(contact: fay, kind: .payment, reference: "cs_fay_eur", amount: 2_000, currency: "eur", at: at(3))
            try write.payment(contact: gus, kind: .payment, reference: "cs_gus_eur", amount: 3_000, currency: "eur", at: at(-19))
            try write.payment(contact: gus, kind: .payment, reference: "cs_gus_usd", amount: 4_000, currency: "usd", at: at(2))
            try write.payment(contact: gus, kind: .refund, reference: "ch_gus", amount: 3_000, currency: "eur", at: at(12))
            try write.payment(contact: max, kind: .invoice, reference: "in_max", amount: 2_000, currency: "usd", at: at(-10))
            try write.payment(contact: ned, kind: .invoice, reference: "in_ned", amount: 1_500, currency: "usd", at: at(-40))
            try write.subscription(contact: dan, id: "sub_dan", status: "canceled", tier: "monthly", at: at(20))
            try write.subscription(contact: max, id: "sub_max", status: "active", tier: "monthly", at: at(-10))
            try write.subscription(contact: ned, id: "sub_ned", status: "canceled", tier: "monthly", at: at(-5))
            try write.linkSent(id: "plink_cat", contact: cat, campaign: "camp-b", rule: "offer", at: at(2) + 3_600_000)
            try write.linkSent(id: "plink_kim", contact: kim, campaign: "camp-c", rule: "offer", at: at(2))
            try write.linkSent(id: "plink_bob", contact: bob, campaign: "camp-a", rule: "offer", at: at(4))
            try write.linkSent(id: "plink_old", contact: ann, campaign: "camp-b", rule: "offer", at: at(-3))
            for contact in [ann, bob] { try write.ruleRun(rule: "nudge", contact: contact, at: at(1)) }
            try write.ruleRun(rule: "nudge", contact: dan, at: at(7))
            for contact in [fay, kim] { try write.holdback(rule: "nudge", contact: contact, at: at(1)) }
            try write.adminAction("retry", jobID: 1, at: at(-5))
            try write.adminAction("retry", jobID: 1, at: at(3))
            try write.adminAction("retry_all", jobID: nil, count: 4, at: at(9))
            try write.adminAction("discard", jobID: 2, at: at(11))
            for _ in 0..<2 { try write.job(kind: "stripe.create_payment_link", state: "dead", error: "HTTP 400", at: at(12)) }
            try write.job(kind: "stripe.create_payment_link", state: "succeeded", at: at(12))
            try write.finish()
        }
        try EngineSQL.execute(location, """
            INSERT INTO purchases (event_id, reference, email, amount, currency, payment_link, rule, created_at)
            VALUES (1, 'cs_fay_usd', 'fay@example.com', 1000, 'usd', 'plink_fay', 'offer', \(at(2)))
            """)
        switch location {
        case .sqlite(let path):
            let contacts = try SQLiteContactStore(path: path)
            XCTAssertNotNil(try contacts.erase(email: "eve@example.com"))
            contacts.close()
        case .postgresql:
            // The lead swaps this for PostgreSQLContactStore's erase once it is merged (the writer's erase leaves the
            // rows the report reads as ContactStore.erase does).
            try write.transaction { try write.erase(contacts: [eve], at: at(31)) }
        }
    }

    func builder(deliverability: ReportBuilder.DeliverabilityProvider? = nil) throws -> ReportBuilder {
        ReportBuilder(queries: try ReportQueriesOpening.open(location), deliverability: deliverability)
    }

    func report(_ model: AttributionModel = .last, by grouping: ReportGrouping = .campaign, lookbackDays: Int64 = 30) throws -> Report {
        let builder = try builder()
        defer { builder.close() }
        return try builder.build(ReportQuery(since: Self.t, until: at(30), model: model, grouping: grouping,
                                             lookbackMilliseconds: lookbackDays * Self.day), now: at(31))
    }

    func usd(_ amount: Int64) -> Money { Money(currency: "usd", amount: amount) }
    func eur(_ amount: Int64) -> Money { Money(currency: "eur", amount: amount) }

    /// Net revenue per group key.
    func revenue(_ report: Report) -> [String: [Money]] {
        Dictionary(uniqueKeysWithValues: report.groups.map { ($0.key, $0.figures.revenue) })
    }

    /// Every query's rows, read on each engine, are the same, and so is everything computed from them; the activity in
    /// no particular order, compared sorted (the contact-less first).
    func testEveryQueryReturnsTheSameRowsOnBothEngines() throws {
        struct Rows: Equatable {
            var activity: [ReportActivityRow] = []
            var history: [ReportPaymentRecord] = []
            var lookups: [[String?]] = []
            var linkRecords: [ReportLinkRecord] = []
            var rollout: [ReportRolloutEntry] = []
            var payments: [ReportPaymentRow] = []
            var links: [ReportLinkRow] = []
            var lifetime: [ReportLifetimeValueRow] = []
            var churn: [String] = []
            var control: [String] = []
            var other: [Int] = []
            var names: [String: String] = [:]
        }
        var results: [Rows] = []
        try withHistory {
            let queries = try ReportQueriesOpening.open(location)
            defer { queries.close() }
            var rows = Rows()
            let (since, until, lookback) = (at(-45), at(40), 30 * Self.day)
            try queries.forEachActivity(since: since, until: until) { rows.activity.append($0) }
            // `forEachActivity` promises one row per (contact, campaign) in no particular order: compare them sorted.
            rows.activity.sort { ($0.contactID ?? -1, $0.campaign ?? "") < ($1.contactID ?? -1, $1.campaign ?? "") }
            XCTAssertNil(rows.activity.first?.contactID, "eve's erased activity is there")
            XCTAssertGreaterThan(rows.activity.count, 10)
            let records = try queries.paymentHistory(until: until)
            rows.history = records.sorted { $0.id < $1.id }
            XCTAssertEqual(rows.history.count, 14)
            XCTAssertEqual(try queries.paymentHistory(until: at(5)).count, 7, "the rows before until only")
            // Every contact over windows that catch none, some and all of its rows, in both directions.
            let windows = (1...12).flatMap { contact in
                [(-60, 60), (-30, 3), (2, 3), (3, 3), (50, 60)].map { ReportContactWindow(contact: Int64(contact), from: at($0.0), through: at($0.1)) }
            }
            rows.lookups = try ReportLookup.allCases.map { try queries.lookUp($0, windows) }
            XCTAssertEqual(rows.lookups.map { $0.count { $0 != nil } }.map { $0 > 0 }, [true, true, true])
            XCTAssertEqual(try queries.lookUp(.lastTouch, []), [])
            rows.linkRecords = try queries.paymentLinks(since: since, until: until).sorted { $0.linkID < $1.linkID }
            XCTAssertEqual(rows.linkRecords.map(\.linkID), ["plink_bob", "plink_cat", "plink_kim", "plink_old"])
            rows.rollout = try queries.rolloutEntries(since: since, until: until)
                .sorted { ($0.rule, $0.control ? 1 : 0, $0.contactID, $0.at) < ($1.rule, $1.control ? 1 : 0, $1.contactID, $1.at) }
            XCTAssertEqual(rows.rollout.map(\.control), [false, false, false, true, true])
            // What the report computes from them.
            let history = ReportPaymentHistory(records, until: until)
            for withRule in [false, true] {
                rows.payments += try history.attributed(since: since, lookbackMilliseconds: lookback, withRule: withRule, lookups: queries)
            }
            rows.links = history.linksSent(try queries.paymentLinks(since: since, until: until), lookbackMilliseconds: lookback)
            rows.lifetime = history.lifetimeValueRows().sorted { "\($0)" < "\($1)" }
            rows.churn = try history.churnRows(since: since, lookups: queries).map { "\($0)" }.sorted()
            rows.control = history.controlGroupRows(try queries.rolloutEntries(since: since, until: until)).map { "\($0)" }
            let interventions = try queries.manualInterventions(since: since, until: until)
            rows.other = [interventions.retried, interventions.discarded, try queries.deadJobCount(), try queries.isSynthetic() ? 1 : 0]
            rows.names = try queries.campaignNames()
            results.append(rows)
        }
        XCTAssertEqual(results.count, 2)
        XCTAssertEqual(results[0].activity, results[1].activity)
        XCTAssertEqual(results[0].history, results[1].history)
        XCTAssertEqual(results[0].lookups, results[1].lookups)
        XCTAssertEqual(results[0].linkRecords, results[1].linkRecords)
        XCTAssertEqual(results[0].rollout, results[1].rollout)
        XCTAssertEqual(results[0].payments, results[1].payments)
        XCTAssertEqual(results[0].links, results[1].links)
        XCTAssertEqual(results[0].lifetime, results[1].lifetime)
        XCTAssertEqual(results[0].churn, results[1].churn)
        XCTAssertEqual(results[0].control, results[1].control)
        XCTAssertEqual(results[0].other, results[1].other)
        XCTAssertEqual(results[0].names, results[1].names)
    }

    func testHeadlineTotals() throws {
        try withHistory {
            let report = try report()
            let figures = report.headline.figures
            XCTAssertFalse(report.synthetic)
            // Sent rows in the period: ann 1, cat 3, dan 1, eve 1 (erased), fay 1, gus 1, kim 1 = 9; contacted: the six
            // known contacts among them; opened: ann and kim; clicked: cat; replied: kim.
            XCTAssertEqual(figures.emailsSent, 9)
            XCTAssertEqual(figures.contacted, 6)
            XCTAssertEqual([figures.opened, figures.clicked, figures.replied], [2, 1, 1])
            XCTAssertEqual(figures.openRate, 2.0 / 6)
            XCTAssertEqual(figures.clickRate, 1.0 / 6)
            XCTAssertEqual(figures.replyRate, 1.0 / 6)
            // Orders: ann, bob, cat, dan (first invoice; the renewal at T+36 is after the period), eve, fay twice, gus = 8.
            XCTAssertEqual(figures.orders, 8)
            XCTAssertEqual(figures.ordersByCurrency, [CurrencyCount(currency: "eur", count: 2), CurrencyCount(currency: "usd", count: 6)])
            // usd: 100 + 200 + 30 + 70 + 10 + 40 = 450 gross, minus cat's 50 refund; eur: 50 + 20 gross, minus gus's 30.
            XCTAssertEqual(figures.grossRevenue, [eur(7_000), usd(45_000)])
            XCTAssertEqual(figures.refunds, [eur(-3_000), usd(-5_000)])
            XCTAssertEqual(figures.revenue, [eur(4_000), usd(40_000)])
            // AOV = net / orders per currency: 40000 / 6 = 6666.67 -> 6667; 4000 / 2 = 2000.
            XCTAssertEqual(figures.averageOrderValue, [eur(2_000), usd(6_667)])
            XCTAssertEqual(figures.revenuePerEmail, [MoneyRate(currency: "eur", amount: 4_000.0 / 9), MoneyRate(currency: "usd", amount: 40_000.0 / 9)])
            // Customers: ann, bob, cat, dan, fay, gus (eve was erased); new: all but gus, who first paid at T-19.
            XCTAssertEqual(figures.customers, 6)
            XCTAssertEqual(figures.newCustomers, 5)
            XCTAssertEqual(figures.conversion, 5.0 / 6)
            // First touch to first purchase: fay 1d, cat 3d, bob 31d, ann 45d (dan had no touch before): nearest rank,
            // median = 2nd of 4 = 3d, p90 = 4th of 4 = 45d.
            XCTAssertEqual(figures.timeToFirstPurchaseCount, 4)
            XCTAssertEqual(figures.medianTimeToFirstPurchaseMs, 3 * Self.day)
            XCTAssertEqual(figures.p90TimeToFirstPurchaseMs, 45 * Self.day)
            XCTAssertEqual(report.timeToPurchase.map(\.label), ["<1d", "1-3d", "3-7d", "7-14d", "14-30d", "30-60d", ">=60d"])
            XCTAssertEqual(report.timeToPurchase.map(\.count), [0, 1, 1, 0, 0, 2, 0])
            // Links in the period: plink_cat (clicked in camp-b after it was made, paid by its id), plink_kim (neither),
            // plink_bob (no click; bob paid a day later, within the lookback). plink_old is from before the period.
            XCTAssertEqual([figures.linksSent, figures.linksClicked, figures.linksPaid], [3, 1, 2])
            XCTAssertEqual(figures.linkClickThrough, 1.0 / 3)
            XCTAssertEqual(figures.linkToPaid, 2.0 / 3)
            XCTAssertEqual(report.funnel.map(\.count), [6, 2, 1, 1, 3, 1, 6])
            // Retries: 1 + 4 in the period (the one at T-5 is before it); discards: 1.
            XCTAssertEqual(report.headline.jobsRetried, 5)
            XCTAssertEqual(report.headline.jobsDiscarded, 1)
            XCTAssertEqual(report.headline.manualInterventions, 6)
            XCTAssertEqual(report.headline.deadJobsNow, 2)
        }
    }

    func testLastTouchAttributionWithLinkPrecedenceRefundsAndTheErasedContact() throws {
        try withHistory {
            let report = try report(.last)
            // ann -> camp-b (her latest touch before paying); cat -> camp-b (the link's metadata, though camp-c touched her
            // last), and her refund goes with that sale; bob's only touch is 31 days before he paid: direct; dan's touch
            // came after his invoice: direct; eve (erased) keeps camp-a, stored with her payment; fay -> camp-a;
            // gus's usd payment -> camp-c, and his eur refund reduces his latest eur sale (T-19, camp-a).
            XCTAssertEqual(revenue(report), [
                "camp-b": [usd(25_000)], "direct": [eur(5_000), usd(3_000)], "camp-a": [eur(-1_000), usd(8_000)],
                "camp-c": [usd(4_000)], "onb-1": [],
            ])
            XCTAssertEqual(report.groups.map(\.key), ["camp-a", "camp-b", "direct", "camp-c", "onb-1"], "most orders first")
            let summer = try XCTUnwrap(report.groups.first { $0.key == "camp-b" })
            XCTAssertEqual(summer.name, "Summer")
            XCTAssertEqual(summer.figures.orders, 2)
            XCTAssertEqual(summer.figures.averageOrderValue, [usd(12_500)])
            XCTAssertEqual([summer.figures.customers, summer.figures.newCustomers], [2, 2])
            XCTAssertEqual(summer.figures.conversion, 1.0, "2 new customers / 2 contacts camp-b touched")
            XCTAssertEqual(summer.figures.revenuePerEmail, [MoneyRate(currency: "usd", amount: 12_500)], "25000 over 2 emails")
            XCTAssertEqual([summer.figures.linksSent, summer.figures.linksClicked, summer.figures.linksPaid], [1, 1, 1])
            XCTAssertEqual(summer.figures.medianTimeToFirstPurchaseMs, 3 * Self.day)
            XCTAssertEqual(summer.figures.openRate, 0.5)
            let spring = try XCTUnwrap(report.groups.first { $0.key == "camp-a" })
            // Two sent rows (eve's, now anonymous, and fay's), one known contact: fay, who converted.
            XCTAssertEqual([spring.figures.emailsSent, spring.figures.contacted, spring.figures.customers], [2, 1, 1])
            XCTAssertEqual(spring.figures.conversion, 1.0)
            XCTAssertEqual(spring.figures.averageOrderValue, [eur(-1_000), usd(4_000)], "eur: (20 - 30) / 1 order")
            XCTAssertEqual([spring.figures.linksSent, spring.figures.linksPaid], [1, 1])
            let autumn = try XCTUnwrap(report.groups.first { $0.key == "camp-c" })
            // camp-c sent 4 emails to cat, gus and kim; kim opened and replied; nobody new bought through it.
            XCTAssertEqual([autumn.figures.emailsSent, autumn.figures.contacted, autumn.figures.opened, autumn.figures.replied], [4, 3, 1, 1])
            XCTAssertEqual(autumn.figures.conversion, 0)
            XCTAssertEqual(autumn.figures.newCustomers, 0)
            XCTAssertEqual([autumn.figures.linksSent, autumn.figures.linksClicked, autumn.figures.linksPaid], [1, 0, 0])
            let direct = try XCTUnwrap(report.groups.first { $0.key == "direct" })
            XCTAssertNil(direct.figures.conversion, "direct touched nobody")
            XCTAssertEqual(direct.figures.newCustomers, 2)
        }
    }

    func testFirstTouchAttribution() throws {
        try withHistory {
            // First touch: ann, bob, gus (both payments, his refund too), fay and eve -> camp-a; cat (refund included) ->
            // camp-c, her first touch, the link's campaign only standing in when there is none; dan -> direct.
            XCTAssertEqual(revenue(try report(.first)), [
                "camp-a": [eur(4_000), usd(22_000)], "camp-c": [usd(15_000)], "direct": [usd(3_000)],
                "camp-b": [], "onb-1": [],
            ])
        }
    }

    func testALongerLookbackReachesATouch31DaysBeforeThePurchase() throws {
        try withHistory {
            // With 31 days, bob's touch at T-26 is his last touch for the payment at T+5.
            let groups = revenue(try report(.last, lookbackDays: 31))
            XCTAssertEqual(groups["camp-a"], [eur(4_000), usd(8_000)])
            XCTAssertEqual(groups["direct"], [usd(3_000)])
        }
    }

    func testBySourceTierAndRule() throws {
        try withHistory {
            // Source: cat's payment and refund came by link (its id), and fay's usd payment is a purchase recorded with a
            // link; outreach: ann, eve, gus (both), fay's eur; direct: bob, dan.
            XCTAssertEqual(revenue(try report(by: .source)), [
                "payment_link": [usd(16_000)], "outreach": [eur(-1_000), usd(21_000)], "direct": [eur(5_000), usd(3_000)],
            ])
            XCTAssertEqual(revenue(try report(by: .tier)), [
                "pro": [usd(25_000)], "starter": [usd(1_000)], "monthly": [usd(3_000)], "(none)": [eur(4_000), usd(11_000)],
            ])
            // Rule: cat's link names "offer"; "nudge" ran for ann and bob before they paid (within the lookback); it ran for
            // dan only after his invoice.
            let byRule = try report(by: .rule)
            XCTAssertEqual(revenue(byRule), [
                "offer": [usd(15_000)], "nudge": [eur(5_000), usd(10_000)], "(none)": [eur(-1_000), usd(15_000)],
            ])
            let offer = try XCTUnwrap(byRule.groups.first { $0.key == "offer" })
            XCTAssertEqual([offer.figures.linksSent, offer.figures.linksClicked, offer.figures.linksPaid], [3, 1, 2])
            XCTAssertNil(offer.figures.emailsSent, "email counts belong to campaigns")
        }
    }

    func testLifetimeValueChurnAndControlGroup() throws {
        try withHistory {
            let report = try report()
            // Acquisition source = first touch of the first purchase. camp-a: ann (usd 100), bob (eur 50), fay (usd 10,
            // eur 20), gus (usd 40, eur 30 - 30): usd 150 / 3 payers = 50, eur 70 / 3 = 23.33. camp-c: cat, 200 - 50.
            // direct: dan 30 (his renewal is after until), max 20, ned 15: 65 / 3 = 21.67. eve was erased: left out.
            XCTAssertEqual(report.lifetimeValue.map(\.source), ["camp-a", "direct", "camp-c"])
            XCTAssertEqual(report.lifetimeValue.map(\.customers), [4, 3, 1])
            XCTAssertEqual(report.lifetimeValue[0].name, "Spring")
            XCTAssertEqual(report.lifetimeValue[0].revenue, [eur(7_000), usd(15_000)])
            XCTAssertEqual(report.lifetimeValue[0].lifetimeValue, [eur(2_333), usd(5_000)])
            XCTAssertEqual(report.lifetimeValue[1].lifetimeValue, [usd(2_167)])
            XCTAssertEqual(report.lifetimeValue[2].lifetimeValue, [usd(15_000)])
            // Subscribers: dan (onboarded by onb-1, canceled in the period), ned (onb-1, canceled before it: not in the
            // base), max (onb-2, active).
            XCTAssertEqual(report.churn, [
                ChurnRow(sequence: "onb-1", name: "onb-1", subscribers: 1, churned: 1, rate: 1),
                ChurnRow(sequence: "onb-2", name: "onb-2", subscribers: 1, churned: 0, rate: 0),
            ])
            // nudge ran for ann, bob (both paid after) and dan (paid only before); it held back fay (paid after) and kim.
            XCTAssertEqual(report.controlGroups.count, 1)
            let nudge = report.controlGroups[0]
            XCTAssertEqual([nudge.treated, nudge.treatedConverted, nudge.control, nudge.controlConverted], [3, 2, 2, 1])
            XCTAssertEqual(nudge.treatedRate, 2.0 / 3)
            XCTAssertEqual(nudge.controlRate, 0.5)
            XCTAssertEqual(try XCTUnwrap(nudge.differencePoints), 16.667, accuracy: 0.001)
        }
    }

    func testAnEmptyPeriodHasZerosAndNoRates() throws {
        try withHistory {
            let builder = try builder()
            defer { builder.close() }
            let report = try builder.build(ReportQuery(since: at(-400), until: at(-300)), now: at(0))
            XCTAssertEqual(report.headline.figures.emailsSent, 0)
            XCTAssertNil(report.headline.figures.openRate)
            XCTAssertNil(report.headline.figures.conversion)
            XCTAssertEqual(report.headline.figures.revenue, [])
            XCTAssertEqual(report.groups, [])
            XCTAssertEqual(report.churn, [])
            XCTAssertEqual(report.headline.deadJobsNow, 2, "dead jobs are counted now, whatever the period")
        }
    }

    func testTheDeliverabilityProviderFillsItsSection() throws {
        try withHistory {
            let row = DeliverabilityRow(scope: .account, key: "sales@ours.example", sent: 100, bounced: 3, unsubscribed: 1, replied: 5,
                                        bounceRate: 0.03, unsubscribeRate: 0.01, replyRate: 0.05)
            let builder = try builder { query in
                XCTAssertEqual(query.since, Self.t)
                return [row]
            }
            defer { builder.close() }
            XCTAssertEqual(try builder.build(ReportQuery(since: Self.t, until: at(30)), now: at(31)).deliverability, [row])
        }
    }

    /// With a second connection (`ReportBuilder(_ location:)`) the email activity and the deliverability rows are read
    /// on a worker thread while the rest is read on the caller's: the report is the one a single connection gives, for
    /// every model and grouping; an error on the worker's side is thrown by `build`, and the builder still works after.
    func testTwoConnectionsGiveTheSameReportAsOne() throws {
        struct ProviderFailure: Error {}
        try withHistory {
            let row = DeliverabilityRow(scope: .campaign, key: "camp-a", sent: 10, bounced: 1, unsubscribed: 0, replied: 2,
                                        bounceRate: 0.1, unsubscribeRate: 0, replyRate: 0.2)
            let single = try builder { _ in [row] }
            defer { single.close() }
            let failing = Mutex(false)
            let parallel = try ReportBuilder(location) { _ in
                if failing.withLock({ $0 }) { throw ProviderFailure() }
                return [row]
            }
            defer { parallel.close() }
            for model in AttributionModel.allCases {
                for grouping in ReportGrouping.allCases {
                    let query = ReportQuery(since: Self.t, until: at(30), model: model, grouping: grouping)
                    XCTAssertEqual(try parallel.build(query, now: at(31)), try single.build(query, now: at(31)), "\(model) \(grouping)")
                }
            }
            failing.withLock { $0 = true }
            XCTAssertThrowsError(try parallel.build(ReportQuery(since: Self.t, until: at(30)), now: at(31))) {
                XCTAssertTrue($0 is ProviderFailure, "\($0)")
            }
            failing.withLock { $0 = false }
            XCTAssertEqual(try parallel.build(ReportQuery(since: Self.t, until: at(30)), now: at(31)).deliverability, [row])
        }
    }
}

/// The arithmetic the figures share, by hand.
final class ReportArithmeticTests: XCTestCase {
    func testNearestRankPercentiles() {
        let values: [Int64] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
        XCTAssertEqual(ReportBuilder.nearestRank(values, 0.5), 50, "rank ceil(0.5 * 10) = 5")
        XCTAssertEqual(ReportBuilder.nearestRank(values, 0.9), 90, "rank 9")
        XCTAssertEqual(ReportBuilder.nearestRank([7, 8, 9], 0.5), 8, "rank ceil(1.5) = 2")
        XCTAssertEqual(ReportBuilder.nearestRank([7], 0.9), 7)
        XCTAssertNil(ReportBuilder.nearestRank([], 0.5))
    }

    func testDivisionRoundsHalfAwayFromZero() {
        XCTAssertEqual(ReportBuilder.divide(5, by: 2), 3)
        XCTAssertEqual(ReportBuilder.divide(-5, by: 2), -3)
        XCTAssertEqual(ReportBuilder.divide(7_000, by: 3), 2_333)
        XCTAssertEqual(ReportBuilder.divide(6_500, by: 3), 2_167)
    }

    func testHistogramBucketsIncludeTheirLowerBound() {
        let day: Int64 = 86_400_000
        let buckets = ReportBuilder.histogram([0, day - 1, day, 3 * day, 59 * day, 60 * day])
        XCTAssertEqual(buckets.map(\.count), [2, 1, 1, 0, 0, 1, 1])
        XCTAssertNil(buckets.last?.upperMs)
    }
}
