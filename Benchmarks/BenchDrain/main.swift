// bench-drain: how fast the workers drain the queue into provider calls, and how closely they keep to a rate limit.
//
// Runs the real worker pool, workflow engine and libcurl transports (release build) against the fake Stripe API
// from TestSupport: a real HTTP server on loopback that keeps customers and payment links and honours idempotency
// keys. Each event starts a two-step flow: find or create the customer, then create a payment link — three jobs per
// event (the event's own, then one per step); the Stripe calls they make are counted per endpoint and printed.
//
// Each run drains a fresh database: a SQLite file in a temporary directory, or with `--postgresql URL` a new database
// created on the PostgreSQL server of URL (a libpq URI of any database there, e.g. `postgres`, whose user may create
// databases) and dropped afterwards.
//
// Usage: bench-drain [--postgresql URL] [events=2000] [workers=4] [limited-events=150] [limit-rps=50]
import Foundation
import Jobs
import Logging
import Outbound
import PostgreSQL
import Store
import TestSupport
import Workflows

/// The server of `--postgresql URL`, and the positional arguments around it.
let (postgreSQLURL, positional): (String?, [String]) = {
    var positional = Array(CommandLine.arguments.dropFirst())
    guard let flag = positional.firstIndex(of: "--postgresql") else { return (nil, positional) }
    guard flag + 1 < positional.count else {
        FileHandle.standardError.write(Data("usage: bench-drain [--postgresql URL] [events] [workers] [limited-events] [limit-rps]\n".utf8))
        exit(2)
    }
    let url = positional[flag + 1]
    positional.removeSubrange(flag...flag + 1)
    return (url, positional)
}()
let defaults = [2000, 4, 150, 50]
let arguments = defaults.indices.map { index in index < positional.count ? Int(positional[index]) ?? defaults[index] : defaults[index] }
let (events, workers, limitedEvents, limit) = (arguments[0], arguments[1], arguments[2], arguments[3])
BenchmarkSupport.silenceLogs()
let logger = Logger(label: "bench-drain")

func template(_ text: String) -> Argument { .template(try! Template(parsing: text)) }

let rule = Rule(name: "bench", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]),
                oncePer: try! Template(parsing: "{{ event.lead_email }}"), steps: [
    Step(name: "customer", action: "stripe.find_or_create_customer",
         arguments: ["email": template("{{ event.lead_email }}"), "metadata": .map(["hookyard_email": template("{{ event.lead_email }}")])]),
    Step(name: "link", action: "stripe.create_payment_link",
         arguments: ["price": .value(.string("price_bench")), "metadata": .map(["lead_email": template("{{ event.lead_email }}")])]),
])

struct Result {
    var seconds: Double
    var jobs: Int
    var calls: Int
    var maxPerSecond: Int
    /// Calls per `METHOD /path` (the query left out), most first.
    var endpoints: [(String, Int)] = []
}

/// A fresh, empty database for one run, and what removes it afterwards.
func freshDatabase() throws -> (location: DatabaseLocation, remove: () -> Void) {
    guard let serverURL = postgreSQLURL else {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-drain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (.sqlite(path: directory.appendingPathComponent("drain.db").path),
                { try? FileManager.default.removeItem(at: directory) })
    }
    let name = "bench_drain_\(getpid())_\(UUID().uuidString.prefix(8).lowercased())"
    // The same server, user and options, database `name`: the URI's path is the database.
    guard var components = URLComponents(string: serverURL) else { throw TestClientError("not a libpq URI: \(serverURL)") }
    components.path = "/" + name
    guard let url = components.string else { throw TestClientError("cannot name database \(name) in \(serverURL)") }
    let admin = try PostgreSQLConnection(url: serverURL, applicationName: "bench-drain")
    defer { admin.close() }
    try admin.execute("CREATE DATABASE \(name)")
    return (.postgresql(url: url, password: nil), {
        guard let admin = try? PostgreSQLConnection(url: serverURL, applicationName: "bench-drain") else { return }
        defer { admin.close() }
        _ = try? admin.execute("DROP DATABASE \(name) WITH (FORCE)")
    })
}

