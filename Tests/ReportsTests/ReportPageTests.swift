import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Reports

/// The HTML page of a report: figures as a reader sees them, escaping, money per currency, empty sections, and a
/// document that needs nothing outside itself.
final class ReportPageTests: XCTestCase {
    /// 2026-11-01T00:00:00Z.
    static let november1: Int64 = 1_793_491_200_000
    static let day: Int64 = 86_400_000

    /// A report with figures chosen by hand: two currencies, a zero-decimal one, a hostile campaign name.
    static func sampleReport(synthetic: Bool = true) -> Report {
        let query = ReportQuery(since: november1 - 30 * day, until: november1 + 12 * 3_600_000, model: .last, grouping: .campaign)
        let headline = ReportHeadline(
            figures: ReportFigures(emailsSent: 12_400, contacted: 4_100, opened: 2_000, clicked: 310, replied: 205,
                                   openRate: 2_000.0 / 4_100, clickRate: 310.0 / 4_100, replyRate: 205.0 / 4_100,
                                   linksSent: 120, linksClicked: 60, linksPaid: 24, linkClickThrough: 0.5, linkToPaid: 0.2,
                                   customers: 31, newCustomers: 27, conversion: 27.0 / 4_100,
                                   revenue: [Money(currency: "jpy", amount: 120_000), Money(currency: "usd", amount: 1_234_550)],
                                   grossRevenue: [Money(currency: "jpy", amount: 120_000), Money(currency: "usd", amount: 1_254_450)],
                                   refunds: [Money(currency: "usd", amount: -19_900)], orders: 40,
                                   ordersByCurrency: [CurrencyCount(currency: "jpy", count: 2), CurrencyCount(currency: "usd", count: 38)],
                                   averageOrderValue: [Money(currency: "jpy", amount: 60_000), Money(currency: "usd", amount: 32_488)],
                                   revenuePerEmail: [MoneyRate(currency: "jpy", amount: 9.677), MoneyRate(currency: "usd", amount: 99.56)],
                                   timeToFirstPurchaseCount: 25, medianTimeToFirstPurchaseMs: 3 * day + 4 * 3_600_000,
                                   p90TimeToFirstPurchaseMs: 19 * day),
            manualInterventions: 7, jobsRetried: 5, jobsDiscarded: 2, deadJobsNow: 1)
        let groups = [
            ReportGroup(key: "0b6f1c1e-0000-4000-8000-000000000001", name: "Spring <script>alert(1)</script> launch",
                        figures: ReportFigures(emailsSent: 8_000, contacted: 2_600, openRate: 0.5, clickRate: 0.08, replyRate: 0.05,
                                               linksSent: 80, linkClickThrough: 0.5, linkToPaid: 0.25, customers: 20, newCustomers: 18,
                                               conversion: 18.0 / 2_600, revenue: [Money(currency: "usd", amount: 980_000)],
                                               orders: 25, averageOrderValue: [Money(currency: "usd", amount: 39_200)],
                                               revenuePerEmail: [MoneyRate(currency: "usd", amount: 122.5)])),
            ReportGroup(key: "0b6f1c1e-0000-4000-8000-000000000002", name: "Tokyo partners",
                        figures: ReportFigures(emailsSent: 4_400, contacted: 1_500, customers: 2, newCustomers: 2,
                                               revenue: [Money(currency: "jpy", amount: 120_000), Money(currency: "usd", amount: 4_900)],
                                               orders: 3)),
            ReportGroup(key: "direct", name: "direct",
                        figures: ReportFigures(customers: 9, newCustomers: 7, revenue: [Money(currency: "usd", amount: 249_650)], orders: 12)),
        ]
        let buckets = ["<1d", "1-3d", "3-7d", "7-14d", "14-30d", "30-60d", ">=60d"]
        let counts = [4, 6, 7, 3, 2, 2, 1]
        return Report(
            query: query, generatedAt: november1 + 12 * 3_600_000 + 34 * 60_000, synthetic: synthetic, headline: headline,
            funnel: FunnelStage.Step.allCases.enumerated().map { index, step in
                FunnelStage(stage: step, count: [4_100, 2_000, 310, 205, 120, 60, 31][index])
            },
            groups: groups,
            timeToPurchase: zip(buckets, counts).map { DurationBucket(label: $0, lowerMs: 0, upperMs: nil, count: $1) },
            churn: [ChurnRow(sequence: "0b6f1c1e-0000-4000-8000-000000000003", name: "Welcome sequence", subscribers: 40, churned: 3, rate: 0.075),
                    ChurnRow(sequence: "none", name: "none", subscribers: 12, churned: 3, rate: 0.25)],
            lifetimeValue: [LifetimeValueRow(source: "direct", name: "direct", customers: 9, revenue: [Money(currency: "usd", amount: 249_650)],
                                             customersByCurrency: [CurrencyCount(currency: "usd", count: 9)],
                                             lifetimeValue: [Money(currency: "usd", amount: 27_739)])],
            controlGroups: [ControlGroupRow(rule: "nudge-after-click", treated: 180, treatedConverted: 27, treatedRate: 0.15,
                                            control: 20, controlConverted: 1, controlRate: 0.05, differencePoints: 10)],
            deliverability: [])
    }

