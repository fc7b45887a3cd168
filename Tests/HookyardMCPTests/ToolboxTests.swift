import DemoData
import Foundation
import HookyardFoundation
import HookyardConfiguration
@testable import HookyardMCP
import MCP
import Store
import TestSupport
import Synchronization
import XCTest

/// The tool layer in process: every read tool on a seeded demo database (300 leads, 90 days), the errors that
/// name the problem, cursor paging, write tools only when enabled, and the live-mode confirmation flow.
final class ToolboxTests: XCTestCase {
    /// One seeded database for the whole class: seeding is the slow part, and no test here writes to it except
    /// the write-tool tests, which use a database of their own. `nonisolated(unsafe)`: XCTest runs this class's
    /// tests one after another on one thread, the only place it is read or set.
    nonisolated(unsafe) static var seeded: (directory: URL, configuration: HookyardConfiguration)?

    static func seed(into directory: URL) throws -> HookyardConfiguration {
        let database = directory.appendingPathComponent("demo.db").path
        _ = try DemoDataset(contacts: 300, seed: 7, now: WallClock.nowMilliseconds()).create(path: database, force: true)
        let file = directory.appendingPathComponent("hookyard.yaml")
        try """
            database: \(database)
            segments:
              customers: {payment_status: customer}
              engaged: {engagement: [medium, high]}
            """.write(to: file, atomically: true, encoding: .utf8)
        return try ConfigurationLoader.load(path: file.path, environment: [:], readRules: true)
    }

    func configuration() throws -> HookyardConfiguration {
        if let seeded = Self.seeded { return seeded.configuration }
        let directory = DaemonProcess.makeDirectory()
        let configuration = try Self.seed(into: directory)
        Self.seeded = (directory, configuration)
        return configuration
    }

    func toolbox(allowWrites: Bool = false, live: Bool = false, configuration: HookyardConfiguration? = nil) throws -> HookyardToolbox {
        let configuration = try configuration ?? self.configuration()
        let storage = HookyardStorage(configuration: configuration)
        addTeardownBlock { storage.close() }
        return HookyardToolbox(context: ToolContext(configuration: configuration, storage: storage, liveMode: { live }),
                               allowWrites: allowWrites)
    }

    func call(_ toolbox: HookyardToolbox, _ name: String, _ arguments: [String: Value] = [:]) async throws -> (text: String, structured: [String: Value]) {
        let result = try await toolbox.call(name, arguments: arguments)
        XCTAssertNotEqual(result.isError, true, name)
        guard case .text(let text, _, _)? = result.content.first else { XCTFail("\(name): no text block"); return ("", [:]) }
        guard case .object(let structured)? = result.structuredContent else { XCTFail("\(name): no structured content"); return (text, [:]) }
        return (text, structured)
    }

