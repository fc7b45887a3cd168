import Foundation
import HookyardFoundation
import Logging
import Metrics
import Store
import Synchronization
import XCTest
@testable import Jobs
import TestSupport

/// A handler whose behaviour per job the test decides; it records every run.
final class ScriptedHandler: JobHandler {
    let runs = Mutex<[(id: Int64, kind: String, attempt: Int)]>([])
    let script: @Sendable (Job) -> JobOutcome
    let delay: Duration

    init(delay: Duration = .zero, _ script: @escaping @Sendable (Job) -> JobOutcome) {
        self.script = script
        self.delay = delay
    }

    func run(_ job: Job, context: WorkerContext) -> JobOutcome {
        runs.withLock { $0.append((job.id, job.kind, job.attempts)) }
        if delay > .zero { Thread.sleep(forTimeInterval: delay / .seconds(1)) }
        return script(job)
    }

    func runCount(_ id: Int64) -> Int { runs.withLock { $0.filter { $0.id == id }.count } }

    /// Answers `failure` to every job's first attempt and succeeds on the next.
    static func failingFirstAttempt(with failure: JobOutcome) -> ScriptedHandler {
        ScriptedHandler { job in job.attempts == 1 ? failure : .succeeded(output: nil, followUps: []) }
    }
}

final class WorkerPoolTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("pool.db").path }
    let fastRetries = RetryPolicy(baseMilliseconds: 10, capMilliseconds: 50, maxAttempts: 3)

    /// A database with `count` events, each with its queued job.
    private func makeEvents(_ count: Int) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            writer.append(IncomingEvent(source: .stripe, dedupKey: "evt_\(index)", eventID: "evt_\(index)", type: "t",
                                        receivedAt: 1000, body: [], headersJSON: "{}")) { _ in group.leave() }
        }
        group.wait()
        writer.close()
    }

    override func tearDown() { if let directory { try? FileManager.default.removeItem(at: directory) } }

    private func pool(_ handler: JobHandler, workers: Int = 3, lease: Int64 = 60_000, policy: RetryPolicy? = nil) -> WorkerPool {
        WorkerPool(configuration: .init(location: .sqlite(path: path), workers: workers, leaseMilliseconds: lease, pollMilliseconds: 20,
                                        retryPolicy: policy ?? fastRetries),
                   handler: handler, logger: TestLog.logger())
    }

    /// Waits until `condition` holds (polling the store), up to `seconds`.
    private func waitFor(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        try waitUntil(timeout: .seconds(seconds), condition)
    }

    private func count(_ state: JobState) throws -> Int { try SQLiteStoreReader(path: path).statistics().jobs[state.rawValue] ?? 0 }

    /// Records the automatic-checkpoint setting of the connection each worker shares with its handler.
    private final class CheckpointSettingProbe: JobHandler {
        let seen = Mutex<[Int64?]>([])
        func prepare(_ context: WorkerContext) throws {
            guard case .sqlite(let database)? = context.connection else { return seen.withLock { $0.append(nil) } }
            let setting = try database.scalarInt("PRAGMA wal_autocheckpoint")
            seen.withLock { $0.append(setting) }
        }
        func run(_ job: Job, context: WorkerContext) -> JobOutcome { .succeeded(output: nil, followUps: []) }
    }

    /// A worker's commit must never run SQLite's automatic checkpoint inside the write lock (the intake's writer
    /// would wait for it): the daemon's checkpoint thread checkpoints instead.
    func testWorkerConnectionsLeaveCheckpointsToTheWriter() throws {
        try makeEvents(1)
        let probe = CheckpointSettingProbe()
        let workers = pool(probe, workers: 2)
        try workers.start()
        workers.stop()
        XCTAssertEqual(probe.seen.withLock { $0 }, [0, 0])
    }

    func testDrainsEveryJobExactlyOnce() throws {
        try makeEvents(60)
        let handler = ScriptedHandler { _ in .succeeded(output: "{\"ok\":true}", followUps: []) }
        let workers = pool(handler, workers: 4)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 60 })
        workers.stop()
        XCTAssertEqual(handler.runs.withLock { Set($0.map(\.id)).count }, 60)
        XCTAssertEqual(handler.runs.withLock { $0.count }, 60, "no job ran twice")
        XCTAssertEqual(workers.completedJobs, 60)
    }

    /// While the intake is busy, claims pause but keep draining: asked before every claim round, never starved.
    func testBusyIntakeSlowsWorkersWithoutStoppingThem() throws {
        try makeEvents(20)
        let asked = Atomic<Int>(0)
        let metrics = HookyardMetrics(version: "test")
        let handler = ScriptedHandler { _ in .succeeded(output: nil, followUps: []) }
        let workers = WorkerPool(configuration: .init(location: .sqlite(path: path), workers: 2, pollMilliseconds: 20, retryPolicy: fastRetries,
                                                      intakeIsBusy: { asked.add(1, ordering: .relaxed); return true },
                                                      yieldMilliseconds: 2, maxYieldMilliseconds: 10),
                                 handler: handler, logger: TestLog.logger(), metrics: metrics)
        try workers.start()
        defer { workers.stop() }
        XCTAssertTrue(try waitFor { try count(.succeeded) == 20 })
        // The dispatcher waited for the burst (asking every 2 ms, up to 10 ms) before each claim, then claimed anyway:
        // at least 10 claims (two idle workers at most per claim), each after 5 questions.
        let claims = Int(metrics.jobClaims.value())
        XCTAssertGreaterThanOrEqual(claims, 10)
        XCTAssertGreaterThanOrEqual(asked.load(ordering: .relaxed), claims * 5, "asked repeatedly before each claim")
    }

    /// Stores one event (its `process_event` job is due) at `location`.
    private func storeOneEvent(at location: DatabaseLocation) throws {
        let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
        let stored = DispatchSemaphore(value: 0)
        writer.append(IncomingEvent(source: .stripe, dedupKey: "evt_0", eventID: "evt_0", type: "t", receivedAt: 1000,
                                    body: [], headersJSON: "{}")) { _ in stored.signal() }
        stored.wait()
        writer.close()
    }

    /// Four idle workers and four jobs queued at once: one claim round trip takes all four, one for each worker.
    func testIdleWorkersGetOneClaimRoundForABurst() throws {
        try forEachStorageEngine { location in
            try storeOneEvent(at: location)
            let metrics = HookyardMetrics(version: "test")
            let handler = ScriptedHandler { _ in .succeeded(output: nil, followUps: []) }
            let workers = WorkerPool(configuration: .init(location: location, workers: 4, pollMilliseconds: 20, retryPolicy: fastRetries),
                                     handler: handler, logger: TestLog.logger(), metrics: metrics)
            try workers.start()
            defer { workers.stop() }
            let queue = try JobQueueOpening.open(location)
            defer { queue.close() }
            // The event's own job runs first; then nothing is due and every worker waits.
            XCTAssertTrue(try waitFor { try queue.jobCounts()["succeeded"] == 1 && workers.idleWorkerCount == 4 })
            let (claims, claimed) = (metrics.jobClaims.value(), metrics.jobsClaimed.value())
            XCTAssertEqual(claimed, 1)
            let burst = (1...4).map { NewJob(kind: "burst", idempotencyKey: "burst:\($0)", input: nil, runAt: 0, eventID: 1) }
            XCTAssertEqual(try queue.enqueue(burst, now: WallClock.nowMilliseconds()), 4)
            workers.wake()
            XCTAssertTrue(try waitFor { try queue.jobCounts()["succeeded"] == 5 })
            XCTAssertEqual(metrics.jobClaims.value() - claims, 1, "one claim round trip for the four idle workers")
            XCTAssertEqual(metrics.jobsClaimed.value() - claimed, 4)
            let jobs = try queue.jobs(forEvent: 1).filter { $0.kind == "burst" }
            XCTAssertEqual(jobs.count, 4)
            var owners: [String] = []
            for job in jobs {
                XCTAssertEqual(handler.runCount(job.id), 1, "each job ran once")
                let attempts = try XCTUnwrap(try queue.job(job.id)).attempts
                XCTAssertEqual(attempts.map(\.outcome), ["succeeded"])
                owners += attempts.map(\.worker)
            }
            XCTAssertEqual(Set(owners), Set((0..<4).map(workers.owner)), "one job per worker")
        }
    }

    /// The pool stops while a claim for an idle worker is under way (held by the test hook until the worker has
    /// left): the job claimed for it is given back, not stranded under a lease nobody renews, and never runs.
    func testAJobClaimedForAWorkerThatLeftMeanwhileIsGivenBack() throws {
        try forEachStorageEngine { location in
            try storeOneEvent(at: location)
            let handler = ScriptedHandler { _ in .succeeded(output: nil, followUps: []) }
            let workers = WorkerPool(configuration: .init(location: location, workers: 1, pollMilliseconds: 20, retryPolicy: fastRetries),
                                     handler: handler, logger: TestLog.logger())
            let claimed = DispatchSemaphore(value: 0)
            let heldClaims = Mutex<[[Int64]]>([])
            workers.afterClaimForTesting.withLock {
                $0 = { [weak workers] jobs in
                    heldClaims.withLock { $0.append(jobs.map(\.id)) }
                    claimed.signal()
                    // Hold the hand-off until the worker has left (the test is stopping the pool meanwhile).
                    _ = waitUntil { workers?.closedWorkerCount == 1 }
                }
            }
            try workers.start()
            XCTAssertEqual(claimed.wait(timeout: .now() + 10), .success)
            workers.stop(gracePeriod: .seconds(10))
            XCTAssertEqual(workers.closedWorkerCount, 1)
            XCTAssertEqual(heldClaims.withLock { $0 }, [[1]])
            XCTAssertEqual(handler.runCount(1), 0, "never handed over")
            let queue = try JobQueueOpening.open(location)
            defer { queue.close() }
            let (job, attempts) = try XCTUnwrap(try queue.job(1))
            XCTAssertEqual(job.state, .retrying, "given back, due at once for the next start")
            XCTAssertNil(job.leaseOwner)
            XCTAssertEqual(job.attempts, 0)
            XCTAssertEqual(attempts.map(\.outcome), ["interrupted"])
        }
    }

    /// A claim round that hangs (held by the test hook, as a claim on an unreachable database would) makes
    /// `isMakingProgress` false once the dispatcher has not gone round for `idleWithin`, though every worker is idle
    /// and beating; when the claim returns, the pool reports progress again.
    func testAHungClaimStopsReportingProgress() throws {
        try makeEvents(1)
        let release = DispatchSemaphore(value: 0)
        let handler = ScriptedHandler { _ in .succeeded(output: nil, followUps: []) }
        let workers = pool(handler, workers: 2)
        workers.afterClaimForTesting.withLock { $0 = { _ in release.wait() } }
        try workers.start()
        defer {
            release.signal()
            workers.stop()
        }
        XCTAssertTrue(waitFor { !workers.isMakingProgress(idleWithin: 300, jobWithin: 60_000) })
        XCTAssertEqual(workers.idleWorkerCount, 2, "the workers wait for the hung claim")
        release.signal()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 1 && workers.isMakingProgress(idleWithin: 300, jobWithin: 60_000) })
    }

    func testRetryableFailureRunsAgainThenSucceeds() throws {
        try makeEvents(1)
        let handler = ScriptedHandler.failingFirstAttempt(
            with: .failed(JobFailure(message: "HTTP 503 from api", status: 503, retryable: true, retryAfterMilliseconds: nil, cause: .provider)))
        let workers = pool(handler)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 1 })
        workers.stop()
        let attempts = try XCTUnwrap(try SQLiteJobQueue(path: path).job(1)).attempts
        XCTAssertEqual(attempts.map(\.outcome), ["retrying", "succeeded"])
        XCTAssertEqual(attempts.first?.status, 503)
    }

    func testNonRetryableFailureGoesDeadAtOnceAndRetryRecoversIt() throws {
        try makeEvents(1)
        let fixed = Atomic<Bool>(false)
        let handler = ScriptedHandler { _ in
            fixed.load(ordering: .relaxed) ? .succeeded(output: nil, followUps: [])
                : .failed(JobFailure(message: "invalid_request_error: No such price: 'price_x'", status: 400, retryable: false, retryAfterMilliseconds: nil, cause: .provider))
        }
        let workers = pool(handler)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.dead) == 1 })
        let queue = try SQLiteJobQueue(path: path)
        XCTAssertEqual(try queue.job(1)?.job.lastError, "invalid_request_error: No such price: 'price_x'")
        XCTAssertEqual(handler.runCount(1), 1)
        fixed.store(true, ordering: .relaxed)
        try queue.retry(1, now: WallClock.nowMilliseconds())
        workers.wake()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 1 })
        workers.stop()
    }

    func testExhaustedAttemptsGoDead() throws {
        try makeEvents(1)
        let handler = ScriptedHandler { _ in .failed(JobFailure(message: "timeout", status: nil, retryable: true, retryAfterMilliseconds: nil, cause: .provider)) }
        let workers = pool(handler)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.dead) == 1 })
        workers.stop()
        XCTAssertEqual(handler.runCount(1), 3)
        XCTAssertEqual(try SQLiteJobQueue(path: path).job(1)?.attempts.map(\.outcome), ["retrying", "retrying", "dead"])
    }

    func testRetryAfterIsHonoured() throws {
        try makeEvents(1)
        let handler = ScriptedHandler.failingFirstAttempt(
            with: .failed(JobFailure(message: "429", status: 429, retryable: true, retryAfterMilliseconds: 700, cause: .provider)))
        let workers = pool(handler)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 1 })
        workers.stop()
        let attempts = try XCTUnwrap(try SQLiteJobQueue(path: path).job(1)).attempts
        XCTAssertGreaterThanOrEqual(attempts[1].startedAt - attempts[0].finishedAt!, 700)
    }

    func testFollowUpStepsRunAfterTheirJob() throws {
        try makeEvents(2)
        let handler = ScriptedHandler { job in
            guard job.kind == "process_event" else { return .succeeded(output: "step done", followUps: []) }
            return .succeeded(output: nil, followUps: [NewJob(kind: "step", idempotencyKey: "event:\(job.eventID):step:1",
                                                              input: nil, runAt: 0)])
        }
        let workers = pool(handler)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 4 })
        workers.stop()
        XCTAssertEqual(try SQLiteJobQueue(path: path).jobs(forEvent: 1).map(\.kind), ["process_event", "step"])
    }

    func testJobOfADeadWorkerIsTakenOverWhenItsLeaseExpires() throws {
        try makeEvents(1)
        // A worker of a killed process claimed the job and vanished.
        let now = WallClock.nowMilliseconds()
        XCTAssertNotNil(try SQLiteJobQueue(path: path).claimNext(owner: "killed:1:w0", leaseMilliseconds: 300, now: now))
        let handler = ScriptedHandler { _ in .succeeded(output: nil, followUps: []) }
        let workers = pool(handler)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 1 })
        workers.stop()
        XCTAssertEqual(try SQLiteJobQueue(path: path).job(1)?.attempts.map(\.outcome), ["lease_expired", "succeeded"])
    }

    func testLeaseIsRenewedWhileALongJobRuns() throws {
        try makeEvents(1)
        // Lease 300 ms, job 1.2 s: without renewal another worker would take it over and run it again.
        let handler = ScriptedHandler(delay: .milliseconds(1200)) { _ in .succeeded(output: nil, followUps: []) }
        let workers = pool(handler, workers: 3, lease: 300)
        try workers.start()
        XCTAssertTrue(try waitFor { try count(.succeeded) == 1 })
        workers.stop()
        XCTAssertEqual(handler.runCount(1), 1)
    }

    func testGracefulStopFinishesOrReleasesRunningJobs() throws {
        try makeEvents(1)
        let slow = ScriptedHandler(delay: .milliseconds(400)) { _ in .succeeded(output: nil, followUps: []) }
        var workers = pool(slow, workers: 1)
        try workers.start()
        XCTAssertTrue(waitFor { slow.runCount(1) == 1 })
        workers.stop(gracePeriod: .seconds(5))
        XCTAssertEqual(try count(.succeeded), 1, "the running job finished within the grace period")

        try makeEvents(1)
        let stuck = ScriptedHandler(delay: .seconds(2)) { _ in .succeeded(output: nil, followUps: []) }
        workers = pool(stuck, workers: 1)
        try workers.start()
        XCTAssertTrue(waitFor { stuck.runCount(1) == 1 })
        workers.stop(gracePeriod: .milliseconds(200))
        let (job, attempts) = try XCTUnwrap(try SQLiteJobQueue(path: path).job(1))
        XCTAssertEqual(job.state, .retrying, "released for the next start")
        XCTAssertEqual(job.attempts, 0)
        XCTAssertEqual(attempts.map(\.outcome), ["interrupted"])
        // The stuck handler returns after 2 s and its worker reports (the pool counts it); the report must be refused.
        XCTAssertTrue(waitFor { workers.completedJobs == 1 })
        XCTAssertEqual(try SQLiteJobQueue(path: path).job(1)?.job.state, .retrying)
    }
}
