import Foundation
import PostgreSQL

/// The durable job queue on PostgreSQL (`JobQueueStorage`), with `SQLiteJobQueue`'s contract call for call, shared by
/// the workers of several nodes.
///
/// Each call is one transaction (or one statement), so a crash leaves every job in a state a restart can act on: a
/// job whose worker died keeps `running` with an expired lease, and a claim takes it again (recording the lost
/// attempt as `lease_expired`). What protects each once-only step when several nodes share the queue:
/// - claiming (`claimDue`, and `claimNext` through it): one statement that locks the chosen rows `FOR UPDATE SKIP LOCKED`, so two
///   claimers never take the same job; a job another claimer changed meanwhile is re-checked against the due
///   condition by PostgreSQL before it is taken;
/// - outcomes and lease renewals: conditional `UPDATE … WHERE lease_owner = $owner AND state = 'running'`, so a worker
///   whose lease was taken over writes nothing;
/// - follow-ups and `enqueue`: `INSERT … ON CONFLICT (idempotency_key) DO NOTHING`, so a job is created once;
/// - `retry`/`discard`: the job's row is read `FOR UPDATE` before its state is checked and changed.
/// A row whose state is none Hookyard writes is an error (`PostgreSQLDecodingError`), never read as another state.
/// Creating jobs that are due sends `NOTIFY hookyard_jobs` in the same transaction (`PostgreSQLJobNotifications`).
///
/// Not thread-safe: one `PostgreSQLJobQueue` (one connection) per worker thread or CLI command; several storage types
/// may share one connection (`init(connection:)`) on the same thread.
public final class PostgreSQLJobQueue: JobQueueStorage {
    /// The connection it claims and records on; other storage on the same thread may share it.
    public let connection: PostgreSQLConnection

    /// Uses `connection` (opened by `PostgreSQLStoreConnection.open`, migrated); the caller owns it.
    public init(connection: PostgreSQLConnection) {
        self.connection = connection
    }

    /// Opens a connection of its own (`PostgreSQLStoreConnection.open`), closed by `close()`.
    /// - Parameter durableCommits: as `SQLiteJobQueue.init(path:durableCommits:)`: workers pass `false`
    ///   (`synchronous_commit = off`), which after a server crash may only make the last job transitions run again.
    public convenience init(url: String, password: String?, durableCommits: Bool = true) throws {
        self.init(connection: try PostgreSQLStoreConnection.open(url: url, password: password, durableCommits: durableCommits))
    }

    /// Closes the connection (for every storage type sharing it).
    public func close() { connection.close() }

    static let columns = """
        id, event_id, kind, state, attempts, next_run_at, lease_owner, lease_expires_at, last_error, idempotency_key,
        input, output, created_at, updated_at
        """

    /// - Throws: `PostgreSQLDecodingError` for a state Hookyard never writes (or a NULL where none is written).
    static func job(from row: PostgreSQLRow) throws -> Job {
        Job(id: try row.int(0), eventID: try row.int(1), kind: try row.string(2), state: try row.value(JobState.self, 3),
            attempts: Int(try row.int(4)), nextRunAt: try row.int(5), leaseOwner: row.optionalString(6),
            leaseExpiresAt: try row.optionalInt(7), lastError: row.optionalString(8), idempotencyKey: try row.string(9),
            input: row.optionalString(10), output: row.optionalString(11), createdAt: try row.int(12), updatedAt: try row.int(13))
    }

    // MARK: Claiming and outcomes

