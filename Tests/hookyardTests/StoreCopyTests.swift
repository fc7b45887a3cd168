import Foundation
import Intake
import PostgreSQL
import SQLite
import Store
import TestSupport
import XCTest

/// `hookyard store copy --to postgresql://…` through the real binary: a SQLite database copied into an empty
/// PostgreSQL one reads the same through every command; non-empty targets, non-PostgreSQL targets and PostgreSQL
/// sources are refused; text PostgreSQL cannot hold fails the copy and leaves the target empty.
final class StoreCopyTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = DaemonProcess.makeDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func hookyard(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> (Int32, String) {
        let (status, output) = try DaemonProcess.run(arguments)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix(DaemonProcess.recordedConfigurationNote) }
        return (status, lines.joined(separator: "\n"))
    }

    /// Runs a command that must succeed; its output.
    private func succeed(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let (status, output) = try hookyard(arguments)
        XCTAssertEqual(status, 0, "hookyard \(arguments.joined(separator: " ")): \(output)", file: file, line: line)
        return output
    }

    /// `stats --json` without its `database` object (a path and a size, which differ between the engines).
    private func stats(_ database: String) throws -> NSDictionary {
        let output = try succeed(["stats", "--json", "--database", database])
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertNotNil(object.removeValue(forKey: "database"))
        return object as NSDictionary
    }

    /// An output without the time it was made (a report's `generated …` or `generated_at`, an export's `exported_at`).
    private func withoutGenerationTime(_ output: String) -> String {
        output.replacingOccurrences(of: #""(generated_at|exported_at)"\s*:\s*"[^"]*""#, with: "$1", options: .regularExpression)
            .replacingOccurrences(of: #"generated [0-9T:.Z-]+"#, with: "generated", options: .regularExpression)
    }

    private func scalar(_ database: SQLiteDatabase, _ sql: String) throws -> Int64 {
        try XCTUnwrap(database.scalarInt(sql), sql)
    }

    func testADemoDatabaseCopiedToPostgreSQLReadsTheSameThroughEveryCommand() throws {
        let source = directory.appendingPathComponent("hookyard.db").path
        let target = try PostgreSQLTestServer.start().makeDatabase()
        _ = try succeed(["demo", "seed", "--contacts", "300", "--database", source])
        // An erased person: SQLite's AUTOINCREMENT never gives their id again, nor must PostgreSQL's identity.
        let (erasedEmail, erasedID): (String, Int64) = try {
            let database = try SQLiteDatabase(path: source, readOnly: true)
            defer { database.close() }
            let statement = try database.prepare("SELECT email, id FROM contacts ORDER BY id DESC LIMIT 1")
            XCTAssertTrue(try statement.step())
            return (try XCTUnwrap(statement.string(0)), statement.int(1))
        }()
        _ = try succeed(["contacts", "erase", erasedEmail, "--yes", "--database", source])

        let sourceDatabase = try SQLiteDatabase(path: source, readOnly: true)
        defer { sourceDatabase.close() }
        let maxEventID = try scalar(sourceDatabase, "SELECT max(id) FROM events")
        let maxContactID = try scalar(sourceDatabase, "SELECT max(id) FROM contacts")
        XCTAssertLessThan(maxContactID, erasedID, "the erased contact had the highest id")
        let email = try XCTUnwrap(try {
            let statement = try sourceDatabase.prepare(
                "SELECT email FROM contacts WHERE id IN (SELECT contact_id FROM contact_payments) ORDER BY id LIMIT 1")
            return try statement.step() ? statement.string(0) : nil
        }())
        var sourceCounts: [String: Int64] = [:]
        for table in StoreCopy.tables + ["demo_data"] {
            sourceCounts[table] = try scalar(sourceDatabase, "SELECT count(*) FROM \(table)")
        }
        XCTAssertGreaterThan(sourceCounts["events"] ?? 0, 0)
        XCTAssertGreaterThan(sourceCounts["contact_payments"] ?? 0, 0)

        let output = try succeed(["store", "copy", "--database", source, "--to", target])
        // One line per table with its rows, as in the source; then the total, with the password-free URI.
        for (table, rows) in sourceCounts {
            XCTAssertTrue(output.split(separator: "\n").contains { $0.split(separator: " ", omittingEmptySubsequences: true) == [Substring(table), Substring(String(rows))] },
                          "\(table) \(rows) in:\n\(output)")
        }
        XCTAssertFalse(output.contains("backup_origin"), output)
        let total = sourceCounts.values.reduce(0, +)
        XCTAssertTrue(output.contains("copied \(total) rows in "), output)
        XCTAssertTrue(output.contains("into \(target)"), output)

        // Every command reads the same on both engines.
        XCTAssertEqual(try stats(source), try stats(target))
        // The report's period fixed (by default it ends now, which moves between two runs); the demo's 90 days in it.
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        let period = ["--since", day.string(from: Date(timeIntervalSinceNow: -120 * 86_400)),
                      "--until", day.string(from: Date(timeIntervalSinceNow: 2 * 86_400))]
        for command in [["jobs", "list"], ["contacts", "show", email], ["events", "list"],
                        ["report", "--format", "json"] + period, ["report", "--by", "campaign"] + period] {
            let onSQLite = withoutGenerationTime(try succeed(command + ["--database", source]))
            let onPostgreSQL = withoutGenerationTime(try succeed(command + ["--database", target]))
            XCTAssertEqual(onSQLite, onPostgreSQL, "hookyard \(command.joined(separator: " "))")
            XCTAssertFalse(onSQLite.isEmpty, "hookyard \(command.joined(separator: " "))")
        }

        // The identities moved past the copied ids (and past the erased contact's).
        let connection = try PostgreSQLConnection(url: target)
        defer { connection.close() }
        let newEvent = try XCTUnwrap(connection.query("""
            INSERT INTO events (source, dedup_key, type, received_at, body, headers)
            VALUES ('stripe', 'after-copy', 'checkout.session.completed', 1, $1, '{}') RETURNING id
            """, [Array("{}".utf8)]).first).int(0)
        XCTAssertEqual(newEvent, maxEventID + 1)
        let newContact = try XCTUnwrap(connection.query("""
            INSERT INTO contacts (email, first_seen_at, updated_at) VALUES ('after-copy@example.com', 1, 1) RETURNING id
            """).first).int(0)
        XCTAssertEqual(newContact, erasedID + 1)

        // A second copy into the now non-empty target is refused, naming a table; nothing changes.
        let (status, refusal) = try hookyard(["store", "copy", "--database", source, "--to", target])
        XCTAssertEqual(status, 1, refusal)
        XCTAssertTrue(refusal.contains("is not empty: table events has \(sourceCounts["events"]! + 1) rows"), refusal)
        XCTAssertTrue(refusal.contains("create a new database"), refusal)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM events").first?.int(0), sourceCounts["events"]! + 1)

        // A PostgreSQL source is refused.
        let other = try PostgreSQLTestServer.start().makeDatabase()
        let (fromPostgreSQL, fromPostgreSQLOutput) = try hookyard(["store", "copy", "--database", target, "--to", other])
        XCTAssertEqual(fromPostgreSQL, 1, fromPostgreSQLOutput)
        XCTAssertTrue(fromPostgreSQLOutput.contains("copies a SQLite database"), fromPostgreSQLOutput)
        XCTAssertTrue(fromPostgreSQLOutput.contains("--database FILE"), fromPostgreSQLOutput)
    }

    /// The lead-to-sale walk on SQLite (the real daemon, the fake APIs), stopped, copied: the tables a real flow
    /// fills (job attempts, contact events, leads, customers, segments, rule runs, purchases, payment links, daemon
    /// status) read the same on PostgreSQL.
    func testARealFlowCopiedToPostgreSQLReadsTheSame() throws {
        let stripe = try FakeStripeAPI()
        let instantly = try FakeInstantlyAPI()
        let outreach = "6f1d2c3b-0001-4a5b-8c7d-000000000001"
        let payment = "6f1d2c3b-0002-4a5b-8c7d-000000000002"
        let customer = "6f1d2c3b-0003-4a5b-8c7d-000000000003"
        stripe.addPrice(id: "price_hookyard_test", unitAmount: 4900, currency: "usd")
        let leads = ["lead1@example.com", "lead2@example.com"]
        for email in leads { instantly.addLead(email: email, campaign: outreach, firstName: "Lead") }
        let yaml = try ScenarioHarness.exampleYAML("lead-to-sale")
        let daemon = try DaemonProcess(directory: directory, yaml: yaml, environment: [
            "HOOKYARD_PRICE_ID": "price_hookyard_test", "INSTANTLY_OUTREACH_CAMPAIGN_IDS": outreach,
            "INSTANTLY_PAYMENT_CAMPAIGN_ID": payment, "INSTANTLY_CUSTOMER_CAMPAIGN_ID": customer,
            "STRIPE_API_KEY": stripe.apiKey, "STRIPE_API_BASE": stripe.baseURL,
            "INSTANTLY_API_KEY": instantly.apiKey, "INSTANTLY_API_BASE": instantly.baseURL,
            "HOOKYARD_RETRY_BASE_MS": "20", "HOOKYARD_RETRY_CAP_MS": "200",
        ])
        for email in leads {
            let body = #"{"timestamp":"2026-11-25T10:00:00.000Z","event_type":"lead_interested","workspace":"\#(FakeInstantlyAPI.workspaceID)","campaign_id":"\#(outreach)","campaign_name":"Outreach","lead_email":"\#(email)","email_account":"sender@example.org"}"#
            let response = try daemon.client().roundTrip("POST", "/webhooks/instantly",
                                                         headers: [("Content-Type", "application/json"), ("X-Webhook-Secret", DaemonProcess.instantlySecret)],
                                                         body: Array(body.utf8))
            XCTAssertEqual(response.status, 200, response.bodyText)
        }
        XCTAssertTrue(waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
            stripe.paymentLinks.count == 2 && leads.allSatisfy { instantly.lead(email: $0, campaign: payment)?.payload["payment_link"] != nil }
        }, "payment links sent")
        let link = try XCTUnwrap(stripe.paymentLinks.first { $0.metadata["lead_email"] == leads[0] })
        let session = try stripe.addCheckoutSession(paymentLinkID: link.id, email: leads[0])
        let body = Array(session.completedEvent().utf8)
        let header = StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret, timestamp: Int64(Date().timeIntervalSince1970))
        let response = try daemon.client().roundTrip("POST", "/webhooks/stripe",
                                                     headers: [("Content-Type", "application/json"), ("Stripe-Signature", header)], body: body)
        XCTAssertEqual(response.status, 200, response.bodyText)
        XCTAssertTrue(waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
            instantly.lead(email: leads[0], campaign: customer)?.interestStatus == 4
        }, "the payer is in the customer campaign")
        XCTAssertTrue(try waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
            let (_, output) = try daemon.run(["stats", "--json"])
            let jobs = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["jobs"] as? [String: Int] ?? [:]
            return jobs["queued", default: 1] + jobs["running", default: 0] + jobs["retrying", default: 0] == 0
        }, "no job left to run")
        XCTAssertEqual(daemon.terminate(), 0)

        let source = daemon.databasePath
        let target = try PostgreSQLTestServer.start().makeDatabase()
        let output = try succeed(["store", "copy", "--database", source, "--to", target])
        let counts = Dictionary(uniqueKeysWithValues: output.split(separator: "\n").compactMap { line -> (String, Int)? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2, let rows = Int(fields[1]) else { return nil }
            return (String(fields[0]), rows)
        })
        for table in ["events", "jobs", "job_attempts", "contacts", "contact_events", "contact_leads", "contact_customers",
                      "contact_payments", "purchases", "rule_runs", "payment_links_sent", "daemon_status"] {
            XCTAssertGreaterThan(counts[table] ?? 0, 0, "\(table) filled by the flow and copied:\n\(output)")
        }
        XCTAssertEqual(try stats(source), try stats(target))
        for command in [["jobs", "list", "--limit", "200"], ["jobs", "show", "1"], ["events", "show", "3", "--json"],
                        ["contacts", "show", leads[0], "--json"], ["contacts", "export", leads[1]], ["alerts", "--all"]] {
            let onSQLite = withoutGenerationTime(try succeed(command + ["--database", source]))
            let onPostgreSQL = withoutGenerationTime(try succeed(command + ["--database", target]))
            XCTAssertEqual(onSQLite, onPostgreSQL, "hookyard \(command.joined(separator: " "))")
        }
    }

    func testATargetWithARowInAnyTableIsRefusedAndKeptAsItWas() throws {
        let source = directory.appendingPathComponent("hookyard.db").path
        _ = try succeed(["demo", "seed", "--contacts", "5", "--database", source])
        let target = try PostgreSQLTestServer.start().makeStoreDatabase()
        let connection = try PostgreSQLConnection(url: target)
        defer { connection.close() }
        try connection.execute("INSERT INTO cluster_rate_limits (name, next_slot_us) VALUES ('stripe', 1)")
        let (status, output) = try hookyard(["store", "copy", "--database", source, "--to", target])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("is not empty: table cluster_rate_limits has 1 rows"), output)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM events").first?.int(0), 0)

        try connection.execute("DELETE FROM cluster_rate_limits; CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('x')")
        let (other, otherOutput) = try hookyard(["store", "copy", "--database", source, "--to", target])
        XCTAssertEqual(other, 1, otherOutput)
        XCTAssertTrue(otherOutput.contains("is not empty: table notes has 1 rows"), otherOutput)

        try connection.execute("DROP TABLE notes")
        _ = try succeed(["store", "copy", "--database", source, "--to", target])
        XCTAssertGreaterThan(try XCTUnwrap(connection.query("SELECT count(*) FROM events").first).int(0), 0)
    }

    func testATargetThatIsNotPostgreSQLIsRefused() throws {
        let source = directory.appendingPathComponent("hookyard.db").path
        _ = try succeed(["demo", "seed", "--contacts", "5", "--database", source])
        let other = directory.appendingPathComponent("other.db").path
        let (status, output) = try hookyard(["store", "copy", "--database", source, "--to", other])
        XCTAssertEqual(status, 64, output)
        XCTAssertTrue(output.contains("--to must be a PostgreSQL URI"), output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: other))
    }

    func testTextPostgreSQLCannotHoldFailsTheCopyNamingRowAndColumnAndLeavesTheTargetEmpty() throws {
        let source = directory.appendingPathComponent("hookyard.db").path
        let target = try PostgreSQLTestServer.start().makeDatabase()
        let database = try LoadingConnection.open(path: source)
        defer { database.close() }
        try database.execute("""
            INSERT INTO events (id, source, dedup_key, type, received_at, body, headers)
            VALUES (7, 'stripe', 'a', 'checkout.session.completed', 1, x'00ff', CAST(x'7B7D00' AS TEXT));
            INSERT INTO events (id, source, dedup_key, type, received_at, body, headers)
            VALUES (8, 'stripe', 'b', 'checkout.session.completed', 1, x'00', '{}');
            INSERT INTO alerts (id, kind, subject, state, first_raised_at, last_raised_at, last_message)
            VALUES (3, 'delivery_failed', 'x', 'raised', 1, 1, CAST(x'6FFF' AS TEXT));
            """)

        let (nul, nulOutput) = try hookyard(["store", "copy", "--database", source, "--to", target])
        XCTAssertEqual(nul, 1, nulOutput)
        XCTAssertTrue(nulOutput.contains("cannot copy events row 7, column headers: the text holds a NUL character"), nulOutput)
        XCTAssertTrue(nulOutput.contains("correct or delete that row"), nulOutput)

        try database.execute("UPDATE events SET headers = '{}' WHERE id = 7")
        let (utf8, utf8Output) = try hookyard(["store", "copy", "--database", source, "--to", target])
        XCTAssertEqual(utf8, 1, utf8Output)
        XCTAssertTrue(utf8Output.contains("cannot copy alerts row 3, column last_message: the text is not valid UTF-8"), utf8Output)

        // The failed copies left the target empty (rolled back): the corrected database copies.
        try database.execute("UPDATE alerts SET last_message = 'o' WHERE id = 3")
        let output = try succeed(["store", "copy", "--database", source, "--to", target])
        XCTAssertTrue(output.contains("copied 4 rows in "), output)  // 2 events, 1 alert, store_probe's row
        let connection = try PostgreSQLConnection(url: target)
        defer { connection.close() }
        XCTAssertEqual(try connection.query("SELECT body FROM events WHERE id = 7").first?.bytes(0), [0x00, 0xFF])
        XCTAssertEqual(try connection.query("SELECT count(*) FROM alerts").first?.int(0), 1)
    }
}
