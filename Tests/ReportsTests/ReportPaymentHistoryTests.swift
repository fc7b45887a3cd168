@testable import Reports
import Store
import XCTest

/// The formulas of `ReportPaymentHistory` on rows given in memory, for the cases the hand-worked history of
/// `ReportBuilderTests` does not reach: a refund of a sale from before the period, subscribers without a recorded end,
/// a link whose lookback runs past the 64-bit range, and lookups that do not answer every question.
final class ReportPaymentHistoryTests: XCTestCase {
    static let day: Int64 = 86_400_000
    static let t: Int64 = 1_785_542_400_000

    /// Answers the lookups from touches and sends given per contact, and records what it was asked.
    final class FakeLookups: ReportQueries {
        /// (contact, time, campaign) of every touch; the `sent` ones in `sends`.
        var touches: [(Int64, Int64, String)] = []
        var sends: [(Int64, Int64, String)] = []
        var asked: [ReportContactWindow] = []
        /// Answers one lookup fewer than asked (a broken engine).
        var dropOne = false

        func lookUp(_ lookup: ReportLookup, _ windows: [ReportContactWindow]) throws -> [String?] {
            let inWindow = { (window: ReportContactWindow, row: (Int64, Int64, String)) in
                row.0 == window.contact && row.1 >= window.from && row.1 <= window.through
            }
            switch lookup {
            case .lastTouch:
                asked += windows
                let answers = windows.map { window in touches.filter { inWindow(window, $0) }.max { $0.1 < $1.1 }?.2 }
                return dropOne ? Array(answers.dropLast()) : answers
            case .firstSend:
                return windows.map { window in sends.filter { inWindow(window, $0) }.min { $0.1 < $1.1 }?.2 }
            case .lastRuleRun:
                return windows.map { _ in nil }
            }
        }
        func campaignNames() throws -> [String: String] { [:] }
        func forEachActivity(since: Int64, until: Int64, _ body: (ReportActivityRow) throws -> Void) throws {}
        func paymentHistory(until: Int64) throws -> [ReportPaymentRecord] { [] }
        func paymentLinks(since: Int64, until: Int64) throws -> [ReportLinkRecord] { [] }
        func rolloutEntries(since: Int64, until: Int64) throws -> [ReportRolloutEntry] { [] }
        func manualInterventions(since: Int64, until: Int64) throws -> (retried: Int, discarded: Int) { (0, 0) }
        func deadJobCount() throws -> Int { 0 }
        func isSynthetic() throws -> Bool { false }
        func close() {}
    }

    func at(_ days: Int64) -> Int64 { Self.t + days * Self.day }

    func payer(firstCampaign: String? = nil, at: Int64? = nil, status: String? = nil, endedAt: Int64? = nil) -> ReportPayer {
        ReportPayer(firstCampaign: firstCampaign, firstCampaignAt: at, subscriptionStatus: status, subscriptionAt: endedAt)
    }

    /// A refund in the period of a sale 40 days before it is credited as that sale: its tier, its link flag, and the
    /// last touch within the lookback before the sale (not before the refund); the sale is no first purchase in the
    /// period, and the refund is none either.
    func testARefundIsAttributedAtItsSaleFromBeforeThePeriod() throws {
        let lookups = FakeLookups()
        lookups.touches = [(1, at(-45), "camp-old"), (1, at(5), "camp-new")]
        let payer = payer(firstCampaign: "camp-old", at: at(-45))
        let history = ReportPaymentHistory([
            ReportPaymentRecord(id: 1, contactID: 1, kind: .payment, amount: 5_000, currency: "usd", occurredAt: at(-40),
                                reference: "cs_1", tier: "pro", viaLink: true, contact: payer),
            ReportPaymentRecord(id: 2, contactID: 1, kind: .payment, amount: 900, currency: "eur", occurredAt: at(-39),
                                reference: "cs_eur", contact: payer),
            ReportPaymentRecord(id: 3, contactID: 1, kind: .refund, amount: -2_000, currency: "usd", occurredAt: at(10),
                                reference: "ch_1", contact: payer),
        ], until: at(30))
        let rows = try history.attributed(since: at(0), lookbackMilliseconds: 30 * Self.day, withRule: false, lookups: lookups)
        XCTAssertEqual(rows.count, 1)
        let refund = try XCTUnwrap(rows.first)
        XCTAssertEqual(refund.reference, "ch_1", "the notes name the refund's own reference")
        XCTAssertEqual([refund.tier, refund.lastTouch, refund.firstTouch], ["pro", "camp-old", "camp-old"])
        XCTAssertTrue(refund.viaLink)
        XCTAssertFalse(refund.firstPurchase)
        XCTAssertNil(refund.timeToFirstPurchase)
        XCTAssertEqual(lookups.asked, [ReportContactWindow(contact: 1, from: at(-70), through: at(-40))], "the sale's window")
    }

