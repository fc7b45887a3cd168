import Dispatch
import Foundation
import HookyardFoundation
import Logging
import Synchronization

/// One entry of a group-commit batch, as an engine's `GroupCommitBatchWriter` writes it.
enum GroupCommitEntry {
    /// Store the event and queue its processing job (or report it a duplicate).
    case append(IncomingEvent)
    /// Write the one-row probe (`store_probe`), proving the store takes writes.
    case probe
}

/// What an engine does with one batch; the engine-specific half of an event writer (`SQLiteEventWriter`,
/// `PostgreSQLEventWriter`). Used only by the group-commit thread of its `GroupCommitQueue` once built, hence
/// `@unchecked Sendable` implementations.
protocol GroupCommitBatchWriter: AnyObject, Sendable {
    /// Writes `entries` in one transaction and commits it, waiting for locks at most until the monotonic millisecond
    /// `deadline`. - Returns: one outcome per entry, in order (`nil` for a probe).
    /// - Throws: when the transaction was not committed (it is rolled back; nothing of the batch is stored).
    func write(_ entries: [GroupCommitEntry], deadline: Int64) throws -> [AppendOutcome?]
    /// Called after each successful commit.
    func committed()
    /// Called on the group-commit thread after the last batch: release the connection.
    func close()
}

/// The engine-neutral half of an event writer (`EventSink`): appends from any thread are queued and written in
/// batches (group commit) by one dedicated thread, each batch one transaction of the engine's `GroupCommitBatchWriter`;
/// each append's completion runs only after its batch's commit returned.
///
/// Answer-time bound: every append completes within `answerTimeoutMilliseconds` of its `append` call plus one
/// commit: its batch's deadline is its oldest append's, and an append whose time ran out while queued fails without
/// being tried.
///
/// Health follows intake: `isHealthy`, the `onCommitFailure`/`onRecovery` callbacks and `probe` report the outcome of
/// the latest batch of appends. Only while intake is idle (no append for `intakeIdleMilliseconds`) does a probe write
/// a row of its own, so a tiny probe write that squeezes through a full disk never reports the store healthy while
/// deliveries fail. A failed batch fails every append in it with `StoreError.commitFailed`.
///
/// Thread-safe. `close()` finishes the queued appends, stops the thread and closes the batch writer.
final class GroupCommitQueue: Sendable {
    private enum Operation {
        case append(IncomingEvent, enqueuedAt: Int64, @Sendable (Result<AppendOutcome, StoreError>) -> Void)
        case probe(enqueuedAt: Int64, @Sendable (Result<Void, StoreError>) -> Void)

        var enqueuedAt: Int64 {
            switch self {
            case .append(_, let enqueuedAt, _), .probe(let enqueuedAt, _): enqueuedAt
            }
        }

        var isAppend: Bool { if case .append = self { true } else { false } }

        var entry: GroupCommitEntry {
            switch self {
            case .append(let event, _, _): .append(event)
            case .probe: .probe
            }
        }

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

    /// The database as logs name it (a path, or a PostgreSQL target without password).
    let databaseName: String
    private let logger: Logger
    private let maxBatch: Int
    private let queue = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let healthy = Atomic<Bool>(true)
    private let health = Mutex(Health())
    let answerTimeoutMilliseconds: Int64
    private let intakeIdleMilliseconds: Int64
    private let committedBatches = Atomic<Int>(0)
    /// Monotonic milliseconds of the last commit that carried several events at once.
    private let lastFullCommit = Atomic<Int64>(Int64.min / 2)
    private let batchWriter: any GroupCommitBatchWriter
    private let onCommit: @Sendable () -> Void
    private let onCommitFailure: @Sendable (String) -> Void
    private let onRecovery: @Sendable () -> Void
    private let commitObservers = Mutex<[@Sendable () -> Void]>([])

