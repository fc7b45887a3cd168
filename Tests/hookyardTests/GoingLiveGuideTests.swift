import Foundation
import TestSupport
import XCTest

/// docs/going-live.md: every `hookyard` command in its `sh` blocks runs, as written (the installed paths mapped to a
/// test directory), against the real binary with the product-launch example and the fake Stripe and Instantly APIs
/// behind a running daemon, and exits 0. A command the guide gets wrong (a flag that does not exist, a step that
/// cannot work in that order) fails here.
final class GoingLiveGuideTests: XCTestCase {
    static var guide: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/going-live.md").standardized
    }

    /// The `hookyard …` lines of the guide's ```sh blocks, in order.
    static func commands(in text: String) -> [String] {
        var inShell = false
        var commands: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inShell = !inShell && trimmed == "```sh"
                continue
            }
            if inShell, trimmed.hasPrefix("hookyard ") { commands.append(trimmed) }
        }
        return commands
    }

    func testEveryHookyardCommandOfTheGuideRunsAsWritten() throws {
        let commands = Self.commands(in: try String(contentsOf: Self.guide, encoding: .utf8))
        XCTAssertGreaterThanOrEqual(commands.count, 12, "the guide's commands: \(commands)")
        let receiver = try FakeAPIServer()
        let harness = try ScenarioHarness(example: "product-launch",
                                          environment: ProductLaunchTests.environment(fulfilmentURL: receiver.baseURL + "/hooks/fulfil"))
        for (name, id) in ProductLaunchTests.campaigns { harness.instantly.addCampaign(id: id, name: name) }
        let daemon = try harness.start()
        defer { harness.stop() }
        let backups = harness.directory.appendingPathComponent("backups")
        try FileManager.default.createDirectory(at: backups, withIntermediateDirectories: true)
        var environment = harness.environment
        environment["HOOKYARD_DATABASE"] = daemon.databasePath
        environment["STRIPE_WEBHOOK_SECRET"] = DaemonProcess.stripeSecret
        environment["INSTANTLY_WEBHOOK_SECRET"] = DaemonProcess.instantlySecret
        let config = harness.directory.appendingPathComponent("hookyard.yaml").path
        for command in commands {
            let mapped = command
                .replacingOccurrences(of: "/var/backups/hookyard", with: backups.path)
                .replacingOccurrences(of: "/var/lib/hookyard/hookyard.db", with: daemon.databasePath)
            let arguments = mapped.split(separator: " ").dropFirst().map(String.init) + ["--config", config]
            let (status, output) = try DaemonProcess.run(arguments, environment: environment)
            XCTAssertEqual(status, 0, "\(command):\n\(output)")
        }
        // What the steps did: the catalog is in Stripe, the webhook in Instantly, the backup on disk.
        XCTAssertFalse(harness.stripe.requests.filter { $0.method == "POST" && $0.path.hasPrefix("/v1/products") }.isEmpty)
        XCTAssertFalse(harness.instantly.requests.filter { $0.method == "POST" && $0.path == "/api/v2/webhooks" }.isEmpty)
        XCTAssertTrue(FileManager.default.fileExists(atPath: backups.appendingPathComponent("hookyard-before-live.db").path))
    }

    func testTheGuideIsLinkedFromTheReadme() throws {
        let readme = try String(contentsOf: Self.guide.deletingLastPathComponent().appendingPathComponent("../README.md").standardized,
                                encoding: .utf8)
        XCTAssertTrue(readme.prefix(1500).contains("(docs/going-live.md)"), "linked from the README's first screen")
    }
}
