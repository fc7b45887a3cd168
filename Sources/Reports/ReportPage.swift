import HookyardFoundation
/// Renders a `Report` as one self-contained HTML document: the form that changes the period, model and grouping,
/// the headline figures, and the funnel, revenue, time-to-purchase, churn and control-group charts with their
/// tables.
///
/// Contract: the document needs nothing else: inline `<style>` and inline SVG (`SVGChart`), a system font stack,
/// no script, no external font, stylesheet or image, so it renders under `Content-Security-Policy: default-src
/// 'none'; style-src 'unsafe-inline'` (`contentSecurityPolicy`). Every piece of report data (campaign names, rule
/// names, keys) is escaped. Money is shown per currency, never summed across currencies; rates as percentages with
/// one decimal; a report of synthetic data carries a banner saying so. Deterministic for a given report.
/// Stateless and thread-safe.
public enum ReportPage {
    /// The policy the page is written to satisfy (and that `GET /report` sends): nothing may load, inline styles
    /// only, the form submits back to the same origin, and no other site may frame the page.
    public static let contentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    /// How many groups a revenue chart shows before pointing to the table for the rest.
    static let maximumBars = 12

    /// The whole page for `report`.
    public static func render(_ report: Report) -> String {
        let query = report.query
        var body = header(report)
        body += notes(report)
        body += headline(report)
        body += funnel(report)
        body += revenue(report)
        body += timeToPurchase(report)
        body += churn(report)
        body += controlGroups(report)
        body += groupTable(report)
        body += lifetimeValue(report)
        body += deliverability(report)
        body += """
            <footer><p>Generated \(stamp(report.generatedAt)). Definitions of every figure: docs/metrics.md in the Hookyard \
            repository. The same report on the command line: <code>hookyard report --since \(cliTime(query.since)) \
            --until \(cliTime(query.until)) --model \(query.model.rawValue) --by \(query.grouping.rawValue) \
            --lookback \(ReportTime.lookback(query.lookbackMilliseconds)) --format json</code>.</p></footer>
            """
        return document(title: "Hookyard report, \(ReportTime.day(query.since)) to \(ReportTime.day(query.until))", body: body)
    }

    /// The page answered for a query that could not be read: what was wrong, and the form to try again (with the
    /// defaults) so a browser user is not left with a bare error.
    public static func errorPage(_ error: ReportQueryError, defaults: ReportQuery) -> String {
        document(title: "Hookyard report: bad request", body: """
            <header><h1>Success metrics</h1>\(form(defaults))</header>
            <section class="error" role="alert"><h2>The report could not be made</h2><p>\(e(error.description)).</p>\
            <p>Dates are YYYY-MM-DD (UTC midnight) or ISO 8601; the period must end after it starts.</p></section>
            """)
    }

    // MARK: - Sections

    /// What the figures leave out (payment rows with amounts that cannot be counted), before the figures.
    static func notes(_ report: Report) -> String {
        guard !report.notes.isEmpty else { return "" }
        return "<section id=\"notes\" class=\"banner\" role=\"note\"><h2>Left out of the figures</h2><ul>"
            + report.notes.map { "<li>\(e($0))</li>" }.joined() + "</ul></section>"
    }

    static func header(_ report: Report) -> String {
        let query = report.query
        var html = "<header><h1>Success metrics</h1>"
        html += "<p class=\"period\">\(stamp(query.since)) to \(stamp(query.until)) (end excluded) · "
        html += "\(query.model == .first ? "first-touch" : "last-touch") attribution"
        if query.model == .last { html += ", lookback \(ReportTime.lookback(query.lookbackMilliseconds))" }
        html += " · grouped by \(query.grouping.rawValue)</p>"
        if report.synthetic {
            html += "<p class=\"banner\" role=\"note\"><strong>Synthetic demo data.</strong> This database was filled by "
                + "<code>hookyard demo seed</code>: the campaigns, people and payments are invented, and no figure on "
                + "this page is real.</p>"
        }
        html += form(query)
        html += "<nav><a href=\"#headline\">Headline</a><a href=\"#funnel\">Funnel</a><a href=\"#revenue\">Revenue</a>"
            + "<a href=\"#time-to-purchase\">Time to purchase</a><a href=\"#churn\">Churn</a>"
            + "<a href=\"#control\">Control group</a><a href=\"#groups\">By \(query.grouping.rawValue)</a>"
            + "<a href=\"#lifetime-value\">Lifetime value</a><a href=\"#deliverability\">Deliverability</a></nav>"
        return html + "</header>"
    }

