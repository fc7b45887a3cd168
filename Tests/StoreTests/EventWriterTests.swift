import Foundation
import Logging
import XCTest
@testable import Store
import TestSupport
import SQLite

final class EventWriterTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("test.db").path }

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private func event(_ key: String, source: EventSource = .stripe) -> IncomingEvent {
        Self.event(key, source: source)
    }

    private static func event(_ key: String, source: EventSource = .stripe) -> IncomingEvent {
        IncomingEvent(source: source, dedupKey: key, eventID: source == .stripe ? key : nil, type: "invoice.paid",
                      receivedAt: 1_732_500_000_000, body: Array("{\"id\":\"\(key)\"}".utf8),
                      headersJSON: #"{"stripe-signature":"t=1,v1=ab","content-type":"application/json"}"#)
    }

    /// Appends and waits for the outcome.
    private func append(_ writer: any EventSink, _ event: IncomingEvent) -> Result<AppendOutcome, StoreError> {
        let done = expectation(description: "append")
        nonisolated(unsafe) var outcome: Result<AppendOutcome, StoreError>?
        writer.append(event) { result in
            outcome = result
            done.fulfill()
        }
        wait(for: [done], timeout: 30)
        return outcome!
    }

    func testMigrationSetsSchemaVersionAndPragmas() throws {
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        writer.close()
        let database = try SQLiteDatabase(path: path)
        XCTAssertEqual(try database.scalarInt("PRAGMA user_version"), Int64(Schema.currentVersion))
        let mode = try database.prepare("PRAGMA journal_mode")
        XCTAssertTrue(try mode.step())
        XCTAssertEqual(mode.string(0), "wal")
    }

    func testNewerSchemaIsRefused() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA user_version = 999")
        database.close()
        XCTAssertThrowsError(try SQLiteEventWriter(path: path, logger: TestLog.logger())) { error in
            XCTAssertTrue("\(error)".contains("newer"), "\(error)")
        }
    }

    func testAppendStoresEventAndQueuesOneJob() throws {
        try forEachStorageEngine { location in
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
            guard case .success(.stored(let id)) = append(writer, event("evt_1")) else { return XCTFail("not stored") }
            writer.close()
            let reader = try StoreReadingOpening.open(location)
            let stored = try XCTUnwrap(try reader.event("evt_1"))
            XCTAssertEqual(stored.id, id)
            XCTAssertEqual(stored.body, Array("{\"id\":\"evt_1\"}".utf8))
            XCTAssertEqual(stored.jobStates, ["queued"])
            XCTAssertTrue(stored.headersJSON.contains("\"stripe-signature\":\"t=1,v1=ab\""))
            XCTAssertEqual(try reader.event(String(id))?.eventID, "evt_1")
            let statistics = try reader.statistics()
            XCTAssertEqual(statistics.events[.stripe], 1)
            XCTAssertEqual(statistics.jobs["queued"], 1)
        }
    }

    func testDuplicateCreatesNothing() throws {
        try forEachStorageEngine { location in
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
            XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
            XCTAssertEqual(try append(writer, event("evt_1")).get(), .duplicate)
            // Same key from the other source is a different event.
            XCTAssertEqual(try append(writer, event("evt_1", source: .instantly)).get(), .stored(id: 2))
            writer.close()
            // Dedup is permanent: it survives a restart.
            let reopened = try EventSinkOpening.open(location, logger: TestLog.logger())
            XCTAssertEqual(try append(reopened, event("evt_1")).get(), .duplicate)
            reopened.close()
            let statistics = try StoreReadingOpening.open(location).statistics()
            XCTAssertEqual(statistics.events[.stripe], 1)
            XCTAssertEqual(statistics.jobs["queued"], 2)
        }
    }

    func testConcurrentAppendsAreGroupCommitted() throws {
        try forEachStorageEngine { location in
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
            let count = 2000
            let group = DispatchGroup()
            let failures = Mutex(0)
            DispatchQueue.concurrentPerform(iterations: count) { index in
                group.enter()
                writer.append(Self.event("evt_\(index % 1500)")) { result in
                    if case .failure = result { failures.withLock { $0 += 1 } }
                    group.leave()
                }
            }
            XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
            XCTAssertEqual(failures.withLock { $0 }, 0)
            XCTAssertLessThan(writer.commitCount, count, "appends should share commits")
            writer.close()
            XCTAssertEqual(try StoreReadingOpening.open(location).statistics().events[.stripe], 1500)
        }
    }

    func testCommitFailureReportsAndRecovers() throws {
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger(), answerTimeoutMilliseconds: 100)
        // Another connection holds the write lock longer than the busy timeout.
        let blocker = try SQLiteDatabase(path: path)
        try blocker.execute("BEGIN IMMEDIATE")
        guard case .failure(.commitFailed(let message)) = append(writer, event("evt_1")) else { return XCTFail("expected failure") }
        XCTAssertTrue(message.contains("locked") || message.contains("busy"), message)
        XCTAssertFalse(writer.isHealthy)
        try blocker.execute("ROLLBACK")
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
        XCTAssertTrue(writer.isHealthy)
        writer.close()
    }

    /// Probes and waits for the outcome.
    private func probe(_ writer: any EventSink) -> Result<Void, StoreError> {
        let done = expectation(description: "probe")
        nonisolated(unsafe) var outcome: Result<Void, StoreError>?
        writer.probe { result in
            outcome = result
            done.fulfill()
        }
        wait(for: [done], timeout: 30)
        return outcome!
    }

    /// A full disk can refuse the events yet let a one-row probe through. While deliveries fail, the probe (so
    /// `/readyz`) and the store alert follow the deliveries; only once intake is idle does a probe write.
    func testProbeFollowsIntakeCommitsWhileIntakeIsBusy() throws {
        let failures = Mutex(0)
        let recoveries = Mutex(0)
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger(), intakeIdleMilliseconds: 1500,
                                     onCommitFailure: { _ in failures.withLock { $0 += 1 } },
                                     onRecovery: { recoveries.withLock { $0 += 1 } })
        // Inserting events fails; the probe's own update still commits (as a nearly full disk behaves).
        let other = try SQLiteDatabase(path: path)
        try other.execute("CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        guard case .failure(.commitFailed(let message)) = append(writer, event("evt_1")) else { return XCTFail("expected failure") }
        XCTAssertTrue(message.contains("disk is full"), message)
        for _ in 0..<3 {
            guard case .failure(.commitFailed(let probeMessage)) = probe(writer) else { return XCTFail("the probe must follow intake") }
            XCTAssertTrue(probeMessage.contains("disk is full"), probeMessage)
        }
        XCTAssertFalse(writer.isHealthy)
        XCTAssertEqual(recoveries.withLock { $0 }, 0, "no recovery while deliveries fail")
        XCTAssertEqual(failures.withLock { $0 }, 1)
        // Intake idle for longer than intakeIdleMilliseconds: the probe writes, and its success counts.
        usleep(1_700_000)
        XCTAssertNoThrow(try probe(writer).get())
        XCTAssertTrue(writer.isHealthy)
        XCTAssertEqual(recoveries.withLock { $0 }, 1)
        try other.execute("DROP TRIGGER refuse_events")
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
        other.close()
        writer.close()
    }

    /// Appends that arrive while another process holds the write lock are each answered within the bound (not
    /// after the batch ahead of them waited out its own busy timeout, then theirs).
    func testAppendsAreAnsweredWithinTheBoundWhileAnotherProcessHoldsTheLock() throws {
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger(), answerTimeoutMilliseconds: 2000)
        let blocker = try SQLiteDatabase(path: path)
        try blocker.execute("BEGIN IMMEDIATE")
        let latencies = Mutex<[Double]>([])
        let group = DispatchGroup()
        for index in 0..<3 {
            group.enter()
            let started = Date()
            writer.append(event("evt_\(index)")) { result in
                if case .success = result { XCTFail("stored while the lock is held") }
                latencies.withLock { $0.append(Date().timeIntervalSince(started)) }
                group.leave()
            }
            usleep(200_000)
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        // Before the bound, the second and third waited for the first batch (2 s) and then for their own (2 s).
        XCTAssertLessThan(latencies.withLock { $0.max() ?? 0 }, 3.0, "\(latencies.withLock { $0 })")
        try blocker.execute("ROLLBACK")
        XCTAssertEqual(try append(writer, event("evt_ok")).get(), .stored(id: 1))
        blocker.close()
        writer.close()
    }

    /// The same bound holds when this process's own writer (a worker stuck behind an external lock) holds
    /// `WriteLock`: the append is answered 503-worthy in time instead of waiting for it.
    func testAppendsAreAnsweredWithinTheBoundWhileAWorkerHoldsTheWriteLock() throws {
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger(), answerTimeoutMilliseconds: 1000)
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        Thread {
            WriteLock.withLock {
                holding.signal()
                release.wait()
            }
        }.start()
        holding.wait()
        let started = Date()
        guard case .failure(.commitFailed(let message)) = append(writer, event("evt_1")) else { return XCTFail("expected failure") }
        let waited = Date().timeIntervalSince(started)
        release.signal()
        XCTAssertLessThan(waited, 2.5, message)
        XCTAssertTrue(message.contains("held the database"), message)
        XCTAssertEqual(try append(writer, event("evt_1")).get(), .stored(id: 1))
        writer.close()
    }

    /// `stats` reads the API versions of the newest Stripe events only, so it stays fast on a large store.
    func testStripeAPIVersionsReadTheNewestEventsOnly() throws {
        try forEachStorageEngine { location in
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
            for (index, version) in ["2024-06-20", "2024-06-20", "2025-03-31.basil", "2025-12-15.clover"].enumerated() {
                let body = Array("{\"id\":\"evt_\(index)\",\"api_version\":\"\(version)\"}".utf8)
                let event = IncomingEvent(source: .stripe, dedupKey: "evt_\(index)", eventID: "evt_\(index)", type: "invoice.paid",
                                          receivedAt: 1000 + Int64(index), body: body, headersJSON: "{}")
                XCTAssertNoThrow(try append(writer, event).get())
            }
            writer.close()
            let reader = try StoreReadingOpening.open(location)
            XCTAssertEqual(try reader.stripeAPIVersions().map(\.version), ["2025-12-15.clover", "2025-03-31.basil", "2024-06-20"])
            XCTAssertEqual(try reader.stripeAPIVersions().last?.events, 2)
            XCTAssertEqual(try reader.stripeAPIVersions(newest: 2).map(\.version), ["2025-12-15.clover", "2025-03-31.basil"])
        }
    }

    func testCloseCommitsQueuedAppendsAndRefusesNewOnes() throws {
        try forEachStorageEngine { location in
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
            let group = DispatchGroup()
            let stored = Mutex(0)
            for index in 0..<200 {
                group.enter()
                writer.append(event("evt_\(index)")) { result in
                    if case .success = result { stored.withLock { $0 += 1 } }
                    group.leave()
                }
            }
            writer.close()
            XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
            XCTAssertEqual(stored.withLock { $0 }, 200)
            guard case .failure(.closed) = append(writer, event("late")) else { return XCTFail("expected closed") }
            XCTAssertEqual(try StoreReadingOpening.open(location).statistics().events[.stripe], 200)
        }
    }

    func testProbeCommits() throws {
        try forEachStorageEngine { location in
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
            let done = expectation(description: "probe")
            writer.probe { result in
                if case .success = result { done.fulfill() }
            }
            wait(for: [done], timeout: 10)
            writer.close()
        }
    }

    func testReaderListsNewestFirstAndFiltersBySource() throws {
        try forEachStorageEngine { location in
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger())
            _ = append(writer, event("evt_a"))
            _ = append(writer, event("key_b", source: .instantly))
            _ = append(writer, event("evt_c"))
            writer.close()
            let reader = try StoreReadingOpening.open(location)
            XCTAssertEqual(try reader.events(source: nil, limit: 10).map(\.dedupKey), ["evt_c", "key_b", "evt_a"])
            XCTAssertEqual(try reader.events(source: .stripe, limit: 1).map(\.dedupKey), ["evt_c"])
            XCTAssertNil(try reader.event("nope"))
        }
    }

    func testReaderOnMissingFileSaysWhatToDo() {
        XCTAssertThrowsError(try SQLiteStoreReader(path: path + ".missing")) { error in
            XCTAssertTrue("\(error)".contains("hookyard serve"), "\(error)")
        }
    }

    func testBackupWritesAConsistentCopy() throws {
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())
        _ = append(writer, event("evt_a"))
        let copy = directory.appendingPathComponent("copy.db").path
        try SQLiteStoreReader(path: path).backup(to: copy)
        writer.close()
        XCTAssertEqual(try SQLiteStoreReader(path: copy).statistics().events[.stripe], 1)
    }
}

import Synchronization
