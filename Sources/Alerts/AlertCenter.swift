import Foundation
import HookyardFoundation
import Logging
import Metrics
import Outbound
import Store
import StrictJSON

/// Hookyard's `AlertRaising`: keeps each condition's state in the database (`SQLiteAlertStore`), notifies a condition at
/// most once per repeat interval, says once when it clears, and turns each notification into a structured log line
/// (error level for a raise, notice for a clear) and, when an alert webhook is configured, a job in the durable
/// queue (`alert.notify`) that posts the text to it, retried like any job.
///
/// The log line is the channel that always works: when the state cannot be saved (the store that cannot commit is
/// one of the conditions), the raise is logged from memory (at most once per interval), and saved with its
/// notification job the next time the store answers (at the latest when the condition clears).
///
/// A notification job belongs to a stored event: the one named by `context["event_id"]` (the event that caused the
/// condition), else the one the condition's previous notification belonged to, else the newest stored event.
///
/// Thread-safe: one connection behind a lock. Never call it inside a database transaction (it writes in its own).
public final class AlertCenter: AlertRaising {
    /// The kind of the jobs that post a notification to the alert webhook.
    public static let notificationKind = "alert.notify"

    public struct Configuration: Sendable {
        /// The database the alerts are kept in (either engine).
        public var location: DatabaseLocation
        /// The same condition is notified again after this long while it holds (`alerts.repeat_interval`).
        public var repeatIntervalMilliseconds: Int64
        /// Whether each notification also becomes an `alert.notify` job (`HOOKYARD_ALERT_WEBHOOK_URL` is set).
        public var postsToWebhook: Bool
        /// `false` (the daemon): alert state commits with `synchronous=NORMAL`.
        public var durableCommits: Bool

        public init(location: DatabaseLocation, repeatIntervalMilliseconds: Int64 = 3_600_000, postsToWebhook: Bool = false,
                    durableCommits: Bool = true) {
            self.location = location
            self.repeatIntervalMilliseconds = max(1_000, repeatIntervalMilliseconds)
            self.postsToWebhook = postsToWebhook
            self.durableCommits = durableCommits
        }
    }

    /// A raise that could not be saved: logged already, saved (and its notification queued) once the store answers.
    private struct UnsavedRaise {
        var message: String
        var context: [String: String]
        var at: Int64
        var loggedAt: Int64
    }

    /// The connection and what goes with it. `@unchecked Sendable` is safe: every field is read and changed only
    /// inside `withLock`, so the connection is used by one thread at a time.
    private final class State: @unchecked Sendable {
        private let lock = NSLock()
        /// Opened on first use, and again after an error closed it.
        var store: (any AlertStorage)?
        var repeatInterval: Int64
        var unsaved: [AlertCondition: UnsavedRaise] = [:]

        init(repeatInterval: Int64) { self.repeatInterval = repeatInterval }

        func withLock<R>(_ body: (State) throws -> R) rethrows -> R {
            lock.lock()
            defer { lock.unlock() }
            return try body(self)
        }
    }

    private let configuration: Configuration
    /// The connection and the unsaved raises, behind a lock.
    private let state: State
    private let logger: Logger
    private let metrics: HookyardMetrics?
    private let clock: MillisecondClock

    public init(configuration: Configuration, logger: Logger, metrics: HookyardMetrics? = nil,
                clock: @escaping MillisecondClock = WallClock.system) {
        self.configuration = configuration
        self.state = State(repeatInterval: configuration.repeatIntervalMilliseconds)
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
    }

    /// Changes the repeat interval (configuration reload).
    public func update(repeatIntervalMilliseconds: Int64) {
        state.withLock { $0.repeatInterval = max(1_000, repeatIntervalMilliseconds) }
    }

    /// Closes the connection (it is opened again if the center is used afterwards).
    public func close() {
        state.withLock { state in
            state.store?.close()
            state.store = nil
        }
    }

    // MARK: AlertRaising

    public func raise(_ condition: AlertCondition, message: String, context: [String: String]) {
        raiseCondition(condition, message: message, context: context)
    }