    func expectError(_ toolbox: HookyardToolbox, _ name: String, _ arguments: [String: Value], code: Int, containing: String,
                     file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await toolbox.call(name, arguments: arguments)
            XCTFail("\(name) \(arguments) should fail", file: file, line: line)
        } catch let error as MCPError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            XCTAssertTrue(error.localizedDescription.contains(containing) || "\(error)".contains(containing),
                          "\(error) should contain \(containing)", file: file, line: line)
        } catch {
            XCTFail("\(name): not an MCP error: \(error)", file: file, line: line)
        }
    }

    // MARK: Listing

    func testReadToolsAreListedWithTruthfulAnnotationsAndNoWriteToolByDefault() throws {
        let names = try toolbox().definitions.map(\.name)
        XCTAssertEqual(names, ["status", "get_contact", "find_contacts", "list_events", "get_event", "explain_event", "dry_run_rule",
                               "list_jobs", "get_job", "get_report", "list_segments", "get_config"])
        for tool in try toolbox().definitions {
            XCTAssertEqual(tool.annotations.readOnlyHint, true, tool.name)
            XCTAssertEqual(tool.annotations.destructiveHint, false, tool.name)
            XCTAssertEqual(tool.annotations.openWorldHint, false, tool.name)
            XCTAssertEqual(tool.inputSchema.objectValue?["type"], "object", tool.name)
            XCTAssertEqual(tool.inputSchema.objectValue?["additionalProperties"], false, tool.name)
        }
        let writes = try toolbox(allowWrites: true).definitions.filter { $0.annotations.readOnlyHint != true }
        XCTAssertEqual(writes.map(\.name), ["retry_job", "discard_job", "send_test_event"])
        XCTAssertEqual(writes.first { $0.name == "send_test_event" }?.annotations.idempotentHint, false)
        XCTAssertEqual(writes.first { $0.name == "discard_job" }?.annotations.destructiveHint, true)
        XCTAssertEqual(writes.first { $0.name == "retry_job" }?.annotations.openWorldHint, true)
    }

    // MARK: Read tools on the seeded database

    func testStatusCountsJobsAndNamesTheLastEventOfEachSource() async throws {
        let (text, structured) = try await call(toolbox(), "status")
        XCTAssertTrue(text.contains("mode: Stripe dry-run, Instantly dry-run"), text)
        XCTAssertEqual(structured["daemon"], .null)
        guard case .object(let last)? = structured["last_event"], case .object(let stripe)? = last["stripe"] else {
            return XCTFail("\(structured)")
        }
        XCTAssertNotNil(stripe["id"]?.intValue)
        XCTAssertEqual(structured["dead_jobs"]?.intValue, structured["jobs"]?.objectValue?["dead"]?.intValue)
    }

    func testFindContactsPagesWithACursorWithoutRepeatsAndGetContactTellsTheStory() async throws {
        let toolbox = try toolbox()
        var seen: [String] = []
        var cursor: Value?
        repeat {
            var arguments: [String: Value] = ["payment_status": "customer", "limit": 7]
            if let cursor { arguments["cursor"] = cursor }
            let (_, structured) = try await call(toolbox, "find_contacts", arguments)
            let page = structured["contacts"]?.arrayValue ?? []
            XCTAssertLessThanOrEqual(page.count, 7)
            for contact in page {
                XCTAssertEqual(contact.objectValue?["payment_status"], "customer")
                seen.append(contact.objectValue?["email"]?.stringValue ?? "")
            }
            cursor = structured["nextCursor"] == .null ? nil : structured["nextCursor"]
        } while cursor != nil
        XCTAssertGreaterThan(seen.count, 7, "the demo data has more than one page of customers")
        XCTAssertEqual(Set(seen).count, seen.count, "a contact appeared on two pages")

        let email = try XCTUnwrap(seen.first)
        let (text, story) = try await call(toolbox, "get_contact", ["email": .string(email.uppercased())])
        XCTAssertEqual(story["email"]?.stringValue, email)
        XCTAssertEqual(story["payment_status"], "customer")
        XCTAssertFalse(story["timeline"]?.arrayValue?.isEmpty ?? true)
        let (_, byID) = try await call(toolbox, "get_contact", ["id": story["id"] ?? .null, "timeline_limit": 1])
        XCTAssertEqual(byID["email"]?.stringValue, email)
        XCTAssertLessThanOrEqual(byID["timeline"]?.arrayValue?.count ?? 2, 1)

        // A segment filter evaluates the segment now, as `contacts list --segment` does.
        let (_, members) = try await call(toolbox, "find_contacts", ["segment": "customers", "limit": 100])
        let memberEmails = members["contacts"]?.arrayValue?.compactMap { $0.objectValue?["email"]?.stringValue } ?? []
        XCTAssertTrue(memberEmails.contains(email), "\(email) is a customer")
        let (_, matching) = try await call(toolbox, "find_contacts", ["text": .string(String(email.prefix(12)).uppercased())])
        XCTAssertTrue(matching["contacts"]?.arrayValue?.allSatisfy {
            $0.objectValue?["email"]?.stringValue?.contains(String(email.prefix(12))) == true
        } == true)
        XCTAssertTrue(text.hasPrefix("\(email) (contact "), text)
        XCTAssertTrue(text.contains("timeline (newest first"), text)
    }

    func testListEventsFiltersAndPagesAndGetEventShowsBodyAndJobs() async throws {
        let toolbox = try toolbox()
        // The demo writer links no event to a contact (contact_events), so the email filter's positive case is
        // checked on a daemon's walk-through (MCPClientTests); here: an unknown address is named.
        await expectError(toolbox, "list_events", ["email": "nobody@example.net"], code: -32602, containing: "unknown contact 'nobody@example.net'")
        let (_, stripe) = try await call(toolbox, "list_events", ["source": "stripe", "type": "invoice.paid", "limit": 200])
        let list = try XCTUnwrap(stripe["events"]?.arrayValue)
        XCTAssertFalse(list.isEmpty, "the demo data has paid invoices")
        for event in list {
            XCTAssertEqual(event.objectValue?["source"], "stripe")
            XCTAssertEqual(event.objectValue?["type"], "invoice.paid")
        }
        let ids = list.compactMap { $0.objectValue?["id"]?.intValue }
        XCTAssertEqual(ids, ids.sorted(by: >), "newest first")
        let (_, none) = try await call(toolbox, "list_events", ["since": "2001-01-01", "until": "2001-02-01"])
        XCTAssertEqual(none["events"]?.arrayValue?.count, 0)

        let (_, first) = try await call(toolbox, "list_events", ["source": "instantly", "limit": 5])
        let next = try XCTUnwrap(first["nextCursor"]?.stringValue)
        let (_, second) = try await call(toolbox, "list_events", ["source": "instantly", "limit": 5, "cursor": .string(next)])
        let firstIDs = first["events"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.intValue } ?? []
        let secondIDs = second["events"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.intValue } ?? []
        XCTAssertEqual(firstIDs.count, 5)
        XCTAssertLessThan(secondIDs.max() ?? .max, firstIDs.min() ?? 0, "the second page continues after the first")

        let id = try XCTUnwrap(ids.first)
        let (text, event) = try await call(toolbox, "get_event", ["id": .int(id)])
        XCTAssertEqual(event["id"]?.intValue, id)
        XCTAssertNotNil(event["body"])
        XCTAssertNotNil(event["jobs"]?.arrayValue)
        XCTAssertTrue(text.hasPrefix("event #\(id): stripe invoice.paid"), text)
        let (_, byString) = try await call(toolbox, "get_event", ["id": .string(String(id))])
        XCTAssertEqual(byString["id"]?.intValue, id)
    }

    func testJobsReportSegmentsAndConfig() async throws {
        let toolbox = try toolbox()
        let (_, dead) = try await call(toolbox, "list_jobs", ["state": "dead"])
        for job in dead["jobs"]?.arrayValue ?? [] { XCTAssertEqual(job.objectValue?["state"], "dead") }
        let (_, all) = try await call(toolbox, "list_jobs", ["limit": 1])
        let id = try XCTUnwrap(all["jobs"]?.arrayValue?.first?.objectValue?["id"]?.intValue)
        let (jobText, job) = try await call(toolbox, "get_job", ["id": .int(id)])
        XCTAssertEqual(job["id"]?.intValue, id)
        XCTAssertNotNil(job["attempt_log"]?.arrayValue)
        XCTAssertTrue(jobText.hasPrefix("job #\(id) "), jobText)

        let (reportText, report) = try await call(toolbox, "get_report", ["by": "campaign", "model": "first"])
        XCTAssertTrue(reportText.contains("SYNTHETIC DEMO DATA"), reportText)
        XCTAssertNotNil(report["groups"] ?? report["rows"] ?? report["headline"], "\(report.keys.sorted())")

        let (segmentText, segments) = try await call(toolbox, "list_segments")
        XCTAssertEqual(segments["segments"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue }, ["customers", "engaged"])
        XCTAssertTrue(segmentText.contains("customers: "), segmentText)

        let (configText, config) = try await call(toolbox, "get_config")
        XCTAssertEqual(config["segments"], ["customers", "engaged"])
        XCTAssertTrue(configText.contains("STRIPE_API_KEY: not set"), configText)
    }

    func testGetConfigNeverShowsASecret() async throws {
        let directory = DaemonProcess.makeDirectory()
        let file = directory.appendingPathComponent("hookyard.yaml")
        try "database: \(directory.appendingPathComponent("x.db").path)\n".write(to: file, atomically: true, encoding: .utf8)
        let secrets = ["STRIPE_API_KEY": "sk_test_secretvalue123", "STRIPE_WEBHOOK_SECRET": "whsec_secretvalue456",
                       "HOOKYARD_ADMIN_TOKEN": "admin-token-secret-789-abcdef"]
        let configuration = try ConfigurationLoader.load(path: file.path, environment: secrets, readRules: true)
        let (text, structured) = try await call(toolbox(configuration: configuration), "get_config")
        for secret in secrets.values {
            XCTAssertFalse(text.contains(secret), text)
            XCTAssertFalse(Value.object(structured).jsonText.contains(secret))
        }
        XCTAssertTrue(text.contains("STRIPE_API_KEY: set (test mode)"), text)
    }

    // MARK: Errors that name the problem

    func testBadInputGetsInvalidParamsNamingTheProblem() async throws {
        let toolbox = try toolbox()
        await expectError(toolbox, "get_contact", ["email": "nobody@example.net"], code: -32602, containing: "unknown contact 'nobody@example.net'")
        await expectError(toolbox, "get_contact", [:], code: -32602, containing: "'email'")
        await expectError(toolbox, "get_event", ["id": "evt_nope"], code: -32602, containing: "unknown event 'evt_nope'")
        await expectError(toolbox, "get_job", ["id": 999_999_999], code: -32602, containing: "unknown job '999999999'")
        await expectError(toolbox, "list_events", ["source": "paypal"], code: -32602, containing: "'paypal' is not one of stripe, instantly")
        await expectError(toolbox, "list_events", ["since": "yesterday"], code: -32602, containing: "'yesterday' is not a date")
        await expectError(toolbox, "list_events", ["cursor": "bm9wZQ"], code: -32602, containing: "invalid cursor")
        await expectError(toolbox, "list_jobs", ["limit": 0], code: -32602, containing: "between 1 and 200")
        await expectError(toolbox, "find_contacts", ["segment": "vip"], code: -32602, containing: "unknown segment 'vip': the segments are: customers, engaged")
        await expectError(toolbox, "find_contacts", ["paymnet_status": "customer"], code: -32602, containing: "'paymnet_status' is not an argument")
        await expectError(toolbox, "get_report", ["since": "last tuesday"], code: -32602, containing: "since")
        await expectError(toolbox, "no_such_tool", [:], code: -32602, containing: "unknown tool 'no_such_tool'")
        await expectError(toolbox, "retry_job", ["id": 1], code: -32602, containing: "writes are not enabled")
    }

    func testAMissingDatabaseIsAnInternalErrorNamingIt() async throws {
        var configuration = try configuration()
        configuration.database = "/nonexistent/hookyard.db"
        await expectError(try toolbox(configuration: configuration), "status", [:], code: -32603, containing: "/nonexistent/hookyard.db")
    }

    /// The read tools and the dry run share one `query_only` connection: whatever they call cannot write.
    func testReadConnectionRefusesWrites() async throws {
        let storage = HookyardStorage(configuration: try configuration())
        defer { storage.close() }
        do {
            try await storage.withConnections { connections in
                try connections.jobs.retry(1, now: 0)
            }
            XCTFail("a write on the read connection went through")
        } catch let error as ToolError {
            XCTAssertTrue("\(error)".contains("readonly") || "\(error)".contains("read-only") || "\(error)".contains("query_only"), "\(error)")
        }
    }

    // MARK: Writes

    func writableDatabase() throws -> HookyardConfiguration {
        try Self.seed(into: DaemonProcess.makeDirectory())
    }

    func deadJob(_ toolbox: HookyardToolbox) async throws -> Int {
        let (_, dead) = try await call(toolbox, "list_jobs", ["state": "dead", "limit": 1])
        return try XCTUnwrap(dead["jobs"]?.arrayValue?.first?.objectValue?["id"]?.intValue, "the demo data has a dead job")
    }

    func testInDryRunAWriteActsAtOnce() async throws {
        let toolbox = try toolbox(allowWrites: true, live: false, configuration: writableDatabase())
        let id = try await deadJob(toolbox)
        let (text, done) = try await call(toolbox, "retry_job", ["id": .int(id)])
        XCTAssertEqual(done["done"], true)
        XCTAssertEqual(done["job"]?.objectValue?["state"], "queued")
        XCTAssertTrue(text.hasPrefix("done: retry job \(id)"), text)
        await expectError(toolbox, "discard_job", ["id": .int(id)], code: -32602, containing: "job \(id) is queued; only dead jobs can be discarded")
    }

    func testInLiveModeAWriteNeedsTheTokenOfThatVeryCall() async throws {
        let toolbox = try toolbox(allowWrites: true, live: true, configuration: writableDatabase())
        let id = try await deadJob(toolbox)
        let (text, plan) = try await call(toolbox, "discard_job", ["id": .int(id)])
        XCTAssertEqual(plan["done"], false)
        let token = try XCTUnwrap(plan["confirmation"]?.stringValue)
        XCTAssertTrue(text.contains("Nothing was changed"), text)
        let (_, still) = try await call(toolbox, "get_job", ["id": .int(id)])
        XCTAssertEqual(still["state"], "dead", "asking changed nothing")

        await expectError(toolbox, "retry_job", ["id": .int(id), "confirmation": .string(token)], code: -32602,
                          containing: "issued for another call (discard job \(id))")
        await expectError(toolbox, "discard_job", ["id": .int(id), "confirmation": "confirm-forged"], code: -32602,
                          containing: "unknown or already used")
        let (_, done) = try await call(toolbox, "discard_job", ["id": .int(id), "confirmation": .string(token)])
        XCTAssertEqual(done["job"]?.objectValue?["state"], "discarded")
    }

    func testConfirmationTokensExpireAndAreGoodOnce() throws {
        let now = Mutex<Int64>(1_000)
        let tokens = ConfirmationTokens(clock: { now.withLock { $0 } })
        let first = tokens.issue(for: "retry job 1")
        try tokens.redeem(first, for: "retry job 1")
        XCTAssertThrowsError(try tokens.redeem(first, for: "retry job 1"))
        let second = tokens.issue(for: "retry job 1")
        now.withLock { $0 += ConfirmationTokens.lifetimeMilliseconds }
        XCTAssertThrowsError(try tokens.redeem(second, for: "retry job 1")) { error in
            XCTAssertTrue("\(error)".contains("expired"), "\(error)")
        }
    }
}