    /// The GET form: it submits to the page's own URL, so it works behind a path prefix too.
    static func form(_ query: ReportQuery) -> String {
        // The until field is a date: a period ending mid-day (the default, "now") is shown as ending at the next
        // midnight, so submitting the form unchanged keeps today in the report.
        let day: Int64 = 86_400_000
        let untilDay = query.until % day == 0 ? query.until : (query.until / day + 1) * day
        func options(_ values: [String], selected: String, labels: [String: String]) -> String {
            values.map { value in
                "<option value=\"\(value)\"\(value == selected ? " selected" : "")>\(e(labels[value] ?? value))</option>"
            }.joined()
        }
        return """
            <form method="get" class="query"><label>From <input type="date" name="since" value="\(ReportTime.day(query.since))" \
            required></label><label>Until (excluded) <input type="date" name="until" value="\(ReportTime.day(untilDay))" \
            required></label><label>Attribution <select name="model">\(options(AttributionModel.allCases.map(\.rawValue), selected: query.model.rawValue, labels: ["first": "First touch", "last": "Last touch"]))\
            </select></label><label>Group by <select name="by">\(options(ReportGrouping.allCases.map(\.rawValue), selected: query.grouping.rawValue, labels: ["campaign": "Campaign", "rule": "Rule", "source": "Source", "tier": "Tier"]))\
            </select></label><label>Lookback <input type="text" name="lookback" value="\(ReportTime.lookback(query.lookbackMilliseconds))" \
            size="5" pattern="[0-9]+[hdwHDW]" title="a duration such as 30d, 2w or 12h"></label>\
            <button type="submit">Update</button></form>
            """
    }

    static func headline(_ report: Report) -> String {
        let head = report.headline
        let figures = head.figures
        var cards: [(label: String, value: String, detail: String)] = []
        cards.append(("Net revenue", moneyLines(figures.revenue),
                      figures.refunds.isEmpty ? "no refunds" : "after refunds of \(figures.refunds.map(CurrencyFormat.text).joined(separator: ", "))"))
        cards.append(("New customers", count(figures.newCustomers), "\(count(figures.customers)) paying customers in all"))
        cards.append(("Conversion, lead to customer", rate(figures.conversion),
                      "new customers / \(count(figures.contacted)) contacts emailed"))
        cards.append(("Average order value", moneyLines(figures.averageOrderValue), "\(count(figures.orders)) orders, net of refunds"))
        cards.append(("Time to first purchase", figures.medianTimeToFirstPurchaseMs.map { "\(ReportTime.duration($0)) median" } ?? "–",
                      figures.p90TimeToFirstPurchaseMs.map { "p90 \(ReportTime.duration($0)), \(count(figures.timeToFirstPurchaseCount)) customers measured" }
                        ?? "no new customer with an email before buying"))
        cards.append(("Emails sent", count(figures.emailsSent), "to \(count(figures.contacted)) contacts; reply rate \(rate(figures.replyRate))"))
        cards.append(("Revenue per email sent", figures.revenuePerEmail.isEmpty ? "–" : figures.revenuePerEmail.map(CurrencyFormat.text).map(e).joined(separator: "<br>"),
                      "payment links: \(rate(figures.linkClickThrough)) clicked, \(rate(figures.linkToPaid)) paid"))
        cards.append(("Manual interventions", count(head.manualInterventions),
                      "\(count(head.jobsRetried)) retried, \(count(head.jobsDiscarded)) discarded; \(count(head.deadJobsNow)) dead jobs now"))
        var html = "<section id=\"headline\"><h2>Headline</h2><div class=\"cards\">"
        for card in cards {
            html += "<div class=\"card\"><div class=\"label\">\(e(card.label))</div><div class=\"value\">\(card.value)</div>"
                + "<div class=\"detail\">\(e(card.detail))</div></div>"
        }
        return html + "</div></section>"
    }

