import SQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import HookyardFoundation
import Logging
import Synchronization

/// The single writer of webhook events on SQLite (`EventSink`): appends from any thread are batched into one transaction (group commit)
/// on a dedicated thread, and each append's completion runs only after its batch's `COMMIT` returned, that is
/// after SQLite fsynced the WAL (`synchronous=FULL`).
///
/// Crash guarantee: an append whose completion reported `.stored` or `.duplicate` is on disk; one that had not
/// completed may or may not be, and the sender's retry is deduplicated. If a commit fails, every append in
/// that batch completes with `StoreError.commitFailed` and `isHealthy` turns false until a commit succeeds.
///
/// Answer-time bound: every append completes within `answerTimeoutMilliseconds` of its `append` call plus one
/// commit's fsync, whatever holds the database (another process's lock, this process's other writers): its
/// batch waits for locks only as long as its oldest append has left, and an append whose time ran out while
/// queued fails without being tried.
///
/// Health follows intake: `isHealthy`, the `onCommitFailure`/`onRecovery` callbacks and `probe` report the outcome
/// of the latest batch of appends. Only while intake is idle (no append for `intakeIdleMilliseconds`) does a
/// probe write a row of its own to find out, so a tiny probe write that squeezes through a full disk never
/// reports the store healthy while deliveries fail.
///
/// Thread-safe. `close()` finishes the queued appends, stops the thread and closes the database.
public final class SQLiteEventWriter: GroupCommitEventSink {
    public let path: String
    /// The engine-neutral group commit (queue, batches, deadlines, health, observers).
    private let queue: GroupCommitQueue

    /// Opens (creating if needed) and migrates the database, then starts the writer thread.
    /// - Parameters:
    ///   - answerTimeoutMilliseconds: the longest an append waits for the database before it completes with
    ///     `commitFailed` (so the sender gets its 503 and retries); also the busy timeout of the first open.
    ///   - intakeIdleMilliseconds: how long after the latest batch of appends a probe writes a row of its own
    ///     instead of reporting that batch's outcome.
    ///   - onCommit: runs on the writer thread after each commit that stored events; keep it short.
    ///   - onCommitFailure: runs on the writer thread after each commit that failed, with the error; `onRecovery`
    ///     after the first commit that succeeds after a failure. Both must return at once (hand work to a queue).
    /// - Throws: `SQLiteError` or `StoreError` with SQLite's message when the file cannot be opened or migrated.
    public init(path: String, logger: Logger, maxBatch: Int = 1024, answerTimeoutMilliseconds: Int32 = 5000,
                intakeIdleMilliseconds: Int64 = 5000, onCommit: @escaping @Sendable () -> Void = {}, onCommitFailure: @escaping @Sendable (String) -> Void = { _ in },
                onRecovery: @escaping @Sendable () -> Void = {}) throws {
        self.path = path
        let database = try StoreConnection.open(path: path, create: true, busyTimeoutMilliseconds: answerTimeoutMilliseconds)
        try Schema.migrate(database)
        // A background thread checkpoints continuously, so when the writer's own checkpoint comes due (every 16,000
        // pages) it finds little left to copy, and the WAL starts over from its beginning afterwards.
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA wal_autocheckpoint = 16000")
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA journal_size_limit = 67108864")
        let connection = try WriterConnection(database: database, checkpointer: try Checkpointer(path: path, logger: logger))
        queue = GroupCommitQueue(databaseName: path, batchWriter: connection, threadName: "hookyard.store.writer", logger: logger,
                                 maxBatch: maxBatch, answerTimeoutMilliseconds: Int64(answerTimeoutMilliseconds),
                                 intakeIdleMilliseconds: intakeIdleMilliseconds, onCommit: onCommit,
                                 onCommitFailure: onCommitFailure, onRecovery: onRecovery)
    }

    /// Calls `observer` on the writer thread after each later commit that stored events, as `onCommit` is: for a
    /// reader of the store built after the writer because it depends on it (the workers wake on commits and ask
    /// `isUnderLoad`). Keep it short.
    public func whenCommitted(_ observer: @escaping @Sendable () -> Void) { queue.whenCommitted(observer) }

    /// Whether the most recent batch of appends committed (or, while intake is idle, the most recent probe).
    public var isHealthy: Bool { queue.isHealthy }

    /// Number of batches committed since start (progress signal for a watchdog).
    public var commitCount: Int { queue.commitCount }

    /// Whether webhooks are arriving faster than one per commit (a commit of four or more events in the last
    /// 100 ms): background writers (the workers) should hold back so acknowledgements stay fast.
    public var isUnderLoad: Bool { queue.isUnderLoad }

    /// Queues `event` for the next batch. `completion` runs on the writer thread once the batch committed
    /// (or failed); it must not block.
    public func append(_ event: IncomingEvent, completion: @escaping @Sendable (Result<AppendOutcome, StoreError>) -> Void) {
        queue.append(event, completion: completion)
    }

    /// Whether the store takes events: the outcome of the latest batch of appends while intake is busy; while it
    /// is idle (no append for `intakeIdleMilliseconds`), a one-row update committed in the next batch.
    /// `completion` runs on the writer thread, so an answer also proves the writer thread is not stuck.
    public func probe(completion: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        queue.probe(completion: completion)
    }

    /// Commits what is queued, stops the writer thread and closes the database. Idempotent.
    public func close() { queue.close() }
}

