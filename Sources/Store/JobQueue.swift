import Foundation
import SQLite

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

/// The durable job queue: claiming with leases, recording outcomes, and the dead-letter operations.
///
/// Each call is one transaction, so a crash leaves every job in a state a restart can act on: a job whose
/// worker died keeps `running` with an expired lease, and `claimNext` takes it again (recording the lost
/// attempt as `lease_expired`). Outcomes are accepted only from the current lease owner, so a worker whose
/// lease was taken over cannot overwrite the new attempt.
///
/// Not thread-safe: one `JobQueue` (one SQLite connection) per worker thread or CLI command.
public final class JobQueue {
    private let database: SQLiteDatabase

    /// Opens an existing database (created by `EventWriter`) and migrates it if needed.
    /// - Parameter durableCommits: `true` (the default, for the CLI): each change is fsynced before the call
    ///   returns. Workers pass `false` (`synchronous=NORMAL`): a commit survives a crash of the process, and after a
    ///   power loss the last few job transitions may be rolled back, which only makes those jobs run again
    ///   (every step is idempotent). The events themselves are always committed durably by `EventWriter`, whose
    ///   fsync also covers every earlier worker commit.
    public init(path: String, durableCommits: Bool = true) throws {
        database = try StoreConnection.openExisting(path: path, durableCommits: durableCommits)
    }

    public func close() { database.close() }

    private static let columns = """
        id, event_id, kind, state, attempts, next_run_at, lease_owner, lease_expires_at, last_error, idempotency_key,
        input, output, created_at, updated_at
        """

    private func job(from statement: SQLiteStatement) -> Job {
        Job(id: statement.int(0), eventID: statement.int(1), kind: statement.string(2) ?? "",
            state: JobState(rawValue: statement.string(3) ?? "") ?? .queued, attempts: Int(statement.int(4)),
            nextRunAt: statement.int(5), leaseOwner: statement.string(6),
            leaseExpiresAt: statement.isNull(7) ? nil : statement.int(7), lastError: statement.string(8),
            idempotencyKey: statement.string(9) ?? "", input: statement.string(10), output: statement.string(11),
            createdAt: statement.int(12), updatedAt: statement.int(13))
    }

    /// Claims the most overdue job that is due (queued or retrying with `next_run_at <= now`) or whose lease
    /// expired, leasing it to `owner` until `now + leaseMilliseconds`, and starts a new attempt.
    /// - Complexity: O(log n) in the number of jobs (three index lookups).
    /// - Returns: the claimed job (state `running`, `attempts` counting this one), or `nil` if none is due.
    public func claimNext(owner: String, leaseMilliseconds: Int64, now: Int64) throws -> Job? {
        try database.transaction {
            // One indexed LIMIT 1 per state, so a claim costs the same with a million jobs waiting as with one.
            let pick = try database.prepare("""
                SELECT id, state FROM (
                    SELECT * FROM (SELECT id, state, next_run_at AS due FROM jobs
                                   WHERE state = 'queued' AND next_run_at <= ?1 ORDER BY next_run_at, id LIMIT 1)
                    UNION ALL
                    SELECT * FROM (SELECT id, state, next_run_at AS due FROM jobs
                                   WHERE state = 'retrying' AND next_run_at <= ?1 ORDER BY next_run_at, id LIMIT 1)
                    UNION ALL
                    SELECT * FROM (SELECT id, state, next_run_at AS due FROM jobs
                                   WHERE state = 'running' AND lease_expires_at <= ?1 ORDER BY lease_expires_at, id LIMIT 1)
                ) ORDER BY due, id LIMIT 1
                """)
            try pick.bind(1, now)
            guard try pick.step() else { return nil }
            let id = pick.int(0)
            if pick.string(1) == "running" {
                let lost = try database.prepare("""
                    UPDATE job_attempts SET finished_at = ?2, outcome = 'lease_expired',
                        error = 'worker stopped without finishing (lease expired)'
                    WHERE job_id = ?1 AND outcome IS NULL
                    """)
                try lost.bind(1, id)
                try lost.bind(2, now)
                try lost.run()
            }
            let claim = try database.prepare("""
                UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?2, lease_expires_at = ?3,
                    updated_at = ?4 WHERE id = ?1 RETURNING \(Self.columns)
                """)
            try claim.bind(1, id)
            try claim.bind(2, owner)
            try claim.bind(3, now + leaseMilliseconds)
            try claim.bind(4, now)
            guard try claim.step() else { return nil }
            let job = job(from: claim)
            claim.reset()
            // Numbered across the job's whole history: after `jobs retry` resets the budget (`jobs.attempts`),
            // the next attempt follows the last one logged instead of being numbered 1 again.
            let attempt = try database.prepare("""
                INSERT INTO job_attempts (job_id, attempt, worker, started_at)
                VALUES (?1, (SELECT coalesce(max(attempt), 0) + 1 FROM job_attempts WHERE job_id = ?1), ?2, ?3)
                """)
            try attempt.bind(1, job.id)
            try attempt.bind(2, owner)
            try attempt.bind(3, now)
            try attempt.run()
            return job
        }
    }

