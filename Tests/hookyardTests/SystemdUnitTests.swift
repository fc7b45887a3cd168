import Foundation
import TestSupport
import XCTest
@testable import HookyardConfiguration
@testable import hookyard

/// Checks `systemd/hookyard.service` and `systemd/hookyard.socket`: that they agree with the daemon (credential
/// names, default listen address, shutdown grace), that `systemd-analyze verify` accepts them, and that
/// `systemd-analyze security --offline=yes` rates the service 2.0 or lower. The two `systemd-analyze` tests skip
/// when the command is not installed. `make check-systemd` runs the same two checks by hand.
final class SystemdUnitTests: XCTestCase {
    /// The highest exposure `systemd-analyze security` may report ("OK" ends at 2.0 in its scale).
    static let maximumExposure = 2.0

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let service = repository.appendingPathComponent("systemd/hookyard.service")
    static let socket = repository.appendingPathComponent("systemd/hookyard.socket")

    /// `Key=Value` assignments of a unit file, in order, comments and section headers left out.
    private func assignments(_ url: URL) throws -> [(key: String, value: String)] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, !text.hasPrefix("#"), !text.hasPrefix(";"), !text.hasPrefix("["),
                  let equals = text.firstIndex(of: "=") else { return nil }
            return (String(text[..<equals]), String(text[text.index(after: equals)...]))
        }
    }

    private func values(_ key: String, in url: URL) throws -> [String] {
        try assignments(url).filter { $0.key == key }.map(\.value)
    }

    // MARK: - The units agree with the daemon (runs everywhere)

    func testServiceLoadsEverySecretTheDaemonReadsAsACredential() throws {
        let credentials = try values("LoadCredential", in: Self.service)
        let names = credentials.compactMap { $0.split(separator: ":", maxSplits: 1).first.map(String.init) }
        let secrets = ["STRIPE_WEBHOOK_SECRET", "INSTANTLY_WEBHOOK_SECRET", "STRIPE_API_KEY", "INSTANTLY_API_KEY",
                       "HOOKYARD_ALERT_WEBHOOK_URL", "HOOKYARD_ADMIN_TOKEN"]
        XCTAssertEqual(Set(names), Set(secrets))
        for secret in secrets {
            // The daemon finds each one as $CREDENTIALS_DIRECTORY/NAME.
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("credentials-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try "value-of-\(secret)\n".write(to: directory.appendingPathComponent(secret), atomically: true, encoding: .utf8)
            XCTAssertEqual(try SecretResolver.resolve(secret, environment: ["CREDENTIALS_DIRECTORY": directory.path]),
                           ["value-of-\(secret)"])
        }
    }

    func testServiceLifecycleSettings() throws {
        XCTAssertEqual(try values("Type", in: Self.service), ["notify"])
        XCTAssertEqual(try values("NotifyAccess", in: Self.service), ["main"])
        XCTAssertEqual(try values("WatchdogSec", in: Self.service), ["30s"])
        XCTAssertEqual(try values("Restart", in: Self.service), ["on-failure"])
        XCTAssertEqual(try values("StateDirectory", in: Self.service), ["hookyard"])
        XCTAssertEqual(try values("ExecReload", in: Self.service), ["/bin/kill -HUP $MAINPID"])
        XCTAssertEqual(try values("UMask", in: Self.service), ["0077"])
        // A stop takes up to http.shutdown_grace_seconds (requests and jobs drain together) plus the final commit;
        // systemd must wait longer than that, with a margin (the test asks for twice the grace).
        let stop = try XCTUnwrap(values("TimeoutStopSec", in: Self.service).last)
        let seconds = try XCTUnwrap(Int(stop.hasSuffix("s") ? String(stop.dropLast()) : stop), "TimeoutStopSec=\(stop)")
        XCTAssertGreaterThan(seconds, 2 * HookyardConfiguration().http.shutdownGraceSeconds)
        // The daemon raises its soft open-file limit to the hard limit; it must cover max_connections + 64.
        let files = try XCTUnwrap(Int(XCTUnwrap(values("LimitNOFILE", in: Self.service).last)))
        XCTAssertGreaterThanOrEqual(files, HookyardConfiguration().http.maxConnections + 64)
    }

    func testSocketListensWhereTheDaemonWouldAndActivatesTheService() throws {
        XCTAssertEqual(try values("ListenStream", in: Self.socket), [HookyardConfiguration().listen])
        XCTAssertEqual(try values("Service", in: Self.socket), ["hookyard.service"])
        XCTAssertEqual(try values("Accept", in: Self.socket), ["no"])
    }

    // MARK: - systemd-analyze (skipped where it is not installed)

    private func systemdAnalyze() throws -> URL {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("systemd-analyze") } + [URL(fileURLWithPath: "/usr/bin/systemd-analyze")]
        guard let found = path.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw TestToolMissing.skipUnlessRequired(
                "systemd-analyze is not installed (Linux with systemd only): the unit files were not verified or scored")
        }
        return found
    }

    /// The two units in a temporary directory, ExecStart pointing at the built `hookyard` (verify requires the
    /// binary to exist, and /usr/local/bin/hookyard is not installed on a build machine).
    private func unitCopies() throws -> (directory: URL, service: URL, socket: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("systemd-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        var binary = DaemonProcess.binary.path
        if !FileManager.default.isExecutableFile(atPath: binary) { binary = "/bin/true" }
        let text = try String(contentsOf: Self.service, encoding: .utf8)
        XCTAssertTrue(text.contains("ExecStart=/usr/local/bin/hookyard serve"), "ExecStart changed: update this test")
        let service = directory.appendingPathComponent("hookyard.service")
        let socket = directory.appendingPathComponent("hookyard.socket")
        try text.replacingOccurrences(of: "ExecStart=/usr/local/bin/hookyard ", with: "ExecStart=\(binary) ")
            .write(to: service, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: Self.socket, to: socket)
        return (directory, service, socket)
    }

    /// Runs a command with stdout and stderr together, killing it after `timeout` seconds.
    private func run(_ executable: URL, _ arguments: [String], timeout: TimeInterval = 20) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "LC_ALL": "C.UTF-8"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let killer = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testSystemdAnalyzeVerifyAcceptsTheUnits() throws {
        let analyze = try systemdAnalyze()
        let units = try unitCopies()
        let (status, output) = try run(analyze, ["verify", "--no-pager", units.service.path, units.socket.path])
        XCTAssertEqual(status, 0, "systemd-analyze verify failed:\n\(output)")
        // Complaints about our units name them; lines about the host's own units are not ours to fix.
        let ours = output.split(separator: "\n").filter { $0.contains("hookyard") || $0.contains(units.directory.path) }
        XCTAssertEqual(ours, [], "systemd-analyze verify complained:\n\(output)")
    }

    func testSystemdAnalyzeSecurityExposureIsAtMostTwo() throws {
        let analyze = try systemdAnalyze()
        let units = try unitCopies()
        // --threshold=20: exit status non-zero above 2.0 (the threshold is in tenths on the 0-100 scale).
        let (status, output) = try run(analyze, ["security", "--offline=yes", "--threshold=20", "--no-pager", units.service.path])
        let summary = try XCTUnwrap(output.split(separator: "\n").last { $0.contains("Overall exposure level") },
                                    "no exposure line in:\n\(output)")
        // "→ Overall exposure level for hookyard.service: 1.2 OK 🙂"
        let score = summary.components(separatedBy: "hookyard.service:").last?.split(separator: " ").first.map(String.init)
        let exposure = try XCTUnwrap(score.flatMap(Double.init), String(summary))
        XCTAssertLessThanOrEqual(exposure, Self.maximumExposure, "\(summary)\nRaise the hardening back; full report:\n\(output)")
        XCTAssertEqual(status, 0, "systemd-analyze security --threshold=20 failed:\n\(output)")
    }
}

/// A tool a test needs is missing where it must be present (CI).
struct TestToolMissing: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// What a test throws when a tool it needs is not installed: a skip, except where CI installed the tools
    /// (.ci/run) and set HOOKYARD_REQUIRE_TOOLS=1, where a missing tool fails the test.
    static func skipUnlessRequired(_ message: String) -> any Error {
        ProcessInfo.processInfo.environment["HOOKYARD_REQUIRE_TOOLS"] == "1" ? TestToolMissing(message) : XCTSkip(message)
    }
}
