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
/// One claim dispatcher thread, with a queue connection of its own, claims due jobs for every idle worker in one round
/// trip (`JobQueueStorage.claimDue(for:)`, each job leased to its worker's own owner name) and hands each job to its
/// worker; the worker renews the lease while the handler runs and records the outcome with the retry policy. A worker
/// that finishes, and `wake()`, start another claim round. A job whose worker died (even with the whole daemon,
/// `kill -9`) is claimed again when its lease expires. `stop(gracePeriod:)` lets running jobs finish for up to the
/// grace period, then gives back the leases still held so another start picks them up at once; a job handed to a
/// worker that was already leaving is given back too, never stranded.
///
/// With `metrics`, every finished attempt is counted in `hookyard_job_attempts_total{action,outcome}`, every claim round
/// trip that took jobs in `hookyard_job_claims_total` and the jobs it took in `hookyard_jobs_claimed_total`.
///
/// Thread-safe: `start()` once, `stop(gracePeriod:)` once.
public final class WorkerPool: Sendable {
    public struct Configuration: Sendable {
        /// The database the queue is in (either engine).
        public var location: DatabaseLocation
        public var workers: Int
        public var leaseMilliseconds: Int64
        /// How long the claim dispatcher waits, when a round left workers idle, before looking for due jobs again
        /// (unless woken by `wake()` or a worker finishing); also how often an idle worker checks in with the watchdog.
        public var pollMilliseconds: Int64
        public var retryPolicy: RetryPolicy
        /// Asked before each claim round: `true` while webhooks arrive faster than the store commits them one by one.
        /// The claim dispatcher then waits for the burst to pass, asking again every `yieldMilliseconds`, for at most
        /// `maxYieldMilliseconds` before its next claim, so the intake keeps the store's write lock and the CPU
        /// (every job is at least one write: the contact update, the outcome). Claims never stop: under a sustained
        /// flood the idle workers still get their jobs once per `maxYieldMilliseconds`. The queue is durable and
        /// drains at full speed once the burst is over.
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
    /// What each worker (by index) is doing, as the claim dispatcher sees it; only under this lock is a job handed
    /// over or a worker closed, so a job can never be handed to a worker that has left without being given back.
    private let handoff: Mutex<[WorkerState]>
    /// Per worker: signalled when a job was handed to it (and at stop).
    private let workerSignals: [DispatchSemaphore]
    /// Signals to the claim dispatcher (a worker went idle, `wake()`, stop), coalesced: `claimSignalPending` is set by
    /// the first signal and cleared by the dispatcher when it wakes, so a burst of signals is one extra claim round.
    private let claimSignal = DispatchSemaphore(value: 0)
    private let claimSignalPending = Atomic<Bool>(false)
    /// Per worker (by owner) and for the claim dispatcher (`claimsBeatKey`): when its loop last went round, and when
    /// the job it runs started (monotonic ms).
    private let beats = Mutex<[String: (beat: Int64, jobStarted: Int64?)]>([:])
    /// Signalled by each worker and the claim dispatcher as its thread ends.
    private let finished = DispatchSemaphore(value: 0)
    /// Threads started (workers and the claim dispatcher), for `stop` to wait for.
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
        handoff = Mutex(Array(repeating: .busy, count: configuration.workers))
        workerSignals = (0..<configuration.workers).map { _ in DispatchSemaphore(value: 0) }
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        ownerPrefix = "\(host):\(getpid())"
    }

    /// Jobs finished (succeeded or failed) since start.
    public var completedJobs: Int { completed.load(ordering: .relaxed) }

    /// The lease owner name of worker `index`: host, process id and index, unique per run.
    public func owner(_ index: Int) -> String { "\(ownerPrefix):w\(index)" }

    /// Opens the claim dispatcher's queue connection and two per worker (outcomes, which the worker's resources share;
    /// lease renewals, used from the renewal timer's queue), lets the handler open what it uses there
    /// (`JobHandler.prepare`), and starts the threads.
    /// - Throws: the store's error if the database cannot be opened, or the handler's from `prepare`.
    public func start() throws {
        let claims = try JobQueueOpening.openSharingItsConnection(configuration.location, durableCommits: false,
                                                                  leavingCheckpointsToTheWriter: true).queue
        do {
            try startWorkers()
        } catch {
            claims.close()
            throw error
        }
        let dispatcher = ClaimDispatcher(pool: self, queue: claims)
        running.add(1, ordering: .relaxed)
        let thread = Thread { dispatcher.run() }
        thread.name = "hookyard.claims"
        thread.start()
        try startListeningForJobsFromOtherNodes()
    }

