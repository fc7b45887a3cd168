/// Where the intake hands verified webhooks, whatever engine stores them (`SQLiteEventWriter`, `PostgreSQLEventWriter`;
/// `EventSinkOpening` opens either).
///
/// Contract every implementation keeps: `append`'s completion reports `.stored` or `.duplicate` only once the event
/// (and its processing job) is durable, so the sender may be acknowledged; an event with the same source and dedup
/// key as a stored one is reported `.duplicate` and not written again; completions run on a thread of the sink's
/// own and must not block. Thread-safe: any thread may append.
public protocol EventSink: Sendable {
    /// Queues `event` to be stored; `completion` runs once it is durable, or with the reason it is not.
    func append(_ event: IncomingEvent, completion: @escaping @Sendable (Result<AppendOutcome, StoreError>) -> Void)
    /// Whether the sink takes events now (the outcome of recent appends, or a write of its own while idle).
    func probe(completion: @escaping @Sendable (Result<Void, StoreError>) -> Void)
    /// Whether the most recent appends were stored (health, for the readiness check and alerts).
    var isHealthy: Bool { get }
    /// Stores what is queued, then accepts nothing more (later appends fail with `StoreError.closed`). Idempotent.
    func close()
}

/// An `EventSink` that group-commits on a writer thread of its own (`SQLiteEventWriter`, `PostgreSQLEventWriter`):
/// what the daemon needs of it besides appending. Thread-safe, as every `EventSink`.
public protocol GroupCommitEventSink: EventSink {
    /// Calls `observer` on the writer thread after each later commit that stored events. Keep it short.
    func whenCommitted(_ observer: @escaping @Sendable () -> Void)
    /// Number of batches committed since start (progress signal for a watchdog).
    var commitCount: Int { get }
    /// Whether webhooks are arriving faster than one per commit: background writers should hold back.
    var isUnderLoad: Bool { get }
}
