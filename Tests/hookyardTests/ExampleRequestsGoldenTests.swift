import HookyardConfiguration
import Foundation
import Intake
import Jobs
import Logging
import Outbound
import Store
import StrictJSON
import Synchronization
import TestSupport
import Workflows
import XCTest
@testable import hookyard

/// The "no behaviour change" check of issue 15: each shipped example's walk-through (`deploy/examples/<example>.walkthrough`)
/// runs in process through the real configuration loader, the `trigger` command's event templates, the event writer,
/// the worker pool and the workflow engine, in dry-run (the settings `make run` writes, no API keys), and every request
/// the workflows would send (provider, method, path, headers, idempotency key, body), in order, must equal the golden
/// file `Fixtures/example-requests/<example>.txt` byte for byte. The final job list (state and idempotency key) is
/// compared too.
///
/// Deterministic: the workflow clock is fixed (it moves one second per walk-through command, as a person pastes
/// them), the secrets and event dates the development settings would make random are fixed, the random ids of the
/// triggered events are replaced by ids derived from the command's position, and one worker runs the jobs.
///
/// `HOOKYARD_RECORD_GOLDEN=1 swift test --filter ExampleRequestsGoldenTests` rewrites the golden files instead of
/// comparing (review the diff: it is the behaviour change).
final class ExampleRequestsGoldenTests: XCTestCase {
    /// 2026-01-05T09:00:00Z: the workflow clock when the walk-through starts.
    static let start: Int64 = 1_767_603_600_000
    static let day: Int64 = 86_400_000

    func testLeadToSale() throws { try check("lead-to-sale") }
    func testProductLaunch() throws { try check("product-launch") }
    func testSubscriptionLifecycle() throws { try check("subscription-lifecycle") }
    func testEventRegistration() throws { try check("event-registration") }

    /// Every example has its golden test.
    func testEveryExampleIsCovered() {
        XCTAssertEqual(Set(WalkthroughTests.examples), ["lead-to-sale", "product-launch", "subscription-lifecycle", "event-registration"])
    }

    // MARK: Running a walk-through in process

    func check(_ example: String) throws {
        let transcript = try run(example)
        let golden = Self.goldenURL(example)
        if ProcessInfo.processInfo.environment["HOOKYARD_RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try transcript.write(to: golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        if transcript != expected {
            let got = transcript.split(separator: "\n", omittingEmptySubsequences: false)
            let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let line = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
            XCTFail("""
                \(example): the requests differ from \(golden.path) from line \(line + 1):
                expected: \(line < want.count ? String(want[line]) : "<end>")
                got:      \(line < got.count ? String(got[line]) : "<end>")
                (HOOKYARD_RECORD_GOLDEN=1 rewrites the file)
                """)
        }
    }

    static func goldenURL(_ example: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/example-requests/\(example).txt")
    }

