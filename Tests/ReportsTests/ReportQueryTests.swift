import Foundation
import Reports
import XCTest

final class ReportQueryTests: XCTestCase {
    /// 2026-08-14T00:00:00Z.
    private let august14: Int64 = 1_786_665_600_000

    func testDefaultsAreTheLastThirtyDaysLastTouchByCampaign() throws {
        let query = try ReportQuery.parse(now: august14)
        XCTAssertEqual(query, ReportQuery(since: august14 - 30 * 86_400_000, until: august14, model: .last,
                                          grouping: .campaign, lookbackMilliseconds: 30 * 86_400_000))
        XCTAssertEqual(try ReportQuery.parse(since: "", until: " ", model: "", by: "", lookback: "", now: august14), query)
    }

    func testReadsDaysISOTimesModelGroupingAndLookback() throws {
        let query = try ReportQuery.parse(since: "2026-08-01", until: "2026-08-14T02:00:00+02:00", model: "FIRST", by: "tier",
                                          lookback: "14d", now: 0)
        XCTAssertEqual(query.since, august14 - 13 * 86_400_000)
        XCTAssertEqual(query.until, august14)
        XCTAssertEqual(query.model, .first)
        XCTAssertEqual(query.grouping, .tier)
        XCTAssertEqual(query.lookbackMilliseconds, 14 * 86_400_000)
        XCTAssertEqual(try ReportQuery.lookbackMilliseconds("2w", field: "lookback"), 14 * 86_400_000)
        XCTAssertEqual(try ReportQuery.lookbackMilliseconds("12h", field: "lookback"), 12 * 3_600_000)
    }

    func testErrorsNameTheValueAndWhatIsAccepted() {
        func message(_ body: () throws -> ReportQuery) -> String {
            do { _ = try body(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message { try ReportQuery.parse(since: "2026-13-01", now: august14) },
                       "invalid since '2026-13-01': expected a date as YYYY-MM-DD (UTC midnight) or ISO 8601 such as 2026-08-14T09:30:00Z")
        XCTAssertEqual(message { try ReportQuery.parse(model: "middle", now: august14) },
                       "invalid model 'middle': expected first or last")
        XCTAssertEqual(message { try ReportQuery.parse(by: "week", now: august14) },
                       "invalid by 'week': expected campaign, rule, source, tier")
        XCTAssertEqual(message { try ReportQuery.parse(lookback: "30", now: august14) },
                       "invalid lookback '30': expected a duration such as 30d, 2w or 12h")
        XCTAssertEqual(message { try ReportQuery.parse(lookback: "0d", now: august14) },
                       "invalid lookback '0d': expected a duration such as 30d, 2w or 12h")
        XCTAssertEqual(message { try ReportQuery.parse(since: "2026-08-14", until: "2026-08-01", now: august14) },
                       "invalid since '2026-08-14': expected a time before until (2026-08-01T00:00:00.000Z)")
    }

    func testJSONHasSnakeCaseKeysNullsAndRoundTrips() throws {
        let report = Report(
            query: ReportQuery(since: august14 - 86_400_000, until: august14, model: .first, grouping: .campaign),
            generatedAt: august14, synthetic: true,
            headline: ReportHeadline(figures: ReportFigures(emailsSent: 0, contacted: 0), manualInterventions: 2, jobsRetried: 1,
                                     jobsDiscarded: 1, deadJobsNow: 3),
            funnel: FunnelStage.Step.allCases.map { FunnelStage(stage: $0, count: 0) },
            groups: [ReportGroup(key: "c1", name: "Spring", figures: ReportFigures(revenue: [Money(currency: "usd", amount: 100)]))],
            timeToPurchase: [DurationBucket(label: ">=60d", lowerMs: 60 * 86_400_000, upperMs: nil, count: 1)],
            churn: [], lifetimeValue: [], controlGroups: [], deliverability: [])
        let data = try JSONEncoder().encode(report)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["generated_at"] as? String, "2026-08-14T00:00:00.000Z")
        let query = try XCTUnwrap(object["query"] as? [String: Any])
        XCTAssertEqual(query["since"] as? String, "2026-08-13T00:00:00.000Z")
        XCTAssertEqual(query["by"] as? String, "campaign")
        XCTAssertEqual(query["lookback_ms"] as? Int, 30 * 86_400_000)
        let headline = try XCTUnwrap(object["headline"] as? [String: Any])
        XCTAssertTrue(headline["open_rate"] is NSNull, "absent rates are written as null")
        XCTAssertEqual(headline["dead_jobs_now"] as? Int, 3)
        XCTAssertEqual(headline["opens_unreliable"] as? Bool, true)
        let group = try XCTUnwrap((object["groups"] as? [[String: Any]])?.first)
        XCTAssertEqual(group["key"] as? String, "c1")
        XCTAssertEqual((group["revenue"] as? [[String: Any]])?.first?["amount"] as? Int, 100)
        XCTAssertEqual((object["funnel"] as? [[String: Any]])?.map { $0["stage"] as? String },
                       ["sent", "opened", "clicked", "replied", "link_sent", "link_clicked", "paid"])
        XCTAssertEqual(try JSONDecoder().decode(Report.self, from: data), report)
    }
}
