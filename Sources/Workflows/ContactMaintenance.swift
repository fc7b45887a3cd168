import Alerts
import Contacts
import Dispatch
import Foundation
import HookyardFoundation
import Cluster
import Logging
import Outbound
import Store
import Synchronization

/// The contacts' periodic upkeep, on a queue of its own: prunes raw payloads past the retention window, re-scores
/// engagement and re-evaluates segments as time passes (engagement decays, `days_since_engagement` grows), and
/// starts the rules on the segment changes that causes.
///
/// Each pass is a series of small transactions, so intake and workers wait at most one batch for the write lock.
/// A crash mid-pass loses nothing: a segment change the clock caused is recorded unqueued first, and the next pass
/// starts its rules (their flow keys are unique, so a change is never started twice). Thread-safe: `start()` once,
/// `stop()` once, `update` at any time; `runOnce()` may be called directly (tests, CLI) while no timer runs.
public final class ContactMaintenance: Sendable {
    public struct Configuration: Sendable {
        /// The database the pass works on (either engine).
        public var location: DatabaseLocation
        /// Time between passes (`contacts.maintenance_interval`), at least a second.
        public var intervalMilliseconds: Int64
        /// Raw bodies of events older than this are pruned; `nil`: kept forever.
        public var retentionMilliseconds: Int64?
        /// Rows per transaction.
        public var batch: Int

        public init(location: DatabaseLocation, intervalMilliseconds: Int64 = 600_000, retentionMilliseconds: Int64? = 30 * 86_400_000,
                    batch: Int = 500) {
            self.location = location
            self.intervalMilliseconds = max(1_000, intervalMilliseconds)
            self.retentionMilliseconds = retentionMilliseconds
            self.batch = max(1, batch)
        }

        /// Time from `start()` to the first pass: a minute, or the interval when that is shorter, so a node that was
        /// just started does not compete with intake's first burst but a short interval is honoured from the start.
        public var firstPassMilliseconds: Int64 { min(60_000, intervalMilliseconds) }
    }

    /// What one pass did.
    public struct Report: Sendable, Equatable {
        public var payloadsPruned = 0
        public var transitions = 0
        public var flowsStarted = 0
        /// Deliverability pauses queued (campaigns whose rates crossed a threshold, `deliverability.pause_campaigns`).
        public var campaignPausesQueued = 0
        /// Dead-job alerts cleared (no dead job of their step remains).
        public var alertsCleared = 0
    }

    private let configuration: Mutex<Configuration>
    private let engine: WorkflowEngine
    private let logger: Logger
    private let clock: MillisecondClock
    private let onJobsQueued: @Sendable () -> Void
    private let deliverability: DeliverabilityWatch?
    private let deadJobs: DeadJobAlerts?
    private let queue = DispatchQueue(label: "hookyard.contact-maintenance", qos: .utility)
    /// Keeps the timer's passes to one node of a cluster at a time (PostgreSQL); every pass runs on SQLite.
    private let taskLock: any PeriodicTaskLock
    /// Created by `start()`: a dispatch source must not be released while it was never resumed.
    private let timer = Mutex<TimerHandle?>(nil)

    /// - Parameters:
    ///   - onJobsQueued: called after a pass queued rule jobs (wakes the workers).
    ///   - deliverability: each pass judges every sending account and campaign, and clears what no longer holds.
    ///   - deadJobs: each pass clears the dead-job alerts whose dead jobs are all gone.
    public init(configuration: Configuration, engine: WorkflowEngine, logger: Logger,
                clock: @escaping MillisecondClock = WallClock.system,
                onJobsQueued: @escaping @Sendable () -> Void = {}, deliverability: DeliverabilityWatch? = nil,
                deadJobs: DeadJobAlerts? = nil) {
        self.deliverability = deliverability
        self.deadJobs = deadJobs
        self.configuration = Mutex(configuration)
        taskLock = configuration.location.periodicTaskLock()
        self.engine = engine
        self.logger = logger
        self.clock = clock
        self.onJobsQueued = onJobsQueued
    }

    /// Changes the retention window and the interval (configuration reload). A new interval restarts the timer: the
    /// next pass comes `firstPassMilliseconds` of the new settings from now. `nil` keeps the interval.
    public func update(retentionMilliseconds: Int64?, intervalMilliseconds: Int64? = nil) {
        // Under the timer's lock, as in `start()`: a reload racing the start cannot leave the old interval running.
        timer.withLock { handle in
            let (changed, settings) = configuration.withLock { configuration in
                configuration.retentionMilliseconds = retentionMilliseconds
                let before = configuration.intervalMilliseconds
                if let intervalMilliseconds { configuration.intervalMilliseconds = max(1_000, intervalMilliseconds) }
                return (configuration.intervalMilliseconds != before, configuration)
            }
            if changed, let source = handle?.source { Self.schedule(source, settings) }
        }
    }

