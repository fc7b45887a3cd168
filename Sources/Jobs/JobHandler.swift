import Store

/// Runs the jobs of one or more kinds. Called on a worker thread; may block (it makes provider calls). Must be
/// idempotent across attempts: it gets the same `Job.idempotencyKey` every time.
///
/// Implementations are thread-safe: every worker calls the same handler, each with its own `WorkerContext`.
public protocol JobHandler: Sendable {
    /// Runs one attempt of `job`. `context` is the calling worker's own: what it opens there stays on that thread.
    func run(_ job: Job, context: WorkerContext) -> JobOutcome

    /// Called once per worker when the pool starts, on the starting thread, before the worker runs any job: opens
    /// what the handler will use on that worker (`context.resource(_:)`), so a database that cannot be opened fails
    /// `WorkerPool.start()` rather than every job. The default does nothing.
    /// - Throws: the error that opening raised.
    func prepare(_ context: WorkerContext) throws
}

extension JobHandler {
    public func prepare(_ context: WorkerContext) throws {}
}

/// Told about every job that goes dead (after its last attempt, or a failure that is not retryable), outside any
/// transaction. Thread-safe: every worker calls it.
public protocol DeadJobObserver: Sendable {
    /// - Parameter queue: the calling worker's queue connection (to count dead jobs and the like).
    func jobDied(_ job: Job, error: String, status: Int?, queue: any JobQueueStorage)
}
