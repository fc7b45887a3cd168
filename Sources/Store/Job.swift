import Foundation

/// A job as stored.
public struct Job: Sendable, Equatable {
    public var id: Int64
    public var eventID: Int64
    public var kind: String
    public var state: JobState
    /// Attempts started so far (including one in progress).
    public var attempts: Int
    /// Unix milliseconds when the job is next due.
    public var nextRunAt: Int64
    public var leaseOwner: String?
    public var leaseExpiresAt: Int64?
    public var lastError: String?
    /// Stable across retries: the key provider calls are made idempotent with.
    public var idempotencyKey: String
    public var input: String?
    public var output: String?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, eventID: Int64, kind: String, state: JobState, attempts: Int, nextRunAt: Int64,
                leaseOwner: String? = nil, leaseExpiresAt: Int64? = nil, lastError: String? = nil, idempotencyKey: String,
                input: String? = nil, output: String? = nil, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.eventID = eventID
        self.kind = kind
        self.state = state
        self.attempts = attempts
        self.nextRunAt = nextRunAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.lastError = lastError
        self.idempotencyKey = idempotencyKey
        self.input = input
        self.output = output
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The life of a job: `queued` → `running` → `succeeded` (or `skipped`: a workflow step whose `if:`, `unless:`, `when:`
/// or do-not-contact guard held it back; its output is `{"skipped": "<why>"}`), or → `retrying` → `running` … → `dead`;
/// a dead job can be retried (→ `queued`) or `discarded`. `succeeded`, `skipped` and `discarded` are final.
public enum JobState: String, Sendable, CaseIterable, Codable {
    case queued, running, succeeded, skipped, retrying, dead, discarded
}

/// One attempt at a job, as `hookyard jobs show` lists it.
public struct JobAttempt: Sendable, Equatable {
    public var attempt: Int
    public var worker: String
    public var startedAt: Int64
    public var finishedAt: Int64?
    /// `succeeded`, `skipped`, `retrying`, `dead`, `interrupted` (released on shutdown), `lease_expired` (its worker died),
    /// or `nil` while running.
    public var outcome: String?
    /// The provider's HTTP status, when the attempt got one.
    public var status: Int?
    public var error: String?

    public init(attempt: Int, worker: String, startedAt: Int64, finishedAt: Int64? = nil, outcome: String? = nil,
                status: Int? = nil, error: String? = nil) {
        self.attempt = attempt
        self.worker = worker
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.status = status
        self.error = error
    }
}

/// A job to create together with a finished one (the next step of a workflow).
public struct NewJob: Sendable, Equatable {
    public var kind: String
    public var idempotencyKey: String
    public var input: String?
    public var runAt: Int64
    /// The event the job belongs to; `nil`: the event of the job that creates it.
    public var eventID: Int64?

    public init(kind: String, idempotencyKey: String, input: String?, runAt: Int64, eventID: Int64? = nil) {
        self.kind = kind
        self.idempotencyKey = idempotencyKey
        self.input = input
        self.runAt = runAt
        self.eventID = eventID
    }
}

/// Why `retry` or `discard` refused a job.
public enum JobChangeError: Error, CustomStringConvertible, Equatable, Sendable {
    case notFound(Int64)
    case wrongState(Int64, JobState, expected: String)

    public var description: String {
        switch self {
        case .notFound(let id): "no job \(id)"
        case .wrongState(let id, let state, let expected): "job \(id) is \(state.rawValue); only \(expected) jobs can be changed this way"
        }
    }
}

extension Job {
    /// The output a skipped job stores: `{"skipped": reason}`.
    public static func skippedOutput(_ reason: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["skipped": reason], options: [.withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Why a `skipped` job was skipped (its output's `skipped`), or `nil` for any other job.
    public static func skipReason(of job: Job) -> String? {
        guard job.state == .skipped, let output = job.output,
              let object = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else { return nil }
        return object["skipped"] as? String
    }

    /// What an alert about a dead job names: `rule/step` for a workflow step (its input names both), otherwise the
    /// job's kind (`process_event`, `deliverability.pause_campaign`). One failing step alerts once, however many of
    /// its jobs die. `JobQueueStorage.deadJobs(subject:)` computes the same in the store.
    public static func alertSubject(of job: Job) -> String {
        guard let input = job.input, let object = try? JSONSerialization.jsonObject(with: Data(input.utf8)) as? [String: Any],
              let rule = object["rule"] as? String, let step = object["step"] as? String else { return job.kind }
        return "\(rule)/\(step)"
    }
}
