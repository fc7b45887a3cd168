#if canImport(Glibc)
import HookyardConfiguration
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import HookyardFoundation
import Store

/// `hookyard backup PATH`: a consistent copy of the live database, taken while the daemon runs.
///
/// The copy is written to a temporary file (mode 0600) in PATH's directory, marked as a backup (when, of which file:
/// `stats` on it says no daemon serves it), checked with `PRAGMA integrity_check`, and only then renamed to PATH, so a failed or interrupted backup never leaves a partial file under PATH.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database, while the daemon runs.",
        discussion: """
            Uses SQLite's online backup API, so the daemon keeps receiving webhooks. The copy is a single file \
            (journal mode DELETE, no -wal needed), readable only by its owner (0600), marked as a backup of the \
            database (`hookyard stats` on it says so, and that no daemon serves it; a daemon started on a restored \
            copy removes the mark), and passed PRAGMA integrity_check before it is renamed to PATH. Restore: see docs/operations.md.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "File to write the copy to; must not exist unless --force is given.") var path: String
    @Flag(help: "Replace PATH if it already exists.") var force = false

    func validate() throws {
        guard !path.isEmpty else { throw ValidationError("PATH must not be empty") }
    }

    func run() throws {
        let settings = try options.load(rules: false)
        guard case .sqlite(let databasePath) = settings.databaseLocation else {
            throw BackupFailure("""
                hookyard backup copies a SQLite database file; \(settings.databaseLocation) is PostgreSQL: back it up with \
                pg_dump (pg_dump --format=custom --file=hookyard.dump "$HOOKYARD_DATABASE_URL") or your provider's snapshots \
                and point-in-time recovery
                """)
        }
        let destination = URL(fileURLWithPath: path)
        let source = URL(fileURLWithPath: databasePath)
        if destination.resolvingSymlinksInPath().path == source.resolvingSymlinksInPath().path {
            throw BackupFailure("'\(path)' is the database itself; write the copy somewhere else")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: destination.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw BackupFailure("'\(path)' is a directory; give a file name") }
            if !force { throw BackupFailure("'\(path)' already exists; pass --force to replace it") }
        }
        let backup: StoreBackup
        do {
            backup = try StoreBackup(path: databasePath)
        } catch {
            throw BackupFailure("\(error)")
        }
        let temporary = try BackupFile.createTemporary(beside: destination)
        let summary: StoreBackup.Summary
        do {
            let origin = BackupOrigin(takenAt: WallClock.nowMilliseconds(), sourcePath: source.standardizedFileURL.path)
            summary = try backup.write(to: temporary, origin: origin)
            try BackupFile.place(temporary, at: destination.path, replace: force)
        } catch {
            BackupFile.remove(temporary)
            throw error as? BackupFailure ?? BackupFailure("backup of '\(databasePath)' failed: \(error)")
        }
        print("wrote \(path): \(summary.bytes) bytes, \(summary.events) events, \(summary.jobs) jobs, "
              + "schema version \(summary.schemaVersion), integrity ok (copy of \(databasePath))")
    }
}

/// A backup that could not be written; printed as `Error: <message>`, exit status 1.
struct BackupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The file-system steps of a backup: a private temporary file, and an atomic move into place.
private enum BackupFile {
    /// Creates an empty file, mode 0600, next to `destination`, so the rename into place stays on one file system.
    /// - Returns: its path.
    static func createTemporary(beside destination: URL) throws -> String {
        let directory = destination.deletingLastPathComponent().path
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw BackupFailure("cannot create a file in '\(directory)': \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // The umask can only take bits away; make the mode exactly 0600 whatever it is.
        guard fchmod(descriptor, 0o600) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw BackupFailure("cannot set mode 0600 on '\(temporary)': \(message)")
        }
        return temporary
    }

    /// Moves the finished copy to `destination`: `rename` (replacing) with `replace`, otherwise `link` + `unlink`,
    /// which fails rather than replace a file that appeared since the check at start. Then syncs the directory.
    static func place(_ temporary: String, at destination: String, replace: Bool) throws {
        if replace {
            guard rename(temporary, destination) == 0 else { throw failure("cannot rename the copy to", destination) }
        } else if link(temporary, destination) == 0 {
            unlink(temporary)
        } else if errno == EEXIST {
            throw BackupFailure("'\(destination)' already exists; pass --force to replace it")
        } else if errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP {
            // A file system without hard links: check, then rename (a file created in between would be replaced).
            guard !FileManager.default.fileExists(atPath: destination) else {
                throw BackupFailure("'\(destination)' already exists; pass --force to replace it")
            }
            guard rename(temporary, destination) == 0 else { throw failure("cannot rename the copy to", destination) }
        } else {
            throw failure("cannot link the copy to", destination)
        }
        // The rename is durable only once the directory is synced. Best effort: the copy itself is already synced.
        let directory = open(URL(fileURLWithPath: destination).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// Removes a temporary copy and any journal SQLite left beside it.
    static func remove(_ temporary: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
    }

    private static func failure(_ what: String, _ destination: String) -> BackupFailure {
        BackupFailure("\(what) '\(destination)': \(String(cString: strerror(errno)))")
    }
}
