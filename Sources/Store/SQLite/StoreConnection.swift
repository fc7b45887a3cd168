import SQLite

/// Opening a database the way every Hookyard connection must see it. Stateless; each call returns a new connection
/// with `SQLiteDatabase`'s thread rules, which the SQLite storage types (`init(database:)`) may share.
public enum StoreConnection {
    /// Opens `path` with WAL, `synchronous=FULL` (a commit survives power loss), a busy timeout and foreign keys.
    static func open(path: String, create: Bool, busyTimeoutMilliseconds: Int32) throws -> SQLiteDatabase {
        if !create, !fileExists(path) {
            throw StoreError.missingDatabase(path)
        }
        let database = try SQLiteDatabase(path: path)
        try database.setBusyTimeout(milliseconds: busyTimeoutMilliseconds)
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA journal_mode = WAL")
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA synchronous = FULL")
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA foreign_keys = ON")
        return database
    }

    /// Opens an existing database for a reader or a worker, migrating it if this build's schema is newer.
    /// - Throws: `StoreError.missingDatabase`, `StoreError.newerSchema`, or SQLite's error.
    public static func openExisting(path: String) throws -> SQLiteDatabase {
        let database = try open(path: path, create: false, busyTimeoutMilliseconds: 5000)
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        let version = Int(try database.scalarInt("PRAGMA user_version") ?? 0)
        guard version <= Schema.currentVersion else {
            throw StoreError.newerSchema(found: version, supported: Schema.currentVersion)
        }
        if version < Schema.currentVersion { try Schema.migrate(database) }
        return database
    }

    /// `openExisting(path:)`, with `synchronous=NORMAL` unless `durableCommits`: a commit then survives a crash of the
    /// process but a power loss may roll back the last few, which callers accept when what they write is re-derived
    /// or repeated harmlessly (job transitions, contact state, alert state).
    public static func openExisting(path: String, durableCommits: Bool) throws -> SQLiteDatabase {
        let database = try openExisting(path: path)
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        if !durableCommits { try database.execute("PRAGMA synchronous = NORMAL") }
        return database
    }

    /// Turns off SQLite's automatic checkpoint on `database`, for the daemon's background connections (workers):
    /// with it on, a commit that finds the WAL past 1,000 pages copies pages and fsyncs the database file inside its
    /// `COMMIT`, that is while it holds `WriteLock`, and the intake's writer (and every webhook waiting for its
    /// `200`) waits for that checkpoint. Each commit on `database` wakes the daemon's checkpoint thread
    /// (`SQLiteEventWriter`'s, through `CheckpointRequests`) instead, which checkpoints outside the lock.
    /// - Important: only where an `SQLiteEventWriter` runs in the same process (the daemon); elsewhere nothing would
    ///   checkpoint until the last connection closes.
    public static func leaveCheckpointsToTheWriter(_ database: SQLiteDatabase) throws {
        try database.requestCheckpointsInsteadOfRunningThem()
    }

    private static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
