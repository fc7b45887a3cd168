import Jobs
import Logging
import Store

/// Alerts on jobs that went dead (a permanent failure, or the attempt budget spent), one condition per failing
/// step: the subject is `SQLiteJobQueue.alertSubject(of:)` (`rule/step`, or the job kind), so a step that fails for a
/// hundred leads alerts once per interval, not a hundred times. The condition clears once no dead job of that
/// subject remains (replayed with `hookyard jobs retry`, or discarded), checked by `clearResolved`.
///
/// A dead `alert.notify` job is only logged: alerting about the alert webhook through the alert webhook would loop.
///
/// A value; thread-safe (the center is).
public struct DeadJobAlerts: DeadJobObserver {
    public let alerts: AlertCenter
    private let logger: Logger

    public init(alerts: AlertCenter, logger: Logger) {
        self.alerts = alerts
        self.logger = logger
    }

    /// Longest part of a job's error an alert repeats.
    static let errorLength = 300

    /// Raises (or refreshes) the alert for the subject of `job`, which `queue` just recorded as dead.
    /// - Parameter queue: the caller's connection, to count the subject's dead jobs (called outside any transaction).
    public func jobDied(_ job: Job, error: String, status: Int?, queue: any JobQueueStorage) {
        let lastError = String(error.prefix(Self.errorLength))
        guard job.kind != AlertCenter.notificationKind else {
            logger.error("alert notification dead; not alerted again (that would loop through the same webhook)", metadata: [
                "job_id": .stringConvertible(job.id), "error": "\(lastError)",
                "replay": "hookyard jobs retry \(job.id) once the alert webhook works"])
            return
        }
        let subject = SQLiteJobQueue.alertSubject(of: job)
        let dead: Int
        do {
            dead = try queue.deadJobs(subject: subject).count
        } catch {
            logger.error("cannot count dead jobs for the alert", metadata: ["subject": "\(subject)", "error": "\(error)"])
            dead = 1
        }
        var context = ["job_id": String(job.id), "action": job.kind, "attempts": String(job.attempts), "last_error": lastError,
                       "event_id": String(job.eventID), "dead_jobs": String(dead)]
        let parts = subject.split(separator: "/", maxSplits: 1)
        if subject != job.kind, parts.count == 2 {
            context["rule"] = String(parts[0])
            context["step"] = String(parts[1])
        }
        if let status { context["status"] = String(status) }
        let jobs = dead == 1 ? "1 job" : "\(dead) jobs"
        alerts.raise(AlertCondition(.jobDead, subject: subject), message: """
            \(jobs) dead for \(subject); the last, job \(job.id) after \(job.attempts) attempt(s): \(lastError). \
            Fix the cause, then replay with `hookyard jobs retry --all-dead` (or `hookyard jobs discard \(job.id)`); \
            `hookyard jobs show \(job.id)` has every attempt.
            """, context: context)
    }

    /// Clears the dead-job alerts whose subject has no dead job left. - Returns: the subjects cleared.
    @discardableResult
    public func clearResolved(queue: any JobQueueStorage) -> [String] {
        let subjects: [String]
        do {
            subjects = try alerts.raisedSubjects(.jobDead)
        } catch {
            logger.error("cannot read the raised dead-job alerts", metadata: ["error": "\(error)"])
            return []
        }
        var cleared: [String] = []
        for subject in subjects {
            do {
                guard try queue.deadJobs(subject: subject).count == 0 else { continue }
            } catch {
                logger.error("cannot count dead jobs for the alert", metadata: ["subject": "\(subject)", "error": "\(error)"])
                continue
            }
            alerts.clear(AlertCondition(.jobDead, subject: subject),
                         message: "no dead job of \(subject) remains (replayed or discarded)")
            cleared.append(subject)
        }
        return cleared
    }
}
