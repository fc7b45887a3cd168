#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Intake
import TestSupport
import XCTest

final class SystemdIntegrationTests: XCTestCase {
    /// A stop at any instant of the start (here: as soon as `starting` is logged, and as soon as READY=1 arrives)
    /// ends in the graceful stop, exit status 0, never death by the signal's default action.
    func testSigtermWhileStartingStopsGracefully() throws {
        for trigger in ["starting", "READY=1"] {
            let directory = DaemonProcess.makeDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let notify = try NotifySocket(directory: directory)
            let process = Process()
            process.executableURL = DaemonProcess.binary
            process.arguments = ["serve"]
            process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                                   "HOOKYARD_LISTEN": "127.0.0.1:0", "HOOKYARD_ADMIN_LISTEN": "127.0.0.1:0",
                                   "HOOKYARD_DATABASE": directory.appendingPathComponent("hookyard.db").path,
                                   "STRIPE_WEBHOOK_SECRET": DaemonProcess.stripeSecret, "NOTIFY_SOCKET": notify.name]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            var output = Data()
            let reader = pipe.fileHandleForReading
            if trigger == "starting" {
                // Blocking reads: the signal goes out within microseconds of the line, long before READY=1.
                while !String(decoding: output, as: UTF8.self).contains("\"msg\":\"starting\"") {
                    let chunk = reader.availableData
                    guard !chunk.isEmpty else { break }
                    output.append(chunk)
                }
            } else {
                _ = notify.receive(for: 20) { $0.contains { $0.hasPrefix("READY=1") } }
            }
            kill(process.processIdentifier, SIGTERM)
            // A signal lost while starting would leave the daemon running: fail (and kill it) instead of hanging.
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                XCTFail("the SIGTERM sent at \(trigger) was lost: the daemon was still running 20 s later")
            }
            output.append(reader.readDataToEndOfFile())
            process.waitUntilExit()
            let text = String(decoding: output, as: UTF8.self)
            XCTAssertEqual(process.terminationReason, .exit, "killed at \(trigger) by signal \(process.terminationStatus): \(text)")
            XCTAssertEqual(process.terminationStatus, 0, "at \(trigger): \(text)")
            XCTAssertTrue(text.contains("\"msg\":\"stopped\""), "at \(trigger): \(text)")
            XCTAssertTrue(notify.all.contains("STOPPING=1"), "at \(trigger): \(notify.all)")
        }
    }

    func testNotifyProtocolReadyWatchdogStatusStopping() throws {
        for abstract in [false, true] {
            let directory = DaemonProcess.makeDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let daemon = try DaemonProcess(directory: directory, environment: ["WATCHDOG_USEC": "400000"], abstractNotifySocket: abstract)
            let notify = daemon.notify
            XCTAssertTrue(notify.name.hasPrefix("@") == abstract, notify.name)
            let started = daemon.startupNotifications
            XCTAssertTrue(started.first?.hasPrefix("READY=1\nSTATUS=listening on 127.0.0.1:") ?? false, "\(started)")
            // Half of 400 ms: a watchdog ping with a status line every 200 ms.
            let pings = notify.receive(for: 1.1).filter { $0.contains("WATCHDOG=1") }
            XCTAssertGreaterThanOrEqual(pings.count, 4, "\(pings)")
            XCTAssertLessThanOrEqual(pings.count, 7, "\(pings)")
            XCTAssertTrue(pings.last?.contains("STATUS=listening on 127.0.0.1:") ?? false, "\(pings)")
            XCTAssertTrue(pings.last?.contains("jobs: 0 queued, 0 running, 0 retrying, 0 dead") ?? false, "\(pings)")
            XCTAssertEqual(daemon.terminate(), 0)
            let last = notify.receive(for: 1) { $0.contains { $0.contains("STOPPING=1") } }
            XCTAssertTrue(last.contains("STOPPING=1"), "\(last)")
        }
    }

    /// A worker stuck in a call longer than `workers.max_job_seconds` stops the watchdog pings (so systemd would
    /// restart the daemon); they resume when it is free again. The status line keeps coming.
    func testWatchdogStopsWhileAWorkerIsWedged() throws {
        let stripe = try FakeStripeAPI()
        stripe.inject(.delay(.milliseconds(2500)))
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try DaemonProcess(directory: directory, yaml: """
            workers: {max_job_seconds: 1}
            rules:
              - name: slow
                on: {source: stripe, event: checkout.session.completed}
                steps:
                  - {name: price, action: stripe.get_price, with: {id: price_slow}}
            """, environment: ["WATCHDOG_USEC": "400000",
                               "STRIPE_API_KEY": stripe.apiKey, "STRIPE_API_BASE": stripe.baseURL])
        XCTAssertEqual(try deliver(to: daemon.port), 200)
        let messages = daemon.notify.receive(for: 4)
        let watchdog = messages.map { $0.contains("WATCHDOG=1") }
        // Fed, then a gap of at least a second while the call hangs, then fed again.
        let firstMissed = try XCTUnwrap(watchdog.firstIndex(of: false), "\(messages)")
        let resumed = try XCTUnwrap(watchdog[firstMissed...].firstIndex(of: true), "\(messages)")
        XCTAssertGreaterThanOrEqual(resumed - firstMissed, 4, "\(messages)")
        XCTAssertTrue(messages.allSatisfy { $0.contains("STATUS=") })
        let lines = daemon.logLines()
        XCTAssertTrue(lines.contains { $0["msg"] as? String == "watchdog: not making progress; systemd's watchdog is no longer fed"
            && $0["stuck"] as? String == "workers" }, daemon.output)
        XCTAssertTrue(lines.contains { $0["msg"] as? String == "watchdog: every part is making progress again" }, daemon.output)
        daemon.terminate()
    }

    func testSighupReloadsRulesAndRefusesAnInvalidFile() throws {
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try DaemonProcess(directory: directory, yaml: "log_level: info\n")
        let notify = daemon.notify
        // A sender's kept-alive connection, opened before the reload, must still serve after it.
        let kept = try TestHTTPClient(port: daemon.port)
        XCTAssertEqual(try deliver("evt_before", to: daemon.port, on: kept), 200)
        // Its job must be done before the reload, or the new rule would record it too (workers run after intake).
        XCTAssertTrue(try waitFor { try daemon.run(["stats", "--json"]).1.contains(#""succeeded":1"#) })
        let file = directory.appendingPathComponent("hookyard.yaml")
        try """
            stripe: {max_rps: 7}
            rules:
              - name: record
                on: {source: stripe, event: checkout.session.completed}
                steps:
                  - {name: purchase, action: record_purchase, with: {reference: "{{ event.data.object.id }}", amount: "{{ event.data.object.amount_total }}", currency: usd}}
            """.write(to: file, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        let reloading = notify.receive(for: 5) { $0.contains { $0 == "READY=1" } }
        XCTAssertTrue(reloading.contains { $0.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") }, "\(reloading)")
        XCTAssertTrue(waitForLog(daemon) { $0["msg"] as? String == "configuration reloaded" && $0["rules"] as? String == "record"
            && $0["stripe_max_rps"] as? String == "7" })
        // The new rule runs: the next event, on the connection opened before the reload, records a purchase.
        XCTAssertEqual(try deliver(to: daemon.port, on: kept), 200)
        var stats = ""
        XCTAssertTrue(try waitFor { stats = try daemon.run(["stats"]).1; return stats.contains("purchases 1 for USD 49.00") },
                      "\(stats)\n\(daemon.output)")

        try "rules: [oops".write(to: file, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        XCTAssertTrue(waitForLog(daemon) { $0["msg"] as? String == "configuration reload refused; the running configuration stays" })
        XCTAssertTrue(daemon.process.isRunning)
        // The old rules still run.
        XCTAssertEqual(try deliver("evt_second", to: daemon.port), 200)
        XCTAssertTrue(try waitFor { stats = try daemon.run(["stats"]).1; return stats.contains("purchases 2 for USD 98.00") },
                      "\(stats)\n\(daemon.output)")
        XCTAssertEqual(daemon.terminate(), 0)
    }

    /// Socket activation: the daemon serves on the listening socket it inherits as descriptor 3.
    func testInheritedListeningSocket() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(listener, $0, length) }
        }
        XCTAssertEqual(listen(listener, 64), 0)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(listener, $0, &length) }
        }
        let port = UInt16(bigEndian: address.sin_port)
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("serve.log").path

        // As systemd does: the socket as descriptor 3, LISTEN_PID naming the process that execs the daemon.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, listener, 3)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let script = "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" serve"
        let arguments = ["/bin/sh", "-c", script, DaemonProcess.binary.path]
        let environment = ["PATH=/usr/bin:/bin", "HOOKYARD_DATABASE=\(directory.appendingPathComponent("hookyard.db").path)",
                           "HOOKYARD_LISTEN=127.0.0.1:1", "HOOKYARD_ADMIN_LISTEN=127.0.0.1:0",
                           "STRIPE_WEBHOOK_SECRET=\(DaemonProcess.stripeSecret)"]
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        XCTAssertEqual(posix_spawn(&pid, "/bin/sh", &actions, nil, argv, envp), 0)
        close(listener)
        defer {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        XCTAssertTrue(waitFor { (try? String(contentsOfFile: log, encoding: .utf8))?.contains("\"listening\"") ?? false },
                      (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        let output = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(output.contains("\"socket\":\"inherited from systemd\""), output)
        XCTAssertTrue(output.contains("\"address\":\"127.0.0.1:\(port)\""), output)
        XCTAssertEqual(try deliver(to: port), 200)
    }

    /// With stdout going to the journal, every line starts with its syslog priority (journald strips it).
    func testJournalLinesCarryTheirPriority() throws {
        let daemon = try DaemonProcess(environment: ["JOURNAL_STREAM": "8:12345"], secrets: false)
        XCTAssertEqual(daemon.terminate(), 0)
        let lines = daemon.output.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("<6>{\"ts\":") && $0.contains("\"msg\":\"listening\"") }, daemon.output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("<4>{\"ts\":") && $0.contains("STRIPE_WEBHOOK_SECRET is not set") }, daemon.output)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("<") }, daemon.output)
    }

    // MARK: Helpers

    /// Posts a signed Stripe `checkout.session.completed` event; returns the status.
    /// Delivers a signed Stripe event on a new connection, or on `connection` (kept alive across calls).
    private func deliver(_ id: String = "evt_first", to port: UInt16, on connection: TestHTTPClient? = nil) throws -> Int {
        let body = StripeTestEvents.body(id: id)
        let headers = [("Content-Type", "application/json"),
                       ("Stripe-Signature", StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret,
                                                                           timestamp: Int64(Date().timeIntervalSince1970)))]
        return try (connection ?? TestHTTPClient(port: port)).roundTrip("POST", "/webhooks/stripe", headers: headers, body: body).status
    }

    private func waitFor(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        try waitUntil(timeout: .seconds(seconds), interval: .milliseconds(50), condition)
    }

    private func waitForLog(_ daemon: DaemonProcess, _ matches: @escaping ([String: Any]) -> Bool) -> Bool {
        waitFor { daemon.logLines().contains(where: matches) }
    }
}
