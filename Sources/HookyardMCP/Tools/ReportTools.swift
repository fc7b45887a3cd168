import Foundation
import MCP
import Reports

/// `get_report`: the success-metrics report, as `hookyard report` computes it. Stateless.
enum ReportTools {
    static let getReport = HookyardTool(
        name: "get_report", title: "Success-metrics report",
        description: """
            The success-metrics report for a period [since, until) (default: the last 30 days): revenue attributed to \
            campaigns (first or last touch), grouped by campaign, rule, source or tier; funnel, churn and control \
            groups; exactly as `hookyard report` computes it (docs/metrics.md defines every figure).
            """,
        input: ToolSchema.object([
            "since": ToolSchema.string("Start, inclusive: YYYY-MM-DD (UTC) or ISO 8601 (default: 30 days before until)."),
            "until": ToolSchema.string("End, exclusive: YYYY-MM-DD (UTC) or ISO 8601 (default: now)."),
            "model": ToolSchema.choice("Attribution model (default last).", ["first", "last"]),
            "by": ToolSchema.choice("Grouping (default campaign).", ["campaign", "rule", "source", "tier"]),
            "lookback": ToolSchema.string("How far before a purchase a touch counts: 30d, 2w, 12h (default: reports.lookback)."),
        ]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["since", "until", "model", "by", "lookback"])
        let now = ToolTime.now()
        let query: ReportQuery
        do {
            query = try ReportQuery.parse(since: try input.string("since"), until: try input.string("until"),
                                          model: try input.string("model"), by: try input.string("by"),
                                          lookback: try input.string("lookback"), now: now,
                                          defaultLookbackMilliseconds: context.configuration.reportLookbackMilliseconds)
        } catch let error as ReportQueryError {
            throw ToolError.invalidArgument("get_report", error.field, "'\(error.value)' is invalid: expected \(error.expected)")
        }
        return try await context.storage.withConnections { storage in
            let report = try storage.reports().build(query, now: now)
            let encoder = JSONEncoder()
            let structured = try JSONDecoder().decode(Value.self, from: try encoder.encode(report))
            return ToolOutput(text: ReportText.render(report), structured: structured)
        }
    }
}
