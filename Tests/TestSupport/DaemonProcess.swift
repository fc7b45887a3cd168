#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Intake

/// Runs the real `hookyard` binary for integration tests: a temporary directory with its database and config,
/// stdout captured as JSON log lines. Readiness is awaited as systemd awaits it: the daemon gets a notify socket
/// (`$NOTIFY_SOCKET`) and the init returns once `READY=1` arrived; the listening port is read from the `listening`
/// line.
public final class DaemonProcess: @unchecked Sendable {  // Safe: output is guarded by `lock`; the rest is set in init.
    public let directory: URL
    public let databasePath: String
    /// The variables that point a command at this daemon's database (`HOOKYARD_DATABASE`, or
    /// `HOOKYARD_DATABASE_URL` for PostgreSQL).
    public let databaseEnvironment: [String: String]
    public private(set) var port: UInt16 = 0
    public let process = Process()
    /// The daemon's `$NOTIFY_SOCKET`: read `notify.receive(for:until:)` for what it sent after `READY=1`.
    public let notify: NotifySocket
    /// What the daemon sent on its notify socket up to and including `READY=1`.
    public private(set) var startupNotifications: [String] = []
    private let lock = NSLock()
    private var outputData = Data()
    /// The read end of the daemon's stdout (kept open while the process runs).
    private var outputHandle: FileHandle?
    /// Signalled once the reader thread has read the daemon's output to its end.
    private let outputFinished = DispatchSemaphore(value: 0)
    /// The file behind the daemon's `HOOKYARD_TEST_CLOCK_OFFSET_FILE`; see `moveClock(to:)`.
    public var clockFile: URL { directory.appendingPathComponent("clock-offset-ms") }

    /// Moves the daemon's workflow clock to `offsetMilliseconds` ahead of real time (it never goes back in a test:
    /// pass the total offset, not a step). Scheduled steps then come due without sleeping; workers look for due
    /// jobs every 250 ms. Also works between a stop and a restart, on the same directory.
    public func moveClock(to offsetMilliseconds: Int64) throws {
        try String(offsetMilliseconds).write(to: clockFile, atomically: true, encoding: .utf8)
    }

    public static let stripeSecret = "whsec_integration_test_secret"
    public static let instantlySecret = "instantly-integration-secret"

