#if DEBUG
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#endif

/// The debug-build check that a connection is never used by two threads at the same moment.
///
/// A connection may move from thread to thread (a serial Dispatch queue runs each block on whichever thread is
/// free), so what is checked is overlap, not thread identity: `enter()` records the calling thread while a call is
/// in progress (re-entrant on that thread, as a transaction's body runs statements), and a call from a second thread
/// before the first `leave()` stops the process with a message naming the misuse.
///
/// Thread-safe. In release builds `enter()` and `leave()` are empty and the type holds nothing: zero cost.
final class ExclusiveUseCheck: Sendable {
    #if DEBUG
    private struct User {
        var thread: pthread_t
        var depth: Int
    }

    /// The thread using the connection now and how deeply nested its calls are; `nil` while unused.
    private let user = Mutex<User?>(nil)

    func enter() {
        guard tryEnter() else {
            preconditionFailure("an SQLiteDatabase was used by two threads at once (connections are not thread-safe)")
        }
    }

    /// Records the calling thread as the user, unless another thread is using the connection now.
    /// - Returns: `false` when another thread is (then nothing was recorded).
    func tryEnter() -> Bool {
        let me = pthread_self()
        return user.withLock { user in
            guard let current = user else {
                user = User(thread: me, depth: 1)
                return true
            }
            guard pthread_equal(current.thread, me) != 0 else { return false }
            user?.depth += 1
            return true
        }
    }

    func leave() {
        user.withLock { user in
            guard let current = user else { preconditionFailure("ExclusiveUseCheck.leave() without enter()") }
            user = current.depth == 1 ? nil : User(thread: current.thread, depth: current.depth - 1)
        }
    }
    #else
    @inline(__always) func enter() {}
    @inline(__always) func tryEnter() -> Bool { true }
    @inline(__always) func leave() {}
    #endif
}
