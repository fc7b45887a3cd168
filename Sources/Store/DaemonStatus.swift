#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the daemon serving a database said of itself when it started (and when it stopped cleanly): its process, its
/// version, and whether each provider's calls are live or dry-run. CLI commands run from a shell do not have the
/// service's credentials, so they read the daemon's mode from here instead of guessing from their own environment.
///
/// One row per database, replaced at each start; a daemon that crashed leaves `stoppedAt` nil. A value; thread-safe.
public struct DaemonStatus: Sendable, Equatable {
    public var pid: Int32
    public var version: String
    /// Unix milliseconds.
    public var startedAt: Int64
    /// Unix milliseconds of a clean stop; nil while running, or after a crash.
    public var stoppedAt: Int64?
    public var stripeLive: Bool
    public var instantlyLive: Bool

    public init(pid: Int32, version: String, startedAt: Int64, stoppedAt: Int64? = nil, stripeLive: Bool, instantlyLive: Bool) {
        self.pid = pid
        self.version = version
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
        self.stripeLive = stripeLive
        self.instantlyLive = instantlyLive
    }

    /// Whether the recorded process still exists (a process of another user, as under `DynamicUser=`, counts).
    public var processExists: Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Records that this daemon started, replacing what an earlier one recorded.
    /// - Throws: `StoreError` or SQLite's error when the database cannot be opened or written.
    public static func recordStart(_ status: DaemonStatus, databasePath: String) throws {
        let database = try StoreConnection.openExisting(path: databasePath)
        defer { database.close() }
        let statement = try database.prepare("""
            INSERT OR REPLACE INTO daemon_status (id, pid, version, started_at, stopped_at, stripe_live, instantly_live)
            VALUES (1, ?, ?, ?, NULL, ?, ?)
            """)
        try statement.bind(1, Int64(status.pid))
        try statement.bind(2, status.version)
        try statement.bind(3, status.startedAt)
        try statement.bind(4, status.stripeLive ? 1 : 0)
        try statement.bind(5, status.instantlyLive ? 1 : 0)
        try statement.run()
    }

    /// Records a clean stop of the daemon `pid` (nothing, if another daemon has started since).
    public static func recordStop(pid: Int32, at time: Int64, databasePath: String) throws {
        let database = try StoreConnection.openExisting(path: databasePath)
        defer { database.close() }
        let statement = try database.prepare("UPDATE daemon_status SET stopped_at = ? WHERE id = 1 AND pid = ?")
        try statement.bind(1, time)
        try statement.bind(2, Int64(pid))
        try statement.run()
    }
}

extension StoreReader {
    /// What the last daemon to start on this database recorded, or nil if none has (or it predates the record).
    public func daemonStatus() throws -> DaemonStatus? {
        let statement = try database.prepare("""
            SELECT pid, version, started_at, stopped_at, stripe_live, instantly_live FROM daemon_status WHERE id = 1
            """)
        guard try statement.step() else { return nil }
        return DaemonStatus(pid: Int32(statement.int(0)), version: statement.string(1) ?? "", startedAt: statement.int(2),
                            stoppedAt: statement.isNull(3) ? nil : statement.int(3),
                            stripeLive: statement.int(4) != 0, instantlyLive: statement.int(5) != 0)
    }
}
