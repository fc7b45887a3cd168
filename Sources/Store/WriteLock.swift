import Foundation

/// Serialises this process's write transactions on its SQLite databases in memory, before SQLite sees them, and
/// lets the intake's writer go first.
///
/// SQLite allows one writer at a time per database file; a connection that finds the file locked sleeps in its
/// busy handler in growing steps (up to 100 ms) even when the lock is freed a moment later. With the intake's
/// group-commit writer and the worker threads writing the same file, those sleeps would land on webhook latency.
/// Taking this lock first makes every in-process writer wait exactly as long as the transactions ahead of it, and
/// an `urgent` caller (the writer that acknowledges webhooks) is served before any waiting background caller, so a
/// busy queue never slows the intake. Other processes (the CLI) still meet SQLite's own locking and busy timeout.
///
/// Thread-safe; re-entrant on the thread that holds it.
public enum WriteLock {
    private struct State {
        var owner: pthread_t?
        var depth = 0
        var urgentWaiting = 0
    }

    private nonisolated(unsafe) static var state = State()  // Guarded by `condition`.
    private static let condition = NSCondition()

    /// Runs `body` holding the lock. - Parameter urgent: served before every non-urgent waiter.
    public static func withLock<R>(urgent: Bool = false, _ body: () throws -> R) rethrows -> R {
        acquire(urgent: urgent)
        defer { release() }
        return try body()
    }

    private static func acquire(urgent: Bool) {
        let me = pthread_self()
        condition.lock()
        defer { condition.unlock() }
        if let owner = state.owner, pthread_equal(owner, me) != 0 {
            state.depth += 1
            return
        }
        if urgent { state.urgentWaiting += 1 }
        while state.owner != nil || (!urgent && state.urgentWaiting > 0) { condition.wait() }
        if urgent { state.urgentWaiting -= 1 }
        state.owner = me
        state.depth = 1
    }

    private static func release() {
        condition.lock()
        defer { condition.unlock() }
        state.depth -= 1
        if state.depth == 0 {
            state.owner = nil
            condition.broadcast()
        }
    }
}
