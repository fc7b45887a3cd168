import Foundation
import SQLite

/// The durable job queue on SQLite (`JobQueueStorage`): claiming with leases, recording outcomes, and the
/// dead-letter operations. Its statements are compiled once per connection (`cachedStatement(sql:)`).
///
/// Each call is one transaction, so a crash leaves every job in a state a restart can act on: a job whose
/// worker died keeps `running` with an expired lease, and a claim (`claimDue`) takes it again (recording the lost
/// attempt as `lease_expired`). Outcomes are accepted only from the current lease owner, so a worker whose
/// lease was taken over cannot overwrite the new attempt. A row whose state is none Hookyard writes is an error
/// (`SQLiteDecodingError`), never read as another state.
///
/// Not thread-safe: one `SQLiteJobQueue` (one SQLite connection) per worker thread or CLI command; several storage
/// types may share one connection (`init(database:)`) on the same thread.
public final class SQLiteJobQueue: JobQueueStorage {
    /// The connection it claims and records on; other storage on the same thread may share it.
    public let database: SQLiteDatabase

    /// Opens an existing database (created by `SQLiteEventWriter`) and migrates it if needed.
    /// - Parameter durableCommits: `true` (the default, for the CLI): each change is fsynced before the call
    ///   returns. Workers pass `false` (`synchronous=NORMAL`): a commit survives a crash of the process, and after a
    ///   power loss the last few job transitions may be rolled back, which only makes those jobs run again
    ///   (every step is idempotent). The events themselves are always committed durably by `SQLiteEventWriter`, whose
    ///   fsync also covers every earlier worker commit.
    public convenience init(path: String, durableCommits: Bool = true) throws {
        self.init(database: try StoreConnection.openExisting(path: path, durableCommits: durableCommits))
    }

    /// Uses `database`, a connection opened by `StoreConnection` (migrated), which other storage types may share.
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Closes the connection (for every storage type sharing it).
    public func close() { database.close() }

    private static let columns = """
        id, event_id, kind, state, attempts, next_run_at, lease_owner, lease_expires_at, last_error, idempotency_key,
        input, output, created_at, updated_at
        """

    /// - Throws: `SQLiteDecodingError` for a state Hookyard never writes.
    private func job(from statement: SQLiteStatement) throws -> Job {
        Job(id: statement.int(0), eventID: statement.int(1), kind: statement.string(2) ?? "",
            state: try statement.decode(JobState.self, column: 3), attempts: Int(statement.int(4)),
            nextRunAt: statement.int(5), leaseOwner: statement.string(6),
            leaseExpiresAt: statement.isNull(7) ? nil : statement.int(7), lastError: statement.string(8),
            idempotencyKey: statement.string(9) ?? "", input: statement.string(10), output: statement.string(11),
            createdAt: statement.int(12), updatedAt: statement.int(13))
    }

    /// Claims up to `owners.count` due jobs, most overdue first, the i-th leased to `owners[i]` (see
    /// `JobQueueStorage.claimDue`), in one transaction: the claim of one job below, repeated per owner on the
    /// connection's cached statements until no job is due. The transaction holds the write lock, so no other claimer
    /// can take the same job.
    /// - Complexity: O(log n) per job claimed, in the number of jobs (three index lookups).
    public func claimDue(for owners: [String], leaseMilliseconds: Int64, now: Int64) throws -> [Job] {
        guard !owners.isEmpty else { return [] }
        return try database.transaction {
            var claimed: [Job] = []
            for owner in owners {
                guard let job = try claimOne(owner: owner, leaseMilliseconds: leaseMilliseconds, now: now) else { break }
                claimed.append(job)
            }
            return claimed
        }
    }

