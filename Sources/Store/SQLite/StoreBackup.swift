import Foundation
import SQLite

/// A consistent, self-contained copy of a live Hookyard database, taken with SQLite's online backup API while
/// the daemon keeps writing (`hookyard backup`).
///
/// The copy is read from one snapshot: the source connection holds a read transaction for the whole backup, so in
/// WAL mode the daemon's writers are never blocked and the backup never restarts because they committed. Pages
/// still in the `-wal` file are part of that snapshot and land in the copy. The copy is then switched to
/// `journal_mode=DELETE`, so it is a single file that opens on its own, and checked with `PRAGMA integrity_check`.
///
/// The source is opened read-write (as the other CLI commands do) but never written and never migrated: a backup
/// taken with a newer `hookyard` before an upgrade leaves the live schema alone.
///
/// Not thread-safe: one backup per thread. The source connection is closed in `deinit`.
public final class StoreBackup {
    /// What a backup copied.
    public struct Summary: Sendable {
        /// Size of the copy (page count × page size; with no `-wal` file this is the file's size).
        public let bytes: Int64
        public let events: Int
        public let jobs: Int
        /// The copy's `PRAGMA user_version`, i.e. its schema version.
        public let schemaVersion: Int
    }

    /// `PRAGMA integrity_check` on the copy did not answer `ok`.
    public struct IntegrityError: Error, CustomStringConvertible, Sendable {
        public let path: String
        /// The lines `integrity_check` returned (at most the first ten are kept).
        public let problems: [String]

        public var description: String {
            "integrity check of '\(path)' failed: \(problems.joined(separator: "; "))"
        }
    }

    private let source: SQLiteDatabase

    /// Opens the database to copy.
    /// - Throws: `StoreError.missingDatabase` if there is no file at `path` (nothing is created), or SQLite's error.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.missingDatabase(path) }
        source = try SQLiteDatabase(path: path)
        // The daemon's writer holds the write lock only for one commit; the read snapshot below never waits for it,
        // but opening the WAL index can.
        try source.setBusyTimeout(milliseconds: 5000)
    }

    deinit { source.close() }

    /// Copies the source into `destination`, which must be a new or empty file that nothing else uses, marks the
    /// copy as a backup (`origin`: when, of which file; `stats` on the copy then says no daemon serves it), and
    /// checks it. On failure `destination` may hold a partial copy: write to a temporary file and rename it into
    /// place only after this returns.
    /// - Throws: `SQLiteError` (unreadable source, full disk, ...) or `IntegrityError`.
    public func write(to destination: String, origin: BackupOrigin) throws -> Summary {
        let copy = try SQLiteDatabase(path: destination)
        defer { copy.close() }
        // One read transaction on the source: every backup step reads the same snapshot.
        try source.readTransaction { try source.backup(to: copy) }
        // The live file's header says WAL; a backup is better as one file that needs no -wal or -shm beside it.
        // `hookyard serve` switches a restored copy back to WAL when it opens it.
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        try copy.execute("PRAGMA journal_mode = DELETE")
        // The copy of a database older than schema 12 gets the table here; migration 12 creates it IF NOT EXISTS.
        try copy.transaction {
            try copy.execute(Schema.backupOriginTable)
            // SQLite-specific: `INSERT OR REPLACE` (PostgreSQL: `ON CONFLICT DO UPDATE`).
            let mark = try copy.prepare("INSERT OR REPLACE INTO backup_origin (id, taken_at, source_path) VALUES (1, ?, ?)")
            try mark.bind(1, origin.takenAt)
            try mark.bind(2, origin.sourcePath)
            try mark.run()
        }
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        let check = try copy.prepare("PRAGMA integrity_check(10)")
        var problems: [String] = []
        while try check.step() { problems.append(check.string(0) ?? "") }
        guard problems == ["ok"] else { throw IntegrityError(path: destination, problems: problems) }
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        let pages = try copy.scalarInt("PRAGMA page_count") ?? 0
        // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
        let pageSize = try copy.scalarInt("PRAGMA page_size") ?? 0
        return Summary(bytes: pages * pageSize,
                       events: Int(try copy.scalarInt("SELECT count(*) FROM events") ?? 0),
                       jobs: Int(try copy.scalarInt("SELECT count(*) FROM jobs") ?? 0),
                       // SQLite-specific: `PRAGMA` (connection or file settings; no PostgreSQL equivalent in SQL).
                       schemaVersion: Int(try copy.scalarInt("PRAGMA user_version") ?? 0))
    }
}