    /// Runs the first pass `firstPassMilliseconds` after start, then every interval.
    public func start() {
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.setEventHandler { [self] in
            do {
                var ran: (report: Report, startedAt: Int64, elapsed: Duration)?
                // On PostgreSQL one node of the cluster runs each pass; the others skip it (and try next interval).
                // The pass is timed inside the lock: the times logged are the times it held the task.
                try taskLock.runIfNoOtherNodeIs("contact-maintenance") {
                    let startedAt = clock()
                    let started = ContinuousClock.now
                    let report = try runOnce()
                    ran = (report, startedAt, ContinuousClock.now - started)
                }
                guard let (report, startedAt, elapsed) = ran else { return }
                let metadata: Logger.Metadata = [
                    "payloads_pruned": .stringConvertible(report.payloadsPruned),
                    "segment_changes": .stringConvertible(report.transitions),
                    "flows_started": .stringConvertible(report.flowsStarted),
                    "campaign_pauses_queued": .stringConvertible(report.campaignPausesQueued),
                    "alerts_cleared": .stringConvertible(report.alertsCleared),
                    // When this node took the pass and how long it held it: in a cluster no two nodes' passes overlap.
                    "started_at": "\(ISO8601Timestamp.string(startedAt))",
                    "duration_ms": .stringConvertible(Int64((elapsed / .milliseconds(1)).rounded(.up)))]
                // A pass that changed something is worth a line at info; an idle one only at debug.
                logger.log(level: report == Report() ? .debug : .info, "contact maintenance", metadata: metadata)
            } catch {
                logger.error("contact maintenance failed; next pass retries", metadata: ["error": "\(error)"])
            }
        }
        let handle = TimerHandle(source)
        timer.withLock { timer in
            Self.schedule(source, configuration.withLock { $0 })
            source.resume()
            timer = handle
        }
    }

    /// The first pass after `firstPassMilliseconds`, then one every interval; late by at most a tenth of the interval
    /// (5 s at most), which lets the system batch wake-ups.
    private static func schedule(_ source: DispatchSourceTimer, _ settings: Configuration) {
        let interval = settings.intervalMilliseconds
        source.schedule(deadline: .now() + .milliseconds(Int(settings.firstPassMilliseconds)), repeating: .milliseconds(Int(interval)),
                        leeway: .milliseconds(Int(min(5_000, interval / 10))))
    }

    /// Stops the timer and waits for a pass in progress to finish.
    public func stop() {
        timer.withLock { $0 }?.source.cancel()
        queue.sync {}
    }

    /// One pass: prune, re-evaluate every contact, start the rules of unqueued segment changes; then clear the dead-job
    /// alerts that no longer hold and judge deliverability (queueing campaign pauses).
    public func runOnce() throws -> Report {
        let settings = configuration.withLock { $0 }
        var report = Report()
        let store = try WorkflowRecordsOpening.open(settings.location, sharing: nil)
        defer { store.close() }
        let jobs = try JobQueueOpening.open(settings.location)
        defer { jobs.close() }

        if let retention = settings.retentionMilliseconds {
            let cutoff = clock() - retention
            while true {
                let pruned = try store.contacts.prunePayloads(olderThan: cutoff, limit: settings.batch, now: clock())
                report.payloadsPruned += pruned
                if pruned < settings.batch { break }
            }
        }

        let policy = engine.currentContactPolicy
        var after: Int64 = 0
        while true {
            let (transitions, last) = try store.contacts.reevaluate(after: after, limit: settings.batch, policy: policy.engagement,
                                                                     segments: policy.segments, now: clock())
            report.transitions += transitions.count
            guard let last else { break }
            after = last
        }

        while true {
            let pending = try store.contacts.unqueuedTransitions(limit: settings.batch)
            if pending.isEmpty { break }
            let now = clock()
            let started = try engine.segmentJobs(for: pending.map(\.transition), store: store, now: now).jobs
            report.flowsStarted += try jobs.enqueue(started, now: now)
            try store.contacts.markTransitionsQueued(pending.map(\.id))
            if pending.count < settings.batch { break }
        }
        if let deadJobs { report.alertsCleared = deadJobs.clearResolved(queue: jobs).count }
        if let deliverability {
            report.campaignPausesQueued = try jobs.enqueue(deliverability.evaluateAll(reader: store.deliverabilityReader()), now: clock())
        }
        if report.flowsStarted > 0 || report.campaignPausesQueued > 0 { onJobsQueued() }
        return report
    }
}

/// A dispatch timer shared between `start()` and `stop()`; DispatchSource's methods are thread-safe.
final class TimerHandle: @unchecked Sendable {
    let source: DispatchSourceTimer
    init(_ source: DispatchSourceTimer) { self.source = source }
}
