import Foundation

/// The report's groups as CSV (RFC 4180: comma-separated, CRLF line ends, fields with a comma, quote or line break
/// quoted with quotes doubled): a header, then one row per group. Rates are fractions (0.25), amounts are minor
/// units, each currency in columns of its own (`revenue_usd`, `aov_eur`, ...) for every currency in the report;
/// an empty field is a figure that does not apply or is undefined. Stateless.
public enum ReportCSV {
    public static func render(_ report: Report) -> String {
        var currencies = Set<String>()
        for group in report.groups {
            let figures = group.figures
            currencies.formUnion((figures.revenue + figures.grossRevenue + figures.refunds + figures.averageOrderValue).map(\.currency))
            currencies.formUnion(figures.ordersByCurrency.map(\.currency))
        }
        let sorted = currencies.sorted()
        var header = ["key", "name", "emails_sent", "contacted", "opened", "clicked", "replied", "open_rate", "click_rate", "reply_rate",
                      "links_sent", "links_clicked", "links_paid", "link_click_through", "link_to_paid", "customers",
                      "new_customers", "conversion", "orders", "time_to_first_purchase_count",
                      "median_time_to_first_purchase_ms", "p90_time_to_first_purchase_ms"]
        for currency in sorted {
            header += ["revenue_", "gross_revenue_", "refunds_", "orders_", "aov_", "revenue_per_email_"].map { $0 + currency }
        }
        var lines = [header]
        for group in report.groups {
            let f = group.figures
            var row = [group.key, group.name, count(f.emailsSent), count(f.contacted), count(f.opened), count(f.clicked),
                       count(f.replied), rate(f.openRate), rate(f.clickRate), rate(f.replyRate), count(f.linksSent),
                       count(f.linksClicked), count(f.linksPaid), rate(f.linkClickThrough), rate(f.linkToPaid),
                       String(f.customers), String(f.newCustomers), rate(f.conversion), String(f.orders),
                       String(f.timeToFirstPurchaseCount), f.medianTimeToFirstPurchaseMs.map(String.init) ?? "",
                       f.p90TimeToFirstPurchaseMs.map(String.init) ?? ""]
            for currency in sorted {
                func amount(_ list: [Money]) -> String { list.first { $0.currency == currency }.map { String($0.amount) } ?? "" }
                row += [amount(f.revenue), amount(f.grossRevenue), amount(f.refunds),
                        f.ordersByCurrency.first { $0.currency == currency }.map { String($0.count) } ?? "",
                        amount(f.averageOrderValue),
                        f.revenuePerEmail.first { $0.currency == currency }.map { rate($0.amount) } ?? ""]
            }
            lines.append(row)
        }
        return lines.map { $0.map(field).joined(separator: ",") + "\r\n" }.joined()
    }

    /// One field, quoted when it holds a comma, quote, CR or LF.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func count(_ value: Int?) -> String { value.map(String.init) ?? "" }

    /// Shortest text that reads back as the same Double.
    private static func rate(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
}
