import DemoData
import Foundation
import HookyardFoundation
@testable import Reports
import Store
import TestSupport
import XCTest

/// Stored Stripe amounts the report cannot count (Int64.max, two payments of 5e18 in one currency): the report is
/// built and rendered in every format, notes each row it leaves out, and leaves that row out of every sum. The stored
/// amounts are read through both engines' queries with the same result.
final class ReportAbsurdAmountTests: XCTestCase {
    static let day: Int64 = 86_400_000
    /// 2026-08-01T00:00:00Z.
    static let t: Int64 = 1_785_542_400_000

    /// One contact per payment (email, reference, amount, currency), all emailed by camp-a on day 1 and paying on day 2.
    private func seed(_ location: DatabaseLocation, _ payments: [(String, String, Int64, String)]) throws {
        let write = try ReportDataWritingOpening.open(location, keyPrefix: "test:")
        defer { write.close() }
        try write.transaction {
            try write.campaign(id: "camp-a", name: "Spring", at: Self.t)
            var contacts: [String: Int64] = [:]
            for (email, reference, amount, currency) in payments {
                if contacts[email] == nil {
                    let contact = try write.contact(email: email, firstSeenAt: Self.t)
                    contacts[email] = contact
                    try write.activity(contact: contact, kind: "sent", campaign: "camp-a", at: Self.t + Self.day)
                }
                try write.payment(contact: contacts[email], kind: .payment, reference: reference, amount: amount, currency: currency,
                                  at: Self.t + 2 * Self.day)
            }
            try write.finish()
        }
    }

    private func build(_ location: DatabaseLocation) throws -> Report {
        let builder = ReportBuilder(queries: try ReportQueriesOpening.open(location))
        defer { builder.close() }
        return try builder.build(ReportQuery(since: Self.t, until: Self.t + 30 * Self.day), now: Self.t + 31 * Self.day)
    }