    /// Extends the lease of a job `owner` still holds. - Returns: `false` if the lease was lost.
    public func renewLease(jobID: Int64, owner: String, leaseMilliseconds: Int64, now: Int64) throws -> Bool {
        let statement = try database.prepare("""
            UPDATE jobs SET lease_expires_at = ?3 WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'
            """)
        try statement.bind(1, jobID)
        try statement.bind(2, owner)
        try statement.bind(3, now + leaseMilliseconds)
        return try WriteLock.withLock {
            try statement.run()
            return database.changes == 1
        }
    }

    /// Marks the job succeeded with its output and, in the same transaction, creates `followUps` (so a crash
    /// between two workflow steps can neither lose nor duplicate the next one: its idempotency key is unique).
    /// - Returns: `false` if `owner` no longer held the lease (nothing was written).
    public func succeed(jobID: Int64, owner: String, output: String?, followUps: [NewJob] = [], now: Int64) throws -> Bool {
        try finish(jobID: jobID, owner: owner, state: .succeeded, output: output, followUps: followUps, now: now)
    }

    /// Marks the job `skipped` (a step a guard held back), its output `{"skipped": reason}`, its attempt's outcome
    /// `skipped`, and creates `followUps` in the same transaction, as `succeed` does (a `when:` skip goes on with the
    /// next step). - Returns: `false` if `owner` no longer held the lease (nothing was written).
    public func skip(jobID: Int64, owner: String, reason: String, followUps: [NewJob] = [], now: Int64) throws -> Bool {
        try finish(jobID: jobID, owner: owner, state: .skipped, output: Self.skippedOutput(reason), followUps: followUps, now: now)
    }

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

    private func finish(jobID: Int64, owner: String, state: JobState, output: String?, followUps: [NewJob], now: Int64) throws -> Bool {
        try database.transaction {
            let update = try database.prepare("""
                UPDATE jobs SET state = ?5, output = ?3, lease_owner = NULL, lease_expires_at = NULL,
                    last_error = NULL, updated_at = ?4
                WHERE id = ?1 AND lease_owner = ?2 AND state = 'running' RETURNING event_id
                """)
            try update.bind(1, jobID)
            try update.bind(2, owner)
            try update.bind(3, output)
            try update.bind(4, now)
            try update.bind(5, state.rawValue)
            guard try update.step() else { return false }
            let eventID = update.int(0)
            update.reset()
            try finishAttempt(jobID: jobID, outcome: state.rawValue, status: nil, error: nil, now: now)
            _ = try Self.insert(followUps, defaultEventID: eventID, now: now, into: database)
            return true
        }
    }

    /// Inserts `jobs` inside the caller's transaction, skipping those whose idempotency key exists already; a job
    /// without an event gets `defaultEventID`. - Returns: the row ids of the jobs created.
    /// - Throws: `StoreError.invalidJob` for a job with neither.
    static func insert(_ jobs: [NewJob], defaultEventID: Int64?, now: Int64, into database: SQLiteDatabase) throws -> [Int64] {
        guard !jobs.isEmpty else { return [] }
        let insert = try database.prepare("""
            INSERT INTO jobs (event_id, kind, next_run_at, idempotency_key, input, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (idempotency_key) DO NOTHING
            """)
        var created: [Int64] = []
        for job in jobs {
            guard let eventID = job.eventID ?? defaultEventID else {
                throw StoreError.invalidJob("job \(job.idempotencyKey) names no event")
            }
            try insert.bind(1, eventID)
            try insert.bind(2, job.kind)
            try insert.bind(3, job.runAt)
            try insert.bind(4, job.idempotencyKey)
            try insert.bind(5, job.input)
            try insert.bind(6, now)
            try insert.run()
            if database.changes == 1 { created.append(database.lastInsertRowID) }
        }
        return created
    }

    /// Creates jobs not caused by a finishing one (segment changes the clock caused), in one transaction; a job
    /// whose idempotency key exists already is skipped. Each job needs its `eventID`.
    /// - Returns: how many were created.
    @discardableResult
    public func enqueue(_ jobs: [NewJob], now: Int64) throws -> Int {
        try database.transaction { try Self.insert(jobs, defaultEventID: nil, now: now, into: database).count }
    }

