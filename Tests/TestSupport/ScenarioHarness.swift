import Foundation
import HookyardFoundation
import Intake
import Store

/// One scenario end to end: the real `hookyard` daemon running a shipped example configuration
/// (`deploy/examples/<name>.yaml`), the fake Stripe and Instantly APIs on loopback behind `STRIPE_API_BASE` and
/// `INSTANTLY_API_BASE`, signed webhook deliveries, and a workflow clock the test moves
/// (`HOOKYARD_TEST_CLOCK_OFFSET_FILE`) so scheduled steps come due without sleeping.
///
/// The daemon can be stopped, killed and started again on the same database and clock. Not thread-safe: one
/// test drives it.
public final class ScenarioHarness {
    public let stripe: FakeStripeAPI
    public let instantly: FakeInstantlyAPI
    public let directory: URL
    /// The example's text (variables are expanded by the daemon from `environment`).
    public let yaml: String
    /// The variables the daemon starts with: API bases and keys, fast retries, high rate limits, plus the test's.
    public var environment: [String: String]
    public private(set) var daemon: DaemonProcess?
    /// How far ahead of real time the daemon's workflow clock is, in milliseconds.
    public private(set) var clockOffset: Int64 = 0
    private var instantlySerial = 0

    /// - Parameters:
    ///   - example: the file name under `deploy/examples`, without `.yaml`.
    ///   - environment: the example's variables (campaign ids and so on).
    public convenience init(example: String, environment: [String: String]) throws {
        try self.init(yaml: try Self.exampleYAML(example), environment: environment)
    }

    /// A harness for a configuration given as text.
    public init(yaml: String, environment: [String: String] = [:]) throws {
        stripe = try FakeStripeAPI()
        instantly = try FakeInstantlyAPI()
        directory = DaemonProcess.makeDirectory()
        self.yaml = yaml
        self.environment = [
            "STRIPE_API_KEY": stripe.apiKey, "STRIPE_API_BASE": stripe.baseURL,
            "INSTANTLY_API_KEY": instantly.apiKey, "INSTANTLY_API_BASE": instantly.baseURL,
            "HOOKYARD_RETRY_BASE_MS": "20", "HOOKYARD_RETRY_CAP_MS": "200", "HOOKYARD_MAX_ATTEMPTS": "40",
            "STRIPE_MAX_RPS": "200", "INSTANTLY_MAX_RPS": "200",
        ].merging(environment) { _, new in new }
    }

