#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import HookyardFoundation
import Logging
import Metrics
import Store
import Synchronization
import SystemCalls

/// A fixed set of worker threads draining the job queue. It knows jobs, not what they do: each job runs through the
/// handler (usually a `JobKinds` registry), with the worker's own `WorkerContext`.
///
/// Each worker claims a due job with a lease, renews the lease while the handler runs, and records the outcome
/// with the retry policy. A job whose worker died (even with the whole daemon, `kill -9`) is claimed again when
/// its lease expires. `stop(gracePeriod:)` lets running jobs finish for up to the grace period, then gives back
/// the leases still held so another start picks them up at once.
///
/// With `metrics`, every finished attempt is counted in `hookyard_job_attempts_total{action,outcome}`.
///
/// Thread-safe: `start()` once, `stop(gracePeriod:)` once.
public final class WorkerPool: Sendable {
    public struct Configuration: Sendable {
        /// The database the queue is in (either engine).
        public var location: DatabaseLocation
        public var workers: Int
        public var leaseMilliseconds: Int64
        /// How long an idle worker sleeps before looking for due jobs again (unless woken by `wake()`).
        public var pollMilliseconds: Int64
        public var retryPolicy: RetryPolicy
        /// Asked before each job: `true` while webhooks arrive faster than the store commits them one by one.
        /// Each worker then waits for the burst to pass, asking again every `yieldMilliseconds`, for at most
        /// `maxYieldMilliseconds` before its next job, so the intake keeps the store's write lock and the CPU
        /// (every job is at least one write: the contact update, the outcome). Workers never stop: under a
        /// sustained flood each still runs a job per `maxYieldMilliseconds`. The queue is durable and drains at full
        /// speed once the burst is over.
        public var intakeIsBusy: @Sendable () -> Bool
        public var yieldMilliseconds: Int
        public var maxYieldMilliseconds: Int

        public init(location: DatabaseLocation, workers: Int = 4, leaseMilliseconds: Int64 = 60_000, pollMilliseconds: Int64 = 250,
                    retryPolicy: RetryPolicy = RetryPolicy(), intakeIsBusy: @escaping @Sendable () -> Bool = { false },
                    yieldMilliseconds: Int = 20, maxYieldMilliseconds: Int = 250) {
            self.location = location
            self.workers = max(1, workers)
            self.leaseMilliseconds = max(100, leaseMilliseconds)
            self.pollMilliseconds = max(1, pollMilliseconds)
            self.retryPolicy = retryPolicy
            self.intakeIsBusy = intakeIsBusy
            self.yieldMilliseconds = max(1, yieldMilliseconds)
            self.maxYieldMilliseconds = max(self.yieldMilliseconds, maxYieldMilliseconds)
        }
    }

    public let configuration: Configuration
    private let handler: any JobHandler
    private let logger: Logger
    private let metrics: HookyardMetrics?
    private let clock: MillisecondClock
    /// Told about each job that goes dead (raises the dead-job alert); `nil`: only logged.
    private let deadJobs: (any DeadJobObserver)?
    /// Kinds whose success, when it queues nothing, is logged at debug level (`JobKinds.quietKinds`).
    private let quietKinds: Set<String>
    private let stopping = Atomic<Bool>(false)
    private let wakeUp = DispatchSemaphore(value: 0)
    /// Workers waiting for work (so `wake()` signals only those, not busy ones).
    private let idle = Atomic<Int>(0)
    /// Per worker: when its loop last went round, and when the job it runs started (monotonic ms).
    private let beats = Mutex<[String: (beat: Int64, jobStarted: Int64?)]>([:])
    private let finished = DispatchSemaphore(value: 0)
    private let running = Atomic<Int>(0)
    /// Jobs finished since start (a progress signal for a watchdog).
    private let completed = Atomic<Int>(0)
    private let ownerPrefix: String

    /// - Parameters:
    ///   - handler: runs every job; a `JobKinds` registry's quiet kinds are logged at debug level when they succeed
    ///     queueing nothing.
    ///   - deadJobs: told about each job that goes dead (raises an alert, one per failing step and interval).
    public init(configuration: Configuration, handler: any JobHandler, logger: Logger, metrics: HookyardMetrics? = nil,
                clock: @escaping MillisecondClock = WallClock.system,
                deadJobs: (any DeadJobObserver)? = nil) {
        self.configuration = configuration
        self.deadJobs = deadJobs
        self.handler = handler
        quietKinds = (handler as? JobKinds)?.quietKinds ?? []
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        ownerPrefix = "\(host):\(getpid())"
    }