    public func clear(_ condition: AlertCondition, message: String) {
        let now = clock()
        // A raise logged while the store could not save it is saved first (`withStore`), then cleared.
        let outcome: Result<AlertChange?, any Error> = withStore { store, interval, _ in
            try store.clear(kind: condition.kind.rawValue, subject: condition.subject, message: message, now: now) {
                notificationJob($0, cleared: true, interval: interval, now: now)
            }
        }
        switch outcome {
        case .success(let change?):
            var metadata = Self.metadata(condition, message: message, context: change.record.context)
            metadata["raised_at"] = "\(ISO8601Timestamp.string(change.record.firstRaisedAt))"
            metadata["notification"] = "\(notificationNote(change))"
            logger.notice("alert cleared", metadata: metadata)
        case .success(nil):
            break
        case .failure(let error):
            let wasLogged = state.withLock { $0.unsaved.removeValue(forKey: condition) != nil }
            var metadata = Self.metadata(condition, message: message, context: [:])
            metadata["notification"] = "not saved or queued: the alert store failed (\(error))"
            if wasLogged { logger.notice("alert cleared", metadata: metadata) } else {
                logger.warning("alert clear could not be saved; the next check clears it", metadata: metadata)
            }
        }
    }

    // MARK: Raising with the outcome

    /// Raises `condition` (as `raise(_:message:context:)`) and returns what changed, or `nil` when the state could
    /// not be saved (the alert was then logged from memory, at most once per interval).
    @discardableResult
    public func raiseCondition(_ condition: AlertCondition, message: String, context: [String: String]) -> AlertChange? {
        let now = clock()
        let eventID = context["event_id"].flatMap { Int64($0) }
        let outcome: Result<AlertChange?, any Error> = withStore { store, interval, unsaved in
            try store.raise(kind: condition.kind.rawValue, subject: condition.subject, message: message, context: context,
                            eventID: eventID, now: now, repeatAfterMilliseconds: interval) {
                notificationJob($0, cleared: false, interval: interval, now: now)
            }
        }
        switch outcome {
        case .success(let change?):
            guard change.notified else {
                logger.debug("alert still raised; notified within the repeat interval",
                             metadata: Self.metadata(condition, message: message, context: context))
                return change
            }
            var metadata = Self.metadata(condition, message: message, context: context)
            metadata["notice"] = .stringConvertible(change.record.timesNotified)
            metadata["notification"] = "\(notificationNote(change))"
            if change.record.timesNotified > 1 { metadata["raised_at"] = "\(ISO8601Timestamp.string(change.record.firstRaisedAt))" }
            logger.error(change.newlyRaised ? "alert raised" : "alert still raised", metadata: metadata)
            metrics?.alertsRaised.increment(labels: [condition.kind.rawValue])
            return change
        case .success(nil):
            return nil
        case .failure(let error):
            let log = state.withLock { state -> Bool in
                var unsaved = state.unsaved[condition] ?? UnsavedRaise(message: message, context: context, at: now, loggedAt: Int64.min / 2)
                let due = now - unsaved.loggedAt >= state.repeatInterval
                unsaved.message = message
                unsaved.context = context
                if due { unsaved.loggedAt = now }
                state.unsaved[condition] = unsaved
                return due
            }
            if log {
                var metadata = Self.metadata(condition, message: message, context: context)
                metadata["notification"] = "log only for now: the alert store failed (\(error)); saved and queued once it answers"
                logger.error("alert raised", metadata: metadata)
                metrics?.alertsRaised.increment(labels: [condition.kind.rawValue])
            }
            return nil
        }
    }

    // MARK: Reading

    /// Raised alerts, most recent first, then with `includeCleared` the cleared ones.
    public func alerts(includeCleared: Bool) throws -> [AlertRecord] {
        try withStore { store, _, _ in try store.alerts(includeCleared: includeCleared) }.get()
    }

    /// The subjects of the raised alerts of `kind`.
    public func raisedSubjects(_ kind: AlertCondition.Kind) throws -> [String] {
        try withStore { store, _, _ in try store.raisedSubjects(kind: kind.rawValue) }.get()
    }

    /// Whether any of `subjects` of `kind` is raised.
    public func anyRaised(_ kind: AlertCondition.Kind, subjects: [String]) throws -> Bool {
        try withStore { store, _, _ in try store.anyRaised(kind: kind.rawValue, subjects: subjects) }.get()
    }

    /// Raised alerts per kind as `hookyard_alerts_active` samples (every kind, zeros included); empty on error.
    public func activeCounts() -> [(labels: [String], value: Double)] {
        do {
            let counts = try withStore { store, _, _ in try store.raisedCounts() }.get()
            return AlertCondition.Kind.allCases.map { (labels: [$0.rawValue], value: Double(counts[$0.rawValue] ?? 0)) }
        } catch {
            logger.error("metrics: cannot read alert counts", metadata: ["error": "\(error)"])
            return []
        }
    }

    // MARK: Internals


