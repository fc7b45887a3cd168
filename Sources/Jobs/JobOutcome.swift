import Store

/// What a job's run came to. A value; thread-safe.
public enum JobOutcome: Sendable, Equatable {
    /// Done: store `output` and queue `followUps` (the next workflow steps) in the same transaction.
    case succeeded(output: String?, followUps: [NewJob])
    /// A step its guard held back (`if:`, `unless:`, `when:`, do-not-contact): recorded as `skipped` with the output
    /// `{"skipped": reason}`, with `followUps` queued in the same transaction (a `when:` skip goes on with the next step).
    case skipped(reason: String, followUps: [NewJob])
    /// Failed. A `retryable` failure runs again after the retry policy's delay, never sooner than
    /// `failure.retryAfterMilliseconds`; others go dead at once.
    case failed(JobFailure)
}