    /// Jobs finished (succeeded or failed) since start.
    public var completedJobs: Int { completed.load(ordering: .relaxed) }

    /// The lease owner name of worker `index`: host, process id and index, unique per run.
    public func owner(_ index: Int) -> String { "\(ownerPrefix):w\(index)" }

    /// Opens two queue connections per worker (claims and records, which the worker's resources share; lease
    /// renewals, used from the renewal timer's queue), lets the handler open what it uses there (`JobHandler.prepare`), and
    /// starts the threads.
    /// - Throws: the store's error if the database cannot be opened, or the handler's from `prepare`.
    public func start() throws {
        for index in 0..<configuration.workers {
            let (queue, connection) = try JobQueueOpening.openSharingItsConnection(configuration.location, durableCommits: false, leavingCheckpointsToTheWriter: true)
            let renewals: any JobQueueStorage
            do {
                renewals = try JobQueueOpening.openSharingItsConnection(configuration.location, durableCommits: false,
                                                                        leavingCheckpointsToTheWriter: true).queue
            } catch {
                queue.close()
                throw error
            }
            let context = WorkerContext(location: configuration.location, worker: owner(index), connection: connection)
            do {
                try handler.prepare(context)
            } catch {
                context.close()
                renewals.close()
                queue.close()
                throw error
            }
            let worker = Worker(pool: self, owner: owner(index), queue: queue, renewals: renewals, context: context)
            running.add(1, ordering: .relaxed)
            let thread = Thread { worker.run() }
            thread.name = "hookyard.worker\(index)"
            thread.start()
        }
        try startListeningForJobsFromOtherNodes()
    }

    /// On PostgreSQL, wakes this node's idle workers when any node queues jobs (`NOTIFY hookyard_jobs`, sent in the
    /// transaction that queued them), so a delivery stored by another node is picked up at once rather than at the
    /// next poll. One thread with a listening session of its own; it ends with `stop`. Nothing to do on SQLite (the
    /// daemon's own writer wakes the workers through `whenCommitted`).
    private func startListeningForJobsFromOtherNodes() throws {
        guard case .postgresql(let url, let password) = configuration.location else { return }
        let listener = ListenerBox(try PostgreSQLJobNotifications(url: url, password: password))
        let thread = Thread { [self] in
            var failing = false
            while !stopping.load(ordering: .relaxed) {
                do {
                    if try listener.notifications.wait(timeoutMilliseconds: 500) { wake() }
                    failing = false
                } catch {
                    if !failing {
                        logger.warning("cannot listen for jobs queued by other nodes; workers poll meanwhile", metadata: ["error": "\(error)"])
                    }
                    failing = true
                    Thread.sleep(forTimeInterval: 1)
                }
            }
            listener.notifications.close()
        }
        thread.name = "hookyard.job-listener"
        thread.start()
    }

    /// The listener, handed to its thread (which alone uses it).
    private final class ListenerBox: @unchecked Sendable {
        let notifications: PostgreSQLJobNotifications
        init(_ notifications: PostgreSQLJobNotifications) { self.notifications = notifications }
    }

    /// Whether every worker is making progress: each is either between jobs and went round its loop within
    /// `idleWithin` milliseconds, or runs a job that started less than `jobWithin` ago. A worker stuck in a handler
    /// (a hung call, a deadlock) makes this `false`; the systemd watchdog then stops being fed. Thread-safe.
    public func isMakingProgress(idleWithin: Int64 = 30_000, jobWithin: Int64) -> Bool {
        let now = Self.monotonicMilliseconds()
        return beats.withLock { beats in
            beats.values.allSatisfy { worker in
                if let started = worker.jobStarted { return now - started < jobWithin }
                return now - worker.beat < idleWithin
            }
        }
    }

    fileprivate func beat(_ owner: String, job: Bool) {
        let now = Self.monotonicMilliseconds()
        beats.withLock { $0[owner] = (now, job ? now : nil) }
    }

