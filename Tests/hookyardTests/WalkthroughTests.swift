import Foundation
import HookyardFoundation
import Store
import TestSupport
import XCTest

/// The walk-through of each shipped example (issue 14, items 1-3): `deploy/examples/<example>.walkthrough` holds the
/// commands that walk the example's flow; `make run EXAMPLE=<example>` prints them (the `banner` target) and
/// `docs/workflows/<example>.md` shows the same file, with the line that sets the example's own database. Each
/// walk-through runs, command by command as a user pastes them, against the real daemon in dry-run (no API keys,
/// the development settings `make run` writes), and the example's flows must run their steps.
final class WalkthroughTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let examples = ["lead-to-sale", "product-launch", "subscription-lifecycle", "event-registration"]

    func testEveryExampleHasAWalkthrough() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.repository.appendingPathComponent("deploy/examples").path)
        XCTAssertEqual(Set(files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }), Set(Self.examples))
        for example in Self.examples {
            let commands = try Self.walkthrough(example)
            XCTAssertFalse(commands.isEmpty, example)
            for command in commands { XCTAssertTrue(command.hasPrefix(".build/debug/hookyard "), "\(example): \(command)") }
            XCTAssertTrue(try String(contentsOf: Self.walkthroughURL(example), encoding: .utf8).hasSuffix("\n"), example)
        }
    }

    /// The banner of `make run EXAMPLE=x` and the page docs/workflows/x.md show the same commands: the file's.
    func testBannerAndDocsPageShowTheExamplesWalkthrough() throws {
        let directory = DaemonProcess.makeDirectory()
        for example in Self.examples {
            let file = try String(contentsOf: Self.walkthroughURL(example), encoding: .utf8)
            let database = "./hookyard-\(example).db"
            let environmentLine = "set -a && . ./.hookyard-dev.env && HOOKYARD_DATABASE=\(database) && set +a"

            let page = try String(contentsOf: Self.repository.appendingPathComponent("docs/workflows/\(example).md"), encoding: .utf8)
            XCTAssertTrue(page.contains("```sh\n\(environmentLine)\n\(file)```\n"),
                          "docs/workflows/\(example).md must show deploy/examples/\(example).walkthrough verbatim after \(environmentLine)")

            if example == "lead-to-sale" {
                // The README's "Getting started" shows the default example's banner commands.
                let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
                XCTAssertTrue(readme.contains("```sh\n\(environmentLine)\n\(file)```\n"), "README.md must show \(example).walkthrough")
            }

            let envFile = directory.appendingPathComponent("\(example).env").path
            let (status, banner) = try Self.runProgram(URL(fileURLWithPath: "/usr/bin/env"),
                                                       ["make", "-s", "--no-print-directory", "banner", "EXAMPLE=\(example)", "DEV_ENV=\(envFile)"],
                                                       in: Self.repository)
            XCTAssertEqual(status, 0, banner)
            XCTAssertTrue(banner.contains("(database \(database), rules deploy/examples/\(example).yaml, dry-run)"), banner)
            XCTAssertTrue(banner.contains("    set -a && . ./\(envFile) && HOOKYARD_DATABASE=\(database) && set +a\n"), banner)
            let printed = file.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n")
            XCTAssertTrue(banner.contains(printed + "\n"), "the banner of \(example) does not print its walkthrough:\n\(banner)")
            XCTAssertTrue(banner.contains("Admin listener: http://127.0.0.1:9090 (/report"), banner)
            XCTAssertTrue(banner.contains("/metrics") && banner.contains("/healthz"), banner)
            XCTAssertTrue(banner.contains("docs/workflows/\(example).md"), banner)
        }
        let (status, unknown) = try Self.runProgram(URL(fileURLWithPath: "/usr/bin/env"),
                                                    ["make", "-s", "--no-print-directory", "banner", "EXAMPLE=nope",
                                                     "DEV_ENV=\(directory.appendingPathComponent("nope.env").path)"],
                                                    in: Self.repository)
        XCTAssertNotEqual(status, 0, unknown)
        XCTAssertTrue(unknown.contains("the examples are: event-registration lead-to-sale product-launch subscription-lifecycle"), unknown)
    }

    func testLeadToSaleWalksFromInterestedLeadToTheCustomerCampaign() throws {
        let run = try walk("lead-to-sale")
        try run.expect(rule: "lead-to-sale", ran: ["customer", "link", "set-link", "to-payment-campaign"])
        // The payment half: the dry-run read of the link carries the metadata Hookyard created it with.
        try run.expect(rule: "payment-to-customer", ran: ["link", "purchase", "won", "to-customer-campaign"])
        let link = try run.output(rule: "payment-to-customer", step: "link")
        XCTAssertEqual((link["metadata"] as? [String: Any])?["lead_email"] as? String, "ada@example.com")
        XCTAssertEqual((link["metadata"] as? [String: Any])?["hookyard_rule"] as? String, "lead-to-sale")
        let move = try run.output(rule: "payment-to-customer", step: "to-customer-campaign")
        XCTAssertTrue("\(move["requests"] ?? "")".contains("00000000-0000-4000-8000-000000000004"), "\(move)")
        let (status, stats) = try run.daemon.run(["stats"])
        XCTAssertEqual(status, 0, stats)
        XCTAssertTrue(stats.contains("purchases 1 for USD 49.00"), stats)
    }

    func testProductLaunchWalksTheOfferAndTheFulfilment() throws {
        let run = try walk("product-launch")
        try run.expect(rule: "launch-offer", ran: ["customer", "team-link", "set-link", "to-offer-campaign"], skipped: ["solo-link"])
        try run.expect(rule: "launch-fulfilment", ran: ["link", "fulfil", "purchase", "won"], waiting: ["to-upsell"])
        let fulfil = try run.output(rule: "launch-fulfilment", step: "fulfil")
        // Full dry-run: the fulfilment POST is recorded, not sent.
        XCTAssertEqual(fulfil["dry_run"] as? Bool, true, "\(fulfil)")
        let request = try XCTUnwrap((fulfil["requests"] as? [[String: Any]])?.first, "\(fulfil)")
        XCTAssertTrue((request["body"] as? String ?? "").contains("\"tier\":\"team\""), "\(request)")
        XCTAssertTrue((request["body"] as? String ?? "").contains("ada@agency.example"), "\(request)")
    }

    func testSubscriptionLifecycleWalksOneSubscriber() throws {
        let run = try walk("subscription-lifecycle")
        try run.expect(rule: "onboarding", ran: ["customer", "onboard"])
        try run.expect(rule: "trial-ending", ran: ["renewal"])
        try run.expect(rule: "dunning", ran: ["add", "update", "next-attempt"])
        try run.expect(rule: "dunning-paid", ran: ["leave-dunning"])
        try run.expect(rule: "dunning-recovered", ran: ["leave-dunning"])
        try run.expect(rule: "cancellation-prevention", ran: ["prevent"])
        try run.expect(rule: "subscription-ended", ran: ["leave-cancellation", "leave-dunning"])
        try run.expect(rule: "win-back", ran: [], waiting: ["win-back"])
    }

    func testEventRegistrationWalksTheOfferAndTheRegistration() throws {
        let run = try walk("event-registration")
        try run.expect(rule: "registration-offer", ran: ["customer", "link", "set-link"], waiting: ["early-bird-reminder"])
        try run.expect(rule: "registration", ran: ["link", "register", "purchase", "out-of-reminders", "out-of-last-call", "pre-event"],
                       skipped: ["sold-out-links", "pause-reminders", "pause-last-call"], waiting: ["preparation"])
        let register = try run.output(rule: "registration", step: "register")
        XCTAssertEqual(register["registered"] as? Bool, true, "\(register)")
    }

    // MARK: Running a walk-through

    /// A daemon that ran one example's walk-through.
    struct Walk {
        var daemon: DaemonProcess
        var jobs: [Job]

        /// The step jobs of `rule`, by step name (the last `:` part of their `flow:<rule>:<flow>:<step>` key).
        func steps(_ rule: String) -> [String: Job] {
            var steps: [String: Job] = [:]
            for job in jobs where job.idempotencyKey.hasPrefix("flow:\(rule):") {
                steps[String(job.idempotencyKey.split(separator: ":").last ?? "")] = job
            }
            return steps
        }

        func output(rule: String, step: String) throws -> [String: Any] {
            let job = try XCTUnwrap(steps(rule)[step], "no step \(rule)/\(step)")
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data((job.output ?? "{}").utf8)) as? [String: Any])
        }

        /// `ran`: done and not skipped; `skipped`: skipped by its guard (shown as skipped in its state or output);
        /// `waiting`: queued for later (a step with `after:` or `at:`).
        func expect(rule: String, ran: [String], skipped: [String] = [], waiting: [String] = [],
                    file: StaticString = #filePath, line: UInt = #line) throws {
            let steps = steps(rule)
            let summary = steps.map { "\($0.key): \($0.value.state.rawValue) \($0.value.output ?? "")" }.sorted().joined(separator: "\n")
            for name in ran {
                let job = try XCTUnwrap(steps[name], "\(rule)/\(name) did not run:\n\(summary)", file: file, line: line)
                XCTAssertEqual(job.state, .succeeded, "\(rule)/\(name): \(summary)", file: file, line: line)
                XCTAssertFalse(Self.isSkipped(job), "\(rule)/\(name) was skipped: \(job.output ?? "")", file: file, line: line)
            }
            for name in skipped {
                let job = try XCTUnwrap(steps[name], "\(rule)/\(name) missing:\n\(summary)", file: file, line: line)
                XCTAssertTrue(Self.isSkipped(job), "\(rule)/\(name) should be skipped: \(summary)", file: file, line: line)
            }
            for name in waiting {
                let job = try XCTUnwrap(steps[name], "\(rule)/\(name) missing:\n\(summary)", file: file, line: line)
                XCTAssertEqual(job.state, .queued, "\(rule)/\(name): \(summary)", file: file, line: line)
            }
        }

        static func isSkipped(_ job: Job) -> Bool {
            if job.state.rawValue == "skipped" { return true }
            let output = (try? JSONSerialization.jsonObject(with: Data((job.output ?? "{}").utf8))) as? [String: Any]
            return output?["skipped"] != nil
        }
    }

    /// Starts the daemon on the example with the settings `make run` writes (scripts/dev-env.sh, no API keys), then
    /// runs each line of the walk-through with `sh` in a directory where `.build/debug/hookyard` is the binary under
    /// test, in the environment the banner's `set -a` line gives (the daemon's address and database). Every command
    /// must exit 0. Between commands the test waits for the jobs they caused, except before a command that waits
    /// itself (`--payment-link latest`), so the run does not depend on the machine's speed.
    func walk(_ example: String) throws -> Walk {
        let directory = DaemonProcess.makeDirectory()
        let envFile = directory.appendingPathComponent("dev.env")
        let (made, madeOutput) = try Self.runProgram(Self.repository.appendingPathComponent("scripts/dev-env.sh"), [envFile.path],
                                                     in: directory)
        XCTAssertEqual(made, 0, madeOutput)
        var settings: [String: String] = [:]
        for line in try String(contentsOf: envFile, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        let yaml = try String(contentsOf: Self.repository.appendingPathComponent("deploy/examples/\(example).yaml"), encoding: .utf8)
        let daemon = try DaemonProcess(yaml: yaml, environment: settings)
        addTeardownBlock { _ = daemon.terminate() }

        let work = directory.appendingPathComponent("checkout")
        try FileManager.default.createDirectory(at: work.appendingPathComponent(".build/debug"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: work.appendingPathComponent(".build/debug/hookyard"),
                                                   withDestinationURL: DaemonProcess.binary)
        var environment = settings
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        environment["HOOKYARD_DATABASE"] = daemon.databasePath
        environment["HOOKYARD_LISTEN"] = "127.0.0.1:\(daemon.port)"
        environment["HOOKYARD_ADMIN_LISTEN"] = "127.0.0.1:0"

        let commands = try Self.walkthrough(example)
        var lastSecond = Int64.min
        for (index, command) in commands.enumerated() {
            // As a person pastes them: each triggered event in a second of its own. Stripe's `created` has whole
            // seconds, and two subscription events of the same second are ordered by status, not by arrival
            // (ContactStore.applySubscription), so `active` again right after `past_due` could lose the tie.
            while Int64(Date().timeIntervalSince1970) <= lastSecond { usleep(20_000) }
            lastSecond = Int64(Date().timeIntervalSince1970)
            let (status, output) = try Self.runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", command], in: work, environment: environment)
            XCTAssertEqual(status, 0, "\(example): \(command)\n\(output)\n\(daemon.output)")
            if index + 1 < commands.count, commands[index + 1].contains("--payment-link latest") { continue }
            try settle(daemon)
        }
        let queue = try SQLiteJobQueue(path: daemon.databasePath)
        defer { queue.close() }
        return Walk(daemon: daemon, jobs: try queue.list(state: nil, limit: 10_000))
    }

    /// Waits until no job is running, retrying or due (scheduled steps keep waiting).
    private func settle(_ daemon: DaemonProcess, timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var idleSince: Date?
        while Date() < deadline {
            let queue = try SQLiteJobQueue(path: daemon.databasePath)
            let now = WallClock.nowMilliseconds()
            let busy = try queue.list(state: nil, limit: 10_000).contains { job in
                job.state == .running || job.state == .retrying || (job.state == .queued && job.nextRunAt <= now + 500)
            }
            queue.close()
            if busy {
                idleSince = nil
            } else if let since = idleSince {
                if Date().timeIntervalSince(since) > 0.2 { return }
            } else {
                idleSince = Date()
            }
            usleep(30_000)
        }
        XCTFail("jobs still due after \(Int(timeout)) s\n\(daemon.output)")
    }

    static func walkthroughURL(_ example: String) -> URL {
        repository.appendingPathComponent("deploy/examples/\(example).walkthrough")
    }

    /// The commands of the example's walk-through file, one a line.
    static func walkthrough(_ example: String) throws -> [String] {
        try String(contentsOf: walkthroughURL(example), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    static func runProgram(_ executable: URL, _ arguments: [String], in directory: URL,
                           environment: [String: String]? = nil) throws -> (Int32, String) {
        try DaemonProcess.runProgram(executable, arguments,
                                     environment: environment ?? ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"],
                                     in: directory)
    }
}
