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

    /// The lock was not free within the time a caller could wait.
    public struct Timeout: Error, CustomStringConvertible {
        public let waitedMilliseconds: Int64
        public var description: String {
            "another write transaction of this process held the database for more than \(waitedMilliseconds) ms"
        }
    }

    /// Runs `body` holding the lock. - Parameter urgent: served before every non-urgent waiter.
    public static func withLock<R>(urgent: Bool = false, _ body: () throws -> R) rethrows -> R {
        _ = acquire(urgent: urgent, until: nil)
        defer { release() }
        return try body()
    }

    /// Runs `body` holding the lock, waiting for it at most `milliseconds`.
    /// - Throws: `Timeout` when the lock was not free in time (then `body` did not run), or what `body` throws.
    public static func withLock<R>(urgent: Bool = false, waitingAtMost milliseconds: Int64, _ body: () throws -> R) throws -> R {
        let deadline = Date(timeIntervalSinceNow: Double(max(0, milliseconds)) / 1000)
        guard acquire(urgent: urgent, until: deadline) else { throw Timeout(waitedMilliseconds: milliseconds) }
        defer { release() }
        return try body()
    }

    /// - Returns: whether the lock is now held (false only when `deadline` passed first).
    private static func acquire(urgent: Bool, until deadline: Date?) -> Bool {
        let me = pthread_self()
        condition.lock()
        defer { condition.unlock() }
        if let owner = state.owner, pthread_equal(owner, me) != 0 {
            state.depth += 1
            return true
        }
        if urgent { state.urgentWaiting += 1 }
        defer { if urgent { state.urgentWaiting -= 1 } }
        while state.owner != nil || (!urgent && state.urgentWaiting > 0) {
            if let deadline {
                if !condition.wait(until: deadline), state.owner != nil || (!urgent && state.urgentWaiting > 0) {
                    // Waiters behind an urgent caller that gave up may go now.
                    if urgent { condition.broadcast() }
                    return false
                }
            } else {
                condition.wait()
            }
        }
        state.owner = me
        state.depth = 1
        return true
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
