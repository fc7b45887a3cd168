import Foundation
import HookyardFoundation
import Store
import TestSupport
import XCTest

/// Hookyard's MCP server driven by a client no one here wrote: the official MCP Python SDK (`mcp` on PyPI, which
/// scripts/ensure-deps.sh installs), over stdio (`hookyard mcp`) and over Streamable HTTP (`POST /mcp` on the
/// admin listener), on the lead-to-sale walk-through's database: Ada was interested, got a payment link, paid.
final class MCPClientTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/mcp_client.py")
    static let adminToken = "mcp-test-admin-token-0123456789"
    /// The variables deploy/examples/lead-to-sale.yaml reads (what scripts/dev-env.sh writes for `make run`).
    static let exampleEnvironment = [
        "HOOKYARD_PRICE_ID": "price_dry_run_demo", "INSTANTLY_OUTREACH_CAMPAIGN_IDS": "00000000-0000-4000-8000-000000000002",
        "INSTANTLY_PAYMENT_CAMPAIGN_ID": "00000000-0000-4000-8000-000000000003",
        "INSTANTLY_CUSTOMER_CAMPAIGN_ID": "00000000-0000-4000-8000-000000000004",
    ]

    /// The Python interpreter with the `mcp` package: the project's own environment that scripts/ensure-deps.sh
    /// makes (`.build/test-python`, so a fresh Debian's externally managed Python is left alone), else `python3` on
    /// the PATH; a skip (a failure under .ci/run, HOOKYARD_REQUIRE_TOOLS=1) without either.
    static func python() throws -> String {
        let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let project = repository.appendingPathComponent(".build/test-python/bin/python3").path
        var outputs: [String] = []
        for candidate in [project, "python3"] where candidate == "python3" || FileManager.default.fileExists(atPath: candidate) {
            let (status, output) = try DaemonProcess.runProgram(URL(fileURLWithPath: "/usr/bin/env"),
                                                                [candidate, "-c", "import mcp.client.streamable_http"],
                                                                environment: environment)
            if status == 0 { return candidate }
            outputs.append("\(candidate): \(output)")
        }
        let message = "Python with the MCP SDK is needed (scripts/ensure-deps.sh makes .build/test-python with 'mcp>=1.20,<2'): "
            + outputs.joined(separator: "; ")
        if ProcessInfo.processInfo.environment["HOOKYARD_REQUIRE_TOOLS"] == "1" { XCTFail(message) }
        throw XCTSkip(message)
    }

    /// A daemon on lead-to-sale with the admin token, after the walk-through's two deliveries and their jobs.
    func leadToSale() throws -> DaemonProcess {
        let yaml = try String(contentsOf: Self.repository.appendingPathComponent("deploy/examples/lead-to-sale.yaml"), encoding: .utf8)
        let daemon = try DaemonProcess(yaml: yaml, environment: Self.exampleEnvironment.merging(["HOOKYARD_ADMIN_TOKEN": Self.adminToken]) { $1 })
        addTeardownBlock { _ = daemon.terminate() }
        let environment = triggerEnvironment(daemon)
        var (status, output) = try daemon.run(["trigger", "instantly", "lead_interested", "--email", "ada@example.com"], environment: environment)
        XCTAssertEqual(status, 0, output)
        (status, output) = try daemon.run(["trigger", "stripe", "checkout.session.completed", "--payment-link", "latest",
                                           "--email", "ada@example.com"], environment: environment)
        XCTAssertEqual(status, 0, output)
        try settle(daemon)
        return daemon
    }

    /// Waits until no job is running, retrying or due (and the walk-through's eight have succeeded).
    func settle(_ daemon: DaemonProcess, timeout: TimeInterval = 60) throws {
        let settled = try waitUntil(timeout: .seconds(timeout), interval: .milliseconds(50)) {
            let queue = try SQLiteJobQueue(path: daemon.databasePath)
            defer { queue.close() }
            let now = WallClock.nowMilliseconds()
            let busy = try queue.list(state: nil, limit: 10_000).contains { job in
                job.state == .running || job.state == .retrying || (job.state == .queued && job.nextRunAt <= now + 500)
            }
            return try !busy && queue.list(state: .succeeded, limit: 10_000).count >= 8
        }
        if !settled { XCTFail("jobs still due after \(Int(timeout)) s\n\(daemon.output)") }
    }

    /// What `hookyard trigger` needs to deliver to `daemon`: the example's settings, its address and its secrets.
    func triggerEnvironment(_ daemon: DaemonProcess) -> [String: String] {
        Self.exampleEnvironment.merging([
            "HOOKYARD_LISTEN": "127.0.0.1:\(daemon.port)", "STRIPE_WEBHOOK_SECRET": DaemonProcess.stripeSecret,
            "INSTANTLY_WEBHOOK_SECRET": DaemonProcess.instantlySecret,
        ]) { $1 }
    }

    /// Runs the Python client with `script` (see Fixtures/mcp_client.py) and returns its JSON output.
    func runClient(_ arguments: [String], script: [[String: Any]], environment: [String: String] = [:]) throws -> [String: Any] {
        let python = try Self.python()
        let directory = DaemonProcess.makeDirectory()
        let scriptFile = directory.appendingPathComponent("script.json")
        try JSONSerialization.data(withJSONObject: script).write(to: scriptFile)
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                   "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/root"]
        env.merge(environment) { $1 }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["timeout", "120", python, Self.client.path, arguments[0], scriptFile.path] + arguments.dropFirst()
        process.environment = env
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read both pipes at once, so that neither fills while the other is read.
        nonisolated(unsafe) var errorData = Data()
        let errorReader = Thread { errorData = errors.fileHandleForReading.readDataToEndOfFile() }
        errorReader.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorReader.isFinished { usleep(1_000) }
        let stderr = String(decoding: errorData, as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, "client failed:\n\(stderr)")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "client output: \(String(decoding: data, as: UTF8.self))\n\(stderr)")
    }

    /// The script every transport runs: list, call each read tool, the errors, resources and prompts.
    static var readScript: [[String: Any]] { [
        ["op": "list_tools"],
        ["op": "call", "tool": "status"],
        ["op": "call", "tool": "get_contact", "arguments": ["email": "Ada@Example.com"]],
        ["op": "call", "tool": "find_contacts", "arguments": ["payment_status": "customer"]],
        ["op": "call", "tool": "list_events", "arguments": ["email": "ada@example.com"]],
        ["op": "call", "tool": "list_jobs", "arguments": ["limit": 100]],
        ["op": "call", "tool": "get_report", "arguments": ["by": "rule"]],
        ["op": "call", "tool": "list_segments"],
        ["op": "call", "tool": "get_config"],
        ["op": "call", "tool": "get_contact", "arguments": ["email": "nobody@example.com"]],
        ["op": "call", "tool": "get_event", "arguments": ["id": "evt_does_not_exist"]],
        ["op": "call", "tool": "retry_job", "arguments": ["id": 1]],
        ["op": "list_resources"],
        ["op": "read_resource", "uri": "hookyard://docs/workflows/lead-to-sale.md"],
        ["op": "list_prompts"],
        ["op": "get_prompt", "name": "diagnose_lead", "arguments": ["email": "ada@example.com"]],
    ] }

    func checkReadScript(_ output: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual((output["server"] as? [String: Any])?["name"] as? String, "hookyard", file: file, line: line)
        let results = try XCTUnwrap(output["results"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(results.count, Self.readScript.count, file: file, line: line)
        func ok(_ index: Int) -> [String: Any] { (results[index]["ok"] as? [String: Any]) ?? [:] }
        func structured(_ index: Int) -> [String: Any] { (ok(index)["structured"] as? [String: Any]) ?? [:] }
        func text(_ index: Int) -> String { ok(index)["text"] as? String ?? "\(results[index])" }
        func error(_ index: Int) -> String { ((results[index]["error"] as? [String: Any])?["message"] as? String) ?? "no error: \(results[index])" }

        let tools = try XCTUnwrap(results[0]["ok"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(tools.compactMap { $0["name"] as? String },
                       ["status", "get_contact", "find_contacts", "list_events", "get_event", "explain_event", "dry_run_rule", "list_jobs",
                        "get_job", "get_report", "list_segments", "get_config"], "read tools only, by default", file: file, line: line)
        for tool in tools {
            let annotations = tool["annotations"] as? [String: Any] ?? [:]
            XCTAssertEqual(annotations["readOnlyHint"] as? Bool, true, "\(tool)", file: file, line: line)
            XCTAssertEqual(annotations["destructiveHint"] as? Bool, false, "\(tool)", file: file, line: line)
            XCTAssertEqual(annotations["openWorldHint"] as? Bool, false, "\(tool)", file: file, line: line)
            XCTAssertEqual((tool["inputSchema"] as? [String: Any])?["type"] as? String, "object", file: file, line: line)
        }
        XCTAssertTrue(text(1).contains("Stripe dry-run, Instantly dry-run (as the daemon recorded it)"), text(1), file: file, line: line)
        XCTAssertTrue(text(1).contains("running"), text(1), file: file, line: line)

        let ada = structured(2)
        XCTAssertEqual(ada["email"] as? String, "ada@example.com", file: file, line: line)
        XCTAssertEqual(ada["payment_status"] as? String, "customer", "Ada paid", file: file, line: line)
        XCTAssertEqual((ada["revenue"] as? [String: Any])?["usd"] as? Int, 4900, "\(ada)", file: file, line: line)
        XCTAssertNotNil((ada["leads"] as? [String: Any])?["00000000-0000-4000-8000-000000000002"], "\(ada)", file: file, line: line)
        XCTAssertTrue(text(2).contains("revenue: USD 49.00"), text(2), file: file, line: line)

        XCTAssertEqual((structured(3)["contacts"] as? [[String: Any]])?.compactMap { $0["email"] as? String }, ["ada@example.com"],
                       file: file, line: line)
        let events = (structured(4)["events"] as? [[String: Any]]) ?? []
        XCTAssertEqual(Set(events.compactMap { $0["type"] as? String }), ["lead_interested", "checkout.session.completed"],
                       "\(events)", file: file, line: line)
        let jobs = (structured(5)["jobs"] as? [[String: Any]]) ?? []
        XCTAssertTrue(jobs.contains { $0["step"] as? String == "lead-to-sale/link" && $0["state"] as? String == "succeeded" },
                      "\(jobs)", file: file, line: line)
        XCTAssertTrue(text(6).contains("by rule"), text(6), file: file, line: line)
        XCTAssertTrue(text(8).contains("lead-to-sale: on instantly"), text(8), file: file, line: line)
        XCTAssertTrue(text(8).contains("payment-to-customer"), text(8), file: file, line: line)

        XCTAssertEqual((results[9]["error"] as? [String: Any])?["code"] as? Int, -32602, file: file, line: line)
        XCTAssertTrue(error(9).contains("unknown contact 'nobody@example.com'"), error(9), file: file, line: line)
        XCTAssertTrue(error(10).contains("unknown event 'evt_does_not_exist'"), error(10), file: file, line: line)
        XCTAssertTrue(error(11).contains("writes are not enabled"), error(11), file: file, line: line)

        let resources = (results[12]["ok"] as? [[String: Any]])?.compactMap { $0["uri"] as? String } ?? []
        XCTAssertTrue(resources.contains("hookyard://configuration"), "\(resources)", file: file, line: line)
        XCTAssertTrue(resources.contains("hookyard://docs/workflows/lead-to-sale.md"), "\(resources)", file: file, line: line)
        let page = ((results[13]["ok"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        XCTAssertTrue(page.contains("lead-to-sale.walkthrough") || page.contains("# "), String(page.prefix(200)), file: file, line: line)
        XCTAssertEqual((results[14]["ok"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["diagnose_lead", "revenue_this_month"],
                       file: file, line: line)
        XCTAssertTrue("\(results[15])".contains("get_contact with email \\\"ada@example.com\\\"") || "\(results[15])".contains("ada@example.com"),
                      file: file, line: line)
    }

    func testTheOfficialClientOverStdioAndOverStreamableHTTP() throws {
        _ = try Self.python()
        let daemon = try leadToSale()
        // stdio: `hookyard mcp` finds the database and the configuration the daemon recorded, as the CLI does.
        let environment = Self.exampleEnvironment.merging(["HOOKYARD_DATABASE": daemon.databasePath, "HOOKYARD_DOCS": Self.repository.appendingPathComponent("docs").path]) { $1 }
        let stdio = try runClient(["stdio", "--", DaemonProcess.binary.path, "mcp"], script: Self.readScript, environment: environment)
        try checkReadScript(stdio)

        // Streamable HTTP on the daemon's admin listener, with the admin token.
        let url = "http://127.0.0.1:\(try daemon.adminPort())/mcp"
        let http = try runClient(["http", url, Self.adminToken], script: Self.readScript)
        try checkReadScript(http)

        // Without the token: refused before MCP sees it.
        let client = try daemon.adminClient()
        let refused = try client.roundTrip("POST", "/mcp", headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
        XCTAssertEqual(refused.status, 401)
    }

    /// explain_event and dry_run_rule give the answers `hookyard explain` and `hookyard dry-run` give, and a dry run
    /// of the walk-through's first event makes exactly the requests the daemon's dry-run flow recorded.
    func testExplainAndDryRunAgreeWithTheCLIAndWithTheEngine() throws {
        _ = try Self.python()
        let daemon = try leadToSale()
        let environment = triggerEnvironment(daemon)
        // Ada is interested again: the engine holds lead-to-sale back (its own write to her lead was moments ago).
        let (status, output) = try daemon.run(["trigger", "instantly", "lead_interested", "--email", "ada@example.com"], environment: environment)
        XCTAssertEqual(status, 0, output)
        try settle(daemon)
        let script: [[String: Any]] = [
            ["op": "call", "tool": "explain_event", "arguments": ["id": 3]],
            ["op": "call", "tool": "explain_event", "arguments": ["id": "1"]],
            ["op": "call", "tool": "dry_run_rule", "arguments": ["rule": "lead-to-sale", "event": "1"]],
            ["op": "call", "tool": "dry_run_rule", "arguments": ["rule": "lead-to-sale", "payload": ["hello": "world"], "source": "instantly"]],
            ["op": "call", "tool": "dry_run_rule", "arguments": ["rule": "nope", "event": "1"]],
            ["op": "call", "tool": "explain_event", "arguments": ["id": "999999"]],
        ]
        let result = try runClient(["stdio", "--", DaemonProcess.binary.path, "mcp"], script: script,
                                   environment: Self.exampleEnvironment.merging(["HOOKYARD_DATABASE": daemon.databasePath]) { $1 })
        let results = try XCTUnwrap(result["results"] as? [[String: Any]])
        func structured(_ index: Int) -> Any? { (results[index]["ok"] as? [String: Any])?["structured"] }
        func text(_ index: Int) -> String { ((results[index]["ok"] as? [String: Any])?["text"] as? String) ?? "\(results[index])" }

        // The held event: the engine's recorded reason, the same as the CLI says.
        XCTAssertTrue(text(0).contains("rule lead-to-sale (on instantly lead_interested): triggered, but held back: loop guard"), text(0))
        let (explainStatus, explainJSON) = try daemon.run(["explain", "3", "--json"], environment: Self.exampleEnvironment)
        XCTAssertEqual(explainStatus, 0, explainJSON)
        XCTAssertEqual(try Self.object(explainJSON) as? NSDictionary, structured(0) as? NSDictionary, "CLI and MCP explain alike")
        XCTAssertTrue(text(1).contains("started flow dry-run:once:ada@example.com: 4 of 4 steps succeeded"), text(1))

        // The dry run: the CLI's answer, and the requests the daemon's own dry-run flow recorded, step by step.
        let (dryStatus, dryJSON) = try daemon.run(["dry-run", "--rule", "lead-to-sale", "--event", "1", "--json"], environment: Self.exampleEnvironment)
        XCTAssertEqual(dryStatus, 0, dryJSON)
        let cliRules = try XCTUnwrap(Self.object(dryJSON) as? [[String: Any]])
        let mcpRules = try XCTUnwrap((structured(2) as? [String: Any])?["rules"] as? [[String: Any]])
        XCTAssertEqual(cliRules as NSArray, mcpRules as NSArray, "CLI and MCP dry runs alike")
        let steps = try XCTUnwrap(mcpRules.first?["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.compactMap { $0["step"] as? String }, ["customer", "link", "set-link", "to-payment-campaign"])
        let queue = try SQLiteJobQueue(path: daemon.databasePath)
        defer { queue.close() }
        for step in steps {
            let name = try XCTUnwrap(step["step"] as? String)
            let job = try XCTUnwrap(try queue.job(idempotencyKey: "flow:lead-to-sale:dry-run:once:ada@example.com:\(name)"), name)
            let recorded = try XCTUnwrap((try Self.object(job.output ?? "{}") as? [String: Any])?["requests"] as? [[String: Any]], name)
            let previewed = try XCTUnwrap(step["requests"] as? [[String: Any]], name)
            XCTAssertEqual(previewed as NSArray, recorded as NSArray, "step \(name): the dry run's requests are the engine's")
        }

        // Bad input: named.
        func message(_ index: Int) -> String { ((results[index]["error"] as? [String: Any])?["message"] as? String) ?? "no error: \(results[index])" }
        XCTAssertTrue(message(3).contains("payload' is not an Instantly event: it has no 'event_type'"), message(3))
        XCTAssertTrue(message(4).contains("unknown rule 'nope': the rules are: lead-to-sale, payment-to-customer"), message(4))
        XCTAssertTrue(message(5).contains("unknown event '999999'"), message(5))

        // send_test_event, enabled, in dry-run: the same delivery as hookyard trigger, stored by the daemon.
        let sent = try runClient(["stdio", "--", DaemonProcess.binary.path, "mcp", "--allow-writes"], script: [
            ["op": "call", "tool": "send_test_event", "arguments": ["source": "instantly", "type": "lead_interested", "email": "bob@example.com"]],
            ["op": "call", "tool": "send_test_event", "arguments": ["source": "instantly", "type": "lead_bored"]],
        ], environment: environment.merging(["HOOKYARD_DATABASE": daemon.databasePath]) { $1 })
        let sentResults = try XCTUnwrap(sent["results"] as? [[String: Any]])
        let sentText = ((sentResults[0]["ok"] as? [String: Any])?["text"] as? String) ?? "\(sentResults[0])"
        XCTAssertTrue(sentText.contains("/webhooks/instantly -> 200"), sentText)
        XCTAssertTrue("\(sentResults[1])".contains("unknown Instantly event type"), "\(sentResults[1])")
        let reader = try SQLiteStoreReader(path: daemon.databasePath)
        XCTAssertEqual(try reader.events(source: .instantly, limit: 1).first?.type, "lead_interested")
        XCTAssertEqual(try reader.statistics().events[.instantly], 3, "Ada twice, Bob once")
    }

    static func object(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    func testWriteToolsNeedEnablingAndAskForConfirmationInLiveMode() throws {
        _ = try Self.python()
        let directory = DaemonProcess.makeDirectory()
        let database = directory.appendingPathComponent("demo.db").path
        let (seeded, output) = try DaemonProcess.run(["demo", "seed", "--database", database, "--contacts", "200"])
        XCTAssertEqual(seeded, 0, output)
        let queue = try SQLiteJobQueue(path: database)
        let dead = try XCTUnwrap(try queue.list(state: .dead, limit: 1).first, "the demo data has a dead job")
        queue.close()
        // Live mode: this process has a Stripe key (no daemon has run on this database to say otherwise).
        let environment = ["HOOKYARD_DATABASE": database, "STRIPE_API_KEY": "sk_test_mcp_confirmation_flow"]
        let script: [[String: Any]] = [
            ["op": "list_tools"],
            ["op": "call", "tool": "discard_job", "arguments": ["id": dead.id]],
            ["op": "call", "tool": "get_job", "arguments": ["id": dead.id]],
            ["op": "call", "tool": "discard_job", "arguments": ["id": dead.id, "confirmation": "confirm-made-up"]],
            ["op": "call", "tool": "discard_job", "arguments": ["id": dead.id, "confirmation": "{{confirmation:1}}"]],
            ["op": "call", "tool": "discard_job", "arguments": ["id": dead.id, "confirmation": "{{confirmation:1}}"]],
            ["op": "call", "tool": "send_test_event", "arguments": ["source": "stripe", "type": "checkout.session.completed"]],
        ]
        let result = try runClient(["stdio", "--", DaemonProcess.binary.path, "mcp", "--allow-writes"], script: script, environment: environment)
        let results = try XCTUnwrap(result["results"] as? [[String: Any]])
        let tools = (results[0]["ok"] as? [[String: Any]]) ?? []
        XCTAssertEqual(tools.suffix(3).compactMap { $0["name"] as? String }, ["retry_job", "discard_job", "send_test_event"])
        XCTAssertEqual(((tools.first { $0["name"] as? String == "discard_job" }?["annotations"]) as? [String: Any])?["destructiveHint"] as? Bool, true)
        let plan = ((results[1]["ok"] as? [String: Any])?["structured"] as? [String: Any]) ?? [:]
        XCTAssertEqual(plan["done"] as? Bool, false, "\(results[1])")
        XCTAssertTrue((plan["confirmation"] as? String ?? "").hasPrefix("confirm-"), "\(plan)")
        XCTAssertEqual(((results[2]["ok"] as? [String: Any])?["structured"] as? [String: Any])?["state"] as? String, "dead", "asking changed nothing")
        XCTAssertTrue("\(results[3])".contains("unknown or already used confirmation token"), "\(results[3])")
        let done = ((results[4]["ok"] as? [String: Any])?["structured"] as? [String: Any]) ?? [:]
        XCTAssertEqual((done["job"] as? [String: Any])?["state"] as? String, "discarded", "\(results[4])")
        // Used again: refused (the job is no longer dead, and the token is spent).
        XCTAssertTrue("\(results[5])".contains("job \(dead.id) is discarded; only dead jobs can be discarded"), "\(results[5])")
        // A test delivery in live mode: first what it would send and a token, nothing sent (no daemon runs here).
        let wouldSend = ((results[6]["ok"] as? [String: Any])?["structured"] as? [String: Any]) ?? [:]
        XCTAssertEqual(wouldSend["done"] as? Bool, false, "\(results[6])")
        XCTAssertEqual(wouldSend["would"] as? String, "send stripe checkout.session.completed")
    }
}