func run(events count: Int, workers: Int, requestsPerSecond: Double) throws -> Result {
    let stripe = try FakeStripeAPI()
    stripe.addPrice(id: "price_bench", unitAmount: 4900)
    let (location, remove) = try freshDatabase()
    defer { remove() }

    // Fill the queue first, so the measurement is the drain alone.
    let writer = try EventSinkOpening.open(location, logger: logger)
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let body = #"{"event_type":"lead_interested","timestamp":"2026-11-25T10:00:00Z","workspace":"w","campaign_id":"c","lead_email":"lead\#(index)@example.com"}"#
        writer.append(IncomingEvent(source: .instantly, dedupKey: "bench-\(index)", eventID: nil, type: "lead_interested",
                                    receivedAt: 0, body: Array(body.utf8), headersJSON: "{}")) { _ in group.leave() }
    }
    group.wait()

    let transport = LiveProviderTransport(provider: "Stripe", baseURL: stripe.baseURL, apiKey: stripe.apiKey,
                                          limiter: RateLimiter(requestsPerSecond: requestsPerSecond),
                                          userAgent: "hookyard-bench")
    let providers = ProviderSet(stripe: transport, instantly: DryRunProviderTransport(provider: "Instantly"),
                                stripeDryRun: false, instantlyDryRun: true)
    let engine = WorkflowEngine(rules: [rule], providers: providers, logger: logger)
    let pool = WorkerPool(configuration: WorkerPool.Configuration(location: location, workers: workers, pollMilliseconds: 5),
                          handler: engine.jobKinds, logger: logger)
    let expected = count * 3
    let start = DispatchTime.now()
    try pool.start()
    while pool.completedJobs < expected { usleep(2_000) }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    pool.stop()
    // As in the daemon, the event writer (and on SQLite its checkpoint thread) ran throughout the drain.
    writer.close()
    guard stripe.paymentLinks.count == count, stripe.customers.count == count else {
        throw TestClientError("expected \(count) customers and links, got \(stripe.customers.count) and \(stripe.paymentLinks.count)")
    }
    let endpoints = Dictionary(grouping: stripe.requests) { "\($0.method) \($0.target.split(separator: "?")[0])" }.mapValues(\.count)
    return Result(seconds: seconds, jobs: expected, calls: stripe.requests.count,
                  maxPerSecond: stripe.maxRequestsInAnyWindow(milliseconds: 1000),
                  endpoints: endpoints.sorted { ($1.value, $0.key) < ($0.value, $1.key) })
}

print("hookyard drain benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(postgreSQLURL == nil ? "SQLite" : "PostgreSQL"); each event = 3 jobs (fake Stripe on loopback)")
let free = try run(events: events, workers: workers, requestsPerSecond: 1_000_000)
print(String(format: "unlimited       events=%d workers=%d jobs=%d calls=%d seconds=%.2f jobs_per_s=%.0f calls_per_s=%.0f",
             events, workers, free.jobs, free.calls, free.seconds, Double(free.jobs) / free.seconds, Double(free.calls) / free.seconds))
print("                Stripe calls per event: " + free.endpoints.map { "\($0.0) \(String(format: "%.1f", Double($0.1) / Double(events)))" }.joined(separator: ", "))
let limited = try run(events: limitedEvents, workers: max(workers, 8), requestsPerSecond: Double(limit))
print(String(format: "limit %d/s      events=%d workers=%d calls=%d seconds=%.2f average_calls_per_s=%.2f max_calls_in_any_1s=%d (limit %d)",
             limit, limitedEvents, max(workers, 8), limited.calls, limited.seconds, Double(limited.calls) / limited.seconds,
             limited.maxPerSecond, limit))
