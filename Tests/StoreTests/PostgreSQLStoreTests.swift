import Foundation
import PostgreSQL
import Synchronization
import TestSupport
import XCTest
@testable import Store

/// What only PostgreSQL must guarantee: several nodes (connections) sharing one database, lost connections, and the
/// job announcements. The behaviour both engines share is tested once for both (`forEachStorageEngine`) in
/// EventWriterTests and JobQueueTests.
final class PostgreSQLStoreTests: XCTestCase {
    private var url: String!

    override func setUpWithError() throws {
        url = try PostgreSQLTestServer.start().makeStoreDatabase()
    }

    private func event(_ key: String, receivedAt: Int64 = 1000) -> IncomingEvent {
        IncomingEvent(source: .stripe, dedupKey: key, eventID: key, type: "invoice.paid", receivedAt: receivedAt,
                      body: Array("{\"id\":\"\(key)\"}".utf8), headersJSON: "{}")
    }

    private func append(_ writer: any EventSink, _ event: IncomingEvent) -> Result<AppendOutcome, StoreError> {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<AppendOutcome, StoreError>?>(nil)
        writer.append(event) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        return outcome.withLock { $0 } ?? .failure(.closed)
    }

    private func connection(_ name: String = "hookyard-test") throws -> PostgreSQLConnection {
        try PostgreSQLStoreConnection.open(url: url, password: nil, applicationName: name)
    }

    // MARK: Event writer

