import HookyardFoundation
/// The report as plain text for a terminal (`hookyard report --format table`): the headline block, the per-group table
/// with aligned columns (groups by name; ids are in the JSON and CSV), then the funnel, time to purchase, churn, lifetime value, control groups and
/// deliverability. Stateless.
public enum ReportText {
    public static func render(_ report: Report) -> String {
        let query = report.query
        let figures = report.headline.figures
        var lines: [String] = []
        lines.append("Hookyard report  \(ISO8601Timestamp.string(query.since)) to \(ISO8601Timestamp.string(query.until)) (until exclusive)")
        lines.append("attribution \(query.model.rawValue) touch, lookback \(ReportTime.lookback(query.lookbackMilliseconds)), "
                     + "by \(query.grouping.rawValue); generated \(ISO8601Timestamp.string(report.generatedAt))")
        if report.synthetic {
            lines.append("SYNTHETIC DEMO DATA: this database was filled by `hookyard demo seed`; no figure is real.")
        }
        if !report.notes.isEmpty {
            lines.append("")
            lines.append("Notes (rows left out of the figures below)")
            lines += report.notes.map { "  - " + $0 }
        }

        lines.append("")
        lines.append("Headline")
        var headline: [[String]] = [
            ["emails sent", "\(figures.emailsSent ?? 0) to \(figures.contacted ?? 0) contacts"],
            ["open rate", "\(ReportFormat.percent(figures.openRate)) (\(figures.opened ?? 0)) unreliable: privacy proxies open every email"],
            ["click rate", "\(ReportFormat.percent(figures.clickRate)) (\(figures.clicked ?? 0))"],
            ["reply rate", "\(ReportFormat.percent(figures.replyRate)) (\(figures.replied ?? 0))"],
            ["payment links", "\(figures.linksSent ?? 0) sent, \(figures.linksClicked ?? 0) clicked "
             + "(\(ReportFormat.percent(figures.linkClickThrough))), \(figures.linksPaid ?? 0) paid (\(ReportFormat.percent(figures.linkToPaid)))"],
            ["customers", "\(figures.customers) (\(figures.newCustomers) new); lead -> customer \(ReportFormat.percent(figures.conversion))"],
            ["revenue (net)", ReportFormat.money(figures.revenue)],
            ["gross, refunds", "\(ReportFormat.money(figures.grossRevenue)); \(ReportFormat.money(figures.refunds))"],
            ["orders", "\(figures.orders)" + (figures.ordersByCurrency.isEmpty ? "" : " ("
                + figures.ordersByCurrency.map { "\($0.currency.uppercased()) \($0.count)" }.joined(separator: ", ") + ")")],
            ["average order value", ReportFormat.money(figures.averageOrderValue)],
            ["revenue per email", ReportFormat.money(figures.revenuePerEmail)],
            ["first email to purchase", "median \(ReportFormat.duration(figures.medianTimeToFirstPurchaseMs)), "
             + "p90 \(ReportFormat.duration(figures.p90TimeToFirstPurchaseMs)) (\(figures.timeToFirstPurchaseCount) new customers)"],
            ["manual interventions", "\(report.headline.manualInterventions) (\(report.headline.jobsRetried) retried, "
             + "\(report.headline.jobsDiscarded) discarded); dead jobs now: \(report.headline.deadJobsNow)"],
        ]
        headline = headline.map { ["  " + $0[0], $0[1]] }
        lines += table(headline, numeric: [])

        lines.append("")
        lines.append("By \(query.grouping.rawValue)" + (query.grouping == .tier ? "" : " (\(query.model.rawValue) touch)"))
        if report.groups.isEmpty {
            lines.append("  (no activity or payment in the period)")
        } else {
            let header = [query.grouping.rawValue.uppercased(), "SENT", "CONTACTED", "OPEN", "CLICK", "REPLY", "LINKS", "CLICKED", "PAID", "NEW",
                          "CUSTOMERS", "CONVERSION", "ORDERS", "REVENUE", "AOV", "PER EMAIL", "MEDIAN TTP"]
            let rows = report.groups.map { group -> [String] in
                let f = group.figures
                return [shorten(group.name, 40), ReportFormat.count(f.emailsSent), ReportFormat.count(f.contacted),
                        ReportFormat.percent(f.openRate), ReportFormat.percent(f.clickRate), ReportFormat.percent(f.replyRate),
                        ReportFormat.count(f.linksSent), ReportFormat.count(f.linksClicked), ReportFormat.count(f.linksPaid),
                        String(f.newCustomers), String(f.customers), ReportFormat.percent(f.conversion), String(f.orders),
                        ReportFormat.money(f.revenue), ReportFormat.money(f.averageOrderValue), ReportFormat.money(f.revenuePerEmail),
                        ReportFormat.duration(f.medianTimeToFirstPurchaseMs)]
            }
            lines += table([header] + rows, numeric: Set(1...12))
        }

        lines.append("")
        lines.append("Funnel (distinct contacts in the period)")
        lines += table(report.funnel.map { ["  " + $0.label, String($0.count)] }, numeric: [1])

        lines.append("")
        lines.append("First email to first purchase (new customers)")
        let largest = max(report.timeToPurchase.map(\.count).max() ?? 0, 1)
        lines += table(report.timeToPurchase.map { bucket in
            ["  " + bucket.label, String(bucket.count), String(repeating: "#", count: (bucket.count * 40 + largest - 1) / largest)]
        }, numeric: [1])

        lines.append("")
        lines.append("Subscription churn by onboarding sequence")
        lines += section(report.churn.isEmpty, ["SEQUENCE", "SUBSCRIBERS", "CHURNED", "RATE"], report.churn.map {
            [shorten($0.name, 40), String($0.subscribers), String($0.churned), ReportFormat.percent($0.rate)]
        }, numeric: [1, 2, 3])

        lines.append("")
        lines.append("Customer lifetime value by acquisition source (net revenue before until / customers)")
        lines += section(report.lifetimeValue.isEmpty, ["SOURCE", "CUSTOMERS", "REVENUE", "LIFETIME VALUE"], report.lifetimeValue.map {
            [shorten($0.name, 40), String($0.customers), ReportFormat.money($0.revenue), ReportFormat.money($0.lifetimeValue)]
        }, numeric: [1])

        lines.append("")
        lines.append("Rollout control groups (treated vs held back; small groups are noisy)")
        lines += section(report.controlGroups.isEmpty, ["RULE", "TREATED", "CONVERTED", "RATE", "CONTROL", "CONVERTED", "RATE", "DIFFERENCE"],
                         report.controlGroups.map {
            [$0.rule, String($0.treated), String($0.treatedConverted), ReportFormat.percent($0.treatedRate), String($0.control),
             String($0.controlConverted), ReportFormat.percent($0.controlRate), ReportFormat.points($0.differencePoints)]
        }, numeric: Set(1...7))

        if !report.deliverability.isEmpty {
            lines.append("")
            lines.append("Deliverability")
            lines += table([["SCOPE", "KEY", "SENT", "BOUNCED", "UNSUBSCRIBED", "REPLIED", "BOUNCE", "UNSUBSCRIBE", "REPLY"]]
                           + report.deliverability.map {
                [$0.scope.rawValue, $0.key, String($0.sent), String($0.bounced), String($0.unsubscribed), String($0.replied),
                 ReportFormat.percent($0.bounceRate), ReportFormat.percent($0.unsubscribeRate), ReportFormat.percent($0.replyRate)]
            }, numeric: Set(2...8))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A titled table, or `(none)`.
    private static func section(_ empty: Bool, _ header: [String], _ rows: [[String]], numeric: Set<Int>) -> [String] {
        empty ? ["  (none)"] : table([header] + rows, numeric: numeric)
    }

    /// Rows with every column as wide as its widest cell, two spaces apart; `numeric` columns right-aligned.
    static func table(_ rows: [[String]], numeric: Set<Int>) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { index in rows.map { index < $0.count ? $0[index].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                return numeric.contains(index) ? padding + cell : (index == row.count - 1 ? cell : cell + padding)
            }.joined(separator: "  ")
        }
    }

    private static func shorten(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