    /// The report's notes, read from its JSON (the form `hookyard report --format json` prints).
    private func notes(_ report: Report) throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(report)) as? [String: Any]
        return try XCTUnwrap(object?["notes"] as? [String], "the JSON has notes")
    }

    /// Every renderer runs on the report (the crash was in the page's charts and money formatting).
    private func renderAll(_ report: Report) -> (text: String, page: String) {
        _ = ReportCSV.render(report)
        return (ReportText.render(report), ReportPage.render(report))
    }

    func testAnAmountOfInt64MaxIsLeftOutOfEverySumWithANote() throws {
        try forEachStorageEngine { location in
        try seed(location, [("ann@example.com", "cs_ann", 10_000, "usd"), ("zed@example.com", "cs_huge", .max, "usd")])
        let report = try build(location)
        XCTAssertEqual(report.headline.figures.revenue, [Money(currency: "usd", amount: 10_000)])
        XCTAssertEqual(report.headline.figures.orders, 1)
        XCTAssertEqual(report.headline.figures.customers, 1)
        XCTAssertEqual(report.groups.map(\.figures.revenue), [[Money(currency: "usd", amount: 10_000)]])
        let notes = try notes(report)
        XCTAssertTrue(notes.contains { $0.contains("cs_huge") && $0.contains("9223372036854775807") }, "\(notes)")
        XCTAssertEqual(report.lifetimeValue.first?.revenue, [Money(currency: "usd", amount: 10_000)])
        XCTAssertTrue(notes.contains { $0.contains("Lifetime value leaves out 1 payment") }, "\(notes)")
        let (text, page) = renderAll(report)
        XCTAssertTrue(text.contains("cs_huge"), text)
        XCTAssertTrue(page.contains("Left out of the figures") && page.contains("cs_huge"))
        }
    }

    func testTwoPaymentsOf5e18InOneCurrencyAreLeftOutWithNotes() throws {
        try forEachStorageEngine { location in
        try seed(location, [("ann@example.com", "cs_a", 5_000_000_000_000_000_000, "eur"), ("bob@example.com", "cs_b", 5_000_000_000_000_000_000, "eur"),
                  ("cat@example.com", "cs_c", 2_000, "eur")])
        let report = try build(location)
        XCTAssertEqual(report.headline.figures.revenue, [Money(currency: "eur", amount: 2_000)])
        XCTAssertEqual(report.headline.figures.averageOrderValue, [Money(currency: "eur", amount: 2_000)])
        let notes = try notes(report)
        XCTAssertEqual(notes.filter { $0.hasPrefix("Left out of every figure") }.count, 2, "\(notes)")
        XCTAssertTrue(notes.contains { $0.contains("cs_a") } && notes.contains { $0.contains("cs_b") })
        _ = renderAll(report)
        }
    }

    /// A lifetime-value sum of plausible amounts that leaves the 64-bit range is `nil`, and the implausible row is
    /// counted, whichever engine the rows were read from.
    func testALifetimeValueTotalBeyond64BitsIsNilOnBothEngines() throws {
        try forEachStorageEngine { location in
            let write = try ReportDataWritingOpening.open(location, keyPrefix: "test:")
            try write.transaction {
                try write.campaign(id: "camp-a", name: "Spring", at: Self.t)
                let ann = try write.contact(email: "ann@example.com", firstSeenAt: Self.t)
                try write.activity(contact: ann, kind: "sent", campaign: "camp-a", at: Self.t + Self.day)
                for index in 0..<9_300 {
                    try write.payment(contact: ann, kind: .payment, reference: "cs_\(index)", amount: MoneySum.plausibleLimit,
                                      currency: "usd", at: Self.t + 2 * Self.day)
                }
                try write.payment(contact: ann, kind: .payment, reference: "cs_huge", amount: .max, currency: "usd", at: Self.t + 3 * Self.day)
                try write.payment(contact: ann, kind: .payment, reference: "cs_eur", amount: 500, currency: "eur", at: Self.t + 3 * Self.day)
                try write.finish()
            }
            write.close()
            let queries = try ReportQueriesOpening.open(location)
            defer { queries.close() }
            let until = Self.t + 30 * Self.day
            let rows = ReportPaymentHistory(try queries.paymentHistory(until: until), until: until).lifetimeValueRows().sorted { ($0.currency ?? "") < ($1.currency ?? "") }
            XCTAssertEqual(rows, [
                ReportLifetimeValueRow(source: "camp-a", currency: nil, count: 1, revenue: 0, implausible: 0),
                ReportLifetimeValueRow(source: "camp-a", currency: "eur", count: 1, revenue: 500, implausible: 0),
                ReportLifetimeValueRow(source: "camp-a", currency: "usd", count: 1, revenue: nil, implausible: 1),
            ])
        }
    }

    func testWhenATotalWouldOverflowTheLargestRowsAreLeftOut() {
        // 9,300 plausible rows at the limit and one small one: the small one and 9,223 large ones are counted, 77 left out.
        var payments = (0..<9_300).map { index in
            ReportBuilder.AttributedPayment(contactID: Int64(index), reference: "cs_\(index)", kind: .payment,
                                            amount: MoneySum.plausibleLimit, currency: "usd", occurredAt: Self.t, viaLink: false,
                                            firstPurchase: true)
        }
        payments.insert(ReportBuilder.AttributedPayment(contactID: -1, reference: "cs_small", kind: .payment, amount: 5,
                                                        currency: "usd", occurredAt: Self.t, viaLink: false, firstPurchase: true), at: 0)
        let (kept, notes) = ReportBuilder.countable(payments)
        XCTAssertEqual(kept.count, 9_224)
        XCTAssertEqual(kept.first?.reference, "cs_small")
        XCTAssertEqual(notes.count, ReportBuilder.maximumNotes + 1)
        XCTAssertTrue(notes[0].contains("would overflow the 64-bit USD total"), notes[0])
        XCTAssertEqual(notes.last, "\(77 - ReportBuilder.maximumNotes) more payment rows left out of every figure for the same reasons.")
        let figures = ReportBuilder.paymentFigures(kept)
        XCTAssertEqual(figures.revenue, [Money(currency: "usd", amount: 9_223 * MoneySum.plausibleLimit + 5)])
    }

    func testAverageOrderValueDividesAnyAmountWithoutOverflow() {
        XCTAssertEqual(ReportBuilder.divide(.max, by: 2), 4_611_686_018_427_387_904)
        XCTAssertEqual(ReportBuilder.divide(.min, by: 2), -4_611_686_018_427_387_904)
        XCTAssertEqual(ReportBuilder.divide(.max, by: 1), .max)
        XCTAssertEqual(ReportBuilder.divide(-3, by: 2), -2)
        XCTAssertEqual(ReportBuilder.divide(5, by: 4), 1)
    }

    func testChartsAndMoneyFormattingTakeHugeValues() {
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "usd", amount: .max)), "USD 92,233,720,368,547,758.07")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "usd", amount: .min)), "USD -92,233,720,368,547,758.08")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "jpy", amount: .max)), "JPY 9,223,372,036,854,775,807")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "kwd", amount: -1_250)), "KWD -1.250")
        XCTAssertEqual(SVGChart.fixed(9.3e18, decimals: 2), "9,300,000,000,000,000,000")
        XCTAssertEqual(SVGChart.fixed(-1e19, decimals: 0), "-10,000,000,000,000,000,000")
        XCTAssertEqual(SVGChart.fixed(.infinity, decimals: 1), "∞")
        XCTAssertEqual(SVGChart.fixed(.nan, decimals: 1), "n/a")
        XCTAssertEqual(SVGChart.number(1e19), "10,000,000,000,000,000,000")
        XCTAssertEqual(SVGChart.number(2.5), "2.5")
        XCTAssertEqual(CurrencyFormat.text(MoneyRate(currency: "usd", amount: 9.223372036854775807e18)),
                       "USD 92,233,720,368,547,760")
        let huge = Double(Int64.max)
        for values in [[huge, 1], [huge / 100, huge], [.greatestFiniteMagnitude, 1], [.infinity, .nan, -huge]] {
            let bars = values.enumerated().map { ChartBar(label: "bar \($0.offset)", value: $0.element, valueLabel: SVGChart.number($0.element)) }
            XCTAssertTrue(SVGChart.horizontalBars(bars, title: "t", axisLabel: "a").hasSuffix("</svg>"))
            XCTAssertTrue(SVGChart.groupedBars([ChartGroup(label: "g", bars: bars)], series: ["x", "y"], title: "t", xAxisLabel: "x",
                                               yAxisLabel: "y").hasSuffix("</svg>"))
            XCTAssertTrue(SVGChart.histogram(bars, title: "t", xAxisLabel: "x", yAxisLabel: "y").hasSuffix("</svg>"))
        }
        XCTAssertFalse(ISO8601Timestamp.string(.min).isEmpty)
        XCTAssertFalse(ISO8601Timestamp.string(.max).isEmpty)
        XCTAssertEqual(ISO8601Timestamp.string(-1), "1969-12-31T23:59:59.999Z")
    }
}
