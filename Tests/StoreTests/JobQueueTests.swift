import Contacts
import Foundation
import Logging
import XCTest
@testable import Store
import TestSupport
import SQLite
import PostgreSQL

final class JobQueueTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("jobs.db").path }

    /// A database with `count` stored events, each with its queued `process_event` job (received at t=1000).
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        let group = DispatchGroup()
        for index in 0..<3 {
            group.enter()
            writer.append(IncomingEvent(source: .stripe, dedupKey: "evt_\(index)", eventID: "evt_\(index)", type: "t",
                                        receivedAt: 1000 + Int64(index), body: [], headersJSON: "{}")) { _ in group.leave() }
        }
        group.wait()
        writer.close()
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// Stores three events (each with its queued `process_event` job, received at t=1000…1002) at `location`.
    private func seed(_ location: DatabaseLocation) throws {
        let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
        let group = DispatchGroup()
        for index in 0..<3 {
            group.enter()
            writer.append(IncomingEvent(source: .stripe, dedupKey: "evt_\(index)", eventID: "evt_\(index)", type: "t",
                                        receivedAt: 1000 + Int64(index), body: [], headersJSON: "{}")) { _ in group.leave() }
        }
        group.wait()
        writer.close()
    }

    private func openQueue(_ location: DatabaseLocation) throws -> any JobQueueStorage {
        try JobQueueOpening.open(location)
    }

    func testClaimLeasesTheMostOverdueJobOnce() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            let first = try XCTUnwrap(try queue.claimNext(owner: "w1", leaseMilliseconds: 30_000, now: 5000))
            XCTAssertEqual(first.id, 1)
            XCTAssertEqual(first.state, .running)
            XCTAssertEqual(first.attempts, 1)
            XCTAssertEqual(first.leaseOwner, "w1")
            XCTAssertEqual(first.leaseExpiresAt, 35_000)
            XCTAssertEqual(first.idempotencyKey, "event:1")
            XCTAssertEqual(try queue.claimNext(owner: "w2", leaseMilliseconds: 30_000, now: 5000)?.id, 2)
            XCTAssertEqual(try queue.claimNext(owner: "w2", leaseMilliseconds: 30_000, now: 5000)?.id, 3)
            XCTAssertNil(try queue.claimNext(owner: "w2", leaseMilliseconds: 30_000, now: 5000))
            // Nothing is due before its time.
            XCTAssertNil(try openQueue(location).claimNext(owner: "w3", leaseMilliseconds: 1, now: 999))
        }
    }

    /// A state Hookyard never writes (here forced past the CHECK constraint) is an error naming the column and
    /// value, not a job read as `queued`; the event reader treats an impossible source the same way.
    func testImpossibleStoredValuesAreErrorsNotDefaults() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA ignore_check_constraints = ON")
        try database.execute("UPDATE jobs SET state = 'paused' WHERE id = 2")
        try database.execute("UPDATE events SET source = 'mailchimp' WHERE id = 3")
        database.close()
        let queue = try SQLiteJobQueue(path: path)
        XCTAssertEqual(try queue.job(1)?.job.state, .queued)
        XCTAssertThrowsError(try queue.job(2)) { error in
            let decoding = error as? SQLiteDecodingError
            XCTAssertEqual(decoding?.table, "jobs")
            XCTAssertEqual(decoding?.column, "state")
            XCTAssertEqual(decoding?.value, "paused")
        }
        XCTAssertThrowsError(try queue.list(state: nil, limit: 10))
        XCTAssertThrowsError(try queue.jobCounts())
        let reader = try SQLiteStoreReader(path: path)
        XCTAssertNotNil(try reader.event("1"))
        XCTAssertThrowsError(try reader.event("3")) { error in
            XCTAssertEqual((error as? SQLiteDecodingError)?.value, "mailchimp")
        }
        XCTAssertThrowsError(try reader.statistics())
    }

    /// Storage types can share one connection (the worker's way of cutting its connections).
    func testQueueAndReaderShareOneConnection() throws {
        let database = try StoreConnection.openExisting(path: path, durableCommits: false)
        let queue: any JobQueueStorage = SQLiteJobQueue(database: database)
        let reader = SQLiteStoreReader(database: database)
        XCTAssertEqual(try queue.claimNext(owner: "w1", leaseMilliseconds: 1000, now: 5000)?.id, 1)
        XCTAssertEqual(try reader.jobCounts()["running"], 1)
        XCTAssertEqual(try reader.event("1")?.jobStates, ["running"])
        queue.close()
    }

    /// Seeds the three events' jobs and two more due jobs (at 1003 and 1004): five due jobs, ids 1…5 in due order.
    private func seedFiveDueJobs(_ location: DatabaseLocation) throws -> any JobQueueStorage {
        try seed(location)
        let queue = try openQueue(location)
        XCTAssertEqual(try queue.enqueue([NewJob(kind: "step", idempotencyKey: "extra:1", input: nil, runAt: 1003, eventID: 1),
                                          NewJob(kind: "step", idempotencyKey: "extra:2", input: nil, runAt: 1004, eventID: 2)],
                                         now: 1004), 2)
        return queue
    }

    /// One claim for three owners takes the three most overdue of five due jobs, the i-th leased to the i-th owner
    /// with its attempt row naming that owner; a repeated owner takes several; nothing due gives nothing.
    func testClaimDueLeasesTheIthJobToTheIthOwner() throws {
        try forEachStorageEngine { location in
            let queue = try seedFiveDueJobs(location)
            let claimed = try queue.claimDue(for: ["a", "b", "c"], leaseMilliseconds: 30_000, now: 5000)
            XCTAssertEqual(claimed.map(\.id), [1, 2, 3])
            XCTAssertEqual(claimed.map(\.leaseOwner), ["a", "b", "c"])
            XCTAssertEqual(Set(claimed.map(\.state)), [.running])
            XCTAssertEqual(Set(claimed.map(\.attempts)), [1])
            XCTAssertEqual(Set(claimed.map(\.leaseExpiresAt)), [35_000])
            for job in claimed {
                let stored = try XCTUnwrap(try queue.job(job.id))
                XCTAssertEqual(stored.job.leaseOwner, job.leaseOwner)
                XCTAssertEqual(stored.attempts.map(\.worker), [job.leaseOwner ?? ""])
                XCTAssertEqual(stored.attempts.map(\.startedAt), [5000])
            }
            // The same owner three times: the two jobs left, both its own.
            let rest = try queue.claimDue(for: ["d", "d", "d"], leaseMilliseconds: 30_000, now: 5000)
            XCTAssertEqual(rest.map(\.id), [4, 5])
            XCTAssertEqual(rest.map(\.leaseOwner), ["d", "d"])
            XCTAssertEqual(try queue.job(5)?.attempts.map(\.worker), ["d"])
            XCTAssertEqual(try queue.claimDue(for: ["e", "f"], leaseMilliseconds: 30_000, now: 5000), [])
            XCTAssertEqual(try queue.claimDue(for: [], leaseMilliseconds: 30_000, now: 5000), [])
            XCTAssertEqual(try queue.jobCounts()["running"], 5)
        }
    }

    /// A job whose lease expired is due again with the others, in its place by due time; its lost attempt is recorded
    /// as `lease_expired` and the new one names the owner it was claimed for.
    func testClaimDueTakesAnExpiredLeaseAmongTheDueJobs() throws {
        try forEachStorageEngine { location in
            let queue = try seedFiveDueJobs(location)
            let gone = try queue.claimDue(for: ["gone", "gone"], leaseMilliseconds: 1000, now: 5000)
            XCTAssertEqual(gone.map(\.id), [1, 2])
            XCTAssertTrue(try queue.renewLease(jobID: 2, owner: "gone", leaseMilliseconds: 10_000, now: 5000), "job 2's lease still holds at 7000")
            let claimed = try queue.claimDue(for: ["x", "y", "z"], leaseMilliseconds: 30_000, now: 7000)
            XCTAssertEqual(claimed.map(\.id), [1, 3, 4], "job 1 (due at 1000, lease expired at 6000) first; job 2 still leased")
            XCTAssertEqual(claimed.map(\.leaseOwner), ["x", "y", "z"])
            XCTAssertEqual(claimed.first?.attempts, 2)
            let (job, attempts) = try XCTUnwrap(try queue.job(1))
            XCTAssertEqual(job.leaseOwner, "x")
            XCTAssertEqual(attempts.map(\.worker), ["gone", "x"])
            XCTAssertEqual(attempts.map(\.outcome), ["lease_expired", nil])
            XCTAssertEqual(try queue.job(2)?.job.leaseOwner, "gone")
            XCTAssertFalse(try queue.succeed(jobID: 1, owner: "gone", output: "late", now: 7100), "the old owner cannot report")
            XCTAssertTrue(try queue.succeed(jobID: 1, owner: "x", output: "ok", now: 7100))
        }
    }

    /// Four claimers taking two jobs per claim at once never take the same job, on either engine.
    func testConcurrentBatchClaimsNeverTakeTheSameJob() throws {
        try forEachStorageEngine { location in
            let queue = try seedFiveDueJobs(location)
            defer { queue.close() }
            let claimed = Mutex<[Int64]>([])
            let errors = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                do {
                    let queue = try JobQueueOpening.open(location)
                    defer { queue.close() }
                    let owners = ["w\(worker).0", "w\(worker).1"]
                    while case let jobs = try queue.claimDue(for: owners, leaseMilliseconds: 60_000, now: 5000), !jobs.isEmpty {
                        XCTAssertEqual(jobs.map(\.leaseOwner), Array(owners.prefix(jobs.count)))
                        claimed.withLock { $0.append(contentsOf: jobs.map(\.id)) }
                    }
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
            XCTAssertEqual(errors.withLock { $0 }, [])
            XCTAssertEqual(claimed.withLock { $0.sorted() }, [1, 2, 3, 4, 5])
        }
    }

    func testConcurrentWorkersNeverClaimTheSameJob() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let claimed = Mutex<[Int64]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                guard let queue = try? JobQueueOpening.open(location) else { return }
                while let job = try? queue.claimNext(owner: "w\(worker)", leaseMilliseconds: 60_000, now: 5000) {
                    claimed.withLock { $0.append(job.id) }
                }
            }
            XCTAssertEqual(claimed.withLock { $0.sorted() }, [1, 2, 3])
        }
    }

    func testSucceedStoresOutputAndCreatesFollowUpsOnce() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            let job = try XCTUnwrap(try queue.claimNext(owner: "w1", leaseMilliseconds: 30_000, now: 5000))
            let next = NewJob(kind: "step", idempotencyKey: "rule:r1:event:1:step:2", input: "{\"a\":1}", runAt: 6000)
            XCTAssertTrue(try queue.succeed(jobID: job.id, owner: "w1", output: "{\"ok\":true}", followUps: [next, next], now: 5100))
            let (stored, attempts) = try XCTUnwrap(try queue.job(job.id))
            XCTAssertEqual(stored.state, .succeeded)
            XCTAssertEqual(stored.output, "{\"ok\":true}")
            XCTAssertNil(stored.leaseOwner)
            XCTAssertEqual(attempts.map(\.outcome), ["succeeded"])
            let children = try queue.jobs(forEvent: 1)
            XCTAssertEqual(children.map(\.kind), ["process_event", "step"], "the follow-up is created once, for the same event")
            XCTAssertEqual(children[1].nextRunAt, 6000)
            // A second success report (e.g. a duplicate delivery of the result) changes nothing.
            XCTAssertFalse(try queue.succeed(jobID: job.id, owner: "w1", output: "other", now: 5200))
        }
    }

    func testFailSchedulesRetryOrDeadLetters() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            var job = try XCTUnwrap(try queue.claimNext(owner: "w1", leaseMilliseconds: 30_000, now: 5000))
            XCTAssertTrue(try queue.fail(jobID: job.id, owner: "w1", error: "HTTP 503 from Stripe", status: 503, retryAt: 9000, now: 5100))
            XCTAssertEqual(try queue.job(job.id)?.job.state, .retrying)
            // Before 9000 only the other two jobs are due.
            for _ in 0..<2 {
                let other = try XCTUnwrap(try queue.claimNext(owner: "w1", leaseMilliseconds: 30_000, now: 8999))
                XCTAssertNotEqual(other.id, job.id)
                XCTAssertTrue(try queue.succeed(jobID: other.id, owner: "w1", output: nil, now: 8999))
            }
            XCTAssertNil(try queue.claimNext(owner: "w1", leaseMilliseconds: 30_000, now: 8999))
            job = try XCTUnwrap(try queue.list(state: .retrying, limit: 10).first)
            let again = try XCTUnwrap(try queue.claimNext(owner: "w2", leaseMilliseconds: 30_000, now: 20_000))
            XCTAssertEqual(again.id, job.id)
            XCTAssertEqual(again.attempts, 2)
            XCTAssertTrue(try queue.fail(jobID: again.id, owner: "w2", error: "invalid_request_error: No such price", status: 400,
                                         retryAt: nil, now: 20_100))
            let (dead, attempts) = try XCTUnwrap(try queue.job(again.id))
            XCTAssertEqual(dead.state, .dead)
            XCTAssertEqual(dead.lastError, "invalid_request_error: No such price")
            XCTAssertEqual(attempts.map(\.outcome), ["retrying", "dead"])
            XCTAssertEqual(attempts.map(\.status), [503, 400])
            XCTAssertEqual(attempts.map(\.worker), ["w1", "w2"])
        }
    }

    func testExpiredLeaseIsClaimedAgainAndTheOldOwnerCannotReport() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            let job = try XCTUnwrap(try queue.claimNext(owner: "dead-worker", leaseMilliseconds: 1000, now: 5000))
            XCTAssertTrue(try queue.renewLease(jobID: job.id, owner: "dead-worker", leaseMilliseconds: 1000, now: 5500))
            // Later jobs are due too, but the expired lease is the most overdue (ordered by next_run_at).
            let taken = try XCTUnwrap(try queue.claimNext(owner: "w2", leaseMilliseconds: 30_000, now: 7000))
            XCTAssertEqual(taken.id, job.id)
            XCTAssertEqual(taken.attempts, 2)
            XCTAssertFalse(try queue.succeed(jobID: job.id, owner: "dead-worker", output: "late", now: 7100))
            XCTAssertFalse(try queue.renewLease(jobID: job.id, owner: "dead-worker", leaseMilliseconds: 1000, now: 7100))
            XCTAssertTrue(try queue.succeed(jobID: job.id, owner: "w2", output: "ok", now: 7200))
            XCTAssertEqual(try queue.job(job.id)?.attempts.map(\.outcome), ["lease_expired", "succeeded"])
        }
    }

    func testReleaseLeasesOnShutdownDoesNotCountTheAttempt() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            let job = try XCTUnwrap(try queue.claimNext(owner: "w1", leaseMilliseconds: 30_000, now: 5000))
            XCTAssertEqual(try queue.releaseLeases(owner: "w1", now: 5100), 1)
            let (released, attempts) = try XCTUnwrap(try queue.job(job.id))
            XCTAssertEqual(released.state, .retrying)
            XCTAssertEqual(released.attempts, 0)
            XCTAssertEqual(released.nextRunAt, 5100)
            XCTAssertEqual(attempts.map(\.outcome), ["interrupted"])
            // It is due again (after the jobs that were due before it).
            let claimed = try (0..<3).compactMap { _ in try queue.claimNext(owner: "w2", leaseMilliseconds: 30_000, now: 5100)?.id }
            XCTAssertEqual(Set(claimed), [1, 2, 3])
            XCTAssertEqual(try queue.job(job.id)?.job.attempts, 1)
        }
    }

    func testRetryAndDiscardDeadJobs() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            for _ in 0..<2 {
                let job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 30_000, now: 5000))
                _ = try queue.fail(jobID: job.id, owner: "w", error: "bad", status: 400, retryAt: nil, now: 5000)
            }
            XCTAssertEqual(try queue.list(state: .dead, limit: 10).map(\.id), [2, 1])
            XCTAssertThrowsError(try queue.retry(3, now: 6000)) { error in
                XCTAssertEqual(error as? JobChangeError, .wrongState(3, .queued, expected: "dead or discarded"))
            }
            XCTAssertThrowsError(try queue.discard(99, now: 6000)) { XCTAssertEqual($0 as? JobChangeError, .notFound(99)) }
            try queue.discard(1, now: 6000)
            XCTAssertEqual(try queue.job(1)?.job.state, .discarded)
            try queue.retry(2, now: 6000)
            let retried = try XCTUnwrap(try queue.job(2)?.job)
            XCTAssertEqual(retried.state, .queued)
            XCTAssertEqual(retried.attempts, 0)
            XCTAssertEqual(retried.idempotencyKey, "event:2", "the key is kept, so providers replay rather than repeat")
            try queue.retry(1, now: 6000)  // a discarded job can be brought back too
            XCTAssertEqual(try queue.retryAllDead(now: 6000), 0)
            XCTAssertEqual(try StoreReadingOpening.open(location).statistics().jobs["queued"], 3)
        }
    }

    /// After `jobs retry` resets the attempt budget, the attempt log keeps counting: 1, 2, then 3.
    func testAttemptsAreNumberedAcrossARetry() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            for (round, now) in [Int64(5000), 6000].enumerated() {
                let job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 30_000, now: now))
                XCTAssertEqual(job.id, 1, "round \(round)")
                _ = try queue.fail(jobID: job.id, owner: "w", error: "bad", status: 400, retryAt: round == 0 ? 500 : nil, now: now)  // 500: still the most overdue
            }
            try queue.retry(1, now: 7000)
            var claimed: [Job] = []  // jobs 2 and 3 are more overdue
            while let next = try queue.claimNext(owner: "w", leaseMilliseconds: 30_000, now: 7000) { claimed.append(next) }
            let job = try XCTUnwrap(claimed.first { $0.id == 1 })
            XCTAssertEqual(job.attempts, 1, "the budget starts over")
            XCTAssertEqual(try queue.job(1)?.attempts.map(\.attempt), [1, 2, 3])
        }
    }

    /// `jobs retry --all-dead`: every dead job, and only those, is queued again with its attempts reset and its key kept.
    func testRetryAllDeadRequeuesEveryDeadJobOnly() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            for _ in 0..<2 {
                let job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 30_000, now: 5000))
                _ = try queue.fail(jobID: job.id, owner: "w", error: "bad", status: 400, retryAt: nil, now: 5000)
            }
            try queue.discard(2, now: 5500)
            let running = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 30_000, now: 5600))
            XCTAssertEqual(running.id, 3)
            XCTAssertEqual(try queue.retryAllDead(now: 6000), 1, "job 1 is dead; 2 was discarded and 3 is running")
            let retried = try XCTUnwrap(try queue.job(1)?.job)
            XCTAssertEqual(retried.state, .queued)
            XCTAssertEqual(retried.attempts, 0)
            XCTAssertEqual(retried.nextRunAt, 6000)
            XCTAssertEqual(retried.idempotencyKey, "event:1")
            XCTAssertEqual(try queue.job(2)?.job.state, .discarded)
            XCTAssertEqual(try queue.job(3)?.job.state, .running)
            XCTAssertEqual(try queue.retryAllDead(now: 7000), 0, "nothing is dead any more")
        }
    }

    func testRetriesAndDiscardsAreRecordedAsManualInterventions() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            for _ in 0..<3 {
                let job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 30_000, now: 5000))
                _ = try queue.fail(jobID: job.id, owner: "w", error: "bad", status: 400, retryAt: nil, now: 5000)
            }
            try queue.discard(1, now: 6000)
            try queue.retry(1, now: 7000)
            XCTAssertThrowsError(try queue.discard(1, now: 7500), "job 1 is queued again: refused, and not recorded")
            XCTAssertEqual(try queue.retryAllDead(now: 8000), 2)
            XCTAssertEqual(try queue.retryAllDead(now: 9000), 0, "nothing was dead: nothing recorded")
            XCTAssertEqual(try adminActions(location), ["discard 1 1 6000", "retry 1 1 7000", "retry_all - 2 8000"])
        }
    }

    /// The manual interventions recorded at `location`, oldest first: `action job_id count at`.
    private func adminActions(_ location: DatabaseLocation) throws -> [String] {
        var actions: [String] = []
        switch location {
        case .sqlite(let path):
            let database = try SQLiteDatabase(path: path, readOnly: true)
            defer { database.close() }
            let rows = try database.prepare("SELECT action, job_id, count, at FROM admin_actions ORDER BY id")
            while try rows.step() {
                actions.append("\(rows.string(0) ?? "") \(rows.isNull(1) ? "-" : String(rows.int(1))) \(rows.int(2)) \(rows.int(3))")
            }
        case .postgresql(let url, let password):
            let connection = try PostgreSQLStoreConnection.open(url: url, password: password)
            defer { connection.close() }
            for row in try connection.query("SELECT action, job_id, count, at FROM admin_actions ORDER BY id").rows {
                actions.append("\(try row.string(0)) \(try row.optionalInt(1).map(String.init) ?? "-") \(try row.int(2)) \(try row.int(3))")
            }
        }
        return actions
    }

    func testMigrationCopiesPaymentLinksFromSucceededJobs() throws {
        // A database from before the report migration, with two succeeded link steps (one a dry run) and a contact.
        let old = directory.appendingPathComponent("before-report.db").path
        let database = try SQLiteDatabase(path: old)
        let reportMigration = try XCTUnwrap(Schema.migrations.firstIndex { $0.contains("CREATE TABLE payment_links_sent") })
        for index in 0..<reportMigration { try database.execute(Schema.migrations[index]) }
        try database.execute("PRAGMA user_version = \(reportMigration)")
        try database.execute("""
            INSERT INTO events (source, dedup_key, type, received_at, body, headers)
            VALUES ('instantly', 'e1', 'email_link_clicked', 1, CAST('{"campaign_id":"camp-7","lead_email":"ann@example.com"}' AS BLOB), '{}');
            INSERT INTO contacts (email, first_seen_at, updated_at) VALUES ('ann@example.com', 1, 1);
            INSERT INTO jobs (event_id, kind, state, next_run_at, idempotency_key, input, output, created_at, updated_at)
            VALUES (1, 'stripe.create_payment_link', 'succeeded', 1, 'flow:a',
                    '{"rule":"offer","contact":"ann@example.com"}',
                    '{"payment_link_id":"plink_1","url":"https://buy.stripe.com/x?prefilled_email=ann%40example.com"}', 1, 500),
                   (1, 'stripe.create_payment_link', 'succeeded', 1, 'flow:b', '{"rule":"offer"}',
                    '{"payment_link_id":"plink_dry","url":"https://buy.stripe.com/dry","dry_run":true}', 1, 600);
            """)
        database.close()
        _ = try SQLiteJobQueue(path: old)
        let migrated = try SQLiteDatabase(path: old, readOnly: true)
        let rows = try migrated.prepare("SELECT link_id, url, contact_id, campaign_id, rule, job_id, created_at FROM payment_links_sent")
        XCTAssertTrue(try rows.step())
        XCTAssertEqual([rows.string(0), rows.string(1), rows.string(3), rows.string(4)],
                       ["plink_1", "https://buy.stripe.com/x", "camp-7", "offer"], "the URL loses its query (the email)")
        XCTAssertEqual([rows.int(2), rows.int(5), rows.int(6)], [1, 1, 500])
        XCTAssertFalse(try rows.step(), "a dry run's link is not copied")
    }

    func testMigrationNormalisesStoredAddressesSoOnePersonIsOneContact() throws {
        // A database of version 10: a contact keyed by a decomposed spelling, purchases with the address as passed.
        let old = directory.appendingPathComponent("v10.db").path
        let database = try SQLiteDatabase(path: old)
        for index in 0..<10 { try database.execute(Schema.migrations[index]) }
        try database.execute("PRAGMA user_version = 10")
        let decomposed = "zoë.ängström@example.com".decomposedStringWithCanonicalMapping
        let insertContact = try database.prepare("INSERT INTO contacts (email, first_seen_at, updated_at) VALUES (?, 1, 1)")
        try insertContact.bind(1, decomposed)
        try insertContact.run()
        try database.execute("""
            INSERT INTO events (source, dedup_key, type, received_at, body, headers) VALUES ('stripe', 'e1', 't', 1, x'', '{}');
            INSERT INTO purchases (event_id, reference, email, amount, currency, rule, created_at)
            VALUES (1, 'cs_1', ' ZOË.ÄNGSTRÖM@EXAMPLE.COM ', 900, 'eur', 'sale', 1),
                   (1, 'cs_2', 'Bob@Example.com', 100, 'eur', 'sale', 1),
                   (1, 'cs_3', NULL, 100, 'eur', 'sale', 1);
            """)
        database.close()
        let contacts = try SQLiteContactStore(path: old)
        defer { contacts.close() }
        let migrated = try SQLiteDatabase(path: old, readOnly: true)
        defer { migrated.close() }
        XCTAssertEqual(try migrated.scalarInt("PRAGMA user_version"), Int64(Schema.currentVersion))
        let rows = try migrated.prepare("SELECT reference, email FROM purchases ORDER BY reference")
        var emails: [String: String] = [:]
        while try rows.step() { emails[rows.string(0) ?? ""] = rows.string(1) ?? "NULL" }
        XCTAssertEqual(emails, ["cs_1": "zoë.ängström@example.com", "cs_2": "bob@example.com", "cs_3": "NULL"])
        let contactEmail = try migrated.prepare("SELECT email FROM contacts")
        XCTAssertTrue(try contactEmail.step())
        XCTAssertEqual(Array((contactEmail.string(0) ?? "").utf8), Array("zoë.ängström@example.com".utf8), "stored in NFC")
        let zoe = try XCTUnwrap(try contacts.contact(email: "ZOË.ÄNGSTRÖM@EXAMPLE.COM"))
        XCTAssertEqual(try contacts.export(email: zoe.email)?.purchases.map(\.reference), ["cs_1"])
    }

    func testMigrationFromVersion1KeepsJobs() throws {
        // A version-1 database (as issue 2 shipped it) gains the new state and the attempts table.
        let old = directory.appendingPathComponent("v1.db").path
        let database = try SQLiteDatabase(path: old)
        try database.execute(Schema.migrations[0])
        try database.execute("PRAGMA user_version = 1")
        try database.execute("INSERT INTO events (source, dedup_key, type, received_at, body, headers) VALUES ('stripe','e','t',1,x'','{}')")
        try database.execute("INSERT INTO jobs (event_id, kind, next_run_at, idempotency_key, created_at, updated_at) VALUES (1,'process_event',1,'event:1',1,1)")
        database.close()
        let queue = try SQLiteJobQueue(path: old)
        XCTAssertEqual(try queue.list(state: nil, limit: 10).map(\.idempotencyKey), ["event:1"])
        let job = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: 2))
        _ = try queue.fail(jobID: job.id, owner: "w", error: "x", status: nil, retryAt: nil, now: 3)
        try queue.discard(job.id, now: 4)
        XCTAssertEqual(try queue.job(job.id)?.job.state, .discarded)
    }

    func testSkipRecordsTheStateTheReasonAndTheFollowUps() throws {
        try forEachStorageEngine { location in
            try seed(location)
            let queue = try openQueue(location)
            let job = try XCTUnwrap(try queue.claimNext(owner: "w1", leaseMilliseconds: 30_000, now: 5000))
            let next = NewJob(kind: "step", idempotencyKey: "flow:r:1:next", input: nil, runAt: 5000)
            XCTAssertFalse(try queue.skip(jobID: job.id, owner: "other", reason: "when: x", followUps: [next], now: 5100))
            XCTAssertTrue(try queue.skip(jobID: job.id, owner: "w1", reason: #"when: condition a = "b" does not hold"#, followUps: [next], now: 5100))
            let (stored, attempts) = try XCTUnwrap(try queue.job(job.id))
            XCTAssertEqual(stored.state, .skipped)
            XCTAssertEqual(stored.output, #"{"skipped":"when: condition a = \"b\" does not hold"}"#)
            XCTAssertEqual(Job.skipReason(of: stored), #"when: condition a = "b" does not hold"#)
            XCTAssertEqual(attempts.map(\.outcome), ["skipped"])
            XCTAssertEqual(try queue.list(state: .skipped, limit: 10).map(\.id), [job.id])
            XCTAssertEqual(try queue.list(state: nil, limit: 10).filter { $0.idempotencyKey == "flow:r:1:next" }.map(\.state), [.queued],
                           "a skipped step's follow-ups are queued as a succeeded one's")
        }
    }

    func testMigrationReclassifiesSkippedStepsAndKeepsEveryAttempt() throws {
        // A database of version 11, where a skipped step was recorded as succeeded with {"skipped": …}.
        let old = directory.appendingPathComponent("v11.db").path
        let database = try SQLiteDatabase(path: old)
        let skippedState = try XCTUnwrap(Schema.migrations.firstIndex { $0.contains("'succeeded', 'skipped', 'retrying'") })
        for index in 0..<skippedState { try database.execute(Schema.migrations[index]) }
        try database.execute("PRAGMA user_version = \(skippedState)")
        try database.execute("""
            INSERT INTO events (source, dedup_key, type, received_at, body, headers) VALUES ('stripe', 'e1', 't', 1, x'', '{}');
            INSERT INTO jobs (event_id, kind, state, next_run_at, idempotency_key, input, output, created_at, updated_at) VALUES
                (1, 'process_event', 'succeeded', 1, 'event:1', NULL, '{"matched":[{"rule":"r","skipped":"once_per x has no value"}]}', 1, 2),
                (1, 'record_purchase', 'succeeded', 1, 'flow:sale:1:purchase', '{"rule":"sale","step":"purchase","flow":"1","steps":{}}',
                 '{"skipped":"condition steps.link.metadata.hookyard_rule = \\"sale\\" does not hold"}', 1, 3),
                (1, 'instantly.move_lead', 'succeeded', 1, 'flow:sale:1:move', '{"rule":"sale","step":"move","flow":"1","steps":{}}',
                 '{"moved":true}', 1, 4),
                (1, 'alert.notify', 'succeeded', 1, 'alert:1', '{"alert":"x"}', '{"skipped":"no alert webhook is configured"}', 1, 5),
                (1, 'instantly.add_lead', 'dead', 1, 'flow:sale:1:add', '{"rule":"sale","step":"add","flow":"1","steps":{}}', NULL, 1, 6);
            INSERT INTO job_attempts (job_id, attempt, worker, started_at, finished_at, outcome, status, error) VALUES
                (1, 1, 'w', 1, 2, 'succeeded', NULL, NULL),
                (2, 1, 'w', 1, 2, 'retrying', 503, 'busy'), (2, 2, 'w', 2, 3, 'succeeded', NULL, NULL),
                (3, 1, 'w', 1, 4, 'succeeded', NULL, NULL), (5, 1, 'w', 1, 6, 'dead', 400, 'bad');
            """)
        database.close()

        let queue = try SQLiteJobQueue(path: old)
        defer { queue.close() }
        XCTAssertEqual(try queue.list(state: nil, limit: 10).sorted { $0.id < $1.id }.map(\.state),
                       [.succeeded, .skipped, .succeeded, .succeeded, .dead],
                       "only the step job whose output says skipped changes; process_event and alert jobs are not steps")
        let (purchase, attempts) = try XCTUnwrap(try queue.job(2))
        XCTAssertEqual(Job.skipReason(of: purchase), #"condition steps.link.metadata.hookyard_rule = "sale" does not hold"#)
        XCTAssertEqual(attempts.map(\.outcome), ["retrying", "skipped"])
        XCTAssertEqual(attempts.first?.error, "busy")
        XCTAssertEqual(try queue.job(5)?.attempts.map(\.outcome), ["dead"])
        let migrated = try SQLiteDatabase(path: old, readOnly: true)
        defer { migrated.close() }
        XCTAssertEqual(try migrated.scalarInt("PRAGMA user_version"), Int64(Schema.currentVersion))
        XCTAssertEqual(try migrated.scalarInt("SELECT count(*) FROM job_attempts"), 5, "no attempt was lost with the rebuild")
        XCTAssertEqual(try migrated.scalarInt("SELECT count(*) FROM pragma_foreign_key_check"), 0)
        let indexes = try migrated.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('jobs', 'job_attempts') AND sql IS NOT NULL ORDER BY name")
        var names: [String] = []
        while try indexes.step() { names.append(indexes.string(0) ?? "") }
        XCTAssertEqual(names, ["job_attempts_by_job", "jobs_by_event", "jobs_due", "jobs_leases"])
        XCTAssertEqual(try migrated.scalarInt("SELECT count(*) FROM sqlite_master WHERE name LIKE '%v13%'"), 0, "no table left over")
        // The dead job still retries, and the rebuilt tables take the new state and outcome.
        try queue.retry(5, now: 10)
        let claimed = try XCTUnwrap(try queue.claimNext(owner: "w", leaseMilliseconds: 1000, now: 11))
        XCTAssertEqual(claimed.id, 5)
        XCTAssertTrue(try queue.skip(jobID: 5, owner: "w", reason: "do-not-contact: the contact unsubscribed", now: 12))
        XCTAssertEqual(try queue.job(5)?.attempts.map(\.outcome), ["dead", "skipped"])
    }
}

import Synchronization
