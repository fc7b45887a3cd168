import Foundation
import HookyardFoundation
import Store
import TestSupport
import XCTest
import SQLite

/// What the daemon records of itself for the CLI, through the real binary: the configuration file it runs with (so
/// commands against its database use it when no `--config` is given), and whether it is alive (pid and start time);
/// and what `hookyard backup` marks in a copy (so `stats` on the copy does not call the original daemon running).
final class DaemonConfigurationRecordTests: XCTestCase {
    static let campaign = "7a1d2c3b-0001-4a5b-8c7d-000000000001"
    static let yaml = """
        segments:
          prospects:
            payment_status: prospect
        """

    private func sendOpened(_ email: String, to daemon: DaemonProcess) throws {
        let body = #"{"timestamp":"2026-11-25T10:00:00.000Z","event_type":"email_opened","workspace":"\#(FakeInstantlyAPI.workspaceID)","campaign_id":"\#(Self.campaign)","campaign_name":"Outreach","lead_email":"\#(email)","email_account":"sender@example.org"}"#
        let response = try daemon.client().roundTrip("POST", "/webhooks/instantly",
                                                     headers: [("Content-Type", "application/json"), ("X-Webhook-Secret", DaemonProcess.instantlySecret)],
                                                     body: Array(body.utf8))
        XCTAssertEqual(response.status, 200, response.bodyText)
    }

    /// A command against `daemon`'s database run as a user would: only HOOKYARD_DATABASE set, no `--config`, and the
    /// whole output (the stderr note included).
    private func command(_ daemon: DaemonProcess, _ arguments: [String]) throws -> (Int32, String) {
        try DaemonProcess.run(arguments, environment: ["HOOKYARD_DATABASE": daemon.databasePath])
    }

