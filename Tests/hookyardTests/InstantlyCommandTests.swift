import Foundation
import TestSupport
import XCTest

/// `hookyard instantly register|webhooks`, the real binary against `FakeInstantlyAPI`.
final class InstantlyCommandTests: XCTestCase {
    private let secret = "hy-secret-5c1e7b3d9a11"
    private let target = "https://hooks.example.com/webhooks/instantly"

    private func environment(_ fake: FakeInstantlyAPI, secrets: String? = nil) -> [String: String] {
        ["INSTANTLY_API_KEY": fake.apiKey, "INSTANTLY_API_BASE": fake.baseURL, "INSTANTLY_WEBHOOK_SECRET": secrets ?? secret]
    }

    private func run(_ arguments: [String], _ environment: [String: String], yaml: String? = nil) throws -> (status: Int32, output: String) {
        var arguments = arguments
        if let yaml {
            let directory = DaemonProcess.makeDirectory()
            addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("hookyard.yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            arguments += ["--config", file.path]
        }
        let (status, output) = try DaemonProcess.run(arguments, environment: environment)
        return (status, output)
    }

    private func writes(_ fake: FakeInstantlyAPI) -> [String] {
        fake.requests.filter { $0.method != "GET" }.map { "\($0.method) \($0.path)" }
    }

    func testRegisterCreatesTheWebhookWithTheSecretHeaderAndASecondRunChangesNothing() throws {
        let fake = try FakeInstantlyAPI()
        fake.addWebhook(targetURL: "https://zapier.example.com/hooks/abc", name: "zapier", eventType: "reply_received")

        let first = try run(["instantly", "register", "--url", "https://hooks.example.com"], environment(fake))

        XCTAssertEqual(first.status, 0, first.output)
        let created = try XCTUnwrap(fake.webhooks.last)
        XCTAssertEqual(fake.webhooks.count, 2)
        XCTAssertEqual(created.targetURL, target)
        XCTAssertEqual(created.name, "hookyard")
        XCTAssertEqual(created.eventType, "all_events")
        XCTAssertNil(created.campaign)
        XCTAssertEqual(created.headers, ["X-Webhook-Secret": secret])
        XCTAssertEqual(first.output, """
            created webhook \(created.id): "hookyard", all_events, every campaign -> \(target) (header X-Webhook-Secret)
            summary: created 1, updated 0, up to date 0

            """)
        XCTAssertFalse(first.output.contains(secret))

        let second = try run(["instantly", "register", "--url", target], environment(fake))

        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(writes(fake), ["POST /api/v2/webhooks"], "the second run sends no write")
        XCTAssertEqual(second.output, """
            up to date: webhook \(created.id): "hookyard", all_events, every campaign -> \(target) (header X-Webhook-Secret)
            summary: Hookyard's Instantly webhook is up to date; nothing changed

            """)
    }

    func testRegisterUpdatesTheSecretAndResumesADisabledWebhook() throws {
        let fake = try FakeInstantlyAPI()
        let id = fake.addWebhook(targetURL: target, name: "Hookyard (by hand)", headers: ["X-Webhook-Secret": "old-secret"])
        fake.disableWebhook(id: id)

        // Rotation: the new secret first, the old one still accepted.
        let result = try run(["instantly", "register", "--url", target], environment(fake, secrets: "\(secret),old-secret"))

        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(writes(fake), ["PATCH /api/v2/webhooks/\(id)", "POST /api/v2/webhooks/\(id)/resume"])
        XCTAssertEqual(fake.requests.first { $0.method == "PATCH" }?.body, #"{"headers":{"X-Webhook-Secret":"\#(secret)"},"name":"hookyard"}"#)
        XCTAssertEqual(fake.webhook(id: id)?.status, 1)
        XCTAssertEqual(fake.webhook(id: id)?.headers, ["X-Webhook-Secret": secret])
        XCTAssertEqual(result.output, """
            updated webhook \(id): "hookyard", all_events, every campaign -> \(target) (header X-Webhook-Secret); changed headers, name; \
            resumed it (Instantly had disabled it)
            summary: created 0, updated 1, up to date 0

            """)
    }

    func testRegisterOneWebhookPerEventTypeFindsTheOldOneByNameWhenTheURLChanged() throws {
        let fake = try FakeInstantlyAPI()
        let old = fake.addWebhook(targetURL: "https://old-host.example.com/webhooks/instantly", name: "hookyard", eventType: "email_sent",
                                  headers: ["X-Hook": secret])
        let yaml = """
            instantly:
              public_url: https://hooks.example.com/
              secret_header: X-Hook
            """

        let result = try run(["instantly", "register", "--events", "email_sent, reply_received,email_sent",
                              "--campaign", "f9cc070d-8dba-4341-b847-f083c358e460"], environment(fake), yaml: yaml)

        XCTAssertEqual(result.status, 0, result.output)
        let created = try XCTUnwrap(fake.webhooks.last)
        XCTAssertEqual(fake.webhooks.map(\.eventType), ["email_sent", "reply_received"])
        XCTAssertEqual(fake.webhooks.map(\.targetURL), [target, target])
        XCTAssertEqual(fake.webhooks.map(\.campaign), ["f9cc070d-8dba-4341-b847-f083c358e460", "f9cc070d-8dba-4341-b847-f083c358e460"])
        XCTAssertEqual(created.headers, ["X-Hook": secret])
        XCTAssertEqual(result.output, """
            updated webhook \(old): "hookyard", email_sent, campaign f9cc070d-8dba-4341-b847-f083c358e460 -> \(target) (header X-Hook); \
            changed campaign, target_hook_url
            created webhook \(created.id): "hookyard", reply_received, campaign f9cc070d-8dba-4341-b847-f083c358e460 -> \(target) (header X-Hook)
            summary: created 1, updated 1, up to date 0

            """)
    }

    func testDryRunMasksTheSecretAndWritesNothing() throws {
        let fake = try FakeInstantlyAPI()
        let stale = fake.addWebhook(targetURL: target, name: "hookyard", eventType: "all_events", headers: ["X-Webhook-Secret": "old"])
        fake.disableWebhook(id: stale)

        let update = try run(["instantly", "register", "--url", target, "--dry-run"], environment(fake))
        let create = try run(["instantly", "register", "--url", "https://new.example.com/hy/webhooks/instantly", "--name", "hookyard-2",
                              "--events", "lead_interested", "--dry-run"], environment(fake))

        XCTAssertEqual(update.status, 0, update.output)
        XCTAssertEqual(create.status, 0, create.output)
        XCTAssertEqual(writes(fake), [])
        XCTAssertFalse(update.output.contains(secret) || create.output.contains(secret), update.output + create.output)
        XCTAssertEqual(update.output, """
            dry run: reading only, nothing is written
            would send: PATCH /api/v2/webhooks/\(stale) {"headers":{"X-Webhook-Secret":"********"}}
            would send: POST /api/v2/webhooks/\(stale)/resume (Instantly disabled it)
            (******** stands for the first INSTANTLY_WEBHOOK_SECRET)
            summary: would create 0, would update 1, up to date 0 (dry run: nothing was sent)

            """)
        XCTAssertEqual(create.output, """
            dry run: reading only, nothing is written
            would send: POST /api/v2/webhooks {"campaign":null,"event_type":"lead_interested","headers":{"X-Webhook-Secret":"********"},\
            "name":"hookyard-2","target_hook_url":"https://new.example.com/hy/webhooks/instantly"}
            (******** stands for the first INSTANTLY_WEBHOOK_SECRET)
            summary: would create 1, would update 0, up to date 0 (dry run: nothing was sent)

            """)
    }

    func testWebhooksListsStatusMarksHookyardsAndNeverShowsTheSecret() throws {
        let fake = try FakeInstantlyAPI()
        let own = fake.addWebhook(targetURL: target, name: "hookyard", headers: ["X-Webhook-Secret": secret])
        let byPath = fake.addWebhook(targetURL: "https://hooks.example.com/webhooks/instantly/\(secret)", name: nil, eventType: "reply_received")
        let theirs = fake.addWebhook(targetURL: "https://zapier.example.com/hooks/abc", name: "zapier", eventType: nil,
                                     campaign: "f9cc070d-8dba-4341-b847-f083c358e460", headers: ["Authorization": "Basic eHl6"])
        fake.disableWebhook(id: own)

        let table = try run(["instantly", "webhooks"], environment(fake))
        let json = try run(["instantly", "webhooks", "--json"], environment(fake))

        XCTAssertEqual(table.status, 0, table.output)
        XCTAssertEqual(table.output, """
            ID                                   NAME            EVENT                   CAMPAIGN                             STATUS                HOOKYARD TARGET
            \(own) hookyard        all_events              every campaign                       disabled by Instantly yes      \(target)
            \(byPath) -               reply_received          every campaign                       active                yes      \(target)/[redacted]
            \(theirs) zapier          custom label            f9cc070d-8dba-4341-b847-f083c358e460 active                -        https://zapier.example.com/hooks/abc
            Instantly disabled Hookyard's webhook: the daemon's watcher resumes it at its next check, or run `hookyard instantly register` now

            """)
        XCTAssertEqual(json.status, 0, json.output)
        let lines = json.output.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? NSDictionary }
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines[0]?["id"] as? String, own)
        XCTAssertEqual(lines[0]?["status"] as? String, "disabled")
        XCTAssertEqual(lines[0]?["status_code"] as? Int, -1)
        XCTAssertEqual(lines[0]?["hookyard"] as? Bool, true)
        XCTAssertEqual(lines[0]?["header_names"] as? [String], ["X-Webhook-Secret"])
        XCTAssertNotNil(lines[0]?["disabled_at"] as? String)
        XCTAssertEqual(lines[1]?["target_hook_url"] as? String, "\(target)/[redacted]")
        XCTAssertEqual(lines[2]?["hookyard"] as? Bool, false)
        XCTAssertEqual(lines[2]?["event_type"] as? NSNull, NSNull())
        XCTAssertEqual(lines[2]?["campaign"] as? String, "f9cc070d-8dba-4341-b847-f083c358e460")
        XCTAssertFalse(table.output.contains(secret) || json.output.contains(secret))
    }