    static func funnel(_ report: Report) -> String {
        let title = "Funnel from email sent to paid, contacts per step"
        let chart = report.funnel.allSatisfy { $0.count == 0 } ? SVGChart.empty(title: title) : SVGChart.funnel(report.funnel, title: title)
        return section("funnel", "Funnel: sent to paid", """
            Distinct contacts at each step in the period. Each step is counted on its own (someone can pay without a \
            link), so a step can exceed the one before it. Opens are unreliable: privacy proxies open every email.
            """, chart)
    }

    static func revenue(_ report: Report) -> String {
        let noun = report.query.grouping.rawValue
        let currencies = Set(report.groups.flatMap { $0.figures.revenue.map(\.currency) }).sorted()
        var charts = ""
        for currency in currencies {
            let rows = report.groups.compactMap { group -> (name: String, money: Money)? in
                guard let money = group.figures.revenue.first(where: { $0.currency == currency }), money.amount != 0 else { return nil }
                return (group.name, money)
            }.sorted { $0.money.amount != $1.money.amount ? $0.money.amount > $1.money.amount : $0.name < $1.name }
            let bars = rows.prefix(maximumBars).map { row in
                ChartBar(label: row.name, value: CurrencyFormat.major(Double(row.money.amount), currency: currency),
                         valueLabel: CurrencyFormat.text(row.money))
            }
            let code = currency.uppercased()
            charts += "<h3>\(e(code))</h3>"
            charts += SVGChart.horizontalBars(Array(bars), title: "Net revenue in \(code) by \(noun)",
                                              axisLabel: "Net revenue, \(code)")
            if rows.count > maximumBars {
                charts += "<p class=\"note\">\(rows.count - maximumBars) more in the table below.</p>"
            }
        }
        if currencies.isEmpty { charts = SVGChart.empty(title: "Net revenue by \(noun)") }
        return section("revenue", "Revenue by \(noun)", """
            Net revenue (payments and invoices minus refunds) in the period, credited by \(report.query.model == .first ? "first" : "last") \
            touch. One chart per currency: amounts are never converted or added across currencies.
            """, charts)
    }

    static func timeToPurchase(_ report: Report) -> String {
        let title = "New customers by time from first email to first purchase"
        let buckets = report.timeToPurchase
        let chart = buckets.allSatisfy { $0.count == 0 } ? SVGChart.empty(title: title)
            : SVGChart.histogram(buckets.map { ChartBar(label: $0.label, value: Double($0.count), valueLabel: count($0.count),
                                                        tooltip: "\($0.label): \(count($0.count)) new customers") },
                                 title: title, xAxisLabel: "Time from first email to first purchase", yAxisLabel: "New customers")
        return section("time-to-purchase", "Time to first purchase", """
            For the period's new customers who were emailed before buying: first payment minus first email.
            """, chart)
    }

    static func churn(_ report: Report) -> String {
        let title = "Subscription churn rate by onboarding sequence"
        let groups = report.churn.map { row in
            ChartGroup(label: row.name, bars: [ChartBar(
                label: row.name, value: row.rate ?? 0, valueLabel: rate(row.rate),
                tooltip: "\(row.name): \(count(row.churned)) of \(count(row.subscribers)) subscribers churned")])
        }
        let chart = SVGChart.groupedBars(groups, series: ["Churn rate"], title: title, xAxisLabel: "Onboarding sequence",
                                         yAxisLabel: "Churned", tickLabel: { SVGChart.percent($0) })
        let table = self.table(["Onboarding sequence", "Subscribers", "Churned", "Churn rate"], report.churn.map { row in
            [name(row.name, key: row.sequence), count(row.subscribers), count(row.churned), rate(row.rate)]
        }, empty: "No subscribers in this period.")
        return section("churn", "Churn by onboarding sequence", """
            Subscribers whose subscription ended in the period, out of those subscribed before it ended and not churned \
            before it began, by the campaign that first emailed them after their first invoice.
            """, chart + table)
    }