    private func startWorkers() throws {
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
            let worker = Worker(pool: self, index: index, queue: queue, renewals: renewals, context: context)
            running.add(1, ordering: .relaxed)
            let thread = Thread { worker.run() }
            thread.name = "hookyard.worker\(index)"
            thread.start()
        }
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

    /// Whether every worker and the claim dispatcher are making progress: each worker is either between jobs and went
    /// round its loop within `idleWithin` milliseconds, or runs a job that started less than `jobWithin` ago; the
    /// dispatcher went round its loop within `idleWithin`. A worker stuck in a handler (a hung call, a deadlock) or a
    /// claim hung on a dead database makes this `false`; the systemd watchdog then stops being fed. Thread-safe.
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

    /// Starts a claim round for the idle workers now (for instance after new jobs were committed). Cheap and
    /// coalesced: a burst of calls while a round is pending adds one round, not one per call. Thread-safe.
    public func wake() { signalClaims() }

    /// How many workers wait for a job now (for tests and diagnostics; it changes as soon as it is read). Thread-safe.
    public var idleWorkerCount: Int { idleWorkers().count }

    /// The indices of the workers waiting for a job now.
    fileprivate func idleWorkers() -> [Int] {
        handoff.withLock { workers in workers.indices.filter { if case .idle = workers[$0] { true } else { false } } }
    }

    /// How many workers have left their loop (tests).
    var closedWorkerCount: Int {
        handoff.withLock { workers in workers.filter { if case .closed = $0 { true } else { false } }.count }
    }

    /// Tests only: called on the claim dispatcher's thread with the jobs of each claim that took any, before they are
    /// handed over (so a test can hold a hand-off while it stops the pool). `nil` outside tests.
    let afterClaimForTesting = Mutex<(@Sendable ([Job]) -> Void)?>(nil)

    /// The key the claim dispatcher beats under in `beats` (owners are `host:pid:wN`, so it cannot collide).
    fileprivate static let claimsBeatKey = "claims"

    fileprivate func signalClaims() {
        if !claimSignalPending.exchange(true, ordering: .sequentiallyConsistent) { claimSignal.signal() }
    }

    /// Waits for a claim signal (or `milliseconds`), then lets the next signal through again.
    fileprivate func waitForClaimSignal(milliseconds: Int64) {
        _ = claimSignal.wait(timeout: .now() + .milliseconds(Int(milliseconds)))
        claimSignalPending.store(false, ordering: .sequentiallyConsistent)
    }