    /// Runs `body` with the connection (opened if need be), the repeat interval and the unsaved raises, under the
    /// lock. Unsaved raises of other conditions are saved first. An error closes the connection (the next call
    /// opens it again).
    private func withStore<R>(_ body: (any AlertStorage, Int64, inout [AlertCondition: UnsavedRaise]) throws -> R) -> Result<R, any Error> {
        state.withLock { state -> Result<R, any Error> in
            do {
                let store: any AlertStorage = try state.store ?? AlertStorageOpening.open(configuration.location, durableCommits: configuration.durableCommits)
                state.store = store
                try saveUnsaved(store, state: state)
                return .success(try body(store, state.repeatInterval, &state.unsaved))
            } catch {
                state.store?.close()
                state.store = nil
                return .failure(error)
            }
        }
    }

    /// Saves the raises logged while the store failed, with their notification jobs (each keeps its own time).
    private func saveUnsaved(_ store: any AlertStorage, state: State) throws {
        for (condition, raise) in state.unsaved.sorted(by: { $0.value.at < $1.value.at }) {
            let interval = state.repeatInterval
            let change = try store.raise(kind: condition.kind.rawValue, subject: condition.subject, message: raise.message,
                                         context: raise.context, eventID: nil, now: raise.at, repeatAfterMilliseconds: interval) {
                notificationJob($0, cleared: false, interval: interval, now: clock())
            }
            state.unsaved[condition] = nil
            var metadata = Self.metadata(condition, message: raise.message, context: raise.context)
            metadata["notification"] = "\(notificationNote(change))"
            logger.info("alert saved now that the store answers", metadata: metadata)
        }
    }

    /// The `alert.notify` job for a notification of `record`, or `nil` when no alert webhook is configured.
    private func notificationJob(_ record: AlertRecord, cleared: Bool, interval: Int64, now: Int64) -> NewJob? {
        guard configuration.postsToWebhook else { return nil }
        let text = cleared ? AlertText.cleared(record) : AlertText.raised(record, repeatIntervalMilliseconds: interval)
        let input = JSONValue.object(["text": .string(text), "alert": .string(record.kind), "subject": .string(record.subject),
                                      "state": .string(cleared ? "cleared" : "raised")])
        let key = "alert:\(record.id):\(record.firstRaisedAt):" + (cleared ? "cleared" : "notice:\(record.timesNotified)")
        return NewJob(kind: Self.notificationKind, idempotencyKey: key, input: input.serialized(), runAt: now)
    }

    private func notificationNote(_ change: AlertChange) -> String {
        if let job = change.jobID { return "queued as job \(job)" }
        if !configuration.postsToWebhook { return "log only (HOOKYARD_ALERT_WEBHOOK_URL is not set)" }
        return "log only: no stored event to attach the notification job to yet"
    }

    /// The log line's fields: `alert` (the kind), `subject`, `message`, then the context (never overriding those).
    private static func metadata(_ condition: AlertCondition, message: String, context: [String: String]) -> Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        for (key, value) in context { metadata[key] = "\(value)" }
        metadata["alert"] = "\(condition.kind.rawValue)"
        metadata["subject"] = "\(condition.subject)"
        metadata["message"] = "\(message)"
        return metadata
    }
}

/// The text of alert notifications, in the shape chat tools show well (Slack's emoji short codes).
public enum AlertText {
    /// `:rotating_light: Hookyard alert (job_dead: lead-to-sale/link): 3 jobs dead, ...`; a repeat says since when
    /// the condition holds.
    public static func raised(_ record: AlertRecord, repeatIntervalMilliseconds: Int64) -> String {
        var text = ":rotating_light: Hookyard alert (\(record.kind): \(record.subject)): \(record.message)"
        if record.timesNotified > 1 {
            text += " (still so since \(ISO8601Timestamp.string(record.firstRaisedAt)); reminder \(record.timesNotified), "
                + "every \(duration(repeatIntervalMilliseconds)) while it holds)"
        }
        return text
    }

    /// `:white_check_mark: Hookyard alert cleared (job_dead: lead-to-sale/link): ... (raised 2h 5m before)`.
    public static func cleared(_ record: AlertRecord) -> String {
        let lasted = (record.clearedAt ?? record.lastRaisedAt) - record.firstRaisedAt
        return ":white_check_mark: Hookyard alert cleared (\(record.kind): \(record.subject)): \(record.message) "
            + "(raised at \(ISO8601Timestamp.string(record.firstRaisedAt)), \(duration(lasted)) before)"
    }

    /// `2d 3h`, `1h 30m`, `45s`: the two largest units.
    public static func duration(_ milliseconds: Int64) -> String {
        var rest = max(0, milliseconds) / 1000
        var parts: [String] = []
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size || (size == 1 && parts.isEmpty) {
            parts.append("\(rest / size)\(unit)")
            rest %= size
            if parts.count == 2 { break }
        }
        return parts.joined(separator: " ")
    }
}