    private func stats(_ database: String) throws -> (text: String, json: [String: Any]) {
        let (status, text) = try DaemonProcess.run(["stats", "--database", database])
        XCTAssertEqual(status, 0, text)
        let (jsonStatus, json) = try DaemonProcess.run(["stats", "--json", "--database", database])
        XCTAssertEqual(jsonStatus, 0, json)
        return (text, try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json))
    }

    func testCommandsWithoutConfigUseTheFileTheDaemonRecorded() throws {
        let daemon = try DaemonProcess(yaml: Self.yaml)
        defer { _ = daemon.terminate() }
        let file = daemon.directory.appendingPathComponent("hookyard.yaml").path
        try sendOpened("ada@example.com", to: daemon)
        let note = "\(DaemonProcess.recordedConfigurationNote)\(file) (recorded by the daemon of \(daemon.databasePath); --config overrides)"

        // The contact lands in the segment once the daemon's worker has processed the event.
        var shown = ""
        let deadline = Date().addingTimeInterval(30)
        repeat {
            let (status, output) = try command(daemon, ["contacts", "show", "ada@example.com"])
            shown = output
            if status == 0, output.contains("segments") && output.contains("prospects") { break }
            usleep(50_000)
        } while Date() < deadline
        XCTAssertTrue(shown.contains(note), shown)
        XCTAssertTrue(shown.split(separator: "\n").contains { $0.hasPrefix("segments") && $0.hasSuffix("prospects") }, shown)

        let (listStatus, list) = try command(daemon, ["contacts", "list"])
        XCTAssertEqual(listStatus, 0, list)
        XCTAssertTrue(list.contains(note), list)
        XCTAssertTrue(list.split(separator: "\n").contains { $0.hasPrefix("ada@example.com") && $0.hasSuffix("prospects") }, list)

        let (segmentsStatus, segments) = try command(daemon, ["segments", "list"])
        XCTAssertEqual(segmentsStatus, 0, segments)
        XCTAssertTrue(segments.contains(note), segments)
        XCTAssertTrue(segments.split(separator: "\n").contains { $0.hasPrefix("prospects") && $0.hasSuffix(" 1") }, segments)

        let (_, statsText) = try command(daemon, ["stats"])
        XCTAssertTrue(statsText.contains("config    \(file), as the daemon recorded it"), statsText)

        // --config wins, and then nothing is said about the record.
        let empty = daemon.directory.appendingPathComponent("empty.yaml").path
        try "log_level: info\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let (overriddenStatus, overridden) = try command(daemon, ["segments", "list", "--config", empty])
        XCTAssertEqual(overriddenStatus, 0, overridden)
        XCTAssertTrue(overridden.contains("no segments are configured"), overridden)
        XCTAssertFalse(overridden.contains("note:"), overridden)

        // A recorded file that is gone: the usual defaults, and a note that says why.
        try FileManager.default.moveItem(atPath: file, toPath: file + ".moved")
        let (goneStatus, gone) = try command(daemon, ["segments", "list"])
        XCTAssertEqual(goneStatus, 0, gone)
        XCTAssertTrue(gone.contains("note: the configuration the daemon of \(daemon.databasePath) recorded, \(file), cannot be read"), gone)
        XCTAssertTrue(gone.contains("no segments are configured"), gone)
        try FileManager.default.moveItem(atPath: file + ".moved", toPath: file)

        // A recorded file made invalid while the daemon runs (it refuses to reload it): read-only commands say so
        // and go on with the usual defaults; `maintain`, which acts on the segments and rules, refuses.
        try "segments: [oops".write(toFile: file, atomically: true, encoding: .utf8)
        let (invalidStatus, invalid) = try command(daemon, ["segments", "list"])
        XCTAssertEqual(invalidStatus, 0, invalid)
        XCTAssertTrue(invalid.contains("note: the configuration the daemon of \(daemon.databasePath) recorded, \(file), is invalid"), invalid)
        XCTAssertTrue(invalid.contains("no segments are configured"), invalid)
        let (maintainStatus, maintain) = try command(daemon, ["maintain"])
        XCTAssertEqual(maintainStatus, 1, maintain)
        XCTAssertTrue(maintain.contains("Error: invalid configuration (recorded by the daemon of \(daemon.databasePath)"), maintain)
        XCTAssertEqual(daemon.terminate(), 0)
    }

    func testStatsOnABackupSaysItIsOneAndThatNoDaemonServesIt() throws {
        let daemon = try DaemonProcess()
        defer { _ = daemon.terminate() }
        XCTAssertEqual(try daemon.client().roundTripRaw(StripeTestEvents.request(id: "evt_backup_marker")).status, 200)
        let live = try stats(daemon.databasePath)
        XCTAssertTrue(live.text.contains(", running\n"), live.text)
        XCTAssertFalse(live.text.contains("backup"), live.text)

        let copy = daemon.directory.appendingPathComponent("copy.db").path
        let (backupStatus, backupOutput) = try daemon.run(["backup", copy])
        XCTAssertEqual(backupStatus, 0, backupOutput)
        let copied = try stats(copy)
        XCTAssertTrue(copied.text.contains("backup    taken at "), copied.text)
        XCTAssertTrue(copied.text.contains(", of \(daemon.databasePath); no daemon serves this copy"), copied.text)
        XCTAssertFalse(copied.text.contains(", running\n"), "the original daemon still runs, but not on this file: \(copied.text)")
        XCTAssertTrue(copied.text.contains(", not serving this file (a backup copy)\n"), copied.text)
        let daemonRecord = try XCTUnwrap(copied.json["daemon"] as? [String: Any], "\(copied.json)")
        XCTAssertEqual(daemonRecord["running"] as? Bool, false)
        let backup = try XCTUnwrap(copied.json["backup"] as? [String: Any], "\(copied.json)")
        XCTAssertEqual(backup["of"] as? String, daemon.databasePath)
        XCTAssertNotNil(backup["taken_at"] as? Int)
        XCTAssertTrue(live.json["backup"] is NSNull)
        XCTAssertEqual(daemon.terminate(), 0)

        // Restored and served, the copy is the live database again: the mark goes when a daemon starts on it.
        let restored = DaemonProcess.makeDirectory()
        try FileManager.default.copyItem(atPath: copy, toPath: restored.appendingPathComponent("hookyard.db").path)
        let again = try DaemonProcess(directory: restored)
        defer { _ = again.terminate() }
        let served = try stats(again.databasePath)
        XCTAssertTrue(served.text.contains(", running\n"), served.text)
        XCTAssertFalse(served.text.contains("backup"), served.text)
        XCTAssertTrue(served.text.contains("stripe 1"), served.text)
        XCTAssertEqual(again.terminate(), 0)
    }

    /// The recorded pid is this test runner's own, alive; only the recorded start time tells whether it is the daemon.
    func testARecordedPidHeldByAnotherProcessIsNotRunning() throws {
        let daemon = try DaemonProcess()
        XCTAssertEqual(daemon.terminate(), 0)
        let stopped = try stats(daemon.databasePath)
        XCTAssertTrue(stopped.text.contains(", stopped "), stopped.text)

        func record(startedAt: Int64) throws {
            let database = try SQLiteDatabase(path: daemon.databasePath)
            defer { database.close() }
            try database.execute("UPDATE daemon_status SET pid = \(getpid()), started_at = \(startedAt), stopped_at = NULL")
        }
        // The runner started before this record: a daemon that recorded it and died, its pid since given to the runner.
        let now = WallClock.nowMilliseconds()
        let runnerStart = try XCTUnwrap(ProcessStart.milliseconds(pid: getpid()))
        XCTAssertLessThanOrEqual(runnerStart, now + ProcessStart.toleranceMilliseconds)
        try record(startedAt: runnerStart - 3_600_000)
        let reused = try stats(daemon.databasePath)
        XCTAssertTrue(reused.text.contains("pid \(getpid()), ") && reused.text.contains(", gone without a clean stop\n"), reused.text)
        XCTAssertEqual((reused.json["daemon"] as? [String: Any])?["running"] as? Bool, false, "\(reused.json)")

        // The same pid with a start the runner's process matches (recorded once it was up) is running.
        try record(startedAt: now)
        let alive = try stats(daemon.databasePath)
        XCTAssertTrue(alive.text.contains("pid \(getpid()), ") && alive.text.contains(", running\n"), alive.text)
        XCTAssertEqual((alive.json["daemon"] as? [String: Any])?["running"] as? Bool, true, "\(alive.json)")
    }
}
