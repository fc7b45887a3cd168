import Foundation
import SQLite

/// Recording the daemon's status in the SQLite database (`daemon_status`, one row).
extension DaemonStatus {
    /// Records that this daemon started, replacing what an earlier one recorded.
    /// - Throws: `StoreError` or SQLite's error when the database cannot be opened or written.
    public static func recordStart(_ status: DaemonStatus, databasePath: String) throws {
        let database = try StoreConnection.openExisting(path: databasePath)
        defer { database.close() }
        // SQLite-specific: `INSERT OR REPLACE` (PostgreSQL: `ON CONFLICT DO UPDATE`).
        let statement = try database.prepare("""
            INSERT OR REPLACE INTO daemon_status (id, pid, version, started_at, stopped_at, stripe_live, instantly_live, config_file)
            VALUES (1, ?, ?, ?, NULL, ?, ?, ?)
            """)
        try statement.bind(1, Int64(status.pid))
        try statement.bind(2, status.version)
        try statement.bind(3, status.startedAt)
        try statement.bind(4, status.stripeLive ? 1 : 0)
        try statement.bind(5, status.instantlyLive ? 1 : 0)
        try statement.bind(6, status.configFile)
        try database.transaction {
            try statement.run()
            // A daemon serves this file now: if it was restored from a backup, it is no longer a backup.
            try database.execute("DELETE FROM backup_origin")
        }
    }

    /// The configuration file the last daemon to start on the database at `path` recorded, or nil: no such database,
    /// no record, a daemon on built-in defaults, or a schema older than 12. Opens the file read-only and never
    /// migrates it, so it is safe on any database a command is pointed at.
    public static func recordedConfigurationFile(databasePath path: String) -> String? {
        guard FileManager.default.fileExists(atPath: path),
              let database = try? SQLiteDatabase(path: path, readOnly: true) else { return nil }
        defer { database.close() }
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        guard let version = try? database.scalarInt("PRAGMA user_version"), version >= 12,
              let statement = try? database.prepare("SELECT config_file FROM daemon_status WHERE id = 1"),
              (try? statement.step()) == true else { return nil }
        return statement.string(0)
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