    /// Lets running jobs finish for up to `gracePeriod`, then releases the leases still held. Blocks until done.
    public func stop(gracePeriod: Duration = .seconds(10)) {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        let threads = running.load(ordering: .relaxed)
        claimSignal.signal()
        for signal in workerSignals { signal.signal() }
        let deadline = DispatchTime.now() + .nanoseconds(Int(gracePeriod / .nanoseconds(1)))
        var stopped = 0
        while stopped < threads, finished.wait(timeout: deadline) == .success { stopped += 1 }
        guard stopped < threads else { return }
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

    /// What one worker is doing, as the claim dispatcher sees it (`handoff`). Only the worker leaves `idle` for
    /// `closed` and `delivered` for `busy`; only the dispatcher leaves `idle` for `delivered`.
    fileprivate enum WorkerState {
        /// Running a job, or between jobs on its way to `idle`.
        case busy
        /// Waiting for a job: the next claim round claims one for it.
        case idle
        /// A job was claimed for it and waits in its mailbox.
        case delivered(Job)
        /// Left its loop (stopping): takes nothing more; a job claimed for it meanwhile is given back.
        case closed
    }

    /// What a worker found when it looked for a job.
    private enum Pickup {
        case job(Job)
        /// Nothing yet; it just became idle (so the dispatcher should run a round for it).
        case becameIdle
        /// Nothing yet; it was idle already.
        case stillIdle
    }

    /// Takes the job handed to worker `index`, or marks it idle.
    private func pickUp(_ index: Int) -> Pickup {
        handoff.withLock { workers in
            switch workers[index] {
            case .delivered(let job):
                workers[index] = .busy
                return .job(job)
            case .busy:
                workers[index] = .idle
                return .becameIdle
            case .idle:
                return .stillIdle
            case .closed:
                preconditionFailure("worker \(index) looked for a job after it closed")
            }
        }
    }

    /// Gives back `job`, leased to `owner`, a worker that has left its loop: releases the owner's leases through `queue`
    /// so another start or node claims it at once, and logs `message`; if that fails, logs it and leaves the lease to
    /// expire by itself.
    fileprivate func giveBack(_ job: Job, owner: String, through queue: any JobQueueStorage, logging message: Logger.Message) {
        do {
            try queue.releaseLeases(owner: owner, now: clock())
            logger.info(message, metadata: ["worker": "\(owner)", "job_id": .stringConvertible(job.id)])
        } catch {
            logger.error("could not release a lease at shutdown; it expires by itself",
                         metadata: ["worker": "\(owner)", "job_id": .stringConvertible(job.id), "error": "\(error)"])
        }
    }

    /// Marks worker `index` closed. - Returns: a job handed to it that it never took (its lease is still held).
    private func close(_ index: Int) -> Job? {
        handoff.withLock { workers in
            defer { workers[index] = .closed }
            if case .delivered(let job) = workers[index] { return job }
            return nil
        }
    }

    /// One worker's loop. Its queue connections are used only by its own thread and its renewal queue.
    private final class Worker: @unchecked Sendable {  // Safe: `queue` and `context` are used only on the worker thread, `renewals` only on `renewalQueue`.
        let pool: WorkerPool
        let index: Int
        let owner: String
        let queue: any JobQueueStorage
        let renewals: any JobQueueStorage
        let context: WorkerContext
        let renewalQueue: DispatchQueue
        /// The job running now, whose lease the renewal timer extends.
        let current = Mutex<Int64?>(nil)

        init(pool: WorkerPool, index: Int, queue: any JobQueueStorage, renewals: any JobQueueStorage, context: WorkerContext) {
            self.pool = pool
            self.index = index
            owner = pool.owner(index)
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
            let signal = pool.workerSignals[index]
            let poll = DispatchTimeInterval.milliseconds(Int(pool.configuration.pollMilliseconds))
            while !pool.stopping.load(ordering: .relaxed) {
                pool.beat(owner, job: false)
                switch pool.pickUp(index) {
                case .job(let job):
                    execute(job)
                case .becameIdle:
                    pool.signalClaims()
                    _ = signal.wait(timeout: .now() + poll)
                case .stillIdle:
                    _ = signal.wait(timeout: .now() + poll)
                }
            }
            // Closed under the hand-off lock: from now on the dispatcher gives back what it claims for this worker;
            // a job it handed over just before is given back here.
            if let stranded = pool.close(index) {
                pool.giveBack(stranded, owner: owner, through: queue, logging: "job handed over at shutdown; lease released")
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
                    if !followUps.isEmpty { pool.signalClaims() }
                case .skipped(let reason, let followUps):
                    let recorded = try queue.skip(jobID: job.id, owner: owner, reason: reason, followUps: followUps, now: now)
                    metadata["outcome"] = recorded ? "skipped" : "lease_lost"
                    metadata["reason"] = "\(reason)"
                    pool.metrics?.jobAttempts.increment(labels: [HookyardMetrics.provider(ofJobKind: job.kind), job.kind, recorded ? "skipped" : "lease_lost"])
                    logger.info("job finished", metadata: metadata)
                    if !followUps.isEmpty { pool.signalClaims() }
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

    /// The claim dispatcher's loop: one claim per round for every idle worker, on a queue connection of its own.
    private final class ClaimDispatcher: @unchecked Sendable {  // Safe: `queue` is used only on the dispatcher thread.
        let pool: WorkerPool
        let queue: any JobQueueStorage

        init(pool: WorkerPool, queue: any JobQueueStorage) {
            self.pool = pool
            self.queue = queue
        }

        func run() {
            // As the workers: webhooks come first (every claim is a write).
            try? Posix.setCurrentThreadNice(10)
            defer {
                pool.forget(WorkerPool.claimsBeatKey)
                queue.close()
                pool.finished.signal()
            }
            let configuration = pool.configuration
            var failing = false
            while !pool.stopping.load(ordering: .sequentiallyConsistent) {
                pool.beat(WorkerPool.claimsBeatKey, job: false)
                guard pool.idleWorkerCount > 0 else {
                    pool.waitForClaimSignal(milliseconds: configuration.pollMilliseconds)
                    continue
                }
                var waited = 0
                while waited < configuration.maxYieldMilliseconds, configuration.intakeIsBusy(),
                      !pool.stopping.load(ordering: .relaxed) {
                    usleep(UInt32(configuration.yieldMilliseconds) * 1000)
                    waited += configuration.yieldMilliseconds
                }
                // Taken after the yield, so workers that went idle meanwhile share this claim.
                let idle = pool.idleWorkers()
                // Checked again after the yield: no claim once stop began.
                guard !idle.isEmpty, !pool.stopping.load(ordering: .sequentiallyConsistent) else { continue }
                let jobs: [Job]
                do {
                    jobs = try queue.claimDue(for: idle.map(pool.owner), leaseMilliseconds: configuration.leaseMilliseconds,
                                              now: pool.clock())
                    if failing { pool.logger.notice("claiming jobs works again") }
                    failing = false
                } catch {
                    if !failing {
                        pool.logger.error("claiming jobs failed; retrying every second", metadata: ["error": "\(error)"])
                    }
                    failing = true
                    pause(milliseconds: 1000)
                    continue
                }
                if !jobs.isEmpty {
                    pool.afterClaimForTesting.withLock { $0 }?(jobs)
                    pool.metrics?.jobClaims.increment()
                    pool.metrics?.jobsClaimed.increment(by: Double(jobs.count))
                    hand(jobs, to: idle)
                }
                if jobs.count < idle.count { pool.waitForClaimSignal(milliseconds: configuration.pollMilliseconds) }
            }
        }

        /// Hands `jobs[i]` to worker `idle[i]` (the worker it was leased to); gives back those claimed for a worker
        /// that closed since the round began.
        private func hand(_ jobs: [Job], to idle: [Int]) {
            var deliveries: [(job: Job, index: Int)] = []
            for (job, index) in zip(jobs, idle) {
                guard job.leaseOwner == pool.owner(index) else {
                    // Against `claimDue`'s contract: not handed to anyone, so its lease expires and it runs again.
                    pool.logger.error("claimed job leased to another owner than asked; left to its lease",
                                      metadata: ["job_id": .stringConvertible(job.id), "worker": "\(pool.owner(index))",
                                                 "lease_owner": "\(job.leaseOwner ?? "none")"])
                    continue
                }
                deliveries.append((job, index))
            }
            let closed: [(job: Job, index: Int)] = pool.handoff.withLock { workers in
                var closed: [(job: Job, index: Int)] = []
                for delivery in deliveries {
                    switch workers[delivery.index] {
                    case .idle: workers[delivery.index] = .delivered(delivery.job)
                    case .closed: closed.append(delivery)
                    case .busy, .delivered:
                        preconditionFailure("worker \(delivery.index) left idle while a claim for it was under way")
                    }
                }
                return closed
            }
            for delivery in deliveries where !closed.contains(where: { $0.index == delivery.index }) {
                pool.workerSignals[delivery.index].signal()
            }
            for (job, index) in closed {
                pool.giveBack(job, owner: pool.owner(index), through: queue,
                              logging: "job claimed for a worker that had stopped; lease released")
            }
        }

        /// Waits `milliseconds` (after a failed claim), returning early only when the pool stops.
        private func pause(milliseconds: Int64) {
            let deadline = WorkerPool.monotonicMilliseconds() + milliseconds
            while !pool.stopping.load(ordering: .sequentiallyConsistent) {
                let left = deadline - WorkerPool.monotonicMilliseconds()
                guard left > 0 else { return }
                pool.waitForClaimSignal(milliseconds: left)
            }
        }
    }
}
