import Store
import Dispatch
import Synchronization

/// Turns the event writer's failed commits into the `store_commit_failed` alert (subject: the database path, or its URI without the password) and
/// clears it at the first commit that succeeds again. Called on the writer thread (`SQLiteEventWriter`'s `onCommitFailure`
/// and `onRecovery`); the alert work runs on a queue of its own, so the writer never waits for it, and raises are
/// coalesced: while one is in progress, further failures only mark the store as failing.
///
/// The center cannot save the alert while the store fails, so the raise is a log line at first; its notification
/// job is queued when the store answers again (see `AlertCenter`).
///
/// Thread-safe.
public final class StoreCommitAlerts: Sendable {
    private struct State {
        var failing = false
        var raising = false
    }

    private let alerts: any AlertRaising
    private let condition: AlertCondition
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "hookyard.store-alerts")

    public init(alerts: any AlertRaising, database: DatabaseLocation) {
        self.alerts = alerts
        condition = AlertCondition(.storeCommitFailed, subject: database.description)
    }

    /// A commit failed with `error`.
    public func commitFailed(error: String) {
        let start = state.withLock { state -> Bool in
            state.failing = true
            guard !state.raising else { return false }
            state.raising = true
            return true
        }
        guard start else { return }
        let detail = String(error.prefix(300))
        queue.async { [self] in
            alerts.raise(condition, message: """
                the store cannot commit events to \(condition.subject): \(detail). Webhooks are answered 503 and their \
                senders retry, so nothing acknowledged is lost; check free disk space, the file's permissions and \
                `journalctl -u hookyard`.
                """, context: ["database": condition.subject, "error": detail])
            state.withLock { $0.raising = false }
        }
    }

    /// A commit succeeded after failures.
    public func commitSucceeded() {
        let wasFailing = state.withLock { state -> Bool in
            defer { state.failing = false }
            return state.failing
        }
        guard wasFailing else { return }
        queue.async { [self] in
            alerts.clear(condition, message: "event commits to \(condition.subject) succeed again")
        }
    }

    /// Waits until the alert work queued so far is done (shutdown, tests).
    public func drain() { queue.sync {} }
}
