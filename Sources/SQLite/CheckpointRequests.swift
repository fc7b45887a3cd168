import CSQLite
import Foundation

/// Commits in this process that want the WAL copied back into the database file, for the thread that checkpoints.
///
/// SQLite's automatic checkpoint runs inside the `COMMIT` of whichever connection pushed the WAL past its threshold,
/// that is inside `WriteLock`, where every other writer (the intake's first) waits for its copying and fsync.
/// Connections opened with `SQLiteDatabase.requestCheckpointsInsteadOfRunningThem()` post here after each commit
/// instead, and the daemon's checkpoint thread (`SQLiteEventWriter`'s) waits here, so a WAL that only the workers
/// write to is still checkpointed, outside the lock.
///
/// Thread-safe. A post wakes every waiter (several databases in one process, as in tests, each check their own);
/// posts that arrive while a waiter is busy are coalesced into one wake-up.
public enum CheckpointRequests {
    private static let condition = NSCondition()
    private nonisolated(unsafe) static var generation: UInt64 = 0  // Guarded by `condition`.

    /// Notes that a commit happened. Cheap: one uncontended lock.
    public static func post() {
        condition.lock()
        generation &+= 1
        condition.broadcast()
        condition.unlock()
    }

    /// The current generation, to pass to `wait(after:)`.
    public static var current: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return generation
    }

    /// Waits until a post newer than `seen` (a value from `current` or a previous `wait`), or until `deadline`
    /// (`nil`: for as long as it takes).
    /// - Returns: the generation now (equal to `seen` when the deadline passed first).
    public static func wait(after seen: UInt64, until deadline: Date? = nil) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        while generation == seen {
            if let deadline {
                if !condition.wait(until: deadline) { break }
            } else {
                condition.wait()
            }
        }
        return generation
    }
}

extension SQLiteDatabase {
    /// Turns off SQLite's automatic checkpoint on this connection and posts `CheckpointRequests` after each of its
    /// commits instead (SQLite's WAL hook), so the process's checkpoint thread checkpoints outside `WriteLock`.
    /// For connections that write while the daemon runs (workers); the connection keeps this until it closes.
    public func requestCheckpointsInsteadOfRunningThem() throws(SQLiteError) {
        try withHandle { db in
            // Replaces the hook `wal_autocheckpoint` installs: SQLite keeps one WAL hook per connection.
            _ = sqlite3_wal_hook(db, { _, _, _, _ in
                CheckpointRequests.post()
                return SQLITE_OK
            }, nil)
        }
    }
}