    deinit {
        if let daemon, daemon.process.isRunning { _ = daemon.terminate() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The text of `deploy/examples/<name>.yaml`.
    public static func exampleYAML(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../deploy/examples/\(name).yaml").standardized
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Starts the daemon (again, after `stop()` or `kill()`) on the same directory, database and clock.
    @discardableResult
    public func start() throws -> DaemonProcess {
        let daemon = try DaemonProcess(directory: directory, yaml: yaml, environment: environment)
        self.daemon = daemon
        return daemon
    }

    /// SIGTERM: the daemon finishes what it is doing and exits. - Returns: its exit status.
    @discardableResult
    public func stop() -> Int32 {
        defer { daemon = nil }
        return daemon?.terminate() ?? 0
    }

    /// SIGKILL, as a crash: leases held stay until they expire.
    public func kill() {
        daemon?.crash()
        daemon = nil
    }

    private func running() throws -> DaemonProcess {
        guard let daemon else { throw HarnessError("the daemon is not running; call start()") }
        return daemon
    }

    // MARK: Deliveries

    /// An Instantly delivery (authenticated by the secret header, as Instantly sends them). Each call gets its own
    /// `timestamp` unless one is given, so it is a distinct event; pass the same `timestamp` to redeliver.
    /// - Parameter fields: extra top-level keys (lead fields, `step`, `variant`…).
    /// - Returns: the body sent, to redeliver with `deliver(instantly:)`.
    @discardableResult
    public func sendInstantly(_ type: String, email: String, campaign: String, fields: [String: Any] = [:],
                              timestamp: String? = nil) throws -> [UInt8] {
        instantlySerial += 1
        var object: [String: Any] = [
            "timestamp": timestamp ?? Self.isoTime(WallClock.nowMilliseconds() + clockOffset + Int64(instantlySerial)),
            "event_type": type, "workspace": FakeInstantlyAPI.workspaceID, "campaign_id": campaign, "campaign_name": "Campaign",
            "lead_email": email, "email_account": "sender@example.org",
        ]
        object.merge(fields) { _, new in new }
        let body = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        try deliver(instantly: body)
        return body
    }

    /// Posts an Instantly body; fails the call unless the daemon answers 200.
    public func deliver(instantly body: [UInt8]) throws {
        let response = try running().client().roundTrip("POST", "/webhooks/instantly",
                                                        headers: [("Content-Type", "application/json"),
                                                                  ("X-Webhook-Secret", DaemonProcess.instantlySecret)],
                                                        body: body)
        guard response.status == 200 else { throw HarnessError("Instantly delivery answered \(response.status): \(response.bodyText)") }
    }

    /// A Stripe event, signed with the test secret at the current time.
    /// - Parameters:
    ///   - object: `data.object` as JSON text.
    ///   - previousAttributes: `data.previous_attributes` as JSON text, for `*.updated` events.
    ///   - created: the event's `created` (Unix seconds); defaults to the workflow clock's now.
    ///   - apiVersion: the event's `api_version`, the version its payload is rendered in (an endpoint on an older
    ///     version gets older shapes).
    /// - Returns: the signed body, to redeliver with `deliver(stripe:)` (a duplicate: same event id).
    @discardableResult
    public func sendStripe(_ type: String, id: String, object: String, previousAttributes: String? = nil,
                           created: Int64? = nil, apiVersion: String = "2025-12-15.clover") throws -> [UInt8] {
        let createdAt = created ?? (WallClock.nowMilliseconds() + clockOffset) / 1000
        let previous = previousAttributes.map { #","previous_attributes":\#($0)"# } ?? ""
        let body = Array(#"{"id":"\#(id)","object":"event","api_version":"\#(apiVersion)","created":\#(createdAt),"type":"\#(type)","livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"data":{"object":\#(object)\#(previous)}}"#.utf8)
        try deliver(stripe: body)
        return body
    }

    /// Posts a Stripe body signed now; fails the call unless the daemon answers 200.
    public func deliver(stripe body: [UInt8]) throws {
        let header = StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret, timestamp: Int64(Date().timeIntervalSince1970))
        let response = try running().client().roundTrip("POST", "/webhooks/stripe",
                                                        headers: [("Content-Type", "application/json"), ("Stripe-Signature", header)],
                                                        body: body)
        guard response.status == 200 else { throw HarnessError("Stripe delivery answered \(response.status): \(response.bodyText)") }
    }

    // MARK: Time and the queue

    /// The daemon's workflow clock now (Unix milliseconds).
    public var now: Int64 { WallClock.nowMilliseconds() + clockOffset }

    /// Moves the workflow clock forward by `milliseconds` (it persists across restarts).
    public func advanceClock(by milliseconds: Int64) throws {
        precondition(milliseconds >= 0, "the clock only moves forward")
        clockOffset += milliseconds
        try String(clockOffset).write(to: directory.appendingPathComponent("clock-offset-ms"), atomically: true, encoding: .utf8)
    }

    /// Every job, newest first.
    public func jobs() throws -> [Job] {
        let queue = try SQLiteJobQueue(path: directory.appendingPathComponent("hookyard.db").path)
        defer { queue.close() }
        return try queue.list(state: nil, limit: 100_000)
    }

    /// The step jobs of a rule (`flow:<rule>:…` keys), oldest first.
    public func steps(ofRule rule: String) throws -> [Job] {
        try jobs().filter { $0.idempotencyKey.hasPrefix("flow:\(rule):") }.reversed()
    }

    /// Waits until nothing is due: no job running or retrying, and every queued job scheduled later than the
    /// workflow clock's now (scheduled steps keep waiting). Throws after `timeout` seconds with the daemon's output.
    public func settle(timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var stableSince: Date?
        while Date() < deadline {
            let busy = try jobs().contains { job in
                switch job.state {
                case .running, .retrying: true
                case .queued: job.nextRunAt <= now + 500
                default: false
                }
            }
            if busy {
                stableSince = nil
            } else if let since = stableSince {
                // Idle twice, 150 ms apart: a job that just finished may have queued its successor meanwhile.
                if Date().timeIntervalSince(since) > 0.15 { return }
            } else {
                stableSince = Date()
            }
            usleep(30_000)
        }
        let pending = (try? jobs().filter { $0.state != .succeeded }.map { "\($0.id) \($0.kind) \($0.state.rawValue) \($0.lastError ?? "")" }) ?? []
        throw HarnessError("jobs still due after \(Int(timeout)) s: \(pending)\n\(daemon?.output ?? "")")
    }

    /// Runs a CLI command against the daemon's database and configuration file.
    public func cli(_ arguments: [String]) throws -> (status: Int32, output: String) {
        var environment = self.environment
        environment["HOOKYARD_DATABASE"] = directory.appendingPathComponent("hookyard.db").path
        return try DaemonProcess.run(arguments + ["--config", directory.appendingPathComponent("hookyard.yaml").path],
                                     environment: environment)
    }

    /// `hookyard contacts show EMAIL --json`: the contact as a dictionary.
    public func contact(_ email: String) throws -> [String: Any] {
        let (status, output) = try cli(["contacts", "show", email, "--json"])
        guard status == 0, let line = output.split(separator: "\n").first(where: { $0.hasPrefix("{") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw HarnessError("contacts show \(email) exited \(status): \(output)")
        }
        return object
    }

    /// The custom variables a recorded `POST /api/v2/leads` or `PATCH /api/v2/leads/{id}` wrote.
    public static func customVariables(_ request: FakeAPIServer.Recorded?) throws -> NSDictionary {
        guard let body = request?.body, let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let variables = object["custom_variables"] as? [String: Any] else {
            throw HarnessError("no custom_variables in \(request?.body ?? "no request")")
        }
        return variables as NSDictionary
    }

    /// Unix milliseconds as ISO 8601 with milliseconds, UTC (as Instantly sends `timestamp`).
    public static func isoTime(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

/// A harness step that could not be done, with what happened.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