    static func controlGroups(_ report: Report) -> String {
        let title = "Conversion of contacts held back by a rollout (control) against those the rule ran for (treated)"
        let groups = report.controlGroups.map { row in
            ChartGroup(label: row.rule, bars: [
                ChartBar(label: "control", value: row.controlRate ?? 0, valueLabel: rate(row.controlRate),
                         tooltip: "\(row.rule), control: \(count(row.controlConverted)) of \(count(row.control)) converted"),
                ChartBar(label: "treated", value: row.treatedRate ?? 0, valueLabel: rate(row.treatedRate),
                         tooltip: "\(row.rule), treated: \(count(row.treatedConverted)) of \(count(row.treated)) converted"),
            ])
        }
        let chart = SVGChart.groupedBars(groups, series: ["Control (held back)", "Treated"], title: title, xAxisLabel: "Rule",
                                         yAxisLabel: "Converted", tickLabel: { SVGChart.percent($0) })
        let table = self.table(["Rule", "Treated", "Converted", "Rate", "Control", "Converted", "Rate", "Difference"],
                               report.controlGroups.map { row in
            [e(row.rule) + (min(row.treated, row.control) < 30 ? " <span class=\"flag\">small sample</span>" : ""),
             count(row.treated), count(row.treatedConverted), rate(row.treatedRate),
             count(row.control), count(row.controlConverted), rate(row.controlRate),
             row.differencePoints.map { "\($0 > 0 ? "+" : "")\(SVGChart.fixed($0, decimals: 1)) pp" } ?? "–"]
        }, empty: "No rule held anyone back in this period (see rollout: in docs/workflows.md).")
        return section("control", "Control group: did the flow help?", """
            Per rule with a staged rollout: contacts the rule ran for beside those it held back, and how many of each paid \
            afterwards. Groups under 30 contacts are marked: with so few, a difference is mostly noise.
            """, chart + table)
    }

    /// The per-group figures as two tables, outreach (emails and links) and sales, so each fits a laptop screen.
    /// Columns no group has a value for (email counts when grouping by tier) are left out, and so are outreach rows
    /// without any (the `direct` group).
    static func groupTable(_ report: Report) -> String {
        typealias Column = (header: String, cell: (ReportFigures) -> String?)
        let outreach: [Column] = [
            ("Emails sent", { $0.emailsSent.map(count) }),
            ("Contacted", { $0.contacted.map(count) }),
            ("Open rate*", { $0.contacted == nil ? nil : rate($0.openRate) }),
            ("Click rate", { $0.contacted == nil ? nil : rate($0.clickRate) }),
            ("Reply rate", { $0.contacted == nil ? nil : rate($0.replyRate) }),
            ("Links sent", { $0.linksSent.map(count) }),
            ("Link click-through", { $0.linksSent == nil ? nil : rate($0.linkClickThrough) }),
            ("Link to paid", { $0.linksSent == nil ? nil : rate($0.linkToPaid) }),
        ]
        let sales: [Column] = [
            ("Customers", { count($0.customers) }),
            ("New customers", { count($0.newCustomers) }),
            ("Conversion", { $0.conversion.map { SVGChart.percent($0) } }),
            ("Orders", { count($0.orders) }),
            ("Net revenue", { moneyLines($0.revenue) }),
            ("Average order", { moneyLines($0.averageOrderValue) }),
            ("Revenue per email", { $0.revenuePerEmail.isEmpty ? nil : $0.revenuePerEmail.map(CurrencyFormat.text).map(e).joined(separator: "<br>") }),
        ]
        let noun = report.query.grouping.rawValue
        let heading = noun.prefix(1).uppercased() + noun.dropFirst()
        func table(_ columns: [Column], skipEmptyRows: Bool) -> String {
            let shown = columns.filter { column in report.groups.contains { column.cell($0.figures) != nil } }
            let groups = report.groups.filter { group in !skipEmptyRows || shown.contains { $0.cell(group.figures) != nil } }
            return self.table([heading] + shown.map(\.header), groups.map { group in
                [name(group.name, key: group.key)] + shown.map { $0.cell(group.figures) ?? "–" }
            }, empty: "Nothing happened in this period.")
        }
        let hasOutreach = outreach.contains { column in report.groups.contains { column.cell($0.figures) != nil } }
        var content = ""
        if hasOutreach {
            content += "<h3>Outreach</h3>" + table(outreach, skipEmptyRows: true) + "<h3>Sales</h3>"
        }
        content += table(sales, skipEmptyRows: false)
        return section("groups", "By \(noun)", """
            Every figure per \(noun), largest net revenue first. \
            *Open rates are unreliable: privacy proxies and Apple Mail Privacy Protection open every email.
            """, content)
    }

