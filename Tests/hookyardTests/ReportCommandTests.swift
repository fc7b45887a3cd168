import DemoData
import Foundation
import Reports
import Store
import TestSupport
import XCTest

/// `hookyard report` and `hookyard demo seed`, the real binary on small databases.
final class ReportCommandTests: XCTestCase {
    private var directory: URL!
    private var database: String { directory.appendingPathComponent("report.db").path }
    /// 2026-08-01T00:00:00Z.
    private static let t: Int64 = 1_785_542_400_000
    private static let day: Int64 = 86_400_000

    /// One campaign whose name needs CSV quoting; ann (opened, paid USD 123.45 on day 3) and bob (paid EUR 50.00 on
    /// day 4), both emailed on day 1.
    override func setUpWithError() throws {
        directory = DaemonProcess.makeDirectory()
        let connection = try LoadingConnection.open(path: database)
        let write = try SQLiteReportDataWriter(database: connection, keyPrefix: "test:")
        try connection.transaction {
            try write.campaign(id: "camp-1", name: #"Spring, "big" sale"#, at: Self.t)
            let ann = try write.contact(email: "ann@example.com", firstSeenAt: Self.t)
            let bob = try write.contact(email: "bob@example.com", firstSeenAt: Self.t)
            for contact in [ann, bob] { try write.activity(contact: contact, kind: "sent", campaign: "camp-1", at: Self.t + Self.day) }
            try write.activity(contact: ann, kind: "opened", campaign: "camp-1", at: Self.t + 2 * Self.day)
            try write.payment(contact: ann, kind: .payment, reference: "cs_ann", amount: 12_345, currency: "usd", at: Self.t + 3 * Self.day,
                              tier: "pro")
            try write.payment(contact: bob, kind: .payment, reference: "cs_bob", amount: 5_000, currency: "eur", at: Self.t + 4 * Self.day)
            try write.finish()
        }
        connection.close()
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    private func report(_ arguments: [String], config: String? = nil) throws -> (status: Int32, output: String) {
        var command = ["report", "--database", database, "--since", "2026-08-01", "--until", "2026-08-31"] + arguments
        if let config {
            let file = directory.appendingPathComponent("hookyard.yaml")
            try config.write(to: file, atomically: true, encoding: .utf8)
            command += ["--config", file.path]
        }
        let (status, output) = try DaemonProcess.run(command)
        return (status, output)
    }

    func testTableShowsTheHeadlineAndTheCampaign() throws {
        let (status, output) = try report([])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.hasPrefix("Hookyard report  2026-08-01T00:00:00.000Z to 2026-08-31T00:00:00.000Z (until exclusive)\n"), output)
        XCTAssertFalse(output.contains("SYNTHETIC"))
        for line in ["emails sent              2 to 2 contacts", "open rate                50.0% (1)",
                     "revenue (net)            EUR 50.00  USD 123.45", "average order value      EUR 50.00  USD 123.45",
                     "revenue per email        EUR 25.000  USD 61.725", "customers                2 (2 new); lead -> customer 100.0%"] {
            XCTAssertTrue(output.contains(line), "missing \(line) in\n\(output)")
        }
        let row = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix(#"Spring, "big" sale"#) })
        XCTAssertTrue(row.contains("EUR 50.00  USD 123.45"), String(row))
    }

    func testJSONDecodesToTheReport() throws {
        let (status, output) = try report(["--format", "json", "--model", "first", "--by", "tier"])
        XCTAssertEqual(status, 0, output)
        let report = try JSONDecoder().decode(Report.self, from: Data(output.utf8))
        XCTAssertEqual(report.query.since, Self.t)
        XCTAssertEqual(report.query.model, .first)
        XCTAssertEqual(report.query.grouping, .tier)
        XCTAssertEqual(report.query.lookbackMilliseconds, 30 * Self.day)
        XCTAssertEqual(report.headline.figures.revenue, [Money(currency: "eur", amount: 5_000), Money(currency: "usd", amount: 12_345)])
        XCTAssertEqual(report.groups.map(\.key), ["(none)", "pro"])
        XCTAssertFalse(report.synthetic)
        XCTAssertTrue(output.contains(#""open_rate" : 0.5"#), "snake_case keys")
    }

    func testCSVHasOneQuotedRowPerGroupWithAColumnPerCurrency() throws {
        let (status, output) = try report(["--format", "csv"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.hasSuffix("\r\n"))
        let rows = Self.parseCSV(output)
        XCTAssertEqual(rows.count, 2)
        let record = Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1]))
        XCTAssertEqual(record["key"], "camp-1")
        XCTAssertEqual(record["name"], #"Spring, "big" sale"#)
        XCTAssertEqual(record["emails_sent"], "2")
        XCTAssertEqual(record["open_rate"], "0.5")
        XCTAssertEqual(record["revenue_usd"], "12345")
        XCTAssertEqual(record["revenue_eur"], "5000")
        XCTAssertEqual(record["aov_usd"], "12345")
        XCTAssertEqual(record["revenue_per_email_usd"], "6172.5")
        XCTAssertEqual(record["links_sent"], "0")
    }

    func testBadOptionsNameTheValueAndWhatIsAccepted() throws {
        let cases: [([String], String)] = [
            (["--model", "middle"], "invalid --model 'middle': expected first or last"),
            (["--by", "week"], "invalid --by 'week': expected campaign, rule, source, tier"),
            (["--lookback", "30"], "invalid --lookback '30': expected a duration such as 30d, 2w or 12h"),
            (["--since", "2026-09-01"], "invalid --since '2026-09-01': expected a time before until (2026-08-31T00:00:00.000Z)"),
            (["--format", "xml"], "'xml'"),
        ]
        for (arguments, message) in cases {
            let (status, output) = try report(arguments)
            XCTAssertNotEqual(status, 0, "\(arguments)")
            XCTAssertTrue(output.contains(message), "\(arguments): \(output)")
        }
        let (status, output) = try DaemonProcess.run(["report", "--since", "2026-13-01", "--database", database])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("invalid --since '2026-13-01': expected a date as YYYY-MM-DD (UTC midnight) or ISO 8601"), output)
        let missing = directory.appendingPathComponent("none.db").path
        let (missingStatus, missingOutput) = try DaemonProcess.run(["report", "--database", missing])
        XCTAssertNotEqual(missingStatus, 0)
        XCTAssertTrue(missingOutput.contains(missing), missingOutput)
    }

    func testTheLookbackComesFromTheConfigurationUnlessGiven() throws {
        let configured = try report(["--format", "json"], config: "reports:\n  lookback: 45d\n")
        XCTAssertEqual(try JSONDecoder().decode(Report.self, from: Data(configured.output.utf8)).query.lookbackMilliseconds, 45 * Self.day)
        let given = try report(["--format", "json", "--lookback", "2w"], config: "reports:\n  lookback: 45d\n")
        XCTAssertEqual(try JSONDecoder().decode(Report.self, from: Data(given.output.utf8)).query.lookbackMilliseconds, 14 * Self.day)

        let file = directory.appendingPathComponent("check.yaml")
        try "reports:\n  lookback: 45d\n".write(to: file, atomically: true, encoding: .utf8)
        let (status, output) = try DaemonProcess.run(["check-config", "--config", file.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("  report lookback           45d (last touch)"), output)
        try "reports:\n  lookback: soon\n  window: 3\n".write(to: file, atomically: true, encoding: .utf8)
        let (badStatus, badOutput) = try DaemonProcess.run(["check-config", "--config", file.path])
        XCTAssertNotEqual(badStatus, 0)
        XCTAssertTrue(badOutput.contains("\(file.path):2: reports.lookback: 'soon' is not a duration: use whole weeks, days or hours such as 30d, 2w or 12h"), badOutput)
        XCTAssertTrue(badOutput.contains("\(file.path):3: reports.window: unknown key"), badOutput)
    }

    func testDemoSeedFillsANewDatabaseAndRefusesARealOne() throws {
        let demo = directory.appendingPathComponent("demo.db").path
        let (status, output) = try DaemonProcess.run(["demo", "seed", "--database", demo, "--contacts", "300", "--seed", "4"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("synthetic demo data, seed 4: 300 contacts"), output)
        let table = try DaemonProcess.run(["report", "--database", demo])
        XCTAssertEqual(table.0, 0, table.1)
        XCTAssertTrue(table.1.contains("SYNTHETIC DEMO DATA"), table.1)
        XCTAssertTrue(table.1.contains("Demo: "), table.1)

        let again = try DaemonProcess.run(["demo", "seed", "--database", demo])
        XCTAssertNotEqual(again.0, 0)
        XCTAssertTrue(again.1.contains("already holds demo data; --force replaces it"), again.1)
        XCTAssertEqual(try DaemonProcess.run(["demo", "seed", "--database", demo, "--contacts", "50", "--force"]).0, 0)

        let real = try DaemonProcess.run(["demo", "seed", "--database", database, "--force"])
        XCTAssertNotEqual(real.0, 0)
        XCTAssertTrue(real.1.contains("holds real data (5 events, 2 contacts that are not demo data); demo data is never mixed into a real database"), real.1)
    }

    /// RFC 4180 records: fields split at commas outside quotes, `""` inside quotes is one quote, CRLF ends a record.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var characters = Array(text)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" { field.append("\""); characters.removeFirst() } else { quoted = false }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                record.append(field)
                field = ""
            } else if character == "\r\n" || character == "\n" {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.append(character)
            }
        }
        return records
    }
}