    /// Records a failed attempt: `retryAt` schedules another attempt, `nil` sends the job to the dead-letter queue.
    /// - Returns: `false` if `owner` no longer held the lease.
    public func fail(jobID: Int64, owner: String, error: String, status: Int?, retryAt: Int64?, now: Int64) throws -> Bool {
        try database.transaction {
            let update = try database.prepare("""
                UPDATE jobs SET state = ?3, next_run_at = coalesce(?4, next_run_at), last_error = ?5,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ?6
                WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'
                """)
            try update.bind(1, jobID)
            try update.bind(2, owner)
            try update.bind(3, retryAt == nil ? "dead" : "retrying")
            if let retryAt { try update.bind(4, retryAt) } else { try update.bind(4, nil as String?) }
            try update.bind(5, error)
            try update.bind(6, now)
            try update.run()
            guard database.changes == 1 else { return false }
            try finishAttempt(jobID: jobID, outcome: retryAt == nil ? "dead" : "retrying", status: status, error: error, now: now)
            return true
        }
    }

    /// Gives back every job `owner` holds (graceful shutdown): they become due again at once, and the attempt
    /// in progress is recorded as `interrupted` and not counted. - Returns: how many were released.
    @discardableResult
    public func releaseLeases(owner: String, now: Int64) throws -> Int {
        try database.transaction {
            let attempts = try database.prepare("""
                UPDATE job_attempts SET finished_at = ?2, outcome = 'interrupted', error = 'released on shutdown'
                WHERE outcome IS NULL AND job_id IN (SELECT id FROM jobs WHERE lease_owner = ?1 AND state = 'running')
                """)
            try attempts.bind(1, owner)
            try attempts.bind(2, now)
            try attempts.run()
            let jobs = try database.prepare("""
                UPDATE jobs SET state = 'retrying', attempts = max(attempts - 1, 0), next_run_at = ?2,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2
                WHERE lease_owner = ?1 AND state = 'running'
                """)
            try jobs.bind(1, owner)
            try jobs.bind(2, now)
            try jobs.run()
            return database.changes
        }
    }

    private func finishAttempt(jobID: Int64, outcome: String, status: Int?, error: String?, now: Int64) throws {
        let statement = try database.prepare("""
            UPDATE job_attempts SET finished_at = ?2, outcome = ?3, status = ?4, error = ?5
            WHERE job_id = ?1 AND outcome IS NULL
            """)
        try statement.bind(1, jobID)
        try statement.bind(2, now)
        try statement.bind(3, outcome)
        if let status { try statement.bind(4, Int64(status)) } else { try statement.bind(4, nil as String?) }
        try statement.bind(5, error)
        try statement.run()
    }

    // MARK: Inspection and the dead-letter queue

    /// Jobs, newest first, optionally in one state.
    public func list(state: JobState?, limit: Int) throws -> [Job] {
        let statement = try database.prepare("""
            SELECT \(Self.columns) FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2
            """)
        try statement.bind(1, state?.rawValue)
        try statement.bind(2, Int64(limit))
        var jobs: [Job] = []
        while try statement.step() { jobs.append(job(from: statement)) }
        return jobs
    }

    /// One job and all its attempts, oldest first.
    public func job(_ id: Int64) throws -> (job: Job, attempts: [JobAttempt])? {
        let statement = try database.prepare("SELECT \(Self.columns) FROM jobs WHERE id = ?")
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        let job = job(from: statement)
        let rows = try database.prepare("""
            SELECT attempt, worker, started_at, finished_at, outcome, status, error FROM job_attempts
            WHERE job_id = ? ORDER BY id
            """)
        try rows.bind(1, id)
        var attempts: [JobAttempt] = []
        while try rows.step() {
            attempts.append(JobAttempt(attempt: Int(rows.int(0)), worker: rows.string(1) ?? "", startedAt: rows.int(2),
                                       finishedAt: rows.isNull(3) ? nil : rows.int(3), outcome: rows.string(4),
                                       status: rows.isNull(5) ? nil : Int(rows.int(5)), error: rows.string(6)))
        }
        return (job, attempts)
    }

    /// The jobs an event caused, oldest first.
    public func jobs(forEvent eventID: Int64) throws -> [Job] {
        let statement = try database.prepare("SELECT \(Self.columns) FROM jobs WHERE event_id = ? ORDER BY id")
        try statement.bind(1, eventID)
        var jobs: [Job] = []
        while try statement.step() { jobs.append(job(from: statement)) }
        return jobs
    }

    /// Why `retry` or `discard` refused a job.
    public enum ChangeError: Error, CustomStringConvertible, Equatable {
        case notFound(Int64)
        case wrongState(Int64, JobState, expected: String)