    static func lifetimeValue(_ report: Report) -> String {
        section("lifetime-value", "Customer lifetime value by acquisition source", """
            Customers by the first-touch campaign of their first payment (or direct): their net revenue up to the end of \
            the period, all time, divided by the customers who paid in that currency.
            """, table(["Acquisition source", "Customers", "Net revenue", "Lifetime value"], report.lifetimeValue.map { row in
                [name(row.name, key: row.source), count(row.customers), moneyLines(row.revenue), moneyLines(row.lifetimeValue)]
            }, empty: "No customers yet."))
    }

    static func deliverability(_ report: Report) -> String {
        let names = report.query.grouping == .campaign
            ? Dictionary(report.groups.map { ($0.key, $0.name) }, uniquingKeysWith: { first, _ in first }) : [:]
        return section("deliverability", "Deliverability", """
            Bounce, unsubscribe and reply rates per sending account and per campaign (out of emails sent).
            """, table(["Scope", "Account or campaign", "Sent", "Bounced", "Bounce rate", "Unsubscribed", "Unsubscribe rate",
                        "Replied", "Reply rate"], report.deliverability.map { row in
                [row.scope == .account ? "account" : "campaign", name(names[row.key] ?? row.key, key: row.key), count(row.sent),
                 count(row.bounced), rate(row.bounceRate), count(row.unsubscribed), rate(row.unsubscribeRate),
                 count(row.replied), rate(row.replyRate)]
            }, empty: "No data: no deliverability figures were recorded for this period."))
    }

    // MARK: - Building blocks

    static func section(_ id: String, _ title: String, _ intro: String, _ content: String) -> String {
        "<section id=\"\(id)\"><h2>\(e(title))</h2><p class=\"intro\">\(e(intro))</p><div class=\"figure\">\(content)</div></section>"
    }