    func testHeadlineFiguresAreFormattedPerCurrency() {
        let html = ReportPage.render(Self.sampleReport())
        for expected in ["USD 12,345.50", "JPY 120,000", "USD 324.88", "JPY 60,000", "after refunds of USD -199.00",
                         ">27<", "31 paying customers", ">0.7%<", "4,100 contacts emailed", ">3d 4h median<",
                         "p90 19d, 25 customers measured", ">12,400<", "reply rate 5.0%", "USD 0.996", "JPY 9.7",
                         "payment links: 50.0% clicked, 20.0% paid", ">7<", "5 retried, 2 discarded; 1 dead jobs now"] {
            XCTAssertTrue(html.contains(expected), expected)
        }
        XCTAssertTrue(html.contains("2026-10-02 00:00 UTC to 2026-11-01 12:00 UTC (end excluded) · last-touch attribution, lookback 30d · grouped by campaign"), html)
        XCTAssertTrue(html.contains("Generated 2026-11-01 12:34 UTC"))
        XCTAssertTrue(html.contains("hookyard report --since 2026-10-02 --until 2026-11-01T12:00:00.000Z --model last --by campaign --lookback 30d --format json"))
    }

    func testCampaignNamesAreEscaped() throws {
        let html = ReportPage.render(Self.sampleReport())
        XCTAssertFalse(html.contains("<script"), "a campaign name must never become markup")
        XCTAssertTrue(html.contains("Spring &lt;script&gt;alert(1)&lt;/script&gt; launch"))
        XCTAssertFalse(html.lowercased().contains("javascript:"))
    }

    func testOneRevenueChartPerCurrency() throws {
        let html = ReportPage.render(Self.sampleReport())
        XCTAssertTrue(html.contains("aria-label=\"Net revenue in JPY by campaign\""))
        XCTAssertTrue(html.contains("aria-label=\"Net revenue in USD by campaign\""))
        // The JPY chart holds only the campaign that earned yen, in whole yen.
        let jpy = try XCTUnwrap(chart(in: html, labelled: "Net revenue in JPY by campaign"))
        XCTAssertTrue(jpy.contains(">JPY 120,000</text>"), jpy)
        XCTAssertFalse(jpy.contains("USD"), jpy)
        XCTAssertEqual(jpy.components(separatedBy: "<g class=\"bar\">").count - 1, 1)
        let usd = try XCTUnwrap(chart(in: html, labelled: "Net revenue in USD by campaign"))
        XCTAssertEqual(usd.components(separatedBy: "<g class=\"bar\">").count - 1, 3)
        // Largest first: the spring launch (USD 9,800.00), direct (USD 2,496.50), Tokyo (USD 49.00).
        let order = ["USD 9,800.00", "USD 2,496.50", "USD 49.00"].map { usd.range(of: $0)!.lowerBound }
        XCTAssertEqual(order, order.sorted())
    }

    func testChartsAndSectionsArePresent() {
        let html = ReportPage.render(Self.sampleReport())
        for label in ["Funnel from email sent to paid, contacts per step", "New customers by time from first email to first purchase",
                      "Subscription churn rate by onboarding sequence",
                      "Conversion of contacts held back by a rollout (control) against those the rule ran for (treated)"] {
            XCTAssertTrue(html.contains("aria-label=\"\(label)\""), label)
        }
        XCTAssertTrue(html.contains(">51.7% of previous · 0.8% of sent</text>"))  // paid: 31 of 60 who clicked a link, of 4,100
        XCTAssertTrue(html.contains(">7.5%</text>"))  // welcome sequence churn
        XCTAssertTrue(html.contains("+10.0 pp"))
        XCTAssertTrue(html.contains("nudge-after-click <span class=\"flag\">small sample</span>"))  // control of 20
        XCTAssertTrue(html.contains("No data: no deliverability figures were recorded for this period."))
        XCTAssertTrue(html.contains("<span title=\"0b6f1c1e-0000-4000-8000-000000000002\">Tokyo partners</span>"))
    }

    func testSyntheticBannerOnlyForSyntheticData() {
        XCTAssertTrue(ReportPage.render(Self.sampleReport(synthetic: true)).contains("<strong>Synthetic demo data.</strong>"))
        XCTAssertFalse(ReportPage.render(Self.sampleReport(synthetic: false)).contains("Synthetic demo data"))
    }

    func testFormKeepsTheQuery() {
        var report = Self.sampleReport()
        report.query.model = .first
        report.query.grouping = .tier
        report.query.lookbackMilliseconds = 12 * 3_600_000
        let html = ReportPage.render(report)
        XCTAssertTrue(html.contains("<form method=\"get\" class=\"query\">"))
        XCTAssertTrue(html.contains("name=\"since\" value=\"2026-10-02\""))
        // The period ends mid-day: the date field shows the next midnight so today stays in.
        XCTAssertTrue(html.contains("name=\"until\" value=\"2026-11-02\""))
        XCTAssertTrue(html.contains("<option value=\"first\" selected>First touch</option>"))
        XCTAssertTrue(html.contains("<option value=\"tier\" selected>Tier</option>"))
        XCTAssertTrue(html.contains("name=\"lookback\" value=\"12h\""))
        XCTAssertTrue(html.contains("first-touch attribution · grouped by tier"))
    }