        public var description: String {
            switch self {
            case .notFound(let id): "no job \(id)"
            case .wrongState(let id, let state, let expected): "job \(id) is \(state.rawValue); only \(expected) jobs can be changed this way"
            }
        }
    }

    /// Queues a dead (or discarded) job again, due now, with a fresh attempt budget. Its idempotency key is kept,
    /// so a provider call that already succeeded is replayed by the provider, not repeated. Recorded as a manual
    /// intervention (`admin_actions`, action `retry`) in the same transaction.
    public func retry(_ id: Int64, now: Int64) throws {
        try change(id, from: ["dead", "discarded"], expected: "dead or discarded", action: "retry") { statement in
            try statement.bind(2, "queued")
            try statement.bind(3, now)
        }
    }

    /// Queues every dead job again, and records how many as one manual intervention (`retry_all`) in the same
    /// transaction (none when there were none). - Returns: how many.
    @discardableResult
    public func retryAllDead(now: Int64) throws -> Int {
        try database.transaction {
            let statement = try database.prepare("""
                UPDATE jobs SET state = 'queued', attempts = 0, next_run_at = ?1, updated_at = ?1 WHERE state = 'dead'
                """)
            try statement.bind(1, now)
            try statement.run()
            let count = database.changes
            if count > 0 { try recordAdminAction("retry_all", jobID: nil, count: count, now: now) }
            return count
        }
    }

    /// Takes a dead job out of the dead-letter queue without running it; it stays visible as `discarded`. Recorded
    /// as a manual intervention (`discard`) in the same transaction.
    public func discard(_ id: Int64, now: Int64) throws {
        try change(id, from: ["dead"], expected: "dead", action: "discard") { statement in
            try statement.bind(2, "discarded")
            try statement.bind(3, now)
        }
    }

    // MARK: Dead-job alerts

    /// What an alert about a dead job names: `rule/step` for a workflow step (its input names both), otherwise the
    /// job's kind (`process_event`, `deliverability.pause_campaign`). One failing step alerts once, however many of
    /// its jobs die. `deadJobs(subject:)` computes the same in SQL.
    public static func alertSubject(of job: Job) -> String {
        guard let input = job.input, let object = try? JSONSerialization.jsonObject(with: Data(input.utf8)) as? [String: Any],
              let rule = object["rule"] as? String, let step = object["step"] as? String else { return job.kind }
        return "\(rule)/\(step)"
    }

    /// `alertSubject(of:)` as an SQL expression over a `jobs` row.
    private static let alertSubjectSQL = """
        CASE WHEN json_valid(input) AND json_type(input, '$.rule') = 'text' AND json_type(input, '$.step') = 'text'
             THEN json_extract(input, '$.rule') || '/' || json_extract(input, '$.step') ELSE kind END
        """

    /// The dead jobs whose `alertSubject(of:)` is `subject`: how many, and the newest one's id.
    /// - Complexity: a scan of the dead jobs (by index on state).
    public func deadJobs(subject: String) throws -> (count: Int, newestID: Int64?) {
        let statement = try database.prepare("""
            SELECT count(*), max(id) FROM jobs WHERE state = 'dead' AND (\(Self.alertSubjectSQL)) = ?1
            """)
        try statement.bind(1, subject)
        _ = try statement.step()
        return (Int(statement.int(0)), statement.isNull(1) ? nil : statement.int(1))
    }

    private func recordAdminAction(_ action: String, jobID: Int64?, count: Int, now: Int64) throws {
        let insert = try database.prepare("INSERT INTO admin_actions (action, job_id, count, at) VALUES (?, ?, ?, ?)")
        try insert.bind(1, action)
        if let jobID { try insert.bind(2, jobID) } else { try insert.bind(2, nil as String?) }
        try insert.bind(3, Int64(count))
        try insert.bind(4, now)
        try insert.run()
    }

    private func change(_ id: Int64, from states: Set<String>, expected: String, action: String,
                        bind: (SQLiteStatement) throws -> Void) throws {
        try database.transaction {
            guard let current = try job(id)?.job else { throw ChangeError.notFound(id) }
            guard states.contains(current.state.rawValue) else { throw ChangeError.wrongState(id, current.state, expected: expected) }
            let statement = try database.prepare("""
                UPDATE jobs SET state = ?2, attempts = CASE WHEN ?2 = 'queued' THEN 0 ELSE attempts END,
                    next_run_at = CASE WHEN ?2 = 'queued' THEN ?3 ELSE next_run_at END, updated_at = ?3 WHERE id = ?1
                RETURNING updated_at
                """)
            try statement.bind(1, id)
            try bind(statement)
            guard try statement.step() else { throw ChangeError.notFound(id) }
            let now = statement.int(0)
            statement.reset()
            try recordAdminAction(action, jobID: id, count: 1, now: now)
        }
    }
}