    func testWithoutTheAPIKeyBothCommandsSayWhichVariableIsMissing() throws {
        for arguments in [["instantly", "register", "--url", target], ["instantly", "webhooks"]] {
            let result = try run(arguments, ["INSTANTLY_WEBHOOK_SECRET": secret])
            XCTAssertEqual(result.status, 1, result.output)
            XCTAssertTrue(result.output.contains("INSTANTLY_API_KEY is not set, and `hookyard \(arguments[0]) \(arguments[1])` needs it"),
                          result.output)
        }
    }

    /// Like `catalog sync --dry-run`, `register --dry-run` plans offline without a key, and says so.
    func testDryRunWithoutTheAPIKeyPlansOffline() throws {
        let result = try run(["instantly", "register", "--url", target, "--dry-run"], ["INSTANTLY_WEBHOOK_SECRET": secret])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("INSTANTLY_API_KEY is not set: planning against a workspace with no webhooks"), result.output)
        XCTAssertTrue(result.output.contains("would send: POST /api/v2/webhooks"), result.output)
        XCTAssertTrue(result.output.contains("\"target_hook_url\":\"\(target)\""), result.output)
        XCTAssertFalse(result.output.contains(secret), result.output)
    }

    func testRegisterRefusesWhatCannotWork() throws {
        let fake = try FakeInstantlyAPI()
        let cases: [([String], [String: String], String)] = [
            (["--url", target], ["INSTANTLY_API_KEY": fake.apiKey, "INSTANTLY_API_BASE": fake.baseURL],
             "INSTANTLY_WEBHOOK_SECRET is not set: the webhook must carry it in the X-Webhook-Secret header"),
            ([], environment(fake), "no public URL: give --url https://<your-host> or set instantly.public_url"),
            (["--url", "hooks.example.com"], environment(fake), "--url: 'hooks.example.com' must be an http:// or https:// URL"),
            (["--url", "\(target)/\(secret)"], environment(fake), "--url: give the URL without the secret in its path"),
            (["--url", target, "--events", "lead_bought"], environment(fake), "--events: 'lead_bought' is not an event type Instantly webhooks take"),
            (["--url", target, "--events", "all_events,email_sent"], environment(fake), "--events: all_events already covers every event type"),
        ]
        for (arguments, environment, expected) in cases {
            let result = try run(["instantly", "register"] + arguments, environment)
            XCTAssertNotEqual(result.status, 0, result.output)
            XCTAssertTrue(result.output.contains(expected), "\(arguments): \(result.output)")
            XCTAssertFalse(result.output.contains(secret) && !arguments.contains("\(target)/\(secret)"), result.output)
        }
        XCTAssertEqual(writes(fake), [])

        fake.forceStatus(pathPrefix: "/api/v2/webhooks", status: 402,
                         body: #"{"statusCode":402,"error":"Payment Required","message":"Workspace does not have an active paid plan"}"#)
        let unpaid = try run(["instantly", "register", "--url", target], environment(fake))
        XCTAssertEqual(unpaid.status, 1)
        XCTAssertTrue(unpaid.output.contains("Instantly answered 402: Workspace does not have an active paid plan"), unpaid.output)
    }
}