    /// Starts the group-commit thread (named `threadName`) writing through `batchWriter`. The parameters are those of
    /// the writers' initialisers (`SQLiteEventWriter.init`).
    init(databaseName: String, batchWriter: any GroupCommitBatchWriter, threadName: String, logger: Logger, maxBatch: Int,
         answerTimeoutMilliseconds: Int64, intakeIdleMilliseconds: Int64, onCommit: @escaping @Sendable () -> Void,
         onCommitFailure: @escaping @Sendable (String) -> Void, onRecovery: @escaping @Sendable () -> Void) {
        self.databaseName = databaseName
        self.batchWriter = batchWriter
        self.logger = logger
        self.maxBatch = max(1, maxBatch)
        self.answerTimeoutMilliseconds = max(1, answerTimeoutMilliseconds)
        self.intakeIdleMilliseconds = intakeIdleMilliseconds
        self.onCommit = onCommit
        self.onCommitFailure = onCommitFailure
        self.onRecovery = onRecovery
        let thread = Thread { [self] in run() }
        thread.name = threadName
        thread.start()
    }

    func whenCommitted(_ observer: @escaping @Sendable () -> Void) {
        commitObservers.withLock { $0.append(observer) }
    }

    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    var commitCount: Int { committedBatches.load(ordering: .relaxed) }

    var isUnderLoad: Bool { MonotonicClock.milliseconds() - lastFullCommit.load(ordering: .relaxed) < 100 }

    func append(_ event: IncomingEvent, completion: @escaping @Sendable (Result<AppendOutcome, StoreError>) -> Void) {
        enqueue(.append(event, enqueuedAt: MonotonicClock.milliseconds(), completion)) { completion(.failure(.closed)) }
    }

    func probe(completion: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        enqueue(.probe(enqueuedAt: MonotonicClock.milliseconds(), completion)) { completion(.failure(.closed)) }
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

    func close() {
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
                    batchWriter.close()
                    finished.signal()
                    return
                }
                if batch.isEmpty { break }
            }
        }
    }

    private func commit(_ batch: [Operation]) {
        let now = MonotonicClock.milliseconds()
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
        let outcomes: [AppendOutcome?]
        do {
            outcomes = try batchWriter.write(live.map(\.entry), deadline: oldest + answerTimeoutMilliseconds)
        } catch {
            let message = "\(error)"
            recordOutcome(failure: message, appends: hasAppends, count: live.count)
            live.forEach { $0.fail(.commitFailed(message)) }
            return
        }
        recordOutcome(failure: nil, appends: hasAppends, count: live.count)
        committedBatches.add(1, ordering: .relaxed)
        if live.count >= 4 { lastFullCommit.store(MonotonicClock.milliseconds(), ordering: .relaxed) }
        batchWriter.committed()
        if outcomes.contains(where: { if case .stored? = $0 { true } else { false } }) {
            onCommit()
            for observer in commitObservers.withLock({ $0 }) { observer() }
        }
        for (operation, outcome) in zip(live, outcomes) {
            switch operation {
            case .append(_, _, let completion):
                if let outcome {
                    completion(.success(outcome))
                } else {
                    completion(.failure(.commitFailed("the store wrote no outcome for this event")))
                }
            case .probe(_, let completion): completion(.success(()))
            }
        }
    }

    /// Turns a batch's outcome into health: the log lines, the callbacks and `isHealthy` change on a batch with
    /// appends, or on a probe of its own (written only while intake is idle).
    private func recordOutcome(failure: String?, appends: Bool, count: Int) {
        health.withLock { health in
            health.failure = failure
            if appends { health.lastAppendBatch = MonotonicClock.milliseconds() }
        }
        if let failure {
            if healthy.exchange(false, ordering: .relaxed) {
                logger.error("store commit failed; answering 503 until a commit succeeds",
                             metadata: ["error": "\(failure)", "batch": "\(count)", "database": "\(databaseName)"])
            }
            onCommitFailure(failure)
        } else if !healthy.exchange(true, ordering: .relaxed) {
            logger.notice("store commits succeed again", metadata: ["database": "\(databaseName)"])
            onRecovery()
        }
    }
}