/// The writer thread's connection and its prepared statements.
private final class WriterConnection: GroupCommitBatchWriter, @unchecked Sendable {  // Safe: used only by the writer thread after init.
    private let database: SQLiteDatabase
    private let checkpointer: Checkpointer
    private let begin_: SQLiteStatement
    private let commit_: SQLiteStatement
    private let insertEvent: SQLiteStatement
    private let insertJob: SQLiteStatement
    private let probe: SQLiteStatement

    init(database: SQLiteDatabase, checkpointer: Checkpointer) throws {
        self.database = database
        self.checkpointer = checkpointer
        begin_ = try database.prepare("BEGIN IMMEDIATE")
        commit_ = try database.prepare("COMMIT")
        // SQLite-specific: upsert `ON CONFLICT ... DO NOTHING` (PostgreSQL has the same form).
        insertEvent = try database.prepare("""
            INSERT INTO events (source, dedup_key, event_id, type, received_at, body, headers)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, dedup_key) DO NOTHING
            """)
        insertJob = try database.prepare("""
            INSERT INTO jobs (event_id, kind, next_run_at, idempotency_key, created_at, updated_at)
            VALUES (?1, 'process_event', ?2, 'event:' || ?1, ?2, ?2)
            """)
        probe = try database.prepare("UPDATE store_probe SET checked_at = ? WHERE id = 1")
    }

    /// One `BEGIN IMMEDIATE` … `COMMIT` for the batch, holding `WriteLock` (in-process writers, the workers, queue
    /// behind it instead of meeting SQLite's busy sleeps) and waiting for either lock no longer than `deadline`.
    func write(_ entries: [GroupCommitEntry], deadline: Int64) throws -> [AppendOutcome?] {
        let remaining = max(1, deadline - MonotonicClock.milliseconds())
        return try WriteLock.withLock(urgent: true, waitingAtMost: remaining) { () throws -> [AppendOutcome?] in
            do {
                let left = max(1, deadline - MonotonicClock.milliseconds())
                try setBusyTimeout(milliseconds: Int32(clamping: left))
                try begin()
                var outcomes: [AppendOutcome?] = []
                outcomes.reserveCapacity(entries.count)
                for entry in entries {
                    switch entry {
                    case .append(let event): outcomes.append(try insert(event))
                    case .probe:
                        try touchProbe()
                        outcomes.append(nil)
                    }
                }
                try commit()
                return outcomes
            } catch {
                rollback()
                throw error
            }
        }
    }

    func committed() { checkpointer.committed() }

    func begin() throws { try begin_.run() }
    func setBusyTimeout(milliseconds: Int32) throws { try database.setBusyTimeout(milliseconds: milliseconds) }
    func commit() throws { try commit_.run() }

    func rollback() {
        try? database.execute("ROLLBACK")
    }

    func insert(_ event: IncomingEvent) throws -> AppendOutcome {
        defer { insertEvent.reset() }
        try insertEvent.bind(1, event.source.rawValue)
        try insertEvent.bind(2, event.dedupKey)
        try insertEvent.bind(3, event.eventID)
        try insertEvent.bind(4, event.type)
        try insertEvent.bind(5, event.receivedAt)
        try insertEvent.bind(6, blob: event.body)
        try insertEvent.bind(7, event.headersJSON)
        _ = try insertEvent.step()
        guard database.changes == 1 else { return .duplicate }
        let id = database.lastInsertRowID
        try insertJob.bind(1, id)
        try insertJob.bind(2, event.receivedAt)
        try insertJob.run()
        return .stored(id: id)
    }

    func touchProbe() throws {
        try probe.bind(1, WallClock.nowMilliseconds())
        try probe.run()
    }

    func close() {
        checkpointer.stop()
        database.close()
    }
}

/// Copies the WAL back into the database file from a thread of its own with `PRAGMA wal_checkpoint(PASSIVE)`,
/// which never waits for the writer, at most every 10 ms and only after commits (an idle daemon stays asleep): the
/// writer's, and the workers' (their connections post `CheckpointRequests` instead of checkpointing inside their
/// `COMMIT`, see `StoreConnection.leaveCheckpointsToTheWriter`). Small, frequent checkpoints keep each database
/// fsync short, so the writer's own checkpoint when the WAL wraps finds little left to copy; `make bench` showed
/// this keeps p99 latency low (docs/benchmarks.md).
private final class Checkpointer: @unchecked Sendable {  // Safe: `database` is used only by the checkpoint thread.
    private let database: SQLiteDatabase
    private let logger: Logger
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, logger: Logger) throws {
        database = try StoreConnection.open(path: path, create: false, busyTimeoutMilliseconds: 5000)
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA wal_autocheckpoint = 0")
        self.logger = logger
        // Read before the thread starts: a post in between (even `stop()`'s) is then newer, never missed.
        let seen = CheckpointRequests.current
        let thread = Thread { [self] in run(after: seen) }
        thread.name = "hookyard.checkpoint"
        thread.start()
    }

    /// Called by the writer after each commit.
    func committed() { CheckpointRequests.post() }

    private func run(after generation: UInt64) {
        var seen = generation
        while true {
            seen = CheckpointRequests.wait(after: seen)
            if stopped.load(ordering: .relaxed) { break }
            do {
                try database.checkpoint(mode: .passive)
            } catch {
                logger.warning("WAL checkpoint failed; will retry", metadata: ["error": "\(error)"])
            }
            usleep(10_000)
        }
        _ = try? database.checkpoint(mode: .truncate)
        database.close()
        finished.signal()
    }

    /// Runs a last checkpoint and closes the connection; returns when done. Call after the last commit.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        CheckpointRequests.post()
        finished.wait()
    }
}