    func testColumnsWithoutValuesAreLeftOut() {
        var report = Self.sampleReport()
        report.query.grouping = .tier
        report.groups = [ReportGroup(key: "pro", name: "pro", figures: ReportFigures(customers: 3, newCustomers: 1,
                                                                                      revenue: [Money(currency: "eur", amount: 14_700)], orders: 3))]
        let html = ReportPage.render(report)
        let table = String(html[html.range(of: "<section id=\"groups\">")!.lowerBound...])
        XCTAssertFalse(table.prefix(2_000).contains("Emails sent"))
        XCTAssertTrue(table.contains("<th scope=\"col\">Tier</th>"))
        XCTAssertTrue(table.contains("EUR 147.00"))
    }

    func testEmptyReportSaysSoEverywhere() {
        var report = Self.sampleReport(synthetic: false)
        report.headline = ReportHeadline(figures: ReportFigures(), manualInterventions: 0, jobsRetried: 0, jobsDiscarded: 0, deadJobsNow: 0)
        report.funnel = FunnelStage.Step.allCases.map { FunnelStage(stage: $0, count: 0) }
        report.groups = []
        report.timeToPurchase = report.timeToPurchase.map { DurationBucket(label: $0.label, lowerMs: $0.lowerMs, upperMs: $0.upperMs, count: 0) }
        report.churn = []
        report.lifetimeValue = []
        report.controlGroups = []
        let html = ReportPage.render(report)
        XCTAssertEqual(html.components(separatedBy: ">No data in this period</text>").count - 1, 5, "funnel, revenue, time, churn, control")
        for text in ["Nothing happened in this period.", "No subscribers in this period.", "No customers yet.",
                     "No rule held anyone back in this period"] {
            XCTAssertTrue(html.contains(text), text)
        }
    }

    func testDocumentIsSelfContained() throws {
        let html = ReportPage.render(Self.sampleReport())
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"))
        for forbidden in ["<script", "<link", "src=", "@import", "url(", "http://", "https://", "<iframe", " on"] {
            let scrubbed = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
            if forbidden == " on" {
                XCTAssertNil(scrubbed.range(of: #" on[a-z]+="#, options: .regularExpression), "no event handler attributes")
            } else {
                XCTAssertFalse(scrubbed.contains(forbidden), forbidden)
            }
        }
        XCTAssertEqual(html, ReportPage.render(Self.sampleReport()), "deterministic")
        XCTAssertTrue(ReportPage.contentSecurityPolicy.hasPrefix("default-src 'none'; style-src 'unsafe-inline'"))
    }

    func testErrorPageNamesTheProblemAndOffersTheForm() {
        let defaults = ReportQuery(since: Self.november1 - 30 * Self.day, until: Self.november1)
        let html = ReportPage.errorPage(ReportQueryError(field: "by", value: "<week>", expected: "campaign, rule, source, tier"),
                                        defaults: defaults)
        XCTAssertTrue(html.contains("invalid by &#39;&lt;week&gt;&#39;: expected campaign, rule, source, tier."), html)
        XCTAssertTrue(html.contains("name=\"until\" value=\"2026-11-01\""))
    }

    func testCurrencyFormat() {
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "usd", amount: 123_456_789)), "USD 1,234,567.89")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "usd", amount: -5)), "USD -0.05")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "jpy", amount: 1_500)), "JPY 1,500")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "KRW", amount: 9)), "KRW 9")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "kwd", amount: 1_250)), "KWD 1.250")
        XCTAssertEqual(CurrencyFormat.text(Money(currency: "eur", amount: 0)), "EUR 0.00")
        XCTAssertEqual(CurrencyFormat.text(MoneyRate(currency: "usd", amount: 4.5)), "USD 0.045")
        XCTAssertEqual(CurrencyFormat.text(MoneyRate(currency: "jpy", amount: 4.5)), "JPY 4.5")
        // The table, the CSV-less CLI figures and `stats` use the same format as the page.
        XCTAssertEqual(ReportFormat.amount(1_250, currency: "kwd"), "KWD 1.250")
        XCTAssertEqual(ReportFormat.money([Money(currency: "usd", amount: 123_456), Money(currency: "jpy", amount: 1_500)]),
                       "USD 1,234.56  JPY 1,500")
        XCTAssertEqual(ReportFormat.money([MoneyRate(currency: "usd", amount: 4.5)]), "USD 0.045")
    }

    /// The `<svg>` element whose `aria-label` is `label`.
    private func chart(in html: String, labelled label: String) -> String? {
        guard let marker = html.range(of: "aria-label=\"\(label)\""),
              let start = html.range(of: "<svg", options: .backwards, range: html.startIndex..<marker.lowerBound),
              let end = html.range(of: "</svg>", range: marker.upperBound..<html.endIndex) else { return nil }
        return String(html[start.lowerBound..<end.upperBound])
    }
}