    /// A window reaching back past the smallest time starts at the smallest time instead of overflowing.
    func testALookbackBeforeTheSmallestTimeIsClamped() throws {
        let lookups = FakeLookups()
        let history = ReportPaymentHistory([
            ReportPaymentRecord(id: 1, contactID: 7, kind: .payment, amount: 100, currency: "usd", occurredAt: .min + 5, reference: "cs"),
        ], until: at(30))
        _ = try history.attributed(since: .min, lookbackMilliseconds: 30 * Self.day, withRule: false, lookups: lookups)
        XCTAssertEqual(lookups.asked, [ReportContactWindow(contact: 7, from: .min, through: .min + 5)])
    }

    /// Lookups that answer fewer questions than asked are an error, not figures shifted onto the wrong rows.
    func testALookupBatchWithAMissingAnswerThrows() {
        let lookups = FakeLookups()
        lookups.dropOne = true
        let history = ReportPaymentHistory([
            ReportPaymentRecord(id: 1, contactID: 1, kind: .payment, amount: 100, currency: "usd", occurredAt: at(1), reference: "cs"),
        ], until: at(30))
        XCTAssertThrowsError(try history.attributed(since: at(0), lookbackMilliseconds: Self.day, withRule: false, lookups: lookups))
    }

    /// Subscribers are counted in the base unless their subscription ended before the period: one with no subscription
    /// recorded yet and one canceled without a time are in the base and not churned.
    func testChurnCountsSubscribersWithoutARecordedEndInTheBase() throws {
        let lookups = FakeLookups()
        lookups.sends = [(1, at(2), "onb"), (2, at(3), "onb"), (3, at(-20), "onb"), (4, at(1), "onb")]
        let invoice = { (id: Int64, contact: Int64, day: Int64, payer: ReportPayer) in
            ReportPaymentRecord(id: id, contactID: contact, kind: .invoice, amount: 1_000, currency: "usd", occurredAt: self.at(day),
                                reference: "in_\(id)", contact: payer)
        }
        let history = ReportPaymentHistory([
            invoice(1, 1, 1, payer()),                                             // no subscription recorded
            invoice(2, 2, 1, payer(status: "canceled")),                           // ended, no time
            invoice(3, 3, -30, payer(status: "canceled", endedAt: at(-10))),       // ended before the period
            invoice(4, 4, 0, payer(status: "incomplete_expired", endedAt: at(12))), // ended in it
            ReportPaymentRecord(id: 5, contactID: 5, kind: .payment, amount: 1_000, currency: "usd", occurredAt: at(1),
                                reference: "cs_5", contact: payer(status: "canceled", endedAt: at(5))), // no invoice: no subscriber
        ], until: at(30))
        let rows = try history.churnRows(since: at(0), lookups: lookups)
        XCTAssertEqual(rows.map { "\($0.sequence) \($0.base) \($0.churned)" }, ["onb 3 1"])
    }

    /// A link whose creation plus lookback passes the largest time is paid by any order after its creation.
    func testALinkLookbackPastTheLargestTimeEndsAtUntil() {
        let history = ReportPaymentHistory([
            ReportPaymentRecord(id: 1, contactID: 1, kind: .payment, amount: 100, currency: "usd", occurredAt: at(3), reference: "cs"),
        ], until: at(30))
        let links = history.linksSent([ReportLinkRecord(linkID: "plink", contactID: 1, campaign: nil, rule: "offer", createdAt: at(1),
                                                        clicked: false)], lookbackMilliseconds: .max)
        XCTAssertEqual(links.map(\.paid), [true])
    }

    /// Control groups count each contact once per side, from its first entry in the period, and convert it by an
    /// order after that (a refund is no order).
    func testControlGroupsCountEachContactOnceFromItsFirstEntry() {
        let history = ReportPaymentHistory([
            ReportPaymentRecord(id: 1, contactID: 1, kind: .payment, amount: 100, currency: "usd", occurredAt: at(2), reference: "cs_1"),
            ReportPaymentRecord(id: 2, contactID: 2, kind: .refund, amount: -100, currency: "usd", occurredAt: at(5), reference: "ch_2"),
        ], until: at(30))
        let rows = history.controlGroupRows([
            ReportRolloutEntry(rule: "nudge", control: false, contactID: 1, at: at(3)),
            ReportRolloutEntry(rule: "nudge", control: false, contactID: 1, at: at(1)),
            ReportRolloutEntry(rule: "nudge", control: true, contactID: 2, at: at(1)),
        ])
        XCTAssertEqual(rows.map { "\($0.rule) \($0.control) \($0.size) \($0.converted)" }, ["nudge false 1 1", "nudge true 1 0"])
    }
}