    /// The development settings `make run` writes (scripts/dev-env.sh), with the random and date-dependent ones fixed.
    func settings(in directory: URL) throws -> [String: String] {
        let envFile = directory.appendingPathComponent("dev.env")
        let (status, output) = try DaemonProcess.runProgram(
            WalkthroughTests.repository.appendingPathComponent("scripts/dev-env.sh"), [envFile.path],
            environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"], in: directory)
        XCTAssertEqual(status, 0, output)
        var settings: [String: String] = [:]
        for line in try String(contentsOf: envFile, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        settings["STRIPE_WEBHOOK_SECRET"] = "whsec_golden"
        settings["INSTANTLY_WEBHOOK_SECRET"] = "golden-instantly-secret"
        settings["FULFILMENT_SECRET"] = "golden-fulfilment-secret"
        settings["EVENT_STARTS_AT"] = ScenarioHarness.isoTime(Self.start + 30 * Self.day)
        settings["EVENT_EARLY_BIRD_UNTIL"] = ScenarioHarness.isoTime(Self.start + 14 * Self.day)
        settings["HOOKYARD_DATABASE"] = directory.appendingPathComponent("hookyard.db").path
        return settings
    }

    /// Runs the walk-through; returns the transcript the golden file holds.
    func run(_ example: String) throws -> String {
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = try settings(in: directory)
        let configurationFile = directory.appendingPathComponent("hookyard.yaml")
        try String(contentsOf: WalkthroughTests.repository.appendingPathComponent("deploy/examples/\(example).yaml"), encoding: .utf8)
            .write(to: configurationFile, atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(path: configurationFile.path, environment: environment, defaultFile: "/nonexistent")
        XCTAssertTrue(configuration.stripe.apiKey.isEmpty && configuration.instantly.apiKey.isEmpty, "the walk-through runs in dry-run")
        let database = configuration.database

        let time = Mutex<Int64>(Self.start)
        let clock: @Sendable () -> Int64 = { time.withLock { $0 } }
        let logger = Logger(label: "golden") { _ in SwiftLogNoOpLogHandler() }

        let log = GoldenRequestLog()
        let providers = ProviderSet(
            stripe: LoggingTransport(DryRunProviderTransport(provider: "Stripe", baseURL: configuration.stripe.apiBase), log: log),
            instantly: LoggingTransport(DryRunProviderTransport(provider: "Instantly", baseURL: configuration.instantly.apiBase), log: log),
            stripeDryRun: true, instantlyDryRun: true)
        // As Serve.httpTargets makes them in full dry-run: the target's transport must stay a DryRunProviderTransport
        // (HTTPTarget.isDryRun), so its requests are read from it after each command.
        var targetTransports: [(name: String, transport: DryRunProviderTransport)] = []
        let targets = configuration.httpTargets.compactMap { target -> HTTPTarget? in
            guard let base = HTTPTarget.split(url: target.url)?.base else { return nil }
            let transport = DryRunProviderTransport(provider: "http:\(target.name)", baseURL: base)
            targetTransports.append((target.name, transport))
            return HTTPTarget(name: target.name, url: target.url, secret: target.secret, transport: transport)
        }
        let engine = WorkflowEngine(rules: configuration.rules, contacts: configuration.contactPolicy, catalog: configuration.catalog,
                                    providers: providers, runner: ActionRunner(httpTargets: targets), logger: logger, clock: clock,
                                    stripeAPIVersion: configuration.stripe.apiVersion)
        let pool = WorkerPool(configuration: WorkerPool.Configuration(location: .sqlite(path: database), workers: 1, pollMilliseconds: 5,
                                                                      retryPolicy: configuration.workers.retryPolicy),
                              handler: engine.jobKinds, logger: logger, clock: clock)
        let writer = try SQLiteEventWriter(path: database, logger: logger, onCommit: { pool.wake() })
        try pool.start()
        defer {
            pool.stop(gracePeriod: .seconds(5))
            writer.close()
        }

        var transcript = "# deploy/examples/\(example).walkthrough, run in process in dry-run (ExampleRequestsGoldenTests)\n"
        var targetMarks = [Int](repeating: 0, count: targetTransports.count)
        for (index, command) in try WalkthroughTests.walkthrough(example).enumerated() {
            time.withLock { $0 += 1000 }
            transcript += "\n$ \(command)\n"
            let words = try Self.words(command)
            guard words.count > 1, words[1] == "trigger" else { continue }  // `jobs list`, `contacts show`: read only
            let trigger = try TriggerCommand.parse(Array(words.dropFirst(2)))
            var assignments = trigger.assignments
            if let paymentLink = trigger.paymentLink {
                let id = paymentLink == "latest" ? try TriggerCommand.latestLink(database: .sqlite(path: database), email: trigger.email, waitSeconds: 0)
                    : paymentLink
                assignments.insert("data.object.payment_link=\(id)", at: 0)
            }
            let event = try TriggeredEvent(source: trigger.source, type: trigger.eventType, email: trigger.email, assignments: assignments)
                .resolvingLink(database: .sqlite(path: database)).event
            let now = clock()
            let payload = Self.derandomized(try event.payload(nowMilliseconds: now, stripeAPIVersion: configuration.stripe.apiVersion),
                                            twin: try event.payload(nowMilliseconds: now, stripeAPIVersion: configuration.stripe.apiVersion),
                                            command: index + 1)
            let headers = [(name: "Content-Type", value: "application/json"), (name: "User-Agent", value: TriggeredEvent.userAgent)]
            let incoming = trigger.source == .stripe
                ? try StripeEvent.normalize(body: payload.bytes, receivedAt: now, headers: headers)
                : try InstantlyEvent.normalize(body: payload.bytes, receivedAt: now, headers: headers)
            let appended = DispatchSemaphore(value: 0)
            let failure = Mutex<StoreError?>(nil)
            writer.append(incoming) { result in
                if case .failure(let error) = result { failure.withLock { $0 = error } }
                appended.signal()
            }
            appended.wait()
            if let error = failure.withLock({ $0 }) { throw error }
            pool.wake()
            try settle(database: database, now: clock())

            for request in log.take() { transcript += Self.describe(request.provider, request.request) }
            for (position, target) in targetTransports.enumerated() {
                let requests = target.transport.requests
                for request in requests.dropFirst(targetMarks[position]) { transcript += Self.describe("http:\(target.name)", request) }
                targetMarks[position] = requests.count
            }
        }

        transcript += "\n# jobs, oldest first: state kind idempotency-key\n"
        let queue = try SQLiteJobQueue(path: database)
        defer { queue.close() }
        for job in try queue.list(state: nil, limit: 100_000).reversed() {
            transcript += "\(job.state.rawValue) \(job.kind) \(job.idempotencyKey)\n"
        }
        return transcript
    }

    /// Waits until no job is running or due at the fixed `now` (scheduled steps keep waiting).
    func settle(database: String, now: Int64, timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let queue = try SQLiteJobQueue(path: database)
        defer { queue.close() }
        var idleRounds = 0
        while Date() < deadline {
            let busy = try queue.list(state: nil, limit: 100_000).contains { job in
                switch job.state {
                case .running: true
                case .queued, .retrying: job.nextRunAt <= now
                default: false
                }
            }
            // Twice idle, 20 ms apart: a finished job's successors are committed with its outcome, so one look would
            // do; the second guards against reading between two statements of another connection.
            idleRounds = busy ? 0 : idleRounds + 1
            if idleRounds >= 2 { return }
            usleep(20_000)
        }
        throw HarnessError("jobs still due after \(Int(timeout)) s")
    }

    /// One request as the golden file shows it.
    static func describe(_ provider: String, _ request: ProviderRequest) -> String {
        var text = "\(provider) \(request.method) \(request.path)\n"
        if let key = request.idempotencyKey { text += "  idempotency-key: \(key)\n" }
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) { text += "  \(name): \(value)\n" }
        if let contentType = request.contentType { text += "  content-type: \(contentType)\n" }
        if !request.body.isEmpty { text += "  body: \(request.bodyText)\n" }
        return text
    }

    /// The payload with every value that differs from its `twin` (built from the same inputs: so a random id) replaced
    /// by an id derived from the command's position, keeping the value's prefix up to its last `_` (`evt_`, `cs_test_`).
    /// The same random value gets the same replacement wherever it occurs.
    static func derandomized(_ payload: JSONValue, twin: JSONValue, command: Int) -> JSONValue {
        var replacements: [String: String] = [:]
        func walk(_ value: JSONValue, _ other: JSONValue) -> JSONValue {
            switch (value, other) {
            case (.object(let members), .object(let otherMembers)):
                var result: [String: JSONValue] = [:]
                for key in members.keys.sorted() {
                    result[key] = otherMembers[key].map { walk(members[key]!, $0) } ?? members[key]!
                }
                return .object(result)
            case (.array(let items), .array(let otherItems)) where items.count == otherItems.count:
                return .array(zip(items, otherItems).map(walk))
            case (.string(let text), .string(let otherText)) where text != otherText:
                if let known = replacements[text] { return .string(known) }
                let common = zip(text, otherText).prefix { $0 == $1 }.map(\.0)
                let prefix = common.lastIndex(of: "_").map { String(common[...$0]) } ?? ""
                let replacement = "\(prefix)golden\(command)x\(replacements.count + 1)"
                replacements[text] = replacement
                return .string(replacement)
            default:
                return value
            }
        }
        return walk(payload, twin)
    }

    /// The words of a walk-through line as `sh` splits them: blanks separate, single quotes quote, `#` starts a comment.
    static func words(_ line: String) throws -> [String] {
        var words: [String] = []
        var word: String?
        var quoted = false
        for character in line {
            if quoted {
                if character == "'" { quoted = false } else { word!.append(character) }
            } else if character == "'" {
                quoted = true
                word = word ?? ""
            } else if character == " " || character == "\t" {
                if let done = word { words.append(done) }
                word = nil
            } else if character == "#" && word == nil {
                break
            } else {
                word = (word ?? "") + String(character)
            }
        }
        guard !quoted else { throw HarnessError("unbalanced quote in \(line)") }
        if let done = word { words.append(done) }
        return words
    }
}

/// The provider requests of the workers, in the order they were sent. Thread-safe.
final class GoldenRequestLog: Sendable {
    private let entries = Mutex<[(provider: String, request: ProviderRequest)]>([])

    func append(_ provider: String, _ request: ProviderRequest) { entries.withLock { $0.append((provider, request)) } }

    /// The requests logged since the last call.
    func take() -> [(provider: String, request: ProviderRequest)] {
        entries.withLock { entries in
            defer { entries.removeAll() }
            return entries
        }
    }
}

/// A transport that logs each request into a `GoldenRequestLog`, then sends it through `inner`. Thread-safe.
final class LoggingTransport: ProviderTransport {
    let inner: any ProviderTransport
    let log: GoldenRequestLog

    init(_ inner: any ProviderTransport, log: GoldenRequestLog) {
        self.inner = inner
        self.log = log
    }

    var provider: String { inner.provider }
    var baseURL: String { inner.baseURL }

    func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse {
        log.append(inner.provider, request)
        return try inner.send(request)
    }
}
