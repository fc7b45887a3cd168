import PostgreSQL
import Store

/// Makes a periodic task (the contact maintenance pass, the Instantly webhook watch) run on one node of a cluster at
/// a time. Thread-safe: tasks on different queues may ask at once.
public protocol PeriodicTaskLock: Sendable {
    /// Runs `body` if no other node runs `task` now, holding the task while it runs.
    /// - Returns: whether `body` ran (`false`: another node holds the task; it will be asked again next interval).
    /// - Throws: what `body` throws, or the storage's error when it cannot tell (the task is then not run).
    @discardableResult
    func runIfNoOtherNodeIs(_ task: String, _ body: () throws -> Void) throws -> Bool
}

/// A SQLite database is served by one daemon on one machine, so every task runs. Stateless.
public struct SingleNodeTaskLock: PeriodicTaskLock {
    public init() {}

    public func runIfNoOtherNodeIs(_ task: String, _ body: () throws -> Void) throws -> Bool {
        try body()
        return true
    }
}

/// The PostgreSQL task lock: a session-level advisory lock per task (`pg_try_advisory_lock` on a key derived from
/// the task's name), on a connection of its own, held while the task runs and released after it.
///
/// Guarantees: while a node runs a task, no other node starts it; a node that dies releases its tasks with its
/// session (the server ends it when the connection drops), so another node takes the task at its next interval. A
/// node that loses its connection mid-task cannot know another node took over; the tasks guarded here are safe to
/// overlap briefly (each writes with its own atomic transactions), and this only keeps them from running everywhere
/// at once. Thread-safe: calls on the connection are serialized; bodies run outside the lock.
public final class PostgreSQLTaskLock: PeriodicTaskLock {
    private let session: ClusterSession

    /// Connects lazily, on the first task asked for, and again after a lost connection.
    public init(url: String, password: String?) {
        session = ClusterSession(url: url, password: password, applicationName: "hookyard tasks", connectTimeoutSeconds: 10)
    }

    /// The advisory lock key of `task`: 64-bit FNV-1a of `hookyard.task.` + the name, so every node derives the same.
    public static func key(_ task: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ("hookyard.task." + task).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    public func runIfNoOtherNodeIs(_ task: String, _ body: () throws -> Void) throws -> Bool {
        let key = Self.key(task)
        guard try session.withConnection({ try $0.tryAdvisoryLock(key) }) else { return false }
        defer { _ = try? session.withConnection { try $0.advisoryUnlock(key) } }
        try body()
        return true
    }

    /// Closes the connection, releasing every task it holds.
    public func close() { session.close() }
}

extension DatabaseLocation {
    /// The periodic task lock for this database: one node for SQLite, advisory locks for PostgreSQL.
    public func periodicTaskLock() -> any PeriodicTaskLock {
        switch self {
        case .sqlite: SingleNodeTaskLock()
        case .postgresql(let url, let password): PostgreSQLTaskLock(url: url, password: password)
        }
    }
}
