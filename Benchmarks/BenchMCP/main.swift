// bench-mcp: how long each read tool of the MCP server takes on the report benchmark's database.
//
// Setup (not timed): a fresh database filled by `DemoDataset` (the generator of `hookyard demo seed` and of
// bench-report) with `contacts` leads over 90 days (100,000 contacts give about 1,000,000 events), and a
// configuration with three segments. Then every read tool is called `runs` times through the tool layer
// (`HookyardToolbox.call`: argument checks, the storage queue, the queries, the text and the structured content; the
// transport's JSON-RPC framing is not included), with arguments that vary per run where a tool takes a reference
// (a contact, an event, a job). Prints p50 and p99 per tool (and per variant), in milliseconds, against the 200 ms
// target of issue 16.
//
// Usage: bench-mcp [contacts=100000] [runs=50]
// With BENCH_MCP_DATABASE=FILE, a database `hookyard demo seed` made is used instead of a new one, and kept; a
// PostgreSQL URI there uses a PostgreSQL demo database (`hookyard demo seed --database postgresql://…`).
import DemoData
import Foundation
import HookyardFoundation
import HookyardConfiguration
import HookyardMCP
import MCP
import PostgreSQL
import SQLite
import Store
import TestSupport

let arguments = BenchmarkSupport.arguments(defaults: [100_000, 50])
let (contacts, runs) = (arguments[0], max(2, arguments[1]))
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-mcp-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }
let given = ProcessInfo.processInfo.environment["BENCH_MCP_DATABASE"].flatMap { $0.isEmpty ? nil : $0 }
let path = given ?? directory.appendingPathComponent("mcp.db").path

func milliseconds(since start: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6 }

let now = WallClock.nowMilliseconds()
let seeding = DispatchTime.now()
/// What the database holds: the seeded summary's counts, or those of the given database.
let (eventCount, contactCount, paymentCount): (Int, Int, Int)
if given == nil {
    let summary = try DemoDataset(contacts: contacts, seed: 7, now: now).create(path: path, force: false)
    (eventCount, contactCount, paymentCount) = (summary.events, summary.contacts, summary.payments)
} else if DatabaseLocation.isPostgreSQLURI(path) {
    let connection = try PostgreSQLConnection(url: path)
    func count(_ table: String) throws -> Int { Int(try connection.query("SELECT count(*) FROM \(table)").first?.int(0) ?? 0) }
    (eventCount, contactCount, paymentCount) = (try count("events"), try count("contacts"), try count("contact_payments"))
    connection.close()
} else {
    let database = try SQLiteDatabase(path: path)
    func count(_ table: String) throws -> Int { Int(try database.scalarInt("SELECT count(*) FROM \(table)") ?? 0) }
    (eventCount, contactCount, paymentCount) = (try count("events"), try count("contacts"), try count("contact_payments"))
    database.close()
}
/// The configuration's `database:`, a file or (quoted, as it holds `?` and `&`) a PostgreSQL URI.
let databaseSetting = DatabaseLocation.isPostgreSQLURI(path) ? "{url: \"\(path)\"}" : path
let file = directory.appendingPathComponent("hookyard.yaml")
try """
    database: \(databaseSetting)
    segments:
      customers: {payment_status: customer}
      engaged: {engagement: [medium, high]}
      quiet-prospects: {all: [{payment_status: prospect}, {days_since_engagement: {gte: 30}}]}
    rules:
      - name: reply-to-link
        on:
          source: instantly
          event: reply_received
          where:
            lead_email: {exists: true}
        once_per: "{{ event.lead_email }}"
        steps:
          - name: link
            action: stripe.create_payment_link
            with:
              price: price_bench
              prefilled_email: "{{ event.lead_email }}"
              metadata: {lead_email: "{{ event.lead_email }}"}
          - name: set-link
            action: instantly.set_lead_variables
            with:
              email: "{{ event.lead_email }}"
              campaign: "{{ event.campaign_id }}"
              variables: {payment_link: "{{ steps.link.url }}"}
    """.write(to: file, atomically: true, encoding: .utf8)
let configuration = try ConfigurationLoader.load(path: file.path, environment: [:], readRules: true)
let storage = HookyardStorage(configuration: configuration)
let toolbox = HookyardToolbox(context: ToolContext(configuration: configuration, storage: storage, liveMode: { false }), allowWrites: false)
print("""
    MCP tools benchmark: \(eventCount) events, \(contactCount) contacts, \(paymentCount) payments; \
    \(given.map { "database \($0)" } ?? "seeded in \(String(format: "%.1f", milliseconds(since: seeding) / 1000)) s (not timed)"); \(runs) calls per line, \
    \(ProcessInfo.processInfo.activeProcessorCount) cores
    """)