    /// Claims up to `owners.count` due jobs at once, most overdue first, the i-th leased to `owners[i]` until
    /// `now + leaseMilliseconds` with a new attempt row whose `worker` is that owner (an expired lease's attempt
    /// recorded as `lease_expired`), in one statement (see `JobQueueStorage.claimDue`): the worker pool's claim
    /// dispatcher takes a job for each idle worker per round trip. Jobs other claimers hold locked are skipped, not
    /// waited for.
    /// - Returns: the claimed jobs (state `running`), most overdue first; empty if none is due.
    public func claimDue(for owners: [String], leaseMilliseconds: Int64, now: Int64) throws -> [Job] {
        guard !owners.isEmpty else { return [] }
        // PostgreSQL-specific: data-modifying `WITH` and `FOR UPDATE SKIP LOCKED` (SQLite serialises writers instead).
        // As SQLite's claim: the first `owners.count` due jobs of each state by index order (so a claim costs the same with a
        // million jobs waiting as with one; one query over all states sorted every due job: 77 ms with 200,000), then
        // the most overdue of those by `next_run_at`, then id, numbered 1, 2, … in that order (`slot`): job `slot` is
        // leased to the owners array's element `slot` (`$2`, a `text[]`, 1-based). The candidates not taken stay
        // locked only until the statement ends. Its sub-statements share one snapshot, so the attempt number reads
        // the attempts before this claim's.
        let result = try connection.query("""
            WITH queued AS (
                SELECT id, state, next_run_at FROM jobs WHERE state = 'queued' AND next_run_at <= $1
                ORDER BY next_run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED
            ), retrying AS (
                SELECT id, state, next_run_at FROM jobs WHERE state = 'retrying' AND next_run_at <= $1
                ORDER BY next_run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED
            ), expired AS (
                SELECT id, state, next_run_at FROM jobs WHERE state = 'running' AND lease_expires_at <= $1
                ORDER BY lease_expires_at, id LIMIT $4 FOR UPDATE SKIP LOCKED
            ), picked AS (
                SELECT id, state, row_number() OVER (ORDER BY next_run_at, id) AS slot
                FROM (SELECT * FROM queued UNION ALL SELECT * FROM retrying UNION ALL SELECT * FROM expired) candidates
                ORDER BY next_run_at, id LIMIT $4
            ), lost AS (
                UPDATE job_attempts SET finished_at = $1, outcome = 'lease_expired',
                    error = 'worker stopped without finishing (lease expired)'
                WHERE outcome IS NULL AND job_id IN (SELECT id FROM picked WHERE state = 'running')
            ), claimed AS (
                UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ($2::text[])[picked.slot],
                    lease_expires_at = $3, updated_at = $1
                FROM picked WHERE jobs.id = picked.id
                RETURNING jobs.id, jobs.event_id, jobs.kind, jobs.state, jobs.attempts, jobs.next_run_at, jobs.lease_owner,
                    jobs.lease_expires_at, jobs.last_error, jobs.idempotency_key, jobs.input, jobs.output, jobs.created_at,
                    jobs.updated_at, picked.slot
            ), attempt AS (
                INSERT INTO job_attempts (job_id, attempt, worker, started_at)
                SELECT c.id, (SELECT coalesce(max(a.attempt), 0) + 1 FROM job_attempts a WHERE a.job_id = c.id), c.lease_owner, $1
                FROM claimed c
            )
            SELECT * FROM claimed ORDER BY slot
            """, [now, PostgreSQLValue.textArray(owners), now + leaseMilliseconds, Int64(owners.count)])
        return try result.rows.map(Self.job(from:))
    }

    /// Extends the lease of a job `owner` still holds. - Returns: `false` if the lease was lost.
    public func renewLease(jobID: Int64, owner: String, leaseMilliseconds: Int64, now: Int64) throws -> Bool {
        try connection.query("""
            UPDATE jobs SET lease_expires_at = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'running'
            """, [jobID, owner, now + leaseMilliseconds]).changedRows == 1
    }

    /// As `SQLiteJobQueue.succeed`. - Returns: `false` if `owner` no longer held the lease (nothing was written).
    public func succeed(jobID: Int64, owner: String, output: String?, followUps: [NewJob] = [], now: Int64) throws -> Bool {
        try finish(jobID: jobID, owner: owner, state: .succeeded, output: output, followUps: followUps, now: now)
    }

    /// As `SQLiteJobQueue.skip`. - Returns: `false` if `owner` no longer held the lease (nothing was written).
    public func skip(jobID: Int64, owner: String, reason: String, followUps: [NewJob] = [], now: Int64) throws -> Bool {
        try finish(jobID: jobID, owner: owner, state: .skipped, output: Job.skippedOutput(reason), followUps: followUps, now: now)
    }

    private func finish(jobID: Int64, owner: String, state: JobState, output: String?, followUps: [NewJob], now: Int64) throws -> Bool {
        try connection.transaction {
            guard let row = try connection.query("""
                UPDATE jobs SET state = $5, output = $3, lease_owner = NULL, lease_expires_at = NULL,
                    last_error = NULL, updated_at = $4
                WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING event_id
                """, [jobID, owner, output, now, state.rawValue]).first else { return false }
            let eventID = try row.int(0)
            try finishAttempt(jobID: jobID, outcome: state.rawValue, status: nil, error: nil, now: now)
            let created = try Self.insert(followUps, defaultEventID: eventID, now: now, into: connection)
            if !created.isEmpty { try connection.notify(PostgreSQLJobNotifications.channel) }
            return true
        }
    }