    fileprivate func forget(_ owner: String) { beats.withLock { _ = $0.removeValue(forKey: owner) } }

    static func monotonicMilliseconds() -> Int64 { MonotonicClock.milliseconds() }

    /// Wakes idle workers now (for instance after new jobs were committed).
    public func wake() {
        let waiting = stopping.load(ordering: .relaxed) ? configuration.workers : idle.load(ordering: .relaxed)
        for _ in 0..<waiting { wakeUp.signal() }
    }

    /// Lets running jobs finish for up to `gracePeriod`, then releases the leases still held. Blocks until done.
    public func stop(gracePeriod: Duration = .seconds(10)) {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        let workers = running.load(ordering: .relaxed)
        wake()
        let deadline = DispatchTime.now() + .nanoseconds(Int(gracePeriod / .nanoseconds(1)))
        var stopped = 0
        while stopped < workers, finished.wait(timeout: deadline) == .success { stopped += 1 }
        guard stopped < workers else { return }
        // Some handlers are still running: give their jobs back so a restart takes them at once.
        do {
            let queue = try JobQueueOpening.open(configuration.location)
            defer { queue.close() }
            for index in 0..<configuration.workers {
                let released = try queue.releaseLeases(owner: owner(index), now: clock())
                if released > 0 {
                    logger.warning("job still running at shutdown; lease released", metadata: ["worker": "\(owner(index))"])
                }
            }
        } catch {
            logger.error("could not release leases at shutdown; they expire by themselves", metadata: ["error": "\(error)"])
        }
    }

    /// One worker's loop. Its queue connections are used only by its own thread and its renewal queue.
    private final class Worker: @unchecked Sendable {  // Safe: `queue` and `context` are used only on the worker thread, `renewals` only on `renewalQueue`.
        let pool: WorkerPool
        let owner: String
        let queue: any JobQueueStorage
        let renewals: any JobQueueStorage
        let context: WorkerContext
        let renewalQueue: DispatchQueue
        /// The job running now, whose lease the renewal timer extends.
        let current = Mutex<Int64?>(nil)

        init(pool: WorkerPool, owner: String, queue: any JobQueueStorage, renewals: any JobQueueStorage, context: WorkerContext) {
            self.pool = pool
            self.owner = owner
            self.queue = queue
            self.renewals = renewals
            self.context = context
            renewalQueue = DispatchQueue(label: "hookyard.lease.\(owner)")
        }

        /// One timer per worker renews the running job's lease at a third of its length (cheaper than a timer per
        /// job, which most jobs would cancel within a millisecond).
        private func startRenewals() -> DispatchSourceTimer {
            let configuration = pool.configuration
            let renewal = DispatchSource.makeTimerSource(queue: renewalQueue)
            let interval = DispatchTimeInterval.milliseconds(Int(configuration.leaseMilliseconds / 3))
            renewal.schedule(deadline: .now() + interval, repeating: interval)
            renewal.setEventHandler { [self] in
                guard let id = current.withLock({ $0 }) else { return }
                let held = (try? renewals.renewLease(jobID: id, owner: owner, leaseMilliseconds: configuration.leaseMilliseconds,
                                                     now: pool.clock())) ?? false
                // Not held: either the job finished a moment ago, or its lease was taken over.
                if !held, current.withLock({ $0 }) == id {
                    pool.logger.warning("lease lost while running", metadata: ["job_id": .stringConvertible(id)])
                }
            }
            renewal.resume()
            return renewal
        }

