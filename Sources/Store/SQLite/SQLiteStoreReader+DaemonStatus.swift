import SQLite

extension SQLiteStoreReader {
    /// What the last daemon to start on this database recorded, or nil if none has (or it predates the record).
    public func daemonStatus() throws -> DaemonStatus? {
        let statement = try database.prepare("""
            SELECT pid, version, started_at, stopped_at, stripe_live, instantly_live, config_file FROM daemon_status WHERE id = 1
            """)
        guard try statement.step() else { return nil }
        return DaemonStatus(pid: Int32(statement.int(0)), version: statement.string(1) ?? "", startedAt: statement.int(2),
                            stoppedAt: statement.isNull(3) ? nil : statement.int(3),
                            stripeLive: statement.int(4) != 0, instantlyLive: statement.int(5) != 0,
                            configFile: statement.string(6))
    }

    /// The mark `hookyard backup` set in this file if it is a backup copy (when it was taken, of which database), or
    /// nil: a live database (a daemon starting on a restored copy removes the mark).
    public func backupOrigin() throws -> BackupOrigin? {
        let statement = try database.prepare("SELECT taken_at, source_path FROM backup_origin WHERE id = 1")
        guard try statement.step() else { return nil }
        guard let source = statement.string(1) else { throw StoreError.corrupt("backup_origin.source_path is NULL") }
        return BackupOrigin(takenAt: statement.int(0), sourcePath: source)
    }
}
