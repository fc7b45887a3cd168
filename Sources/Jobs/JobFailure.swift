/// Why a job's attempt failed, as the worker pool records it: the message stored as the job's last error, whether
/// it is worth another attempt, how long the other side asked to wait, and what kind of thing failed (so a storage
/// error is never reported as a provider's).
///
/// A value; thread-safe.
public struct JobFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of thing failed.
    public enum Cause: String, Sendable, Equatable {
        /// A call to a provider or another remote service (Stripe, Instantly, an HTTP target, the alert webhook).
        case provider
        /// Reading or writing Hookyard's own database.
        case storage
        /// The job itself cannot run: its input is malformed, its rule or step is no longer configured, no handler
        /// is registered for its kind. Never retryable by itself.
        case invalidJob = "invalid_job"
    }

    /// The job's last error, as `hookyard jobs show` prints it.
    public var message: String
    /// The HTTP status the remote side answered, if it answered.
    public var status: Int?
    /// Whether another attempt may succeed (connection errors, timeouts, 5xx, 429, a busy database).
    public var retryable: Bool
    /// The earliest the next attempt may run, if the remote side asked (`Retry-After`).
    public var retryAfterMilliseconds: Int64?
    public var cause: Cause

    public init(message: String, status: Int? = nil, retryable: Bool, retryAfterMilliseconds: Int64? = nil, cause: Cause) {
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retryAfterMilliseconds = retryAfterMilliseconds
        self.cause = cause
    }

    /// A storage error while doing `what`: retryable (a busy or briefly unavailable database heals by itself).
    public static func storage(_ what: String, _ error: any Error) -> JobFailure {
        JobFailure(message: "\(what) failed: \(error)", retryable: true, cause: .storage)
    }

    /// A job that cannot run as it is: not retryable.
    public static func invalidJob(_ message: String) -> JobFailure {
        JobFailure(message: message, retryable: false, cause: .invalidJob)
    }

    public var description: String { message }
}
