import Foundation
import Jobs
import Logging
import Outbound
import Store
import Synchronization
import XCTest
@testable import Workflows
import TestSupport
import SQLite
import StrictJSON

/// `http.post` through the engine and the queue: the body is the rendered map with sorted keys, every attempt
/// sends the job's idempotency key and a signature at its own time, and unknown targets fail without retry.
final class HTTPPostActionTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("http.db").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        let done = DispatchSemaphore(value: 0)
        let body = #"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","customer_details":{"email":"ann@example.com"},"amount_total":9900}}}"#
        writer.append(IncomingEvent(source: .stripe, dedupKey: "evt_1", eventID: nil, type: "checkout.session.completed", receivedAt: 0,
                                    body: Array(body.utf8), headersJSON: "{}")) { _ in done.signal() }
        done.wait()
        writer.close()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private func rule(target: String) -> Rule {
        Rule(name: "fulfil", trigger: Trigger(source: .stripe, eventTypes: ["checkout.session.completed"]), steps: [
            Step(name: "notify", action: "http.post", arguments: [
                "target": .value(.string(target)),
                "body": .map(["session": .template(try! Template(parsing: "{{ event.data.object.id }}")),
                              "email": .template(try! Template(parsing: "{{ event.data.object.customer_details.email }}")),
                              "amount": .template(try! Template(parsing: "{{ event.data.object.amount_total }}"))]),
            ]),
        ])
    }

    func testRetrySendsTheSameBodyAndKeyWithAFreshSignature() throws {
        let attempts = Mutex(0)
        let transport = StubTransport("http:fulfilment") { _ throws(ProviderFailure) -> String in
            let attempt = attempts.withLock { $0 += 1; return $0 }
            if attempt == 1 { throw ProviderFailure(message: "http:fulfilment answered 502", status: 502, retryable: true, retryAfterMilliseconds: nil) }
            return #"{"order":"ord_9"}"#
        }
        let target = HTTPTarget(name: "fulfilment", url: "https://fulfil.example.com/hooks", secret: "s3cret", transport: transport)
        let clock = Mutex<Int64>(1_764_000_000_000)
        let engine = WorkflowEngine(rules: [rule(target: "fulfilment")], providers: .dryRun, runner: ActionRunner(httpTargets: [target]),
                                    logger: TestLog.logger(), clock: { clock.withLock { $0 } })
        let driver = QueueDriver(path: path, engine: engine)
        let first = try driver.drain()
        guard case .failed(let failure)? = first.last?.1, failure.status == 502, failure.retryable else { return XCTFail("\(String(describing: first.last?.1))") }
        clock.withLock { $0 += 90_000 }
        let database = try SQLiteDatabase(path: path)
        try database.execute("UPDATE jobs SET next_run_at = 0 WHERE state = 'retrying'")
        database.close()
        let second = try driver.drain()
        guard case .succeeded(let output?, _) = second.last?.1 else { return XCTFail("\(String(describing: second.last?.1))") }
        XCTAssertEqual(try JSONValue.parse(output), .object(["target": .string("fulfilment"), "status": .integer(200),
                                                             "response": .object(["order": .string("ord_9")])]))

        let requests = transport.requests
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests[0].bodyText, #"{"amount":9900,"email":"ann@example.com","session":"cs_1"}"#)
        XCTAssertEqual(requests[0].body, requests[1].body)
        XCTAssertEqual(requests[0].path, "/hooks")
        XCTAssertEqual(requests[0].idempotencyKey, "hookyard-flow%3Afulfil%3Adry-run%3Aevent%3A1%3Anotify")
        XCTAssertEqual(requests[0].idempotencyKey, requests[1].idempotencyKey)
        XCTAssertEqual(requests[0].headers["Hookyard-Signature"]?.hasPrefix("t=1764000000,v1="), true)
        XCTAssertEqual(requests[1].headers["Hookyard-Signature"]?.hasPrefix("t=1764000090,v1="), true, "signed at the attempt's time")
    }

    func testUnknownTargetFailsWithoutRetry() throws {
        let engine = WorkflowEngine(rules: [rule(target: "lms")], providers: .dryRun, runner: ActionRunner(), logger: TestLog.logger())
        let results = try QueueDriver(path: path, engine: engine).drain()
        guard case .failed(let failure)? = results.last?.1, failure.status == nil, !failure.retryable, failure.retryAfterMilliseconds == nil
        else { return XCTFail("\(String(describing: results.last?.1))") }
        XCTAssertEqual(failure.message, "http.post: no http_targets entry named 'lms' (configured: none)")
    }

    func testDryRunTargetRecordsTheRequest() throws {
        let target = HTTPTarget(name: "fulfilment", url: "https://fulfil.example.com/hooks", secret: "s3cret",
                                transport: DryRunProviderTransport(provider: "http:fulfilment"))
        let engine = WorkflowEngine(rules: [rule(target: "fulfilment")], providers: .dryRun, runner: ActionRunner(httpTargets: [target]),
                                    logger: TestLog.logger())
        let results = try QueueDriver(path: path, engine: engine).drain()
        guard case .succeeded(let output?, _) = results.last?.1 else { return XCTFail("\(String(describing: results.last?.1))") }
        let stored = try JSONValue.parse(output)
        XCTAssertEqual(stored["dry_run"], .bool(true))
        XCTAssertEqual(stored["requests"]?[path: ["0", "url"]], .string("https://fulfil.example.com/hooks"))
        XCTAssertEqual(stored["requests"]?[path: ["0", "body"]], .string(#"{"amount":9900,"email":"ann@example.com","session":"cs_1"}"#))
    }

    func testValidatorNamesUnknownTargets() {
        let rules = [rule(target: "fulfilment"), rule(target: "lms")]
        XCTAssertEqual(RuleValidator.httpTargetProblems(in: rules, httpTargets: ["fulfilment"]).map(\.description),
                       ["rules[1].steps[0].with.target: no http_targets entry named 'lms' (configured: fulfilment)"])
        XCTAssertEqual(RuleValidator.httpTargetProblems(in: [rule(target: "x")], httpTargets: []).map(\.description),
                       ["rules[0].steps[0].with.target: no http_targets entry named 'x' (none is configured under http_targets)"])
        var templated = rule(target: "x")
        templated.steps[0].arguments["target"] = .template(try! Template(parsing: "{{ event.type }}"))
        XCTAssertEqual(RuleValidator.httpTargetProblems(in: [templated], httpTargets: []), [], "known only at run time")
        XCTAssertEqual(RuleValidator.problems(in: [rules[1]]), [], "http.post and its arguments are in the catalog")
    }
}
