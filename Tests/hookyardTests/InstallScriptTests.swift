import Foundation
import TestSupport
import XCTest

/// `deploy/install.sh --root DIR`: a staged install, run twice, then uninstalled, with no root and no systemctl.
final class InstallScriptTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A copy of the installer in a source tree of its own, with stand-in unit files, and a `systemctl` on PATH that
    /// records every call.
    private struct Sandbox {
        let directory: URL
        var source: URL { directory.appendingPathComponent("source") }
        var root: URL { directory.appendingPathComponent("root") }
        var systemctlLog: URL { directory.appendingPathComponent("systemctl.log") }

        init() throws {
            directory = DaemonProcess.makeDirectory()
            let files = FileManager.default
            for folder in ["source/deploy", "source/systemd", "bin"] {
                try files.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            for file in ["deploy/install.sh", "deploy/hookyard.example.yaml"] {
                try files.copyItem(at: InstallScriptTests.repository.appendingPathComponent(file),
                                   to: directory.appendingPathComponent("source/\(file)"))
            }
            for unit in ["hookyard.service", "hookyard.socket"] {
                try "# stand-in \(unit)\n".write(to: directory.appendingPathComponent("source/systemd/\(unit)"), atomically: true, encoding: .utf8)
            }
            let systemctl = directory.appendingPathComponent("bin/systemctl")
            try "#!/bin/sh\necho \"$@\" >> '\(directory.path)/systemctl.log'\n".write(to: systemctl, atomically: true, encoding: .utf8)
            try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: systemctl.path)
        }

        /// Runs the installer; returns (exit status, stdout+stderr).
        func install(_ arguments: [String]) throws -> (Int32, String) {
            try DaemonProcess.runProgram(URL(fileURLWithPath: "/bin/bash"),
                                         [source.appendingPathComponent("deploy/install.sh").path] + arguments,
                                         environment: ["PATH": "\(directory.path)/bin:/usr/bin:/bin"])
        }

        func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    }

    private func mode(_ path: String) throws -> Int {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, path)
    }

    func testInstallTwiceThenUninstallKeepsConfiguration() throws {
        let sandbox = try Sandbox()
        let binary = DaemonProcess.binary.path
        let files = FileManager.default

        let (first, firstOutput) = try sandbox.install(["--root", sandbox.root.path, "--binary", binary])
        XCTAssertEqual(first, 0, firstOutput)
        XCTAssertTrue(firstOutput.contains("systemctl not called"), firstOutput)
        XCTAssertTrue(firstOutput.contains("systemctl enable --now hookyard.socket hookyard.service"), firstOutput)
        XCTAssertTrue(firstOutput.contains("/etc/hookyard/credentials/"), firstOutput)
        XCTAssertEqual(try mode(sandbox.path("usr/local/bin/hookyard")), 0o755)
        XCTAssertTrue(files.contentsEqual(atPath: sandbox.path("usr/local/bin/hookyard"), andPath: binary))
        for unit in ["hookyard.service", "hookyard.socket"] {
            XCTAssertEqual(try String(contentsOfFile: sandbox.path("etc/systemd/system/\(unit)"), encoding: .utf8), "# stand-in \(unit)\n")
            XCTAssertEqual(try mode(sandbox.path("etc/systemd/system/\(unit)")), 0o644)
        }
        XCTAssertTrue(files.contentsEqual(atPath: sandbox.path("etc/hookyard/hookyard.yaml"),
                                          andPath: Self.repository.appendingPathComponent("deploy/hookyard.example.yaml").path))
        XCTAssertEqual(try mode(sandbox.path("etc/hookyard/hookyard.yaml")), 0o644)
        XCTAssertEqual(try mode(sandbox.path("etc/hookyard/hookyard.env")), 0o600)
        XCTAssertEqual(try mode(sandbox.path("etc/hookyard/credentials")), 0o700)
        // LoadCredential= fails the start on a missing file: every secret starts as an empty (unset) one.
        for name in ["STRIPE_WEBHOOK_SECRET", "INSTANTLY_WEBHOOK_SECRET", "STRIPE_API_KEY", "INSTANTLY_API_KEY",
                     "HOOKYARD_ALERT_WEBHOOK_URL", "HOOKYARD_ADMIN_TOKEN"] {
            XCTAssertEqual(try String(contentsOfFile: sandbox.path("etc/hookyard/credentials/\(name)"), encoding: .utf8), "", name)
            XCTAssertEqual(try mode(sandbox.path("etc/hookyard/credentials/\(name)")), 0o600, name)
        }

        // Edited configuration and a secret survive a second run (an upgrade); a loosened directory is fixed.
        try "listen: 127.0.0.1:9090\n".write(toFile: sandbox.path("etc/hookyard/hookyard.yaml"), atomically: true, encoding: .utf8)
        try "HOOKYARD_PRICE_ID=price_1\n".write(toFile: sandbox.path("etc/hookyard/hookyard.env"), atomically: true, encoding: .utf8)
        try "whsec_kept\n".write(toFile: sandbox.path("etc/hookyard/credentials/STRIPE_WEBHOOK_SECRET"), atomically: true, encoding: .utf8)
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: sandbox.path("etc/hookyard/credentials"))
        let (second, secondOutput) = try sandbox.install(["--root", sandbox.root.path, "--binary", binary])
        XCTAssertEqual(second, 0, secondOutput)
        XCTAssertTrue(secondOutput.contains("Kept the existing"), secondOutput)
        XCTAssertEqual(try String(contentsOfFile: sandbox.path("etc/hookyard/hookyard.yaml"), encoding: .utf8), "listen: 127.0.0.1:9090\n")
        XCTAssertEqual(try String(contentsOfFile: sandbox.path("etc/hookyard/hookyard.env"), encoding: .utf8), "HOOKYARD_PRICE_ID=price_1\n")
        XCTAssertEqual(try String(contentsOfFile: sandbox.path("etc/hookyard/credentials/STRIPE_WEBHOOK_SECRET"), encoding: .utf8), "whsec_kept\n")
        XCTAssertEqual(try mode(sandbox.path("etc/hookyard/credentials")), 0o700)
        XCTAssertEqual(try mode(sandbox.path("usr/local/bin/hookyard")), 0o755)

        // The database the service wrote (StateDirectory=hookyard, under DynamicUser's private directory).
        try files.createDirectory(atPath: sandbox.path("var/lib/private/hookyard"), withIntermediateDirectories: true)
        try "database".write(toFile: sandbox.path("var/lib/private/hookyard/hookyard.db"), atomically: true, encoding: .utf8)
        let (removed, removal) = try sandbox.install(["--uninstall", "--root", sandbox.root.path])
        XCTAssertEqual(removed, 0, removal)
        XCTAssertTrue(removal.contains("Kept, on purpose"), removal)
        XCTAssertFalse(files.fileExists(atPath: sandbox.path("usr/local/bin/hookyard")))
        XCTAssertFalse(files.fileExists(atPath: sandbox.path("etc/systemd/system/hookyard.service")))
        XCTAssertFalse(files.fileExists(atPath: sandbox.path("etc/systemd/system/hookyard.socket")))
        XCTAssertEqual(try String(contentsOfFile: sandbox.path("etc/hookyard/hookyard.yaml"), encoding: .utf8), "listen: 127.0.0.1:9090\n")
        XCTAssertTrue(files.fileExists(atPath: sandbox.path("etc/hookyard/credentials/STRIPE_WEBHOOK_SECRET")))
        XCTAssertEqual(try String(contentsOfFile: sandbox.path("var/lib/private/hookyard/hookyard.db"), encoding: .utf8), "database")
        let (again, againOutput) = try sandbox.install(["--uninstall", "--root", sandbox.root.path])
        XCTAssertEqual(again, 0, againOutput)

        XCTAssertFalse(files.fileExists(atPath: sandbox.systemctlLog.path), "systemctl must not be called with --root")
    }

    func testMissingUnitFilesAreReportedNotFatal() throws {
        let sandbox = try Sandbox()
        try FileManager.default.removeItem(at: sandbox.source.appendingPathComponent("systemd"))
        let (status, output) = try sandbox.install(["--root", sandbox.root.path, "--binary", DaemonProcess.binary.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("systemd/hookyard.service does not exist; not installed"), output)
        XCTAssertTrue(output.contains("Start: systemctl enable --now hookyard\n"), output)
        // The numbered "Next steps" read as sentences: no run of spaces inside them.
        let steps = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.first?.isNumber == true && $0.contains(". ") }
        XCTAssertEqual(steps.count, 5, output)
        XCTAssertFalse(steps.contains { $0.contains("  ") }, "\(steps)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.path("usr/local/bin/hookyard")))
    }

    func testRejectsABadBinaryAndUnknownOptions() throws {
        let sandbox = try Sandbox()
        let (missing, message) = try sandbox.install(["--root", sandbox.root.path, "--binary", sandbox.directory.appendingPathComponent("nope").path])
        XCTAssertEqual(missing, 1, message)
        XCTAssertTrue(message.contains("is not an executable file"), message)
        let (unknown, complaint) = try sandbox.install(["--bogus"])
        XCTAssertEqual(unknown, 2, complaint)
        XCTAssertTrue(complaint.contains("unknown option '--bogus'"), complaint)
    }
}
