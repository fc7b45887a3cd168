import Foundation
import Jobs
import Logging
import Metrics
import Outbound
import Store
import Synchronization
import TestSupport
import Workflows
import XCTest
@testable import Alerts
import HookyardFoundation
import StrictJSON

/// A test clock: starts at a fixed time, moved by the test.
final class TestClock: Sendable {
    private let now: Mutex<Int64>
    init(_ start: Int64 = 1_795_600_000_000) { now = Mutex(start) }
    func advance(by milliseconds: Int64) { now.withLock { $0 += milliseconds } }
    var read: @Sendable () -> Int64 { { [self] in now.withLock { $0 } } }
    var value: Int64 { read() }
}

/// A database of its own per test (created by an `SQLiteEventWriter`, as the daemon does), a log recorder, and helpers to
/// store events and run the queue through a real `WorkerPool`.
class AlertTestCase: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("alerts.db").path }
    var writer: SQLiteEventWriter!
    var log: LogRecorder!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        log = LogRecorder()
    }

    override func tearDown() {
        writer?.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stores an event and returns its row id.
    @discardableResult
    func storeEvent(_ source: EventSource = .instantly, type: String, body: String) -> Int64 {
        let done = DispatchSemaphore(value: 0)
        let id = Mutex<Int64>(0)
        writer.append(IncomingEvent(source: source, dedupKey: UUID().uuidString, eventID: nil, type: type, receivedAt: 0,
                                    body: Array(body.utf8), headersJSON: "{}")) { result in
            if case .success(.stored(let stored)) = result { id.withLock { $0 = stored } }
            done.signal()
        }
        done.wait()
        return id.withLock { $0 }
    }

    /// Stores an Instantly event of `type` sent from `account` in `campaign`, `minutesAgo` before `now`.
    @discardableResult
    func instantly(_ type: String, account: String? = "sender@outreach.example", campaign: String? = "c1", lead: String? = nil,
                   minutesAgo: Int64, now: Int64) -> Int64 {
        var fields = [#""event_type":"\#(type)""#, #""timestamp":"\#(Self.iso(now - minutesAgo * 60_000))""#, #""workspace":"w""#]
        if let campaign { fields.append(#""campaign_id":"\#(campaign)""#) }
        if let account { fields.append(#""email_account":"\#(account)""#) }
        let email = lead ?? "lead-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        if type != "account_error" { fields.append(#""lead_email":"\#(email)""#) }
        return storeEvent(type: type, body: "{" + fields.joined(separator: ",") + "}")
    }

    static func iso(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    func jobs(kind: String? = nil) throws -> [Job] {
        let queue = try SQLiteJobQueue(path: path)
        defer { queue.close() }
        return try queue.list(state: nil, limit: 10_000).filter { kind == nil || $0.kind == kind }.sorted { $0.id < $1.id }
    }

    /// Runs the queue through `engine`'s job kinds (`drain(_:deadJobs:clock:retryPolicy:)`).
    func drain(_ engine: WorkflowEngine, deadJobs: DeadJobAlerts? = nil) throws {
        try drain(engine.jobKinds, deadJobs: deadJobs)
    }

    /// Runs the queue with a one-worker pool until no job is queued, running or retrying.
    func drain(_ handler: any JobHandler, deadJobs: DeadJobAlerts? = nil, clock: @escaping MillisecondClock = WallClock.system,
               retryPolicy: RetryPolicy = RetryPolicy(baseMilliseconds: 10, capMilliseconds: 20, maxAttempts: 3)) throws {
        let pool = WorkerPool(configuration: .init(location: .sqlite(path: path), workers: 1, leaseMilliseconds: 30_000, pollMilliseconds: 5,
                                                   retryPolicy: retryPolicy),
                              handler: handler, logger: log.logger, clock: clock, deadJobs: deadJobs)
        try pool.start()
        defer { pool.stop(gracePeriod: .seconds(5)) }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let counts = try SQLiteStoreReader(path: path).jobCounts()
            if counts["queued", default: 0] + counts["running", default: 0] + counts["retrying", default: 0] == 0 { return }
            usleep(10_000)
        }
        XCTFail("the queue did not settle: \(try SQLiteStoreReader(path: path).jobCounts())")
    }

    func center(clock: TestClock, repeatMinutes: Int64 = 60, webhook: Bool = true, path: String? = nil,
                metrics: HookyardMetrics? = nil) -> AlertCenter {
        AlertCenter(configuration: .init(location: .sqlite(path: path ?? self.path), repeatIntervalMilliseconds: repeatMinutes * 60_000,
                                         postsToWebhook: webhook),
                    logger: log.logger, metrics: metrics, clock: clock.read)
    }

    func input(_ job: Job) throws -> JSONValue { try JSONValue.parse(job.input ?? "") }
}