    /// Two nodes receive the same deliveries at once: each event is stored once, the other node reports it a
    /// duplicate, and nobody gets an error (which would answer the sender 503).
    func testTwoWritersStoringTheSameEventsConcurrentlyStoreEachOnce() throws {
        let writers = [try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger()),
                       try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger())]
        defer { writers.forEach { $0.close() } }
        let stored = Mutex<[String: Int]>([:])
        let duplicates = Mutex(0)
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        let keys = (0..<300).map { "evt_\($0)" }
        // Each writer gets every key, in opposite orders, so batches overlap both ways.
        for (index, writer) in writers.enumerated() {
            for key in index == 0 ? keys : keys.reversed() {
                group.enter()
                writer.append(event(key)) { result in
                    switch result {
                    case .success(.stored): stored.withLock { $0[key, default: 0] += 1 }
                    case .success(.duplicate): duplicates.withLock { $0 += 1 }
                    case .failure(let error): failures.withLock { $0.append("\(error)") }
                    }
                    group.leave()
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(stored.withLock { $0.count }, 300)
        XCTAssertEqual(stored.withLock { Set($0.values) }, [1], "every key stored exactly once")
        XCTAssertEqual(duplicates.withLock { $0 }, 300)
        let reader = try PostgreSQLStoreReader(url: url, password: nil)
        defer { reader.close() }
        XCTAssertEqual(try reader.statistics().events[.stripe], 300)
        XCTAssertEqual(try reader.jobCounts()["queued"], 300, "one processing job per event")
    }

    /// The same key twice in one batch: the first is stored, the second is its duplicate (as on SQLite).
    func testTheSameEventTwiceInOneBatchIsStoredOnce() throws {
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger())
        defer { writer.close() }
        let outcomes = Mutex<[Int: AppendOutcome]>([:])
        let group = DispatchGroup()
        for index in 0..<50 {
            group.enter()
            writer.append(event("evt_\(index % 10)")) { result in
                if case .success(let outcome) = result { outcomes.withLock { $0[index] = outcome } }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        let all = outcomes.withLock { $0 }
        XCTAssertEqual(all.count, 50)
        XCTAssertEqual(all.values.filter { if case .stored = $0 { true } else { false } }.count, 10)
        for index in 0..<10 {
            guard case .stored = all[index] else { return XCTFail("the first append of evt_\(index) was not the one stored") }
        }
    }

    /// The writer's backend is killed: the batch in flight fails cleanly (503 for its senders), health turns false,
    /// and the next batch reconnects and succeeds.
    func testALostConnectionFailsTheBatchAndTheNextOneReconnects() throws {
        let failures = Mutex<[String]>([])
        let recoveries = Mutex(0)
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger(), applicationName: "hookyard-test-writer",
                                               onCommitFailure: { message in failures.withLock { $0.append(message) } },
                                               onRecovery: { recoveries.withLock { $0 += 1 } })
        defer { writer.close() }
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
        let admin = try connection()
        defer { admin.close() }
        let killed = try admin.query("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'hookyard-test-writer'
            """).first?.int(0)
        XCTAssertEqual(killed, 1)
        guard case .failure(.commitFailed(let message)) = append(writer, event("evt_2")) else {
            return XCTFail("a batch on a dead connection must fail")
        }
        XCTAssertFalse(writer.isHealthy)
        XCTAssertEqual(failures.withLock { $0 }.count, 1, message)
        XCTAssertEqual(try append(writer, event("evt_2")).get(), .stored(id: 2), "the next batch reconnected")
        XCTAssertTrue(writer.isHealthy)
        XCTAssertEqual(recoveries.withLock { $0 }, 1)
        // The reconnected session commits durably again.
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .duplicate)
    }

    /// An unreachable server: every append fails with `commitFailed` (never hangs, never crashes the writer).
    func testAnUnreachableServerFailsEveryAppend() throws {
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger(), applicationName: "hookyard-test-gone")
        defer { writer.close() }
        let database = try XCTUnwrap(try connection().query("SELECT current_database()").first?.string(0))
        // From another database (a database's own sessions cannot refuse connections to it): refuse new sessions to
        // this one, then end the writer's, so its reconnect fails too.
        let admin = try PostgreSQLConnection(url: try PostgreSQLTestServer.start().url(database: "postgres"))
        defer { admin.close() }
        try admin.execute("ALTER DATABASE \(PostgreSQLConnection.quoteIdentifier(database)) ALLOW_CONNECTIONS false")
        defer { _ = try? admin.execute("ALTER DATABASE \(PostgreSQLConnection.quoteIdentifier(database)) ALLOW_CONNECTIONS true") }
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hookyard-test-gone'")
        for key in ["evt_1", "evt_2"] {
            guard case .failure(.commitFailed) = append(writer, event(key)) else { return XCTFail("\(key) must fail") }
        }
        XCTAssertFalse(writer.isHealthy)
        try admin.execute("ALTER DATABASE \(PostgreSQLConnection.quoteIdentifier(database)) ALLOW_CONNECTIONS true")
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
        XCTAssertTrue(writer.isHealthy)
    }

    /// Another session holds a lock the batch needs: the append fails at its deadline (503 for the sender), health
    /// turns false, and once the lock is gone the next append is stored.
    func testCommitFailureReportsAndRecovers() throws {
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger(), answerTimeoutMilliseconds: 200)
        defer { writer.close() }
        let blocker = try connection()
        defer { blocker.close() }
        try blocker.execute("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE")
        guard case .failure(.commitFailed(let message)) = append(writer, event("evt_1")) else { return XCTFail("expected failure") }
        XCTAssertTrue(message.contains("statement timeout"), message)
        XCTAssertFalse(writer.isHealthy)
        try blocker.execute("ROLLBACK")
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
        XCTAssertTrue(writer.isHealthy)
    }

    /// Appends arriving while another session holds the lock are each answered within the bound, not after the batch
    /// ahead of them waited out its own deadline and then theirs.
    func testAppendsAreAnsweredWithinTheBoundWhileAnotherSessionHoldsTheLock() throws {
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger(), answerTimeoutMilliseconds: 2000)
        defer { writer.close() }
        let blocker = try connection()
        defer { blocker.close() }
        try blocker.execute("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE")
        let latencies = Mutex<[Double]>([])
        let stored = Mutex(0)
        let group = DispatchGroup()
        for index in 0..<3 {
            group.enter()
            let started = Date()
            writer.append(event("evt_\(index)")) { result in
                if case .success = result { stored.withLock { $0 += 1 } }
                latencies.withLock { $0.append(Date().timeIntervalSince(started)) }
                group.leave()
            }
            usleep(200_000)
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(stored.withLock { $0 }, 0, "nothing stored while the lock is held")
        XCTAssertLessThan(latencies.withLock { $0.max() ?? 0 }, 3.0, "\(latencies.withLock { $0 })")
        try blocker.execute("ROLLBACK")
        XCTAssertEqual(try append(writer, event("evt_ok")).get(), .stored(id: 1))
    }

    /// A full disk can refuse the events yet let the one-row probe through: while deliveries fail the probe follows
    /// them; only once intake is idle does a probe write (as `SQLiteEventWriter`'s, whose test this mirrors).
    func testProbeFollowsIntakeCommitsWhileIntakeIsBusy() throws {
        let failures = Mutex(0)
        let recoveries = Mutex(0)
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger(), intakeIdleMilliseconds: 1500,
                                               onCommitFailure: { _ in failures.withLock { $0 += 1 } },
                                               onRecovery: { recoveries.withLock { $0 += 1 } })
        defer { writer.close() }
        let other = try connection()
        defer { other.close() }
        try other.execute("""
            CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$;
            CREATE TRIGGER refuse_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_events();
            """)
        guard case .failure(.commitFailed(let message)) = append(writer, event("evt_1")) else { return XCTFail("expected failure") }
        XCTAssertTrue(message.contains("No space left"), message)
        for _ in 0..<3 {
            let done = DispatchSemaphore(value: 0)
            let outcome = Mutex<Result<Void, StoreError>?>(nil)
            writer.probe { result in
                outcome.withLock { $0 = result }
                done.signal()
            }
            done.wait()
            guard case .failure(.commitFailed(let probeMessage))? = outcome.withLock({ $0 }) else { return XCTFail("the probe must follow intake") }
            XCTAssertTrue(probeMessage.contains("No space left"), probeMessage)
        }
        XCTAssertFalse(writer.isHealthy)
        XCTAssertEqual(recoveries.withLock { $0 }, 0)
        XCTAssertEqual(failures.withLock { $0 }, 1)
        usleep(1_700_000)
        let done = DispatchSemaphore(value: 0)
        writer.probe { result in
            if case .success = result { done.signal() }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "idle: the probe's own write counts")
        XCTAssertTrue(writer.isHealthy)
        XCTAssertEqual(recoveries.withLock { $0 }, 1)
        try other.execute("DROP TRIGGER refuse_events ON events")
        // PostgreSQL-specific: the failed insert drew an identity value, and a rolled-back draw is not given back.
        guard case .success(.stored) = append(writer, event("evt_1")) else { return XCTFail("stored once the disk has room") }
    }

    // MARK: Job queue

    /// Stores `count` events (each with its due `process_event` job).
    private func seed(_ count: Int) throws {
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger())
        defer { writer.close() }
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            writer.append(event(String(format: "evt_%04d", index), receivedAt: 1000 + Int64(index))) { _ in group.leave() }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
    }

    /// Four nodes' workers claim from 200 due jobs at once: every job is claimed exactly once.
    func testFourConnectionsClaimingConcurrentlyClaimEveryJobOnce() throws {
        try seed(200)
        let claimed = Mutex<[Int64]>([])
        let errors = Mutex<[String]>([])
        let url = url!
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                let queue = try PostgreSQLJobQueue(url: url, password: nil)
                defer { queue.close() }
                while let job = try queue.claimNext(owner: "node\(worker)", leaseMilliseconds: 60_000, now: 5000) {
                    claimed.withLock { $0.append(job.id) }
                }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(errors.withLock { $0 }, [])
        XCTAssertEqual(claimed.withLock { $0.count }, 200)
        XCTAssertEqual(Set(claimed.withLock { $0 }).count, 200, "no job claimed twice")
        let queue = try PostgreSQLJobQueue(url: url, password: nil)
        defer { queue.close() }
        XCTAssertEqual(try queue.jobCounts()["running"], 200)
        let attempts = try queue.connection.query("SELECT count(*), count(DISTINCT job_id) FROM job_attempts").first
        XCTAssertEqual(try attempts?.int(0), 200, "one attempt row per claim")
        XCTAssertEqual(try attempts?.int(1), 200)
    }

    /// `claimDue(for:)` takes several jobs per round trip, most overdue first, each with its attempt; concurrent
    /// callers split the jobs between them.
    func testClaimDueTakesSeveralJobsWithTheirAttempts() throws {
        try seed(30)
        let queue = try PostgreSQLJobQueue(url: url, password: nil)
        defer { queue.close() }
        let first = try queue.claimDue(for: Array(repeating: "w1", count: 10), leaseMilliseconds: 1000, now: 5000)
        XCTAssertEqual(first.map(\.id), Array(1...10))
        XCTAssertEqual(Set(first.map(\.state)), [.running])
        XCTAssertEqual(Set(first.map(\.attempts)), [1])
        XCTAssertEqual(try queue.job(3)?.attempts.map(\.worker), ["w1"])
        XCTAssertEqual(try queue.claimDue(for: [], leaseMilliseconds: 1000, now: 5000), [])
        // Concurrent batches split the rest; the expired leases of the first batch come back, recorded as lost.
        let claimed = Mutex<[Int64]>([])
        let url = url!
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            guard let queue = try? PostgreSQLJobQueue(url: url, password: nil) else { return }
            defer { queue.close() }
            let owners = (0..<4).map { "n\(worker).\($0)" }
            while let jobs = try? queue.claimDue(for: owners, leaseMilliseconds: 60_000, now: 7000), !jobs.isEmpty {
                claimed.withLock { $0.append(contentsOf: jobs.map(\.id)) }
            }
        }
        XCTAssertEqual(claimed.withLock { $0.sorted() }, Array(1...30))
        XCTAssertEqual(try queue.job(3)?.attempts.map(\.outcome), ["lease_expired", nil])
        XCTAssertEqual(try queue.job(3)?.job.attempts, 2)
    }

    /// Storage types can share one connection (a worker's way of cutting its connections), as on SQLite.
    func testQueueAndReaderShareOneConnection() throws {
        try seed(1)
        let shared = try PostgreSQLStoreConnection.open(url: url, password: nil, durableCommits: false)
        defer { shared.close() }
        let queue: any JobQueueStorage = PostgreSQLJobQueue(connection: shared)
        let reader: any StoreReading = PostgreSQLStoreReader(connection: shared)
        XCTAssertEqual(try queue.claimNext(owner: "w1", leaseMilliseconds: 1000, now: 5000)?.id, 1)
        XCTAssertEqual(try reader.jobCounts()["running"], 1)
        XCTAssertEqual(try reader.event("1")?.jobStates, ["running"])
    }

    /// Two nodes report an outcome for the same job: only the lease owner's is written.
    func testOnlyTheLeaseOwnerRecordsAnOutcomeWhenTwoNodesRace() throws {
        try seed(1)
        let first = try PostgreSQLJobQueue(url: url, password: nil)
        let second = try PostgreSQLJobQueue(url: url, password: nil)
        defer { first.close(); second.close() }
        let job = try XCTUnwrap(try first.claimNext(owner: "a", leaseMilliseconds: 1000, now: 5000))
        XCTAssertNil(try second.claimNext(owner: "b", leaseMilliseconds: 1000, now: 5500), "the lease holds")
        let taken = try XCTUnwrap(try second.claimNext(owner: "b", leaseMilliseconds: 1000, now: 6500))
        XCTAssertEqual(taken.id, job.id)
        let next = NewJob(kind: "step", idempotencyKey: "flow:x", input: nil, runAt: 7000)
        XCTAssertFalse(try first.succeed(jobID: job.id, owner: "a", output: "late", followUps: [next], now: 6600))
        XCTAssertTrue(try second.succeed(jobID: job.id, owner: "b", output: "ok", followUps: [next], now: 6600))
        XCTAssertTrue(try first.enqueue([NewJob(kind: "step", idempotencyKey: "flow:x", input: nil, runAt: 1, eventID: 1)], now: 1) == 0,
                      "the idempotency key exists: not created twice")
        XCTAssertEqual(try first.job(job.id)?.job.output, "ok")
        XCTAssertEqual(try first.jobs(forEvent: 1).map(\.kind), ["process_event", "step"])
    }

    /// Two operators retry the same dead job at once: one succeeds, the other is told it is no longer dead.
    func testTwoNodesRetryingTheSameDeadJobRetryItOnce() throws {
        try seed(1)
        let queue = try PostgreSQLJobQueue(url: url, password: nil)
        defer { queue.close() }
        let job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: 5000))
        XCTAssertTrue(try queue.fail(jobID: job.id, owner: "w", error: "bad", status: 400, retryAt: nil, now: 5000))
        let outcomes = Mutex<[String]>([])
        let url = url!
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            do {
                let queue = try PostgreSQLJobQueue(url: url, password: nil)
                defer { queue.close() }
                try queue.retry(job.id, now: 6000)
                outcomes.withLock { $0.append("retried") }
            } catch let error as JobChangeError {
                outcomes.withLock { $0.append("\(error)") }
            } catch {
                outcomes.withLock { $0.append("unexpected \(error)") }
            }
        }
        XCTAssertEqual(outcomes.withLock { $0.sorted() }, ["job 1 is queued; only dead or discarded jobs can be changed this way", "retried"])
        XCTAssertEqual(try queue.connection.query("SELECT count(*) FROM admin_actions").first?.int(0), 1)
    }

    /// A state Hookyard never writes is an error naming the value, never a default.
    func testImpossibleStoredValuesAreErrors() throws {
        try seed(3)
        let admin = try connection()
        defer { admin.close() }
        try admin.execute("ALTER TABLE jobs DROP CONSTRAINT jobs_state_check; UPDATE jobs SET state = 'paused' WHERE id = 2")
        try admin.execute("ALTER TABLE events DROP CONSTRAINT events_source_check; UPDATE events SET source = 'mailchimp' WHERE id = 3")
        let queue = PostgreSQLJobQueue(connection: admin)
        XCTAssertEqual(try queue.job(1)?.job.state, .queued)
        XCTAssertThrowsError(try queue.job(2)) { error in
            XCTAssertEqual((error as? PostgreSQLDecodingError)?.value, "paused", "\(error)")
        }
        XCTAssertThrowsError(try queue.jobCounts())
        let reader = PostgreSQLStoreReader(connection: admin)
        XCTAssertNotNil(try reader.event("1"))
        XCTAssertThrowsError(try reader.event("3")) { error in
            XCTAssertEqual((error as? PostgreSQLDecodingError)?.value, "mailchimp", "\(error)")
        }
    }

    // MARK: Notifications

    /// A job queued on one node is announced to the listener of another; a lost listening connection reconnects
    /// and reports `true` (announcements may have been missed), then hears the next one.
    func testJobAnnouncementsReachAnotherConnectionAndSurviveALostConnection() throws {
        let listener = try PostgreSQLJobNotifications(url: url, password: nil, applicationName: "hookyard-test-listener")
        defer { listener.close() }
        let writer = try PostgreSQLEventWriter(url: url, password: nil, logger: TestLog.logger())
        defer { writer.close() }
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
        XCTAssertTrue(try listener.wait(timeoutMilliseconds: 5000), "the writer's commit announced its job")
        XCTAssertFalse(try listener.wait(timeoutMilliseconds: 100), "the announcement was consumed")
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .duplicate)
        XCTAssertFalse(try listener.wait(timeoutMilliseconds: 100), "a duplicate queues no job: no announcement")

        let queue = try PostgreSQLJobQueue(url: url, password: nil)
        defer { queue.close() }
        XCTAssertEqual(try queue.enqueue([NewJob(kind: "step", idempotencyKey: "k1", input: nil, runAt: 1, eventID: 1)], now: 1), 1)
        XCTAssertTrue(try listener.wait(timeoutMilliseconds: 5000), "enqueue announced its job")

        let admin = try connection()
        defer { admin.close() }
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hookyard-test-listener'")
        XCTAssertTrue(try listener.wait(timeoutMilliseconds: 5000), "a lost connection may have missed announcements")
        XCTAssertEqual(try queue.enqueue([NewJob(kind: "step", idempotencyKey: "k2", input: nil, runAt: 1, eventID: 1)], now: 1), 1)
        XCTAssertTrue(try listener.wait(timeoutMilliseconds: 5000), "listening again after the reconnect")
    }
}