/// Calls `tool` and returns its structured content; a failure stops the benchmark (a slow error is no result).
func call(_ tool: String, _ arguments: [String: Value]) async throws -> [String: Value] {
    let result = try await toolbox.call(tool, arguments: arguments)
    guard case .object(let structured)? = result.structuredContent else { fatalError("\(tool): no structured content") }
    return structured
}

// A first call of each tool opens its connections (the report's own, query_only); not timed, as a long-running
// server (`hookyard mcp`, the daemon's /mcp) pays it once.
for tool in ["status", "get_report"] { _ = try await call(tool, [:]) }

// References to vary over: contacts, events and jobs spread over the database.
var emails: [String] = []
var cursor: Value = .null
while emails.count < 500 {
    var page: [String: Value] = ["limit": 100]
    if cursor != .null { page["cursor"] = cursor }
    let found = try await call("find_contacts", page)
    emails += found["contacts"]?.arrayValue?.compactMap { $0.objectValue?["email"]?.stringValue } ?? []
    cursor = found["nextCursor"] ?? .null
    if cursor == .null { break }
}
// Replies whose body is kept (the demo data empties some, as retention does; a dry run needs the body).
let replies = try await call("list_events", ["type": "reply_received", "limit": 200])["events"]?.arrayValue?
    .filter { ($0.objectValue?["bytes"]?.intValue ?? 0) > 0 }.compactMap { $0.objectValue?["id"]?.intValue } ?? []
let jobIDs = try await call("list_jobs", ["limit": 200])["jobs"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.intValue } ?? []
var generator = SystemRandomNumberGenerator()

let cases: [(name: String, tool: String, arguments: (Int) -> [String: Value])] = [
    ("status", "status", { _ in [:] }),
    ("get_contact (by email)", "get_contact", { run in ["email": .string(emails[run % emails.count])] }),
    ("find_contacts (newest 20)", "find_contacts", { _ in [:] }),
    ("find_contacts (customers)", "find_contacts", { _ in ["payment_status": "customer"] }),
    ("find_contacts (segment engaged)", "find_contacts", { _ in ["segment": "engaged"] }),
    ("find_contacts (text)", "find_contacts", { run in ["text": .string("lead\(run % 997)@")] }),
    ("find_contacts (campaign)", "find_contacts", { _ in ["campaign": "de000000-0000-4000-8000-000000000003"] }),
    ("list_events (newest 20)", "list_events", { _ in [:] }),
    ("list_events (type invoice.paid)", "list_events", { _ in ["type": "invoice.paid"] }),
    ("list_events (stripe, last 7 days)", "list_events", { _ in ["source": "stripe", "since": .string(String(now - 7 * 86_400_000))] }),
    ("list_events (a contact)", "list_events", { run in ["email": .string(emails[run % emails.count])] }),
    ("get_event", "get_event", { _ in ["id": .int(Int.random(in: 1...eventCount, using: &generator))] }),
    ("explain_event", "explain_event", { _ in ["id": .int(Int.random(in: 1...eventCount, using: &generator))] }),
    ("dry_run_rule (a reply, 2 steps)", "dry_run_rule", { run in ["rule": "reply-to-link", "event": .string(String(replies[run % max(1, replies.count)]))] }),
    ("list_jobs", "list_jobs", { _ in [:] }),
    ("list_jobs (dead)", "list_jobs", { _ in ["state": "dead"] }),
    ("get_job", "get_job", { run in jobIDs.isEmpty ? ["id": 1] : ["id": .int(jobIDs[run % jobIDs.count])] }),
    ("get_report (last 30 days)", "get_report", { _ in [:] }),
    ("get_report (by rule, first touch)", "get_report", { _ in ["by": "rule", "model": "first"] }),
    ("list_segments", "list_segments", { _ in [:] }),
    ("get_config", "get_config", { _ in [:] }),
]

var slowest = (name: "", p99: 0.0)
for (name, tool, makeArguments) in cases {
    var times: [Double] = []
    for run in 0..<runs {
        let arguments = makeArguments(run)
        let start = DispatchTime.now()
        do {
            _ = try await toolbox.call(tool, arguments: arguments)
        } catch {
            fatalError("\(name) \(arguments): \(error)")
        }
        times.append(milliseconds(since: start))
    }
    times.sort()
    let p50 = times[times.count / 2]
    let p99 = times[min(times.count - 1, Int((Double(times.count) * 0.99).rounded(.up)) - 1)]
    if p99 > slowest.p99 { slowest = (name, p99) }
    print(name.padding(toLength: 36, withPad: " ", startingAt: 0)
          + String(format: "p50 %7.1f ms  p99 %7.1f ms%@", p50, p99, p99 > 200 ? "  OVER 200 ms" : ""))
}
storage.close()
print(String(format: "slowest p99: %@ %.1f ms (target: every read tool within 200 ms)", slowest.name, slowest.p99))
