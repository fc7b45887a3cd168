/// What the workers, the alerts and the CLI need from the durable job queue, whatever engine stores it
/// (`SQLiteJobQueue`, `PostgreSQLJobQueue`; `JobQueueOpening` opens either).
///
/// Contract every implementation keeps:
/// - each call is atomic: after a crash every job is in a state a restart can act on (a job whose worker died stays
///   `running` with an expired lease, and a claim (`claimDue`) takes it again, recording the lost attempt as
///   `lease_expired`);
/// - a claim is one transaction (one statement on PostgreSQL) however many jobs it takes, and two claimers, on one
///   node or several, never take the same job;
/// - outcomes (`succeed`, `skip`, `fail`) are accepted only from the current lease owner and return `false` otherwise,
///   writing nothing;
/// - follow-up jobs are created in the same transaction as the outcome that causes them, and a job whose idempotency
///   key exists already is never created twice;
/// - a stored value the implementation cannot read (an unknown state) is an error, never a default.
///
/// Thread-safety is the implementation's: both are used by one thread at a time.
public protocol JobQueueStorage: AnyObject {
    /// Claims up to `owners.count` due jobs (queued or retrying with `next_run_at <= now`, or running with an expired
    /// lease), most overdue first, in one round trip: the i-th job claimed is leased to `owners[i]` until
    /// `now + leaseMilliseconds` and starts a new attempt whose `worker` is that owner. An owner may appear several
    /// times (it then takes several jobs). The worker pool's claim dispatcher passes the owners of its idle workers.
    /// - Returns: the claimed jobs (state `running`, `attempts` counting this one, `leaseOwner` the owner each was
    ///   claimed for), most overdue first, so `result[i].leaseOwner == owners[i]`; fewer than `owners.count` (or none)
    ///   when fewer are due. Empty `owners`: nothing is read or written.
    func claimDue(for owners: [String], leaseMilliseconds: Int64, now: Int64) throws -> [Job]
    /// Extends the lease of a job `owner` still holds. - Returns: `false` if the lease was lost.
    func renewLease(jobID: Int64, owner: String, leaseMilliseconds: Int64, now: Int64) throws -> Bool
    /// Marks the job succeeded with its output and creates `followUps` atomically with it.
    func succeed(jobID: Int64, owner: String, output: String?, followUps: [NewJob], now: Int64) throws -> Bool
    /// Marks the job `skipped` (output `{"skipped": reason}`) and creates `followUps` atomically with it.
    func skip(jobID: Int64, owner: String, reason: String, followUps: [NewJob], now: Int64) throws -> Bool
    /// Records a failed attempt: `retryAt` schedules another, `nil` sends the job to the dead-letter queue.
    func fail(jobID: Int64, owner: String, error: String, status: Int?, retryAt: Int64?, now: Int64) throws -> Bool
    /// Creates jobs not caused by a finishing one; each needs its `eventID`. - Returns: how many were created.
    @discardableResult func enqueue(_ jobs: [NewJob], now: Int64) throws -> Int
    /// Gives back every job `owner` holds (graceful shutdown), due again at once, the attempt not counted.
    @discardableResult func releaseLeases(owner: String, now: Int64) throws -> Int

    /// Jobs, newest first, optionally in one state.
    func list(state: JobState?, limit: Int) throws -> [Job]
    /// Jobs, newest first, optionally in one state and of one kind, only those with an id below `beforeID` when given
    /// (the next page after a job).
    func list(state: JobState?, kind: String?, beforeID: Int64?, limit: Int) throws -> [Job]
    /// One job and all its attempts, oldest first.
    func job(_ id: Int64) throws -> (job: Job, attempts: [JobAttempt])?
    /// The job with `key` as its idempotency key (unique in the queue), or `nil`.
    func job(idempotencyKey key: String) throws -> Job?
    /// The jobs an event caused, oldest first.
    func jobs(forEvent eventID: Int64) throws -> [Job]
    /// The number of jobs in each state, every `JobState` present (0 when none).
    func jobCounts() throws -> [String: Int]

    /// Queues a dead or discarded job again, due now, with a fresh attempt budget; recorded as an admin action.
    /// - Throws: `JobChangeError`.
    func retry(_ id: Int64, now: Int64) throws
    /// Queues every dead job again; recorded as one admin action when there were any. - Returns: how many.
    @discardableResult func retryAllDead(now: Int64) throws -> Int
    /// Takes a dead job out of the dead-letter queue as `discarded`; recorded as an admin action.
    /// - Throws: `JobChangeError`.
    func discard(_ id: Int64, now: Int64) throws
    /// The dead jobs whose `Job.alertSubject(of:)` is `subject`: how many, and the newest one's id.
    func deadJobs(subject: String) throws -> (count: Int, newestID: Int64?)

    /// Releases the storage's connection; later calls throw.
    func close()
}

extension JobQueueStorage {
    /// Claims the most overdue due job for `owner` alone: `claimDue(for: [owner], …).first`.
    /// - Returns: the claimed job (state `running`, `attempts` counting this one), or `nil` if none is due.
    public func claimNext(owner: String, leaseMilliseconds: Int64, now: Int64) throws -> Job? {
        try claimDue(for: [owner], leaseMilliseconds: leaseMilliseconds, now: now).first
    }

    /// `succeed` without follow-up jobs.
    public func succeed(jobID: Int64, owner: String, output: String?, now: Int64) throws -> Bool {
        try succeed(jobID: jobID, owner: owner, output: output, followUps: [], now: now)
    }

    /// `skip` without follow-up jobs.
    public func skip(jobID: Int64, owner: String, reason: String, now: Int64) throws -> Bool {
        try skip(jobID: jobID, owner: owner, reason: reason, followUps: [], now: now)
    }
}