        func run() {
            // Webhooks come first: under load the workers get the CPU the intake leaves (their queue is durable,
            // and provider calls are rate-limited anyway). Linux gives each thread its own nice value.
            try? Posix.setCurrentThreadNice(10)
            let renewal = startRenewals()
            defer {
                pool.forget(owner)
                renewalQueue.sync {
                    renewal.cancel()
                    renewals.close()
                }
                context.close()
                queue.close()
                pool.finished.signal()
            }
            let configuration = pool.configuration
            while !pool.stopping.load(ordering: .relaxed) {
                pool.beat(owner, job: false)
                var waited = 0
                while waited < configuration.maxYieldMilliseconds, configuration.intakeIsBusy(),
                      !pool.stopping.load(ordering: .relaxed) {
                    usleep(UInt32(configuration.yieldMilliseconds) * 1000)
                    waited += configuration.yieldMilliseconds
                }
                let job: Job?
                do {
                    job = try queue.claimNext(owner: owner, leaseMilliseconds: configuration.leaseMilliseconds, now: pool.clock())
                } catch {
                    pool.logger.error("claiming a job failed; retrying", metadata: ["worker": "\(owner)", "error": "\(error)"])
                    _ = pool.wakeUp.wait(timeout: .now() + .milliseconds(1000))
                    continue
                }
                guard let job else {
                    pool.idle.add(1, ordering: .relaxed)
                    _ = pool.wakeUp.wait(timeout: .now() + .milliseconds(Int(configuration.pollMilliseconds)))
                    pool.idle.subtract(1, ordering: .relaxed)
                    continue
                }
                execute(job)
            }
        }

        private func execute(_ job: Job) {
            let logger = pool.logger
            let configuration = pool.configuration
            var metadata: Logger.Metadata = ["job_id": .stringConvertible(job.id), "kind": "\(job.kind)",
                                             "attempt": .stringConvertible(job.attempts), "event": .stringConvertible(job.eventID)]
            current.withLock { $0 = job.id }
            pool.beat(owner, job: true)
            let outcome = pool.handler.run(job, context: context)
            pool.beat(owner, job: false)
            current.withLock { $0 = nil }

            let now = pool.clock()
            do {
                switch outcome {
                case .succeeded(let output, let followUps):
                    let recorded = try queue.succeed(jobID: job.id, owner: owner, output: output, followUps: followUps, now: now)
                    metadata["outcome"] = recorded ? "succeeded" : "lease_lost"
                    pool.metrics?.jobAttempts.increment(labels: [HookyardMetrics.provider(ofJobKind: job.kind), job.kind, recorded ? "succeeded" : "lease_lost"])
                    // An event that started no rule is routine (the request log line already shows it): debug.
                    let routine = recorded && followUps.isEmpty && pool.quietKinds.contains(job.kind)
                    logger.log(level: routine ? .debug : .info, "job finished", metadata: metadata)
                    if !followUps.isEmpty { pool.wake() }
                case .skipped(let reason, let followUps):
                    let recorded = try queue.skip(jobID: job.id, owner: owner, reason: reason, followUps: followUps, now: now)
                    metadata["outcome"] = recorded ? "skipped" : "lease_lost"
                    metadata["reason"] = "\(reason)"
                    pool.metrics?.jobAttempts.increment(labels: [HookyardMetrics.provider(ofJobKind: job.kind), job.kind, recorded ? "skipped" : "lease_lost"])
                    logger.info("job finished", metadata: metadata)
                    if !followUps.isEmpty { pool.wake() }
                case .failed(let failure):
                    let (error, status) = (failure.message, failure.status)
                    let delay = failure.retryable
                        ? configuration.retryPolicy.delayMilliseconds(afterAttempt: job.attempts, retryAfterMilliseconds: failure.retryAfterMilliseconds)
                        : nil
                    let recorded = try queue.fail(jobID: job.id, owner: owner, error: error, status: status,
                                                  retryAt: delay.map { now + $0 }, now: now)
                    let result = recorded ? (delay == nil ? "dead" : "retrying") : "lease_lost"
                    metadata["outcome"] = .string(result)
                    pool.metrics?.jobAttempts.increment(labels: [HookyardMetrics.provider(ofJobKind: job.kind), job.kind, result])
                    metadata["error"] = "\(error)"
                    metadata["cause"] = .string(failure.cause.rawValue)
                    if let status { metadata["status"] = .stringConvertible(status) }
                    if let delay { metadata["retry_in_ms"] = .stringConvertible(delay) }
                    if delay == nil { logger.error("job dead", metadata: metadata) } else { logger.warning("job failed; will retry", metadata: metadata) }
                    if recorded, delay == nil { pool.deadJobs?.jobDied(job, error: error, status: status, queue: queue) }
                }
            } catch {
                // The outcome could not be stored: the lease expires and the job runs again (idempotently).
                logger.error("recording a job outcome failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
            pool.completed.add(1, ordering: .relaxed)
        }
    }
}
