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
public final class SQLiteEventWriter: EventSink {
    private enum Operation {
        case append(IncomingEvent, enqueuedAt: Int64, @Sendable (Result<AppendOutcome, StoreError>) -> Void)
        case probe(enqueuedAt: Int64, @Sendable (Result<Void, StoreError>) -> Void)

        var enqueuedAt: Int64 {
            switch self {
            case .append(_, let enqueuedAt, _), .probe(let enqueuedAt, _): enqueuedAt
            }
        }

        var isAppend: Bool { if case .append = self { true } else { false } }

        func fail(_ error: StoreError) {
            switch self {
            case .append(_, _, let completion): completion(.failure(error))
            case .probe(_, let completion): completion(.failure(error))
            }
        }
    }

    /// The outcome of the latest batch that counts for health (one with appends, or a probe while intake idled).
    private struct Health {
        var failure: String?
        /// Monotonic milliseconds of the latest batch with appends.
        var lastAppendBatch = Int64.min / 2
    }

    private struct Queue {
        var operations: [Operation] = []
        var closed = false
        /// The writer thread is blocked waiting for work (so the next enqueue must wake it).
        var writerIdle = true
    }

    public let path: String
    private let logger: Logger
    private let maxBatch: Int
    /// Operations waiting for the writer thread.
    private let queue = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let healthy = Atomic<Bool>(true)
    /// Touched only by the writer thread.
    private let health = Mutex(Health())
    private let answerTimeoutMilliseconds: Int64
    private let intakeIdleMilliseconds: Int64
    private let committedBatches = Atomic<Int>(0)
    /// Monotonic milliseconds of the last commit that carried several events at once (webhooks arriving faster
    /// than one commit each).
    private let lastFullCommit = Atomic<Int64>(Int64.min / 2)
    private let connection: WriterConnection
    private let checkpointer: Checkpointer
    /// Called on the writer thread after each commit that stored events (to wake the workers).
    private let onCommit: @Sendable () -> Void
    /// Called on the writer thread after each failed commit (with the error), and after the first commit that
    /// succeeds again (to raise and clear the store alert).
    private let onCommitFailure: @Sendable (String) -> Void
    private let onRecovery: @Sendable () -> Void
    /// Added by `whenCommitted`, called after `onCommit`: readers of what the writer stores (the workers) that are
    /// built after it.
    private let commitObservers = Mutex<[@Sendable () -> Void]>([])

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
        self.onCommit = onCommit
        self.onCommitFailure = onCommitFailure
        self.onRecovery = onRecovery
        self.logger = logger
        self.maxBatch = maxBatch
        self.answerTimeoutMilliseconds = Int64(max(1, answerTimeoutMilliseconds))
        self.intakeIdleMilliseconds = intakeIdleMilliseconds
        let database = try StoreConnection.open(path: path, create: true, busyTimeoutMilliseconds: answerTimeoutMilliseconds)
        try Schema.migrate(database)
        // A background thread checkpoints continuously, so when the writer's own checkpoint comes due (every 16,000
        // pages) it finds little left to copy, and the WAL starts over from its beginning afterwards.
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA wal_autocheckpoint = 16000")
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA journal_size_limit = 67108864")
        connection = try WriterConnection(database: database)
        checkpointer = try Checkpointer(path: path, logger: logger)
        let thread = Thread { [self] in run() }
        thread.name = "hookyard.store.writer"
        thread.start()
    }

    /// Calls `observer` on the writer thread after each later commit that stored events, as `onCommit` is: for a
    /// reader of the store built after the writer because it depends on it (the workers wake on commits and ask
    /// `isUnderLoad`). Keep it short.
    public func whenCommitted(_ observer: @escaping @Sendable () -> Void) {
        commitObservers.withLock { $0.append(observer) }
    }

    /// Whether the most recent batch of appends committed (or, while intake is idle, the most recent probe).
    public var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// Number of batches committed since start (progress signal for a watchdog).
    public var commitCount: Int { committedBatches.load(ordering: .relaxed) }

    /// Whether webhooks are arriving faster than one per commit (a commit of four or more events in the last
    /// 100 ms): background writers (the workers) should hold back so acknowledgements stay fast.
    public var isUnderLoad: Bool {
        Self.monotonicMilliseconds() - lastFullCommit.load(ordering: .relaxed) < 100
    }

    private static func monotonicMilliseconds() -> Int64 { MonotonicClock.milliseconds() }

    /// Queues `event` for the next batch. `completion` runs on the writer thread once the batch committed
    /// (or failed); it must not block.
    public func append(_ event: IncomingEvent, completion: @escaping @Sendable (Result<AppendOutcome, StoreError>) -> Void) {
        enqueue(.append(event, enqueuedAt: Self.monotonicMilliseconds(), completion)) { completion(.failure(.closed)) }
    }

    /// Whether the store takes events: the outcome of the latest batch of appends while intake is busy; while it
    /// is idle (no append for `intakeIdleMilliseconds`), a one-row update committed in the next batch.
    /// `completion` runs on the writer thread, so an answer also proves the writer thread is not stuck.
    public func probe(completion: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        enqueue(.probe(enqueuedAt: Self.monotonicMilliseconds(), completion)) { completion(.failure(.closed)) }
    }

    private func enqueue(_ operation: Operation, ifClosed: () -> Void) {
        let (accepted, wake) = queue.withLock { queue in
            guard !queue.closed else { return (false, false) }
            queue.operations.append(operation)
            defer { queue.writerIdle = false }
            return (true, queue.writerIdle)
        }
        if wake { wakeUp.signal() }
        if !accepted { ifClosed() }
    }

    /// Commits what is queued, stops the writer thread and closes the database. Idempotent.
    public func close() {
        let wasOpen = queue.withLock { queue in
            defer { queue.closed = true }
            return !queue.closed
        }
        guard wasOpen else { return }
        wakeUp.signal()
        finished.wait()
    }

    private func run() {
        while true {
            wakeUp.wait()
            while true {
                let (batch, closed) = queue.withLock { queue in
                    let count = min(queue.operations.count, maxBatch)
                    let batch = Array(queue.operations.prefix(count))
                    queue.operations.removeFirst(count)
                    // Nothing to do: the next enqueue must signal.
                    if count == 0 { queue.writerIdle = true }
                    return (batch, queue.closed && queue.operations.isEmpty)
                }
                if !batch.isEmpty { commit(batch) }
                if closed {
                    checkpointer.stop()
                    connection.close()
                    finished.signal()
                    return
                }
                if batch.isEmpty { break }
            }
        }
    }

    private func commit(_ batch: [Operation]) {
        let now = Self.monotonicMilliseconds()
        // Appends whose time ran out while queued (behind a batch that waited for a lock) are answered at once.
        var live: [Operation] = []
        var expired: [Operation] = []
        for operation in batch {
            if operation.isAppend, now - operation.enqueuedAt >= answerTimeoutMilliseconds {
                expired.append(operation)
            } else {
                live.append(operation)
            }
        }
        if !expired.isEmpty {
            let message = "the database stayed locked for \(answerTimeoutMilliseconds) ms while the event waited to be written"
            recordOutcome(failure: message, appends: true, count: expired.count)
            expired.forEach { $0.fail(.commitFailed(message)) }
        }
        guard !live.isEmpty else { return }
        let hasAppends = live.contains { $0.isAppend }
        if !hasAppends {
            // Probes only: while intake is busy, they report its latest outcome rather than a write of their own.
            let (busy, failure) = health.withLock { ($0.lastAppendBatch + intakeIdleMilliseconds > now, $0.failure) }
            if busy {
                for operation in live {
                    guard case .probe(_, let completion) = operation else { continue }
                    completion(failure.map { .failure(.commitFailed($0)) } ?? .success(()))
                }
                return
            }
        }
        // The batch waits for locks no longer than its oldest operation has left.
        let oldest = live.map(\.enqueuedAt).min() ?? now
        let remaining = max(1, answerTimeoutMilliseconds - (now - oldest))
        var outcomes: [AppendOutcome?] = []
        outcomes.reserveCapacity(live.count)
        let failure: (any Error)?
        do {
            // In-process writers (the workers) queue behind this commit instead of meeting SQLite's busy sleeps.
            failure = try WriteLock.withLock(urgent: true, waitingAtMost: remaining) { () -> (any Error)? in
                do {
                    let left = max(1, answerTimeoutMilliseconds - (Self.monotonicMilliseconds() - oldest))
                    try connection.setBusyTimeout(milliseconds: Int32(clamping: left))
                    try connection.begin()
                    for operation in live {
                        switch operation {
                        case .append(let event, _, _):
                            outcomes.append(try connection.insert(event))
                        case .probe:
                            try connection.touchProbe()
                            outcomes.append(nil)
                        }
                    }
                    try connection.commit()
                    return nil
                } catch {
                    connection.rollback()
                    return error
                }
            }
        } catch {
            failure = error
        }
        if let error = failure {
            let message = "\(error)"
            recordOutcome(failure: message, appends: hasAppends, count: live.count)
            live.forEach { $0.fail(.commitFailed(message)) }
            return
        }
        recordOutcome(failure: nil, appends: hasAppends, count: live.count)
        committedBatches.add(1, ordering: .relaxed)
        if live.count >= 4 { lastFullCommit.store(Self.monotonicMilliseconds(), ordering: .relaxed) }
        checkpointer.committed()
        if outcomes.contains(where: { if case .stored? = $0 { true } else { false } }) {
            onCommit()
            for observer in commitObservers.withLock({ $0 }) { observer() }
        }
        for (operation, outcome) in zip(live, outcomes) {
            switch operation {
            case .append(_, _, let completion): completion(.success(outcome!))
            case .probe(_, let completion): completion(.success(()))
            }
        }
    }

    /// Turns a batch's outcome into health: the log lines, the callbacks and `isHealthy` change on a batch with
    /// appends, or on a probe of its own (written only while intake is idle).
    private func recordOutcome(failure: String?, appends: Bool, count: Int) {
        health.withLock { health in
            health.failure = failure
            if appends { health.lastAppendBatch = Self.monotonicMilliseconds() }
        }
        if let failure {
            if healthy.exchange(false, ordering: .relaxed) {
                logger.error("store commit failed; answering 503 until a commit succeeds",
                             metadata: ["error": "\(failure)", "batch": "\(count)", "database": "\(path)"])
            }
            onCommitFailure(failure)
        } else if !healthy.exchange(true, ordering: .relaxed) {
            logger.notice("store commits succeed again", metadata: ["database": "\(path)"])
            onRecovery()
        }
    }
}

/// The writer thread's connection and its prepared statements.
private final class WriterConnection: @unchecked Sendable {  // Safe: used only by the writer thread after init.
    private let database: SQLiteDatabase
    private let begin_: SQLiteStatement
    private let commit_: SQLiteStatement
    private let insertEvent: SQLiteStatement
    private let insertJob: SQLiteStatement
    private let probe: SQLiteStatement

    init(database: SQLiteDatabase) throws {
        self.database = database
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

    func close() { database.close() }
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
        let thread = Thread { [self] in run() }
        thread.name = "hookyard.checkpoint"
        thread.start()
    }

    /// Called by the writer after each commit.
    func committed() { CheckpointRequests.post() }

    private func run() {
        var seen = CheckpointRequests.current
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
