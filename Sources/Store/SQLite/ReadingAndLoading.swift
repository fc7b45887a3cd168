import SQLite
/// A connection for readers that must never write, such as reports: opened like every reader (WAL, busy timeout;
/// an older schema is migrated first, as any command does), then switched to `PRAGMA query_only`, so a statement
/// that would write fails instead. A WAL reader never blocks the daemon's writer.
public enum ReadingConnection {
    /// - Throws: `StoreError.missingDatabase` when there is no file at `path`, `StoreError.newerSchema`, or SQLite's
    ///   error. The connection has the same thread rules as any `SQLiteDatabase` (one thread at a time).
    public static func open(path: String) throws -> SQLiteDatabase {
        let database = try StoreConnection.openExisting(path: path)
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA query_only = ON")
        return database
    }
}

/// A connection for loading generated data (`hookyard demo seed`, benchmarks): creates the file if missing and
/// migrates it like the daemon does, but commits without waiting for the disk (`synchronous = OFF`): a crash while
/// loading can lose or corrupt what was loaded, so it is never used for real events.
public enum LoadingConnection {
    /// - Throws: `StoreError.newerSchema` or SQLite's error. Same thread rules as any `SQLiteDatabase`.
    public static func open(path: String) throws -> SQLiteDatabase {
        let database = try StoreConnection.open(path: path, create: true, busyTimeoutMilliseconds: 5000)
        try Schema.migrate(database)
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try database.execute("PRAGMA synchronous = OFF")
        return database
    }
}
