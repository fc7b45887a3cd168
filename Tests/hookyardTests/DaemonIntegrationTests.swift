import Foundation
import Intake
import Store
import Synchronization
import TestSupport
import XCTest
import SQLite

/// Starts the real `hookyard` binary on an ephemeral loopback port and talks to it over sockets.
final class DaemonIntegrationTests: XCTestCase {
    private func unique() -> String { "evt_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))" }

    private func storedStripeIDs(_ path: String) throws -> [String: Int] {
        let database = try SQLiteDatabase(path: path)
        let statement = try database.prepare("SELECT event_id, count(*) FROM events WHERE source = 'stripe' GROUP BY event_id")
        var result: [String: Int] = [:]
        while try statement.step() { result[statement.string(0)!] = Int(statement.int(1)) }
        return result
    }

    func testThousandRequestsOnOneKeepAliveConnection() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        for _ in 0..<1000 {
            try client.send(StripeTestEvents.request(id: unique()))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200, response.bodyText)
            XCTAssertFalse(response.closes)
        }
        let (status, output) = try daemon.run(["stats", "--json"])
        XCTAssertEqual(status, 0, output)
        let stats = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        XCTAssertEqual((stats["events"] as? [String: Int])?["stripe"], 1000)
        XCTAssertEqual((stats["events"] as? [String: Int])?["instantly"], 0)
        XCTAssertEqual((stats["jobs"] as? [String: Int])?.values.reduce(0, +), 1000, "one job per event")
        XCTAssertEqual(daemon.terminate(), 0)
    }

    func testFiftyConcurrentClients() throws {
        let daemon = try DaemonProcess()
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 50) { _ in
            do {
                let client = try daemon.client()
                for _ in 0..<20 {
                    try client.send(StripeTestEvents.request(id: "evt_\(UUID().uuidString)"))
                    let response = try client.readResponse()
                    if response.status != 200 { failures.withLock { $0.append(response.bodyText) } }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(try storedStripeIDs(daemon.databasePath).count, 1000)
    }

    func testDuplicatesAnswer200AndCreateNothing() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        let id = unique()
        let first = try client.roundTripRaw(StripeTestEvents.request(id: id))
        XCTAssertEqual(first.status, 200)
        XCTAssertTrue(first.bodyText.contains("\"duplicate\":false"), first.bodyText)
        // A redelivery is signed again with a new timestamp, as Stripe does.
        let second = try client.roundTripRaw(StripeTestEvents.request(id: id, timestamp: Int64(Date().timeIntervalSince1970) - 5))
        XCTAssertEqual(second.status, 200)
        XCTAssertTrue(second.bodyText.contains("\"duplicate\":true"), second.bodyText)
        XCTAssertEqual(try storedStripeIDs(daemon.databasePath), [id: 1])

        let instantly = Array(#"{"event_type":"reply_received","timestamp":"2026-11-25T06:00:00Z","workspace":"w","campaign_id":"c","lead_email":"a@b.c"}"#.utf8)
        let headers = [("Authorization", "Bearer \(DaemonProcess.instantlySecret)")]
        XCTAssertTrue(try client.roundTrip("POST", "/webhooks/instantly", headers: headers, body: instantly).bodyText.contains("\"duplicate\":false"))
        XCTAssertTrue(try client.roundTrip("POST", "/webhooks/instantly/\(DaemonProcess.instantlySecret)", body: instantly).bodyText
            .contains("\"duplicate\":true"))
        let (_, list) = try daemon.run(["events", "list", "--source", "instantly"])
        XCTAssertEqual(list.split(separator: "\n").count, 2, list)  // header + one event
        // The secret in the path never reaches the log.
        XCTAssertFalse(daemon.output.contains(DaemonProcess.instantlySecret))
        XCTAssertTrue(daemon.output.contains("/webhooks/instantly/[redacted]"))
    }

    func testRejectionsCarryStatusAndReason() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        let body = StripeTestEvents.body(id: unique())
        let now = Int64(Date().timeIntervalSince1970)
        func stripe(_ signature: String?) throws -> TestResponse {
            try client.roundTrip("POST", "/webhooks/stripe", headers: signature.map { [("Stripe-Signature", $0)] } ?? [], body: body)
        }
        let cases: [(String?, String)] = [
            (nil, "missing_header"),
            ("garbage", "unparsable_header"),
            ("t=\(now),v0=abc", "no_v1_signature"),
            (StripeSignatureVerifier.header(for: body, secret: "whsec_wrong", timestamp: now), "no_matching_signature"),
            (StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret, timestamp: now - 400), "timestamp_outside_tolerance"),
        ]
        for (signature, reason) in cases {
            let response = try stripe(signature)
            XCTAssertEqual(response.status, 400, reason)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String])
            XCTAssertEqual(json["reason"], reason)
            XCTAssertFalse(json["error"]?.isEmpty ?? true)
        }
        XCTAssertEqual(try client.roundTrip("POST", "/webhooks/instantly", body: Array("{}".utf8)).status, 401)
        XCTAssertEqual(try client.roundTrip("POST", "/webhooks/instantly", headers: [("X-Webhook-Secret", "nope")], body: Array("{}".utf8)).status, 401)
        let missing = try client.roundTrip("POST", "/webhooks/instantly", headers: [("X-Webhook-Secret", DaemonProcess.instantlySecret)],
                                           body: Array(#"{"event_type":"email_sent","timestamp":"t"}"#.utf8))
        XCTAssertEqual(missing.status, 400)
        XCTAssertTrue(missing.bodyText.contains("'workspace'"), missing.bodyText)
        XCTAssertEqual(try client.roundTrip("GET", "/nowhere").status, 404)
        let wrongMethod = try client.roundTrip("GET", "/webhooks/stripe")
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["allow"], "POST")
        XCTAssertEqual(try client.roundTrip("GET", "/healthz").status, 200)
        XCTAssertEqual(try client.roundTrip("GET", "/readyz").status, 200)
        XCTAssertEqual(try storedStripeIDs(daemon.databasePath).count, 0)
        // Every rejection is logged with its reason.
        let reasons = daemon.logLines().compactMap { $0["reason"] as? String }
        XCTAssertTrue(reasons.contains("no_matching_signature"))
        XCTAssertTrue(reasons.contains("wrong_secret"))
    }

    func testUnconfiguredSourceAnswers503NamingTheVariable() throws {
        let daemon = try DaemonProcess(secrets: false)
        let client = try daemon.client()
        let stripe = try client.roundTripRaw(StripeTestEvents.request(id: unique()))
        XCTAssertEqual(stripe.status, 503)
        XCTAssertTrue(stripe.bodyText.contains("STRIPE_WEBHOOK_SECRET"), stripe.bodyText)
        let instantly = try client.roundTrip("POST", "/webhooks/instantly", body: Array("{}".utf8))
        XCTAssertEqual(instantly.status, 503)
        XCTAssertTrue(instantly.bodyText.contains("INSTANTLY_WEBHOOK_SECRET"), instantly.bodyText)
    }

    func testOversizedRequestsAndRandomBytes() throws {
        let daemon = try DaemonProcess()
        let big = try daemon.client()
        try big.send("POST /webhooks/stripe HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n")
        XCTAssertEqual(try big.readResponse().status, 413)
        let headers = try daemon.client()
        try headers.send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "h", count: 40_000))\r\n\r\n")
        XCTAssertEqual(try headers.readResponse().status, 431)

        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            guard let client = try? daemon.client(timeoutSeconds: 2) else { continue }
            let bytes = (0..<Int.random(in: 1..<4096, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try? client.send(bytes)
        }
        XCTAssertTrue(daemon.process.isRunning)
        let genuine = try daemon.client()
        XCTAssertEqual(try genuine.roundTripRaw(StripeTestEvents.request(id: unique())).status, 200)
    }

    func testIdleAndSlowClientsDoNotStopGenuineDeliveries() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)  // this test process holds a thousand sockets too
        let daemon = try DaemonProcess(yaml: "http:\n  header_timeout_seconds: 2\n")
        var held: [TestHTTPClient] = []
        for index in 0..<980 {
            let client = try daemon.client()
            if index % 2 == 0 { try client.send("POST /webhooks/stripe HTTP/1.1\r\nHo") }  // starts, never finishes
            held.append(client)
        }
        let stop = Atomic<Bool>(false)
        let slow = Thread {
            // Byte-a-second clients (a byte every 200 ms): 980 + 20 = 1,000 slow or idle connections.
            let clients = (0..<20).compactMap { _ in try? daemon.client() }
            let request = Array("POST /webhooks/stripe HTTP/1.1\r\nHost: a\r\n".utf8)
            var offset = 0
            while !stop.load(ordering: .relaxed), offset < request.count {
                for client in clients { try? client.send([request[offset]]) }
                offset += 1
                usleep(200_000)
            }
        }
        slow.start()
        let started = Date()
        let genuine = try daemon.client()
        for _ in 0..<20 {
            XCTAssertEqual(try genuine.roundTripRaw(StripeTestEvents.request(id: unique())).status, 200)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        // The half-sent requests time out with 408.
        let response = try held[0].readResponse()
        XCTAssertEqual(response.status, 408)
        stop.store(true, ordering: .relaxed)
        XCTAssertEqual(daemon.terminate(), 0)
    }

    /// A full table makes room by closing the connection idle the longest (the 503 when every connection has a
    /// request in flight is covered by HTTPServerTests' ConnectionLimitTests).
    func testFullConnectionTableEvictsTheConnectionIdleTheLongest() throws {
        let daemon = try DaemonProcess(yaml: "http:\n  max_connections: 4\n")
        let held = try (0..<4).map { _ in try daemon.client(timeoutSeconds: 5) }
        for client in held {
            XCTAssertEqual(try client.roundTrip("GET", "/healthz").status, 200)
            usleep(20_000)  // each idle since a moment of its own
        }
        let newcomer = try daemon.client()
        XCTAssertEqual(try newcomer.roundTrip("GET", "/healthz").status, 200)
        // Exactly one idle connection made room; the others still serve. (Which one is the longest idle is checked
        // in process by ConnectionLimitTests.testFullTableEvictsTheLongestIdleOrIncompleteConnection.)
        let served = held.map { (try? $0.roundTrip("GET", "/healthz"))?.status == 200 }
        XCTAssertEqual(served.filter { !$0 }.count, 1, "\(served)")
        let metrics = try ExpositionParser(try daemon.adminClient().roundTrip("GET", "/metrics").bodyText)
        XCTAssertEqual(metrics.value("hookyard_http_connections_evicted_total", ["listener": "public"]), 1)
    }

    func testCrashLosesNoAcknowledgedEvent() throws {
        let directory = DaemonProcess.makeDirectory()
        var daemon: DaemonProcess? = try DaemonProcess(directory: directory)
        let acknowledged = Mutex<[String]>([])
        let port = daemon!.port
        let group = DispatchGroup()
        for _ in 0..<6 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let client = try? TestHTTPClient(port: port, timeoutSeconds: 5) else { return }
                while true {
                    let id = "evt_\(UUID().uuidString)"
                    guard (try? client.send(StripeTestEvents.request(id: id))) != nil,
                          let response = try? client.readResponse() else { return }
                    if response.status == 200 { acknowledged.withLock { $0.append(id) } }
                }
            }.start()
        }
        // Let traffic flow, then kill -9 mid-stream.
        let deadline = Date().addingTimeInterval(5)
        while acknowledged.withLock({ $0.count }) < 300 && Date() < deadline { usleep(10_000) }
        usleep(UInt32.random(in: 0..<50_000))
        daemon!.crash()
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
        daemon = nil

        let restarted = try DaemonProcess(directory: directory)
        let stored = try storedStripeIDs(restarted.databasePath)
        let acked = acknowledged.withLock { $0 }
        XCTAssertGreaterThan(acked.count, 100)
        for id in acked { XCTAssertEqual(stored[id], 1, "acknowledged \(id) missing after crash") }
        XCTAssertTrue(stored.values.allSatisfy { $0 == 1 })
        // Every stored event kept its job.
        let (_, output) = try restarted.run(["stats", "--json"])
        let stats = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        XCTAssertEqual((stats["jobs"] as? [String: Int])?.values.reduce(0, +), stored.count)
        // Redelivering an acknowledged event after the crash is a duplicate.
        let client = try restarted.client()
        XCTAssertTrue(try client.roundTripRaw(StripeTestEvents.request(id: acked[0])).bodyText.contains("\"duplicate\":true"))
        XCTAssertEqual(restarted.terminate(), 0)
    }

    func testLockedStoreAnswers503ThenRecovers() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client(timeoutSeconds: 20)
        XCTAssertEqual(try client.roundTripRaw(StripeTestEvents.request(id: unique())).status, 200)
        let blocker = try SQLiteDatabase(path: daemon.databasePath)
        try blocker.setBusyTimeout(milliseconds: 5000)  // the workers write too
        try blocker.execute("BEGIN IMMEDIATE")
        let id = unique()
        let refused = try client.roundTripRaw(StripeTestEvents.request(id: id))
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.headers["retry-after"], "5")
        XCTAssertTrue(refused.bodyText.contains("store_unavailable"))
        XCTAssertEqual(try client.roundTrip("GET", "/readyz").status, 503)
        XCTAssertTrue(daemon.process.isRunning)
        try blocker.execute("ROLLBACK")
        XCTAssertEqual(try client.roundTripRaw(StripeTestEvents.request(id: id)).status, 200)
        XCTAssertEqual(try client.roundTrip("GET", "/readyz").status, 200)
        XCTAssertTrue(daemon.logLines().contains { ($0["msg"] as? String)?.contains("store commit failed") ?? false })
    }

    func testGracefulStopAndStartupLog() throws {
        let daemon = try DaemonProcess(listen: "[::1]:0")
        let client = try TestHTTPClient(host: "::1", port: daemon.port)
        XCTAssertEqual(try client.roundTripRaw(StripeTestEvents.request(id: unique())).status, 200)
        XCTAssertEqual(daemon.terminate(), 0)
        let lines = daemon.logLines()
        let starting = try XCTUnwrap(lines.first { $0["msg"] as? String == "starting" })
        XCTAssertEqual(starting["stripe_webhook_secret"] as? String, "set")
        XCTAssertNotNil(starting["version"])
        XCTAssertFalse(daemon.output.contains(DaemonProcess.stripeSecret))
        XCTAssertTrue(lines.contains { $0["msg"] as? String == "stopped" })
        let request = try XCTUnwrap(lines.first { $0["msg"] as? String == "request" })
        for key in ["ts", "level", "method", "path", "status", "bytes", "duration_ms", "source", "event_id", "duplicate"] {
            XCTAssertNotNil(request[key], key)
        }
        XCTAssertEqual(request["status"] as? Int, 200)
    }

    func testCommandLineTools() throws {
        // A rule whose step cannot run (its template names a field the event lacks): its job goes dead at once.
        let daemon = try DaemonProcess(yaml: """
            rules:
              - name: broken
                on: {source: stripe, event: checkout.session.completed}
                steps:
                  - name: price
                    action: stripe.get_price
                    with: {id: "{{ event.data.object.no_such_field }}"}
            """)
        let id = unique()
        XCTAssertEqual(try daemon.client().roundTripRaw(StripeTestEvents.request(id: id)).status, 200)
        let (showStatus, show) = try daemon.run(["events", "show", id])
        XCTAssertEqual(showStatus, 0, show)
        XCTAssertTrue(show.contains("\"event_id\" : \"\(id)\""), show)
        XCTAssertTrue(show.contains("stripe-signature"), show)
        let (missingStatus, missing) = try daemon.run(["events", "show", "evt_nope"])
        XCTAssertNotEqual(missingStatus, 0)
        XCTAssertTrue(missing.contains("no event 'evt_nope'"), missing)
        let (sendStatus, sent) = try daemon.run(["send-test-event", "stripe", "--to", "http://127.0.0.1:\(daemon.port)"],
                                                environment: ["STRIPE_WEBHOOK_SECRET": DaemonProcess.stripeSecret])
        XCTAssertEqual(sendStatus, 0, sent)
        let (instantlyStatus, instantly) = try daemon.run(["send-test-event", "instantly", "--to", "http://127.0.0.1:\(daemon.port)"],
                                                          environment: ["INSTANTLY_WEBHOOK_SECRET": DaemonProcess.instantlySecret])
        XCTAssertEqual(instantlyStatus, 0, instantly)
        let (_, stats) = try daemon.run(["stats"])
        XCTAssertTrue(stats.contains("stripe 2  instantly 1"), stats)
        // The dead-letter commands on the step jobs the two Stripe events caused.
        let queue = try SQLiteJobQueue(path: daemon.databasePath)
        func deadJobs() throws -> [Job] { try queue.list(state: .dead, limit: 10) }
        let deadline = Date().addingTimeInterval(10)
        while try deadJobs().count < 2, Date() < deadline { usleep(20_000) }
        let job = try XCTUnwrap(try deadJobs().last)
        XCTAssertEqual(job.attempts, 1, "a step that cannot run is not retried")
        let (listStatus, dead) = try daemon.run(["jobs", "list", "--state", "dead"])
        XCTAssertEqual(listStatus, 0, dead)
        XCTAssertTrue(dead.contains("{{ event.data.object.no_such_field }} has no value"), dead)
        XCTAssertTrue(dead.contains("broken/price"), dead)
        let (_, shown) = try daemon.run(["jobs", "show", String(job.id)])
        XCTAssertTrue(shown.contains("\"outcome\" : \"dead\""), shown)
        let (_, eventShown) = try daemon.run(["events", "show", String(job.eventID)])
        XCTAssertTrue(eventShown.contains("\"state\" : \"dead\""), eventShown)
        XCTAssertTrue(eventShown.contains("\"kind\" : \"process_event\""), eventShown)
        let succeeded = try XCTUnwrap(try queue.list(state: .succeeded, limit: 1).first)
        let (wrongStatus, wrong) = try daemon.run(["jobs", "discard", String(succeeded.id)])
        XCTAssertNotEqual(wrongStatus, 0)
        XCTAssertTrue(wrong.contains("only dead jobs"), wrong)
        XCTAssertEqual(try daemon.run(["jobs", "discard", String(job.id)]).0, 0)
        XCTAssertEqual(try queue.job(job.id)?.job.state, .discarded)
        XCTAssertEqual(try daemon.run(["jobs", "retry", String(job.id)]).0, 0)
        // Queued again with a fresh budget; it runs, and (the event still lacks the field) goes dead again.
        while try queue.job(job.id)?.attempts.count ?? 0 < 2, Date() < deadline { usleep(20_000) }
        let again = try XCTUnwrap(try queue.job(job.id))
        XCTAssertEqual(again.job.state, .dead)
        XCTAssertEqual(again.job.attempts, 1)
        XCTAssertEqual(again.attempts.count, 2)
        XCTAssertEqual(again.attempts.map(\.attempt), [1, 2], "attempts are numbered across the retry")
        let (bothStatus, both) = try daemon.run(["jobs", "retry", "1", "--all-dead"])
        XCTAssertNotEqual(bothStatus, 0)
        XCTAssertTrue(both.contains("not both"), both)
        let (neitherStatus, neither) = try daemon.run(["jobs", "retry"])
        XCTAssertNotEqual(neitherStatus, 0)
        XCTAssertFalse(neither.contains("not both"), neither)
        XCTAssertTrue(neither.contains("give the id of the job to retry"), neither)

        let (versionStatus, version) = try DaemonProcess.run(["--version"])
        XCTAssertEqual(versionStatus, 0)
        XCTAssertFalse(version.isEmpty)
    }

    /// What fails while a command runs exits 1 with its message alone; only a wrong command line exits 64 with the
    /// usage.
    func testRuntimeErrorsExitOneWithoutUsageAndUsageErrorsExit64() throws {
        let daemon = try DaemonProcess()
        defer { daemon.terminate() }
        let missing = DaemonProcess.makeDirectory().appendingPathComponent("none.db").path
        let runtime: [([String], [String: String], String)] = [
            (["jobs", "show", "999"], [:], "no job 999"),
            (["jobs", "retry", "999"], [:], "999"),
            (["contacts", "show", "nobody@example.com"], [:], "nobody@example.com"),
            (["stats"], ["HOOKYARD_DATABASE": missing], "no database at"),
            (["contacts", "erase", "nobody@example.com"], [:], "--yes"),
        ]
        for (arguments, environment, expected) in runtime {
            let (status, output) = try daemon.run(arguments, environment: environment)
            XCTAssertEqual(status, 1, "\(arguments): \(output)")
            XCTAssertTrue(output.hasPrefix("Error: "), "\(arguments): \(output)")
            XCTAssertTrue(output.contains(expected), "\(arguments): \(output)")
            XCTAssertFalse(output.contains("Usage:"), "\(arguments): \(output)")
        }
        for arguments in [["jobs", "show"], ["jobs", "show", "three"], ["nonsense"], ["jobs", "list", "--state", "sleeping"]] {
            let (status, output) = try daemon.run(arguments)
            XCTAssertEqual(status, 64, "\(arguments): \(output)")
            XCTAssertTrue(output.contains("Usage:") || output.contains("USAGE:"), "\(arguments): \(output)")
        }
        let (help, text) = try daemon.run(["--help"])
        XCTAssertEqual(help, 0)
        XCTAssertTrue(text.contains("Exit status: 0 on success; 1 when a command could not do its work"), text)
    }

    func testCheckConfigNamesFileLineAndKey() throws {
        let directory = DaemonProcess.makeDirectory()
        let file = directory.appendingPathComponent("bad.yaml").path
        try "listen: 127.0.0.1:8080\nhttp:\n  max_body_byte: 5\n".write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try DaemonProcess.run(["check-config", "--config", file])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(output.contains("\(file):3: http.max_body_byte: unknown key"), output)
        let (okStatus, ok) = try DaemonProcess.run(["check-config"], environment: ["STRIPE_WEBHOOK_SECRET": "whsec_x"])
        XCTAssertEqual(okStatus, 0, ok)
        XCTAssertTrue(ok.contains("STRIPE_WEBHOOK_SECRET     set"), ok)
        XCTAssertFalse(ok.contains("whsec_x"))
        // Valid, but the Instantly route will answer 503: a warning names it, and the exit status stays 0.
        XCTAssertTrue(ok.contains("2 warnings (the daemon starts, but):"), ok)
        XCTAssertTrue(ok.contains("warning: this shell has no CREDENTIALS_DIRECTORY"), ok)
        XCTAssertTrue(ok.contains("warning: INSTANTLY_WEBHOOK_SECRET is not set: POST /webhooks/instantly will answer 503"), ok)
        XCTAssertFalse(ok.contains("warning: STRIPE_WEBHOOK_SECRET"), ok)
        let empty = directory.appendingPathComponent("empty.yaml").path
        try "listen: 127.0.0.1:8080\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let (bareStatus, bare) = try DaemonProcess.run(["check-config", "--config", empty])
        XCTAssertEqual(bareStatus, 0, bare)
        XCTAssertTrue(bare.contains("4 warnings (the daemon starts, but):"), bare)
        XCTAssertTrue(bare.contains("warning: STRIPE_WEBHOOK_SECRET is not set: POST /webhooks/stripe will answer 503"), bare)
        XCTAssertTrue(bare.contains("warning: \(empty) has no rules: events are stored, but no workflow runs"), bare)
        let (quietStatus, quiet) = try DaemonProcess.run(["check-config"], environment: ["STRIPE_WEBHOOK_SECRET": "whsec_x",
                                                                                       "INSTANTLY_WEBHOOK_SECRET": "instantly-secret-1"])
        XCTAssertEqual(quietStatus, 0, quiet)
        XCTAssertFalse(quiet.contains("warning"), "no file, both secrets: nothing to warn about: \(quiet)")
        let (serveStatus, serve) = try DaemonProcess.run(["serve", "--config", file])
        XCTAssertNotEqual(serveStatus, 0)
        XCTAssertTrue(serve.contains("unknown key"), serve)
    }
}

extension TestHTTPClient {
    /// Sends prepared request bytes and reads the response.
    func roundTripRaw(_ bytes: [UInt8]) throws -> TestResponse {
        try send(bytes)
        return try readResponse()
    }
}