    /// Inserts `jobs` inside the caller's transaction, skipping those whose idempotency key exists already
    /// (`ON CONFLICT DO NOTHING`: also when another node inserts the same key concurrently); a job without an event
    /// gets `defaultEventID`. - Returns: the row ids of the jobs created.
    /// - Throws: `StoreError.invalidJob` for a job with neither.
    public static func insert(_ jobs: [NewJob], defaultEventID: Int64?, now: Int64, into connection: PostgreSQLConnection) throws -> [Int64] {
        var created: [Int64] = []
        for job in jobs {
            guard let eventID = job.eventID ?? defaultEventID else {
                throw StoreError.invalidJob("job \(job.idempotencyKey) names no event")
            }
            let result = try connection.query("""
                INSERT INTO jobs (event_id, kind, next_run_at, idempotency_key, input, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
                """, [eventID, job.kind, job.runAt, job.idempotencyKey, job.input, now])
            if let row = result.first { created.append(try row.int(0)) }
        }
        return created
    }

    /// As `SQLiteJobQueue.enqueue`, and announces the jobs (`NOTIFY hookyard_jobs`) when it created any.
    @discardableResult
    public func enqueue(_ jobs: [NewJob], now: Int64) throws -> Int {
        try connection.transaction {
            let created = try Self.insert(jobs, defaultEventID: nil, now: now, into: connection)
            if !created.isEmpty { try connection.notify(PostgreSQLJobNotifications.channel) }
            return created.count
        }
    }

    /// As `SQLiteJobQueue.fail`. - Returns: `false` if `owner` no longer held the lease.
    public func fail(jobID: Int64, owner: String, error: String, status: Int?, retryAt: Int64?, now: Int64) throws -> Bool {
        try connection.transaction {
            let outcome = retryAt == nil ? "dead" : "retrying"
            let changed = try connection.query("""
                UPDATE jobs SET state = $3, next_run_at = coalesce($4::bigint, next_run_at), last_error = $5,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = $6
                WHERE id = $1 AND lease_owner = $2 AND state = 'running'
                """, [jobID, owner, outcome, retryAt, error, now]).changedRows
            guard changed == 1 else { return false }
            try finishAttempt(jobID: jobID, outcome: outcome, status: status, error: error, now: now)
            return true
        }
    }

    /// As `SQLiteJobQueue.releaseLeases`. - Returns: how many were released.
    @discardableResult
    public func releaseLeases(owner: String, now: Int64) throws -> Int {
        try connection.transaction {
            try connection.query("""
                UPDATE job_attempts SET finished_at = $2, outcome = 'interrupted', error = 'released on shutdown'
                WHERE outcome IS NULL AND job_id IN (SELECT id FROM jobs WHERE lease_owner = $1 AND state = 'running')
                """, [owner, now])
            let released = try connection.query("""
                UPDATE jobs SET state = 'retrying', attempts = greatest(attempts - 1, 0), next_run_at = $2,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
                WHERE lease_owner = $1 AND state = 'running'
                """, [owner, now]).changedRows
            if released > 0 { try connection.notify(PostgreSQLJobNotifications.channel) }
            return released
        }
    }

    private func finishAttempt(jobID: Int64, outcome: String, status: Int?, error: String?, now: Int64) throws {
        try connection.query("""
            UPDATE job_attempts SET finished_at = $2, outcome = $3, status = $4::bigint, error = $5
            WHERE job_id = $1 AND outcome IS NULL
            """, [jobID, now, outcome, status.map(Int64.init), error])
    }

    // MARK: Inspection and the dead-letter queue

    /// The number of jobs in each state, every `JobState` present (0 when none).
    public func jobCounts() throws -> [String: Int] {
        try Self.jobCounts(in: connection)
    }

    /// `jobCounts()` on any connection to a Hookyard database (`PostgreSQLStoreReader` shares it).
    static func jobCounts(in connection: PostgreSQLConnection) throws -> [String: Int] {
        var jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        for row in try connection.query("SELECT state, count(*) FROM jobs GROUP BY state").rows {
            jobs[try row.value(JobState.self, 0).rawValue] = Int(try row.int(1))
        }
        return jobs
    }

    /// Jobs, newest first, optionally in one state.
    public func list(state: JobState?, limit: Int) throws -> [Job] {
        try list(state: state, kind: nil, beforeID: nil, limit: limit)
    }

    public func list(state: JobState?, kind: String?, beforeID: Int64?, limit: Int) throws -> [Job] {
        try connection.query("""
            SELECT \(Self.columns) FROM jobs WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)
            AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4
            """, [state?.rawValue, kind, beforeID, Int64(max(0, limit))]).rows.map(Self.job(from:))
    }

