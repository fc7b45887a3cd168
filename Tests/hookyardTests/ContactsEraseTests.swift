import Contacts
import Foundation
import Alerts
import Logging
import Store
import TestSupport
import XCTest
import SQLite

/// `hookyard contacts erase` run as an admin runs it, on a database that holds the person's address in places beyond
/// their contact: a dead job's alert (message and `context.last_error`), a body naming them only JSON-escaped, a
/// purchase with non-ASCII capitals. The test then searches every column of every table itself.
final class ContactsEraseTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("hookyard.db").path }
    let t0: Int64 = 1_795_000_000_000

    override func setUpWithError() throws {
        directory = DaemonProcess.makeDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private func store(_ writer: SQLiteEventWriter, _ source: EventSource, type: String, body: String, at: Int64) throws -> Int64 {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<AppendOutcome, StoreError>?
        writer.append(IncomingEvent(source: source, dedupKey: UUID().uuidString, eventID: nil, type: type, receivedAt: at,
                                    body: Array(body.utf8), headersJSON: "{}")) { result in
            outcome = result
            done.signal()
        }
        done.wait()
        guard case .success(.stored(let id))? = outcome else { throw TestClientError("event not stored: \(String(describing: outcome))") }
        return id
    }

    /// Every table and column whose value contains one of `needles` (ASCII case ignored), searched by the test itself
    /// with SQL over the schema, independent of the code under test.
    private func columnsHolding(_ needles: [String]) throws -> [String] {
        let database = try SQLiteDatabase(path: path, readOnly: true)
        defer { database.close() }
        let tables = try database.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        var names: [String] = []
        while try tables.step() { names.append(tables.string(0) ?? "") }
        var found: [String] = []
        for table in names {
            let columns = try database.prepare("SELECT name FROM pragma_table_info('\(table)')")
            var columnNames: [String] = []
            while try columns.step() { columnNames.append(columns.string(0) ?? "") }
            for column in columnNames {
                for needle in needles {
                    let count = try database.prepare("SELECT count(*) FROM \"\(table)\" WHERE instr(lower(CAST(\"\(column)\" AS TEXT)), ?) > 0")
                    try count.bind(1, needle.lowercased())
                    _ = try count.step()
                    if count.int(0) > 0 { found.append("\(table).\(column) holds \(needle)") }
                }
            }
        }
        return found
    }

    func testEraseRemovesTheAddressFromAlertsAndEveryOtherTableAndChecksItBeforeSayingSo() throws {
        let email = "ann.lee@example.com"
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        let lead = try store(writer, .instantly, type: "lead_interested",
                             body: #"{"event_type":"lead_interested","lead_email":"Ann.Lee@Example.com","campaign_id":"camp-1"}"#, at: t0)
        // Someone else's event that names her only JSON-escaped.
        let forwarded = try store(writer, .instantly, type: "reply_received",
                                  body: #"{"event_type":"reply_received","lead_email":"bo@example.com","reply_text":"ask ann.lee\u0040example.com"}"#,
                                  at: t0 + 1)
        writer.close()
        let contacts = try SQLiteContactStore(path: path)
        _ = try contacts.apply(ContactObservation(eventID: lead, source: .instantly, occurredAt: t0, email: "Ann.Lee@Example.com",
                                                  campaignID: "camp-1", interestStatus: "interested"),
                               policy: EngagementPolicy(), segments: [], now: t0)
        _ = try contacts.apply(ContactObservation(eventID: forwarded, source: .instantly, occurredAt: t0 + 1, email: "bo@example.com",
                                                  campaignID: "camp-1", activity: .replied),
                               policy: EngagementPolicy(), segments: [], now: t0 + 1)
        contacts.close()
        // Her event's job dies: Instantly has no lead for her, and the dead-job alert quotes the error.
        let queue = try SQLiteJobQueue(path: path)
        let job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: t0 + 10))
        XCTAssertEqual(job.eventID, lead)
        let error = "Instantly has no lead \(email) in campaign camp-1"
        XCTAssertTrue(try queue.fail(jobID: job.id, owner: "w", error: error, status: nil, retryAt: nil, now: t0 + 11))
        queue.close()
        let alerts = try SQLiteAlertStore(path: path)
        _ = try alerts.raise(kind: "job_dead", subject: "welcome/tag",
                             message: "1 job dead for welcome/tag; the last, job \(job.id) after 1 attempt(s): \(error). Fix the cause.",
                             context: ["job_id": String(job.id), "action": "process_event", "last_error": error, "dead_jobs": "1"],
                             eventID: lead, now: t0 + 12, repeatAfterMilliseconds: 3_600_000) { _ in nil }
        alerts.close()
        let needles = [email, "ann.lee\\u0040example.com"]
        XCTAssertFalse(try columnsHolding(needles).isEmpty, "the test must start from a database that holds the address")

        let (status, output) = try DaemonProcess.run(["contacts", "erase", "ANN.LEE@example.com", "--yes", "--database", path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("events redacted       2"), output)
        XCTAssertTrue(output.contains("alerts.last_message (1 row)") && output.contains("alerts.context (1 row)"), output)
        XCTAssertTrue(output.contains("checked: after the rewrite, no text column of any table holds the address"), output)
        XCTAssertTrue(output.contains("no copy of the address is left on disk"), output)
        XCTAssertFalse(output.lowercased().contains(email), output)

        XCTAssertEqual(try columnsHolding(needles), [], "a copy of the address is left")
        // The alert stays, readable, with the address replaced.
        let reopened = try SQLiteAlertStore(path: path)
        defer { reopened.close() }
        let alert = try XCTUnwrap(try reopened.alert(kind: "job_dead", subject: "welcome/tag"))
        XCTAssertEqual(alert.context["last_error"], "Instantly has no lead [erased] in campaign camp-1")
        XCTAssertTrue(alert.message.contains("Instantly has no lead [erased] in campaign camp-1"), alert.message)
        for file in [path, path + "-wal"] {
            let data = FileManager.default.contents(atPath: file) ?? Data()
            XCTAssertNil(data.range(of: Data(email.utf8)), "\(file) still holds the address")
        }
    }

    func testACopyLeftAfterErasingIsNamedAndTheCommandFails() throws {
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        let lead = try store(writer, .instantly, type: "email_opened", body: #"{"lead_email":"dee@example.com"}"#, at: t0)
        writer.close()
        let contacts = try SQLiteContactStore(path: path)
        _ = try contacts.apply(ContactObservation(eventID: lead, source: .instantly, occurredAt: t0, email: "dee@example.com",
                                                  campaignID: "camp-1", activity: .opened),
                               policy: EngagementPolicy(), segments: [], now: t0)
        contacts.close()
        // Something outside Hookyard's knowledge writes the address back while erase redacts another table: a trigger
        // on campaigns (searched after alerts) copies it into alerts.
        let database = try SQLiteDatabase(path: path)
        try database.execute("""
            INSERT INTO campaigns (id, name, updated_at) VALUES ('camp-1', 'Dee (dee@example.com) follow-up', 1);
            CREATE TRIGGER leak AFTER UPDATE OF name ON campaigns BEGIN
                INSERT INTO alerts (kind, subject, state, first_raised_at, last_raised_at, last_message)
                VALUES ('leak', 'copy', 'raised', 1, 1, 'written back: DEE@example.com');
            END;
            """)
        database.close()
        let (status, output) = try DaemonProcess.run(["contacts", "erase", "dee@example.com", "--yes", "--database", path])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("error: after erasing, the address is still in alerts.last_message (1 row)"), output)
        XCTAssertFalse(output.contains("no copy of the address is left"), output)
        XCTAssertFalse(output.contains("checked:"), output)
    }
}
