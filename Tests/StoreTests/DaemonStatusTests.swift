import Foundation
import HookyardFoundation
import XCTest
@testable import Store
import SQLite

/// The daemon's record (its configuration file, schema 12) and the mark a backup sets in its copy.
final class DaemonStatusTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A database of schema 11 (before the record of the configuration file and the backup mark), with a daemon's row.
    private func schema11Database() throws -> String {
        let path = directory.appendingPathComponent("v11.db").path
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        for index in 0..<11 { try database.execute(Schema.migrations[index]) }
        try database.execute("PRAGMA user_version = 11")
        try database.execute("""
            INSERT INTO daemon_status (id, pid, version, started_at, stopped_at, stripe_live, instantly_live)
            VALUES (1, 4242, '0.0.9', 1000, NULL, 0, 0)
            """)
        return path
    }

    func testABackupOfAnOlderSchemaIsMarkedAndKeepsItsMarkWhenMigrated() throws {
        let source = try schema11Database()
        let copy = directory.appendingPathComponent("copy.db").path
        let origin = BackupOrigin(takenAt: 1_764_000_000_000, sourcePath: source)
        let summary = try StoreBackup(path: source).write(to: copy, origin: origin)
        XCTAssertEqual(summary.schemaVersion, 11, "the copy is not migrated by the backup")
        XCTAssertNil(DaemonStatus.recordedConfigurationFile(databasePath: copy), "schema 11 records no file")

        let reader = try SQLiteStoreReader(path: copy)  // migrates the copy to the current schema
        XCTAssertEqual(try reader.backupOrigin(), origin)
        let status = try XCTUnwrap(try reader.daemonStatus())
        XCTAssertEqual(status.pid, 4242)
        XCTAssertNil(status.configFile)
        let source11 = try SQLiteStoreReader(path: source)
        XCTAssertNil(try source11.backupOrigin(), "the original is not marked")
    }

    func testADaemonStartingOnARestoredCopyRecordsItsFileAndRemovesTheMark() throws {
        let source = try schema11Database()
        let copy = directory.appendingPathComponent("copy.db").path
        _ = try StoreBackup(path: source).write(to: copy, origin: BackupOrigin(takenAt: 1, sourcePath: source))
        try DaemonStatus.recordStart(DaemonStatus(pid: 77, version: "0.1.0", startedAt: 2000, stripeLive: true, instantlyLive: false,
                                                  configFile: "/etc/hookyard/hookyard.yaml"),
                                     databasePath: copy)
        XCTAssertEqual(DaemonStatus.recordedConfigurationFile(databasePath: copy), "/etc/hookyard/hookyard.yaml")
        let reader = try SQLiteStoreReader(path: copy)
        XCTAssertNil(try reader.backupOrigin())
        XCTAssertEqual(try reader.daemonStatus(),
                       DaemonStatus(pid: 77, version: "0.1.0", startedAt: 2000, stripeLive: true, instantlyLive: false,
                                    configFile: "/etc/hookyard/hookyard.yaml"))
        XCTAssertNil(DaemonStatus.recordedConfigurationFile(databasePath: directory.appendingPathComponent("none.db").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("none.db").path), "nothing created")
    }

    func testProcessStartOfThisProcessAndOfNone() throws {
        let now = WallClock.nowMilliseconds()
        let started = try XCTUnwrap(ProcessStart.milliseconds(pid: getpid()))
        XCTAssertLessThanOrEqual(started, now + ProcessStart.toleranceMilliseconds)
        XCTAssertGreaterThan(started, now - 86_400_000 * 365, "a start in this epoch, not ticks alone")
        // This process started before a status recorded now, so it may be the daemon that recorded it ...
        XCTAssertTrue(DaemonStatus(pid: getpid(), version: "", startedAt: now, stripeLive: false, instantlyLive: false).processIsAlive)
        // ... but not one recorded well before it started: its pid was given to it later.
        XCTAssertFalse(DaemonStatus(pid: getpid(), version: "", startedAt: started - 60_000, stripeLive: false, instantlyLive: false)
            .processIsAlive)
        XCTAssertNil(ProcessStart.milliseconds(pid: 0))
    }
}