    /// One job and all its attempts, oldest first.
    public func job(_ id: Int64) throws -> (job: Job, attempts: [JobAttempt])? {
        guard let row = try connection.query("SELECT \(Self.columns) FROM jobs WHERE id = $1", [id]).first else { return nil }
        let job = try Self.job(from: row)
        let attempts = try connection.query("""
            SELECT attempt, worker, started_at, finished_at, outcome, status, error FROM job_attempts
            WHERE job_id = $1 ORDER BY id
            """, [id]).rows.map { row in
            JobAttempt(attempt: Int(try row.int(0)), worker: try row.string(1), startedAt: try row.int(2),
                       finishedAt: try row.optionalInt(3), outcome: row.optionalString(4),
                       status: try row.optionalInt(5).map { Int($0) }, error: row.optionalString(6))
        }
        return (job, attempts)
    }

    /// The job with `key` as its idempotency key, or `nil`.
    public func job(idempotencyKey key: String) throws -> Job? {
        try connection.query("SELECT \(Self.columns) FROM jobs WHERE idempotency_key = $1", [key]).first.map(Self.job(from:))
    }

    /// The jobs an event caused, oldest first.
    public func jobs(forEvent eventID: Int64) throws -> [Job] {
        try connection.query("SELECT \(Self.columns) FROM jobs WHERE event_id = $1 ORDER BY id", [eventID]).rows.map(Self.job(from:))
    }

    /// As `SQLiteJobQueue.retry`; announces the job.
    public func retry(_ id: Int64, now: Int64) throws {
        try change(id, from: [.dead, .discarded], expected: "dead or discarded", action: "retry", to: .queued, now: now)
    }

    /// As `SQLiteJobQueue.retryAllDead` (one statement changes them all, so two nodes cannot both count a job).
    @discardableResult
    public func retryAllDead(now: Int64) throws -> Int {
        try connection.transaction {
            let count = try connection.query("""
                UPDATE jobs SET state = 'queued', attempts = 0, next_run_at = $1, updated_at = $1 WHERE state = 'dead'
                """, [now]).changedRows
            if count > 0 {
                try recordAdminAction("retry_all", jobID: nil, count: count, now: now)
                try connection.notify(PostgreSQLJobNotifications.channel)
            }
            return count
        }
    }

    /// As `SQLiteJobQueue.discard`.
    public func discard(_ id: Int64, now: Int64) throws {
        try change(id, from: [.dead], expected: "dead", action: "discard", to: .discarded, now: now)
    }

    /// The dead jobs whose `Job.alertSubject(of:)` is `subject`: how many, and the newest one's id.
    /// PostgreSQL-specific: the subject is computed here by `Job.alertSubject(of:)` itself rather than in SQL
    /// (PostgreSQL 15 has no `json_valid`, and casting text that is not JSON to `jsonb` fails the statement).
    /// - Complexity: a scan of the dead jobs (by index on state).
    public func deadJobs(subject: String) throws -> (count: Int, newestID: Int64?) {
        var count = 0
        var newest: Int64?
        for row in try connection.query("SELECT id, kind, input FROM jobs WHERE state = 'dead'").rows {
            let id = try row.int(0)
            let job = Job(id: id, eventID: 0, kind: try row.string(1), state: .dead, attempts: 0, nextRunAt: 0,
                          idempotencyKey: "", input: row.optionalString(2), createdAt: 0, updatedAt: 0)
            guard Job.alertSubject(of: job) == subject else { continue }
            count += 1
            newest = max(newest ?? id, id)
        }
        return (count, newest)
    }

    private func recordAdminAction(_ action: String, jobID: Int64?, count: Int, now: Int64) throws {
        try connection.query("INSERT INTO admin_actions (action, job_id, count, at) VALUES ($1, $2::bigint, $3, $4)",
                             [action, jobID, Int64(count), now])
    }

    /// Changes one job's state after checking it under `SELECT … FOR UPDATE` (two nodes retrying the same job: the
    /// second waits, then sees the new state and refuses, as one node's second call would).
    private func change(_ id: Int64, from states: Set<JobState>, expected: String, action: String, to state: JobState, now: Int64) throws {
        try connection.transaction {
            guard let row = try connection.query("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", [id]).first else {
                throw JobChangeError.notFound(id)
            }
            let current = try row.value(JobState.self, 0)
            guard states.contains(current) else { throw JobChangeError.wrongState(id, current, expected: expected) }
            try connection.query("""
                UPDATE jobs SET state = $2, attempts = CASE WHEN $2 = 'queued' THEN 0 ELSE attempts END,
                    next_run_at = CASE WHEN $2 = 'queued' THEN $3 ELSE next_run_at END, updated_at = $3 WHERE id = $1
                """, [id, state.rawValue, now])
            try recordAdminAction(action, jobID: id, count: 1, now: now)
            if state == .queued { try connection.notify(PostgreSQLJobNotifications.channel) }
        }
    }
}