    /// A table whose cells are already markup (escaped by the caller); numbers right-aligned (every column but the
    /// first). `empty` stands in when there are no rows.
    static func table(_ headers: [String], _ rows: [[String]], empty: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"empty\">\(e(empty))</p>" }
        var html = "<div class=\"table\"><table><thead><tr>"
        html += headers.map { "<th scope=\"col\">\(e($0))</th>" }.joined()
        html += "</tr></thead><tbody>"
        for row in rows {
            html += "<tr>" + row.enumerated().map { index, cell in index == 0 ? "<th scope=\"row\">\(cell)</th>" : "<td>\(cell)</td>" }.joined() + "</tr>"
        }
        return html + "</tbody></table></div>"
    }

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex"><title>\(e(title))</title><style>\(style)</style></head>
        <body><main>\(body)</main></body></html>

        """
    }

    /// A name, with its key as a tooltip when they differ (a campaign's Instantly id).
    static func name(_ name: String, key: String) -> String {
        name == key ? e(name) : "<span title=\"\(e(key))\">\(e(name))</span>"
    }

    static func moneyLines(_ amounts: [Money]) -> String {
        amounts.isEmpty ? "–" : amounts.map { e(CurrencyFormat.text($0)) }.joined(separator: "<br>")
    }

    static func count(_ value: Int) -> String { SVGChart.grouped(Int64(value)) }
    static func count(_ value: Int?) -> String { value.map(count) ?? "–" }
    static func rate(_ value: Double?) -> String { value.map { SVGChart.percent($0) } ?? "–" }

    /// `2026-11-25 12:34 UTC`.
    static func stamp(_ milliseconds: Int64) -> String {
        let iso = ISO8601Timestamp.string(milliseconds)
        return "\(iso.prefix(10)) \(iso.dropFirst(11).prefix(5)) UTC"
    }

    /// A time as `hookyard report` reads it: the day alone at UTC midnight, else ISO 8601.
    static func cliTime(_ milliseconds: Int64) -> String {
        milliseconds % 86_400_000 == 0 ? ReportTime.day(milliseconds) : ISO8601Timestamp.string(milliseconds)
    }

    static func e(_ text: String) -> String { Markup.escape(text) }

    static let style = """
        :root{color-scheme:light;--text:#1f2937;--muted:#6b7280;--line:#e5e7eb;--accent:#2563eb;--soft:#f9fafb}
        *{box-sizing:border-box}
        body{margin:0;background:#fff;color:var(--text);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",Arial,sans-serif;font-variant-numeric:tabular-nums}
        main{max-width:1120px;margin:0 auto;padding:24px 28px 48px}
        h1{font-size:28px;margin:0 0 4px}
        h2{font-size:20px;margin:0 0 4px}
        h3{font-size:13px;margin:16px 0 4px;color:var(--muted);letter-spacing:.05em;text-transform:uppercase}
        code{font:13px ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace}
        .period{color:var(--muted);margin:0 0 12px}
        .banner{background:#fef3c7;border:1px solid #f59e0b;border-left-width:6px;border-radius:6px;padding:10px 14px;margin:0 0 14px}
        form.query{display:flex;flex-wrap:wrap;gap:10px 18px;align-items:flex-end;background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
        form.query label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:2px}
        form.query input,form.query select,form.query button{font:inherit;font-size:14px;padding:4px 8px;border:1px solid #d1d5db;border-radius:6px;background:#fff;color:var(--text)}
        form.query button{background:var(--accent);border-color:var(--accent);color:#fff;padding:5px 16px;cursor:pointer}
        nav{display:flex;flex-wrap:wrap;gap:4px 16px;margin:14px 0 0;font-size:13px}
        nav a{color:var(--accent);text-decoration:none}
        section{margin:34px 0 0}
        .intro{color:var(--muted);margin:0 0 12px;max-width:80ch}
        .figure svg{display:block;width:100%;max-width:760px;height:auto}
        .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:12px}
        .card{border:1px solid var(--line);border-radius:8px;padding:12px 14px}
        .card .label{font-size:13px;color:var(--muted)}
        .card .value{font-size:24px;font-weight:650;line-height:1.25;margin:4px 0}
        .card .detail{font-size:12.5px;color:var(--muted)}
        .table{overflow-x:auto;margin-top:12px}
        table{border-collapse:collapse;font-size:13.5px;width:100%}
        th,td{padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
        thead th{font-size:12px;color:var(--muted);font-weight:600;text-align:right;white-space:nowrap;border-bottom:2px solid var(--line)}
        thead th:first-child,tbody th{text-align:left}
        tbody th{font-weight:500;min-width:14ch;max-width:30ch;overflow-wrap:anywhere}
        td{text-align:right;white-space:nowrap}
        tbody tr:nth-child(even){background:var(--soft)}
        .flag{display:inline-block;font-size:11px;font-weight:600;color:#92400e;background:#fef3c7;border-radius:4px;padding:0 5px;margin-left:4px}
        .empty{color:var(--muted);font-style:italic;border:1px dashed var(--line);border-radius:8px;padding:12px 14px}
        .note{color:var(--muted);font-size:13px}
        .error{border:1px solid #dc2626;border-left-width:6px;border-radius:6px;padding:10px 14px;background:#fef2f2}
        footer{margin-top:40px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:13px}
        @media print{
        @page{margin:14mm}
        body{font-size:11pt}
        main{max-width:none;padding:0}
        form.query,nav{display:none}
        section{break-inside:avoid;margin-top:20px}
        .table{overflow:visible}
        .banner{border:2px solid #000}
        }
        """
}
