import HookyardConfiguration
import Alerts
import ArgumentParser
import Foundation
import HookyardFoundation
import Reports
import Store

/// `hookyard report`: the success metrics (attribution, funnel, revenue, churn, control groups) for a period, read
/// from the database without writing to it (a WAL reader: the daemon keeps running).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Which campaign made money, and how fast: the success-metrics report for a period.",
        discussion: """
            Computed from the database (docs/metrics.md defines every figure). The period is [--since, --until): \
            dates are YYYY-MM-DD (UTC midnight) or ISO 8601; by default the last 30 days. Money stays in its currency.
            """)

    /// How the report is printed.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, csv
    }

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Start of the period, inclusive: YYYY-MM-DD (UTC) or ISO 8601 (default: 30 days before --until).")
    var since: String?
    @Option(help: "End of the period, exclusive: YYYY-MM-DD (UTC) or ISO 8601 (default: now).")
    var until: String?
    @Option(help: "Attribution model: first or last touch.") var model = "last"
    @Option(help: "Group by campaign, rule, source or tier.") var by = "campaign"
    @Option(help: "table, json or csv (one row per group).") var format: Format = .table
    @Option(help: "How far before a purchase a touch counts as its last touch: 30d, 2w, 12h (default: reports.lookback, 30d).")
    var lookback: String?

    func run() throws {
        let now = WallClock.nowMilliseconds()
        let query: ReportQuery
        do {
            let settings = try options.load(rules: false)
            query = try ReportQuery.parse(since: since, until: until, model: model, by: by, lookback: lookback, now: now,
                                          defaultLookbackMilliseconds: settings.reportLookbackMilliseconds)
            let builder = try openStore {
                try ReportBuilder(settings.databaseLocation, deliverability: settings.reportDeliverability())
            }
            defer { builder.close() }
            let report = try builder.build(query, now: now)
            switch format {
            case .table: print(ReportText.render(report), terminator: "")
            case .csv:
                print(ReportCSV.render(report), terminator: "")
                // The CSV holds the groups only: what they leave out goes to standard error.
                for note in report.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            }
        } catch let error as ReportQueryError {
            throw ValidationError("invalid --\(error.field) '\(error.value)': expected \(error.expected)")
        }
    }
}