    /// Claims the most overdue job that is due (queued or retrying with `next_run_at <= now`) or whose lease
    /// expired, leasing it to `owner` until `now + leaseMilliseconds`, and starts a new attempt; inside the caller's
    /// transaction. - Returns: the claimed job, or `nil` if none is due.
    private func claimOne(owner: String, leaseMilliseconds: Int64, now: Int64) throws -> Job? {
        // One indexed LIMIT 1 per state, so a claim costs the same with a million jobs waiting as with one.
        let pick = try database.cachedStatement(sql: """
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
        defer { pick.reset() }
        try pick.bind(1, now)
        guard try pick.step() else { return nil }
        let id = pick.int(0)
        if pick.string(1) == "running" {
            let lost = try database.cachedStatement(sql: """
                UPDATE job_attempts SET finished_at = ?2, outcome = 'lease_expired',
                    error = 'worker stopped without finishing (lease expired)'
                WHERE job_id = ?1 AND outcome IS NULL
                """)
            defer { lost.reset() }
            try lost.bind(1, id)
            try lost.bind(2, now)
            try lost.run()
        }
        // SQLite-specific: `RETURNING` (PostgreSQL has it too).
        let claim = try database.cachedStatement(sql: """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?2, lease_expires_at = ?3,
                updated_at = ?4 WHERE id = ?1 RETURNING \(Self.columns)
            """)
        defer { claim.reset() }
        try claim.bind(1, id)
        try claim.bind(2, owner)
        try claim.bind(3, now + leaseMilliseconds)
        try claim.bind(4, now)
        guard try claim.step() else { return nil }
        let job = try job(from: claim)
        claim.reset()
        // Numbered across the job's whole history: after `jobs retry` resets the budget (`jobs.attempts`),
        // the next attempt follows the last one logged instead of being numbered 1 again.
        let attempt = try database.cachedStatement(sql: """
            INSERT INTO job_attempts (job_id, attempt, worker, started_at)
            VALUES (?1, (SELECT coalesce(max(attempt), 0) + 1 FROM job_attempts WHERE job_id = ?1), ?2, ?3)
            """)
        defer { attempt.reset() }
        try attempt.bind(1, job.id)
        try attempt.bind(2, owner)
        try attempt.bind(3, now)
        try attempt.run()
        return job
    }

    /// Extends the lease of a job `owner` still holds. - Returns: `false` if the lease was lost.
    public func renewLease(jobID: Int64, owner: String, leaseMilliseconds: Int64, now: Int64) throws -> Bool {
        let statement = try database.cachedStatement(sql: """
            UPDATE jobs SET lease_expires_at = ?3 WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'
            """)
        defer { statement.reset() }
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
        try finish(jobID: jobID, owner: owner, state: .skipped, output: Job.skippedOutput(reason), followUps: followUps, now: now)
    }


    private func finish(jobID: Int64, owner: String, state: JobState, output: String?, followUps: [NewJob], now: Int64) throws -> Bool {
        try database.transaction {
            // SQLite-specific: `RETURNING` (PostgreSQL has it too).
            let update = try database.cachedStatement(sql: """
                UPDATE jobs SET state = ?5, output = ?3, lease_owner = NULL, lease_expires_at = NULL,
                    last_error = NULL, updated_at = ?4
                WHERE id = ?1 AND lease_owner = ?2 AND state = 'running' RETURNING event_id
                """)
            defer { update.reset() }
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
    public static func insert(_ jobs: [NewJob], defaultEventID: Int64?, now: Int64, into database: SQLiteDatabase) throws -> [Int64] {
        guard !jobs.isEmpty else { return [] }
        // SQLite-specific: upsert `ON CONFLICT ... DO NOTHING` (PostgreSQL has the same form).
        let insert = try database.cachedStatement(sql: """
            INSERT INTO jobs (event_id, kind, next_run_at, idempotency_key, input, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (idempotency_key) DO NOTHING
            """)
        defer { insert.reset() }
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
            let update = try database.cachedStatement(sql: """
                UPDATE jobs SET state = ?3, next_run_at = coalesce(?4, next_run_at), last_error = ?5,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ?6
                WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'
                """)
            defer { update.reset() }
            try update.bind(1, jobID)
            try update.bind(2, owner)
            try update.bind(3, retryAt == nil ? "dead" : "retrying")
            try update.bind(4, retryAt)
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
            let attempts = try database.cachedStatement(sql: """
                UPDATE job_attempts SET finished_at = ?2, outcome = 'interrupted', error = 'released on shutdown'
                WHERE outcome IS NULL AND job_id IN (SELECT id FROM jobs WHERE lease_owner = ?1 AND state = 'running')
                """)
            defer { attempts.reset() }
            try attempts.bind(1, owner)
            try attempts.bind(2, now)
            try attempts.run()
            // SQLite-specific: two-argument scalar `max` (PostgreSQL: `greatest`).
            let jobs = try database.cachedStatement(sql: """
                UPDATE jobs SET state = 'retrying', attempts = max(attempts - 1, 0), next_run_at = ?2,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ?2
                WHERE lease_owner = ?1 AND state = 'running'
                """)
            defer { jobs.reset() }
            try jobs.bind(1, owner)
            try jobs.bind(2, now)
            try jobs.run()
            return database.changes
        }
    }

    private func finishAttempt(jobID: Int64, outcome: String, status: Int?, error: String?, now: Int64) throws {
        let statement = try database.cachedStatement(sql: """
            UPDATE job_attempts SET finished_at = ?2, outcome = ?3, status = ?4, error = ?5
            WHERE job_id = ?1 AND outcome IS NULL
            """)
        defer { statement.reset() }
        try statement.bind(1, jobID)
        try statement.bind(2, now)
        try statement.bind(3, outcome)
        try statement.bind(4, status.map(Int64.init))
        try statement.bind(5, error)
        try statement.run()
    }

    // MARK: Inspection and the dead-letter queue

    /// The number of jobs in each state, every `JobState` present (0 when none); reads only the jobs index.
    public func jobCounts() throws -> [String: Int] {
        try Self.jobCounts(in: database)
    }

    /// `jobCounts()` on any connection to a Hookyard database (`SQLiteStoreReader` shares it).
    /// - Throws: `SQLiteDecodingError` for a state Hookyard never writes.
    static func jobCounts(in database: SQLiteDatabase) throws -> [String: Int] {
        var jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        let counts = try database.cachedStatement(sql: "SELECT state, count(*) FROM jobs GROUP BY state")
        defer { counts.reset() }
        while try counts.step() {
            jobs[try counts.decode(JobState.self, column: 0).rawValue] = Int(counts.int(1))
        }
        return jobs
    }

    /// Jobs, newest first, optionally in one state.
    public func list(state: JobState?, limit: Int) throws -> [Job] {
        let statement = try database.cachedStatement(sql: """
            SELECT \(Self.columns) FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2
            """)
        defer { statement.reset() }
        try statement.bind(1, state?.rawValue)
        try statement.bind(2, Int64(limit))
        var jobs: [Job] = []
        while try statement.step() { jobs.append(try job(from: statement)) }
        return jobs
    }

    public func list(state: JobState?, kind: String?, beforeID: Int64?, limit: Int) throws -> [Job] {
        let statement = try database.cachedStatement(sql: """
            SELECT \(Self.columns) FROM jobs WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR kind = ?2)
            AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4
            """)
        defer { statement.reset() }
        try statement.bind(1, state?.rawValue)
        try statement.bind(2, kind)
        try statement.bind(3, beforeID)
        try statement.bind(4, Int64(limit))
        var jobs: [Job] = []
        while try statement.step() { jobs.append(try job(from: statement)) }
        return jobs
    }

    /// One job and all its attempts, oldest first.
    public func job(_ id: Int64) throws -> (job: Job, attempts: [JobAttempt])? {
        let statement = try database.cachedStatement(sql: "SELECT \(Self.columns) FROM jobs WHERE id = ?")
        defer { statement.reset() }
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        let job = try job(from: statement)
        let rows = try database.cachedStatement(sql: """
            SELECT attempt, worker, started_at, finished_at, outcome, status, error FROM job_attempts
            WHERE job_id = ? ORDER BY id
            """)
        defer { rows.reset() }
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
    public func job(idempotencyKey key: String) throws -> Job? {
        let statement = try database.cachedStatement(sql: "SELECT \(Self.columns) FROM jobs WHERE idempotency_key = ?")
        defer { statement.reset() }
        try statement.bind(1, key)
        guard try statement.step() else { return nil }
        return try job(from: statement)
    }

    public func jobs(forEvent eventID: Int64) throws -> [Job] {
        let statement = try database.cachedStatement(sql: "SELECT \(Self.columns) FROM jobs WHERE event_id = ? ORDER BY id")
        defer { statement.reset() }
        try statement.bind(1, eventID)
        var jobs: [Job] = []
        while try statement.step() { jobs.append(try job(from: statement)) }
        return jobs
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
            let statement = try database.cachedStatement(sql: """
                UPDATE jobs SET state = 'queued', attempts = 0, next_run_at = ?1, updated_at = ?1 WHERE state = 'dead'
                """)
            defer { statement.reset() }
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

    /// `Job.alertSubject(of:)`, kept here for existing callers.
    public static func alertSubject(of job: Job) -> String { Job.alertSubject(of: job) }

    /// `alertSubject(of:)` as an SQL expression over a `jobs` row.
    // SQLite-specific: JSON functions `json_valid`/`json_type`/`json_extract` (PostgreSQL: `jsonb` operators).
    private static let alertSubjectSQL = """
        CASE WHEN json_valid(input) AND json_type(input, '$.rule') = 'text' AND json_type(input, '$.step') = 'text'
             THEN json_extract(input, '$.rule') || '/' || json_extract(input, '$.step') ELSE kind END
        """

    /// The dead jobs whose `alertSubject(of:)` is `subject`: how many, and the newest one's id.
    /// - Complexity: a scan of the dead jobs (by index on state).
    public func deadJobs(subject: String) throws -> (count: Int, newestID: Int64?) {
        let statement = try database.cachedStatement(sql: """
            SELECT count(*), max(id) FROM jobs WHERE state = 'dead' AND (\(Self.alertSubjectSQL)) = ?1
            """)
        defer { statement.reset() }
        try statement.bind(1, subject)
        _ = try statement.step()
        return (Int(statement.int(0)), statement.isNull(1) ? nil : statement.int(1))
    }

    private func recordAdminAction(_ action: String, jobID: Int64?, count: Int, now: Int64) throws {
        let insert = try database.cachedStatement(sql: "INSERT INTO admin_actions (action, job_id, count, at) VALUES (?, ?, ?, ?)")
        defer { insert.reset() }
        try insert.bind(1, action)
        try insert.bind(2, jobID)
        try insert.bind(3, Int64(count))
        try insert.bind(4, now)
        try insert.run()
    }

    private func change(_ id: Int64, from states: Set<String>, expected: String, action: String,
                        bind: (SQLiteStatement) throws -> Void) throws {
        try database.transaction {
            guard let current = try job(id)?.job else { throw JobChangeError.notFound(id) }
            guard states.contains(current.state.rawValue) else { throw JobChangeError.wrongState(id, current.state, expected: expected) }
            // SQLite-specific: `RETURNING` (PostgreSQL has it too).
            let statement = try database.cachedStatement(sql: """
                UPDATE jobs SET state = ?2, attempts = CASE WHEN ?2 = 'queued' THEN 0 ELSE attempts END,
                    next_run_at = CASE WHEN ?2 = 'queued' THEN ?3 ELSE next_run_at END, updated_at = ?3 WHERE id = ?1
                RETURNING updated_at
                """)
            defer { statement.reset() }
            try statement.bind(1, id)
            try bind(statement)
            guard try statement.step() else { throw JobChangeError.notFound(id) }
            let now = statement.int(0)
            statement.reset()
            try recordAdminAction(action, jobID: id, count: 1, now: now)
        }
    }
}
