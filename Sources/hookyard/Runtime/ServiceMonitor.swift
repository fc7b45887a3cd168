import Dispatch
import Foundation
import Jobs
import HTTPServer
import Logging
import Store
import Synchronization
import Workflows

/// Keeps systemd informed while `serve` runs: a `STATUS=` line with the queue depth, and `WATCHDOG=1` at half of
/// `$WATCHDOG_USEC`, sent only while the daemon is making progress:
///
/// - the event loops and the accept queue each ran the no-op sent at the previous tick (`HTTPServer.checkResponsive`);
/// - the store's writer answered the probe sent at the previous tick (a failed commit still counts as an answer: a
///   full disk is reported by `/readyz`, and a restart would not cure it);
/// - every worker is between jobs or runs one that started less than `workers.max_job_seconds` ago.
///
/// A wedged daemon thus stops feeding the watchdog, and systemd restarts it. Without a watchdog the status is
/// refreshed every 10 s. Thread-safe: all state lives on the monitor's serial queue.
final class ServiceMonitor: @unchecked Sendable {  // Safe: mutable state is touched only on `queue`.
    private let notifier: SystemdNotifier
    private let server: HTTPServer
    private let writer: any GroupCommitEventSink
    private let pool: WorkerPool
    private let database: DatabaseLocation
    private let watchdog: Duration?
    private let maxJobMilliseconds: Int64
    private let logger: Logger
    private let queue = DispatchQueue(label: "hookyard.service-monitor")
    private var timer: DispatchSourceTimer?
    private var reader: (any StoreReading)?
    /// The writer probe of the previous tick: sent, and answered.
    private let writerProbe = Mutex<(round: Int, answered: Bool)>((0, true))
    private var stuck: [String] = []

    init(notifier: SystemdNotifier, server: HTTPServer, writer: any GroupCommitEventSink, pool: WorkerPool, database: DatabaseLocation,
         watchdog: Duration?, maxJobMilliseconds: Int64, logger: Logger) {
        self.notifier = notifier
        self.server = server
        self.writer = writer
        self.pool = pool
        self.database = database
        self.watchdog = watchdog
        self.maxJobMilliseconds = maxJobMilliseconds
        self.logger = logger
    }

    /// The interval between ticks: half the watchdog interval, or 10 s.
    var interval: Duration { watchdog.map { $0 / 2 } ?? .seconds(10) }

    func start() {
        guard notifier.isEnabled else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let nanoseconds = Int(interval / .nanoseconds(1))
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds), leeway: .milliseconds(5))
        timer.setEventHandler { [self] in tick() }
        queue.sync { self.timer = timer }
        timer.resume()
    }

    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
            reader = nil
        }
    }

    /// The `STATUS=` text: where it listens and the queue by state.
    func status() -> String {
        dispatchPrecondition(condition: .onQueue(queue))
        let address = server.localAddress.map { "\($0)" } ?? "?"
        do {
            if reader == nil { reader = try StoreReadingOpening.open(database) }
            let jobs = try reader!.statistics().jobs
            let depth = ["queued", "running", "retrying", "dead"].map { "\(jobs[$0] ?? 0) \($0)" }.joined(separator: ", ")
            return "listening on \(address); jobs: \(depth)"
        } catch {
            reader = nil
            return "listening on \(address); queue depth unavailable: \(error)"
        }
    }

    /// What happens once per interval; also callable directly by tests through `start()` timing.
    private func tick() {
        var stuck: [String] = []
        if !server.checkResponsive() { stuck.append("http") }
        let (round, answered) = writerProbe.withLock { probe -> (Int, Bool) in
            let answered = probe.answered
            probe = (probe.round + 1, false)
            return (probe.round, answered)
        }
        if !answered { stuck.append("store writer") }
        writer.probe { [self] _ in
            writerProbe.withLock { probe in if probe.round == round { probe.answered = true } }
        }
        if !pool.isMakingProgress(jobWithin: maxJobMilliseconds) { stuck.append("workers") }

        if stuck != self.stuck {
            if stuck.isEmpty {
                logger.notice("watchdog: every part is making progress again")
            } else {
                logger.error("watchdog: not making progress; systemd's watchdog is no longer fed",
                             metadata: ["stuck": "\(stuck.joined(separator: ","))"])
            }
            self.stuck = stuck
        }
        var message = "STATUS=\(status())"
        if watchdog != nil, stuck.isEmpty { message += "\nWATCHDOG=1" }
        notifier.send(message)
    }
}
