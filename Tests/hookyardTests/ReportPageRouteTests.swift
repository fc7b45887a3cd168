import Foundation
import HTTPServer
import Logging
import Metrics
import Reports
import XCTest
@testable import hookyard

/// `/report` on the admin responder, in process: query parsing, methods, content negotiation of errors, headers,
/// and a report that cannot be computed.
final class ReportPageRouteTests: XCTestCase {
    /// 2026-11-01T12:00:00Z.
    private let now: Int64 = 1_793_534_400_000
    private let day: Int64 = 86_400_000

    /// The responder with a report source that records the queries it was asked for.
    private func responder(tokens: [String] = [], failing: Bool = false) -> (AdminResponder, QueryLog) {
        let log = QueryLog()
        let now = self.now
        let route = ReportPageRoute(
            makeReport: { query in
                log.append(query)
                if failing { throw ReportQueryError(field: "database", value: "x", expected: "a readable database") }
                return Report(query: query, generatedAt: now, synthetic: false,
                              headline: ReportHeadline(figures: ReportFigures(emailsSent: 4), manualInterventions: 0, jobsRetried: 0,
                                                       jobsDiscarded: 0, deadJobsNow: 0),
                              funnel: [], groups: [], timeToPurchase: [], churn: [], lifetimeValue: [], controlGroups: [],
                              deliverability: [])
            },
            defaultLookbackMilliseconds: 14 * day, now: { now }, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let metrics = HookyardMetrics(version: "test", jobCounts: { [] })
        return (AdminResponder(metrics: metrics, access: AdminAccess(tokens: tokens), reportPage: route), log)
    }

    private func get(_ responder: AdminResponder, _ target: String, method: String = "GET", accept: String? = nil) -> HTTPResponse {
        var headers = HTTPHeaders()
        if let accept { headers.add(name: "Accept", value: accept) }
        let done = DispatchSemaphore(value: 0)
        let box = ResponseBox()
        responder.respond(to: HTTPRequest(method: method, target: target, headers: headers)) { response in
            box.response = response
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        return box.response!
    }

    func testDefaultsAndParametersReachTheReport() throws {
        let (responder, log) = responder()
        let page = get(responder, "/report")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(log.queries.last, ReportQuery(since: now - 30 * day, until: now, model: .last, grouping: .campaign,
                                                     lookbackMilliseconds: 14 * day))
        let body = String(decoding: page.body, as: UTF8.self)
        XCTAssertTrue(body.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(body.contains("<div class=\"label\">Emails sent</div><div class=\"value\">4</div>"))
        XCTAssertEqual(page.headers["Content-Type"], "text/html; charset=utf-8")
        XCTAssertEqual(page.headers["Content-Security-Policy"], ReportPage.contentSecurityPolicy)
        XCTAssertEqual(page.headers["X-Content-Type-Options"], "nosniff")
        XCTAssertEqual(page.headers["Cache-Control"], "no-store")

        // As the form sends them: `+` for spaces, percent-escapes, empty fields for defaults.
        XCTAssertEqual(get(responder, "/report?since=2026-10-01&until=2026-10-15T12%3A00%3A00Z&model=first&by=rule&lookback=").status, 200)
        XCTAssertEqual(log.queries.last, ReportQuery(since: 1_790_812_800_000, until: 1_790_812_800_000 + 14 * day + day / 2,
                                                     model: .first, grouping: .rule, lookbackMilliseconds: 14 * day))
        XCTAssertEqual(get(responder, "/report?by=+tier+&lookback=2w").status, 200)
        XCTAssertEqual(log.queries.last?.grouping, .tier)
        XCTAssertEqual(log.queries.last?.lookbackMilliseconds, 14 * day)
        XCTAssertEqual(get(responder, "/report", method: "HEAD").status, 200)
    }

    func testBadParametersAre400WithTheReason() {
        let (responder, log) = responder()
        let cases = [
            ("/report?by=week", "invalid by 'week': expected campaign, rule, source, tier"),
            ("/report?model=middle", "invalid model 'middle': expected first or last"),
            ("/report?since=2026-02-30", "invalid since '2026-02-30'"),
            ("/report?since=2026-11-01&until=2026-10-01", "invalid since '2026-11-01': expected a time before until"),
            ("/report?lookback=30", "invalid lookback '30': expected a duration such as 30d, 2w or 12h"),
            ("/report?colour=red", "invalid parameter 'colour': expected since, until, model, by, lookback"),
            ("/report?by=rule&by=tier", "invalid parameter 'by': expected each parameter at most once"),
            ("/report?since=%E0%A4%A", "invalid query string '%E0%A4%A': expected valid percent-encoding"),
        ]
        for (target, message) in cases {
            let json = get(responder, target)
            XCTAssertEqual(json.status, 400, target)
            XCTAssertEqual(json.headers["Content-Type"], "application/json", target)
            XCTAssertTrue(String(decoding: json.body, as: UTF8.self).contains(message), "\(target): \(String(decoding: json.body, as: UTF8.self))")
            let html = get(responder, target, accept: "text/html,application/xhtml+xml,*/*;q=0.8")
            XCTAssertEqual(html.status, 400, target)
            XCTAssertEqual(html.headers["Content-Type"], "text/html; charset=utf-8", target)
            XCTAssertEqual(html.headers["Content-Security-Policy"], ReportPage.contentSecurityPolicy)
            let page = String(decoding: html.body, as: UTF8.self)
            XCTAssertTrue(page.contains(message.replacingOccurrences(of: "'", with: "&#39;")), "\(target): \(page)")
            XCTAssertTrue(page.contains("<form method=\"get\" class=\"query\">"), target)
        }
        XCTAssertEqual(log.queries, [], "no report is computed for a bad query")
    }

    func testOtherMethodsAre405AndTheTokenComesFirst() {
        let (open, _) = responder()
        let post = get(open, "/report", method: "POST")
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.headers["Allow"], "GET, HEAD")
        let (guarded, log) = responder(tokens: ["report-route-token-0123456789"])
        XCTAssertEqual(get(guarded, "/report?by=week").status, 401, "a stranger learns nothing, not even about parameters")
        XCTAssertEqual(log.queries, [])
    }

    func testAReportThatCannotBeComputedIs500() {
        let (responder, _) = responder(failing: true)
        let response = get(responder, "/report")
        XCTAssertEqual(response.status, 500)
        XCTAssertTrue(String(decoding: response.body, as: UTF8.self).contains("cannot compute the report"))
        XCTAssertEqual(response.headers["Cache-Control"], "no-store")
    }
}

/// The queries a test's report source was asked for. Thread-safe (reports are computed on the route's queue).
private final class QueryLog: @unchecked Sendable {  // Safe: `stored` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: [ReportQuery] = []
    func append(_ query: ReportQuery) { lock.lock(); stored.append(query); lock.unlock() }
    var queries: [ReportQuery] { lock.lock(); defer { lock.unlock() }; return stored }
}

/// The one response a test waits for; written before the semaphore is signalled, read after.
private final class ResponseBox: @unchecked Sendable {  // Safe: ordered by the semaphore.
    var response: HTTPResponse?
}