    /// The `hookyard` executable next to the test bundle.
    public static var binary: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("hookyard").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("hookyard")
    }

    /// A fresh temporary directory for one test.
    public static func makeDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hookyard-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Starts `hookyard serve` and waits until it sent `READY=1`, as systemd would.
    /// - Parameters:
    ///   - yaml: configuration file contents, if any.
    ///   - environment: extra variables; secrets and listen address default to test values.
    ///   - abstractNotifySocket: bind the notify socket in the abstract namespace (`@name`, the default: no file
    ///     in `directory`), or as a file in `directory`.
    ///   - databaseURL: a PostgreSQL database (`HOOKYARD_DATABASE_URL`) instead of `hookyard.db` in `directory`;
    ///     `run` points the commands at it too.
    public init(directory: URL? = nil, yaml: String? = nil, listen: String = "127.0.0.1:0",
                environment: [String: String] = [:], secrets: Bool = true, abstractNotifySocket: Bool = true,
                databaseURL: String? = nil) throws {
        self.directory = directory ?? Self.makeDirectory()
        notify = try NotifySocket(directory: self.directory, abstract: abstractNotifySocket)
        databasePath = self.directory.appendingPathComponent("hookyard.db").path
        databaseEnvironment = databaseURL.map { ["HOOKYARD_DATABASE": "", "HOOKYARD_DATABASE_URL": $0] } ?? ["HOOKYARD_DATABASE": databasePath]
        var arguments = ["serve"]
        if let yaml {
            let file = self.directory.appendingPathComponent("hookyard.yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            arguments += ["--config", file.path]
        }
        // The admin listener gets an ephemeral port too, so parallel daemons never collide on its default 9090.
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                   "HOOKYARD_LISTEN": listen, "HOOKYARD_ADMIN_LISTEN": "127.0.0.1:0"]
        env.merge(databaseEnvironment) { _, new in new }
        if secrets {
            env["STRIPE_WEBHOOK_SECRET"] = Self.stripeSecret
            env["INSTANTLY_WEBHOOK_SECRET"] = Self.instantlySecret
        }
        env["HOOKYARD_TEST_CLOCK_OFFSET_FILE"] = self.directory.appendingPathComponent("clock-offset-ms").path
        env["NOTIFY_SOCKET"] = notify.name
        env.merge(environment) { _, new in new }
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        outputHandle = pipe.fileHandleForReading
        // A thread of its own reads the daemon's output until end of file, from a duplicate of the descriptor that
        // only it closes. (FileHandle.readabilityHandler keeps a Dispatch source on the descriptor, and Dispatch
        // crashed the test process when the descriptor was closed and reused before the source went away.)
        let descriptor = dup(pipe.fileHandleForReading.fileDescriptor)
        let finished = outputFinished
        Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                guard let self else { continue }
                self.lock.lock()
                self.outputData.append(contentsOf: buffer[0..<count])
                self.lock.unlock()
            }
            close(descriptor)
            finished.signal()
        }.start()
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        var ready = false
        while Date() < deadline, !ready {
            startupNotifications += notify.receive(for: 0.1) { $0.contains { $0.hasPrefix("READY=1") } }
            ready = startupNotifications.contains { $0.hasPrefix("READY=1") }
            if !ready, !process.isRunning { break }
        }
        // `listening` is logged before READY=1; give the output reader a moment to catch up with it.
        while ready, Date() < deadline {
            if let line = logLines().first(where: { $0["msg"] as? String == "listening" }),
               let address = line["address"] as? String, let portText = address.split(separator: ":").last,
               let port = UInt16(portText) {
                self.port = port
                return
            }
            usleep(5_000)
        }
        terminate()
        throw TestClientError("hookyard did not become ready (READY=1 and a `listening` line); "
            + "notifications \(startupNotifications); output:\n\(output)")
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    /// Waits (at most 5 s) until the daemon's output has been read to its end.
    private func waitForOutputToEnd() {
        if outputFinished.wait(timeout: .now() + .seconds(5)) == .success { outputFinished.signal() }
    }

    public var output: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: outputData, as: UTF8.self)
    }

    /// Every stdout line that parses as a JSON object (after the `<N>` priority prefix a journal-bound daemon adds).
    public func logLines() -> [[String: Any]] {
        output.split(separator: "\n").compactMap { line in
            var text = line
            if text.first == "<", let end = text.firstIndex(of: ">"), text.distance(from: text.startIndex, to: end) <= 2 {
                text = text[text.index(after: end)...]
            }
            return try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        }
    }

    /// The admin listener's port, from the `admin listening` line (logged just after `listening`).
    /// - Throws: if no such line appears within 10 s (admin listener off, or it could not bind).
    public func adminPort() throws -> UInt16 {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let line = logLines().first(where: { $0["msg"] as? String == "admin listening" }),
               let address = line["address"] as? String, let portText = address.split(separator: ":").last,
               let port = UInt16(portText) {
                return port
            }
            usleep(20_000)
        }
        throw TestClientError("hookyard did not log 'admin listening'; output:\n\(output)")
    }

    /// A client connected to the admin listener.
    public func adminClient(timeoutSeconds: Int = 10) throws -> TestHTTPClient {
        try TestHTTPClient(port: adminPort(), timeoutSeconds: timeoutSeconds)
    }

    public func client(timeoutSeconds: Int = 10) throws -> TestHTTPClient {
        try TestHTTPClient(port: port, timeoutSeconds: timeoutSeconds)
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    public func terminate() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        waitForOutputToEnd()
        return process.terminationStatus
    }

    /// SIGKILL: a crash at an arbitrary instant.
    public func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        waitForOutputToEnd()
    }

    /// Runs another `hookyard` command against this daemon's database; returns (exit status, stdout+stderr).
    /// Without `--config`, a command uses the file the daemon recorded and says so on stderr; that note is left out
    /// here so callers can parse the output (`DaemonConfigurationRecordTests` check it, through the static `run`).
    public func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let (status, output) = try Self.run(arguments, environment: databaseEnvironment.merging(environment) { _, new in new })
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix(Self.recordedConfigurationNote) }
        return (status, lines.joined(separator: "\n"))
    }

    /// How a command starts the stderr line saying it uses the configuration file the daemon recorded.
    public static let recordedConfigurationNote = "note: using configuration "

    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        env.merge(environment) { _, new in new }
        return try runProgram(binary, arguments, environment: env)
    }

    /// Runs any program to completion with exactly `environment` (in `directory`, when given); returns (exit
    /// status, stdout+stderr).
    public static func runProgram(_ executable: URL, _ arguments: [String], environment: [String: String],
                                  in directory: URL? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Builds signed Stripe event requests.
public enum StripeTestEvents {
    public static func body(id: String, type: String = "checkout.session.completed") -> [UInt8] {
        Array("""
        {"id":"\(id)","object":"event","api_version":"2024-06-20","created":\(Int(Date().timeIntervalSince1970)),\
        "type":"\(type)","livemode":false,"data":{"object":{"id":"cs_test_\(id)","object":"checkout.session",\
        "customer_details":{"email":"lead@example.com"},"amount_total":4900,"currency":"usd"}}}
        """.utf8)
    }

    /// A signed delivery. The signer is `StripeSignatureVerifier.header`, which IntakeTests check against a
    /// vector signed by Stripe's own Python library.
    public static func request(id: String, secret: String = DaemonProcess.stripeSecret,
                               timestamp: Int64 = Int64(Date().timeIntervalSince1970), close: Bool = false) -> [UInt8] {
        let body = body(id: id)
        let header = StripeSignatureVerifier.header(for: body, secret: secret, timestamp: timestamp)
        return TestHTTPClient.request("POST", "/webhooks/stripe", headers: [("Content-Type", "application/json"), ("Stripe-Signature", header)],
                                      body: body, close: close)
    }
}
