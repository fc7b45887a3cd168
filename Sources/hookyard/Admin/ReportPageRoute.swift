import Dispatch
import Foundation
import HTTPServer
import HookyardFoundation
import Logging
import Reports

/// `GET /report` on the admin listener: the success-metrics report as one HTML page (`ReportPage`), for the period,
/// model, grouping and lookback in the query string (`?since=2026-08-01&until=2026-09-01&model=first&by=rule`).
///
/// A bad parameter is answered 400 naming it (an HTML page with the form for browsers, the usual JSON error for
/// other clients). Reports are computed one at a time on a queue of their own, never on the server's event loop,
/// by `makeReport` (which opens its own read-only connection); a failure is logged and answered 500. Every answer
/// carries `Cache-Control: no-store` and, for HTML, `ReportPage.contentSecurityPolicy` and `nosniff`. Thread-safe.
struct ReportPageRoute: Sendable {
    /// Computes the report for a query; called on `queue`, may throw (the database cannot be read).
    let makeReport: @Sendable (ReportQuery) throws -> Report
    /// `reports.lookback` from the configuration: the lookback when the query names none.
    let defaultLookbackMilliseconds: Int64
    /// The daemon's clock (Unix milliseconds): "now" ends the default period.
    let now: MillisecondClock
    let logger: Logger

    /// One report at a time: a page reload storm queues here instead of taking every core from the workers.
    private static let queue = DispatchQueue(label: "hookyard.report-page")

    /// The query parameters `/report` reads.
    static let parameters = ["since", "until", "model", "by", "lookback"]

    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let wantsHTML = Self.acceptsHTML(request)
        let query: ReportQuery
        do {
            query = try parse(target: request.target)
        } catch {
            if wantsHTML {
                let defaults = ReportQuery(since: now() - ReportQuery.defaultPeriodMilliseconds, until: now(),
                                           lookbackMilliseconds: defaultLookbackMilliseconds)
                var response = Self.page(status: 400, ReportPage.errorPage(error, defaults: defaults))
                response.errorReason = "invalid_query"
                return completion(response)
            }
            var response = HTTPResponse.error(status: 400, reason: "invalid_query", message: error.description)
            response.headers.add(name: "Cache-Control", value: "no-store")
            return completion(response)
        }
        Self.queue.async { [makeReport, logger] in
            do {
                completion(Self.page(status: 200, ReportPage.render(try makeReport(query))))
            } catch {
                logger.error("report: cannot compute the report", metadata: ["error": "\(error)"])
                var response = HTTPResponse.error(status: 500, reason: "report_failed",
                                                  message: "cannot compute the report: \(error); see the daemon's log")
                response.headers.add(name: "Cache-Control", value: "no-store")
                completion(response)
            }
        }
    }

    /// The query from the request target's query string (`application/x-www-form-urlencoded`, as a GET form sends
    /// it). - Throws: `ReportQueryError` for an unknown or repeated parameter, bad percent-encoding, or a value
    /// `ReportQuery.parse` refuses.
    func parse(target: String) throws(ReportQueryError) -> ReportQuery {
        var values: [String: String] = [:]
        if let question = target.firstIndex(of: "?") {
            for pair in target[target.index(after: question)...].split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = try Self.decode(parts[0])
                let value = try Self.decode(parts.count > 1 ? parts[1] : "")
                guard Self.parameters.contains(name) else {
                    throw ReportQueryError(field: "parameter", value: name,
                                           expected: Self.parameters.joined(separator: ", "))
                }
                guard values[name] == nil else {
                    throw ReportQueryError(field: "parameter", value: name, expected: "each parameter at most once")
                }
                values[name] = value
            }
        }
        return try ReportQuery.parse(since: values["since"], until: values["until"], model: values["model"], by: values["by"],
                                     lookback: values["lookback"], now: now(),
                                     defaultLookbackMilliseconds: defaultLookbackMilliseconds)
    }

    /// Form decoding: `+` is a space, then percent-escapes; surrounding whitespace is dropped (it never means
    /// anything here). - Throws: for an escape that is not UTF-8 hex.
    static func decode(_ text: Substring) throws(ReportQueryError) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        guard let decoded = spaced.removingPercentEncoding else {
            throw ReportQueryError(field: "query string", value: String(text), expected: "valid percent-encoding (%XX, UTF-8)")
        }
        return decoded.trimmingCharacters(in: .whitespaces)
    }

    /// Whether the client asked for HTML (a browser); curl and scripts get JSON errors.
    static func acceptsHTML(_ request: HTTPRequest) -> Bool {
        request.headers.values("Accept").contains { $0.lowercased().contains("text/html") }
    }

    /// An HTML answer with the page's security headers.
    static func page(status: Int, _ html: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Content-Security-Policy", value: ReportPage.contentSecurityPolicy)
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        return HTTPResponse(status: status, headers: headers, body: Array(html.utf8))
    }
}
