import HookyardConfiguration
import ArgumentParser
import Foundation
import Intake
import Outbound
import StrictJSON
import Workflows

/// `hookyard instantly register|webhooks`: Hookyard's webhook in the Instantly workspace, made and shown through the
/// API, so nobody types the shared secret into a dashboard.
struct InstantlyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instantly",
        abstract: "Register Hookyard's webhook in Instantly, or list the workspace's webhooks.",
        subcommands: [Register.self, Webhooks.self])

    /// `hookyard instantly register`: creates or updates Hookyard's webhook(s) (`InstantlyWebhookRegistration`), one
    /// line per webhook, then a summary. Exits 1 with Instantly's message when a request fails.
    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update the workspace webhook that delivers Instantly's events to Hookyard, with the secret header.",
            discussion: """
                The webhook points at PUBLIC_URL (a bare origin such as https://hooks.example.com gets /webhooks/instantly) \
                and carries the header instantly.secret_header (default X-Webhook-Secret) with the first \
                INSTANTLY_WEBHOOK_SECRET. Instantly takes one event type per webhook: all_events (the default) is one \
                webhook for every type; --events email_sent,reply_received makes one per type. Hookyard's existing \
                webhook is found by its URL, else by --name, and updated where it differs (and resumed if Instantly \
                disabled it); running it again changes nothing. Needs INSTANTLY_API_KEY; --dry-run only reads, and without \
                the key plans offline against a workspace with no webhooks.
                """)
        @OptionGroup var options: ConfigurationOptions
        @Option(help: ArgumentHelp("The public URL Instantly delivers to (default: instantly.public_url).", valueName: "public-url"))
        var url: String?
        @Option(help: "Event types, comma-separated, or all_events (every type, custom labels included).") var events = "all_events"
        @Option(help: "Only this campaign's events (its id); default: every campaign of the workspace.") var campaign: String?
        @Option(help: "The webhook's name in Instantly; also how an existing one is found when its URL changed.") var name = "hookyard"
        @Flag(help: "Show what would be sent (the secret masked); write nothing.") var dryRun = false

        /// `--events` as a list, in the order given, without repeats.
        var eventTypes: [String] {
            var seen: Set<String> = []
            return events.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && seen.insert($0).inserted }
        }

        func validate() throws {
            let types = eventTypes
            guard !types.isEmpty else { throw ValidationError("--events must name at least one event type, or all_events") }
            if let unknown = types.first(where: { !InstantlyWebhook.subscribableEventTypes.contains($0) }) {
                throw ValidationError("--events: '\(unknown)' is not an event type Instantly webhooks take; use one of "
                                      + InstantlyWebhook.subscribableEventTypes.joined(separator: ", "))
            }
            if types.count > 1, types.contains("all_events") {
                throw ValidationError("--events: all_events already covers every event type; give it alone")
            }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--name must not be empty") }
            if let campaign, campaign.isEmpty { throw ValidationError("--campaign must not be empty") }
        }

        func run() throws {
            let settings = try options.load(rules: false)
            // Without a key, --dry-run plans offline against a workspace with no webhooks, as `catalog sync --dry-run`
            // plans against an empty account; a real registration needs the key.
            let offline = dryRun && settings.instantly.apiKey.isEmpty
            let client = offline ? nil : try instantlyClient(settings, command: "instantly register")
            guard let secret = settings.instantly.webhookSecrets.first else {
                throw ValidationError("INSTANTLY_WEBHOOK_SECRET is not set: the webhook must carry it in the \(settings.instantly.secretHeader) "
                                      + "header. Set it (or INSTANTLY_WEBHOOK_SECRET_FILE, or the systemd credential) as the daemon has it.")
            }
            let target: String
            do {
                guard let given = url ?? settings.instantly.publicURL else {
                    throw ValidationError("no public URL: give --url https://<your-host> or set instantly.public_url")
                }
                target = try InstantlyIntakeURL.resolve(given)
            } catch let problem as InstantlyIntakeURL.Problem {
                throw ValidationError("--url: \(problem.description)")
            }
            let ownership = InstantlyWebhookOwnership(publicURL: target, secretHeader: settings.instantly.secretHeader,
                                                      secrets: settings.instantly.webhookSecrets)
            guard ownership.redacted(target) == target else {
                throw ValidationError("--url: give the URL without the secret in its path; register sends the secret in the "
                                      + "\(settings.instantly.secretHeader) header instead")
            }
            let registration = InstantlyWebhookRegistration(targetURL: target, name: name, eventTypes: eventTypes, campaign: campaign,
                                                            secretHeader: settings.instantly.secretHeader, secret: secret)
            let plan = registration.plan(existing: try client?.webhooks() ?? [])
            let describe = { (webhook: InstantlyWebhook) in InstantlyWebhookText.describe(webhook, ownership: ownership) }
            if offline {
                print("INSTANTLY_API_KEY is not set: planning against a workspace with no webhooks (nothing is read or written); "
                      + "with the key, the plan shows what your workspace lacks")
                for line in Self.dryRunLines(plan) { print(line) }
            } else if dryRun {
                print("dry run: reading only, nothing is written")
                for line in Self.dryRunLines(plan) { print(line) }
            } else if let client {
                _ = try registration.apply(plan, client: client) { outcome in
                    switch outcome {
                    case .created(let webhook):
                        print("created webhook \(webhook.id): \(describe(webhook))")
                    case .updated(let webhook, let changed, let resumed):
                        var line = "updated webhook \(webhook.id): \(describe(webhook))"
                        if !changed.isEmpty { line += "; changed \(changed.joined(separator: ", "))" }
                        if resumed { line += "; resumed it (Instantly had disabled it)" }
                        print(line)
                    case .upToDate(let webhook):
                        print("up to date: webhook \(webhook.id): \(describe(webhook))")
                    }
                }
            }
            for webhook in plan.leftAlone {
                print("left alone: webhook \(webhook.id): \(describe(webhook)); it has Hookyard's URL or name but no wanted event type "
                      + "needs it (delete it in Instantly if it is not wanted: it would deliver events twice)")
            }
            print(Self.summary(plan, dryRun: dryRun))
        }

        /// What `--dry-run` prints: each request, header values masked.
        static func dryRunLines(_ plan: InstantlyWebhookRegistration.Plan) -> [String] {
            var lines: [String] = []
            for step in plan.steps {
                switch step {
                case .create(let fields):
                    var body = fields.json(maskingHeaders: true)
                    if body["campaign"] == nil { body["campaign"] = .null }
                    lines.append("would send: POST /api/v2/webhooks \(JSONValue.object(body).serialized())")
                case .update(let webhook, let changes, let resume):
                    if !changes.isEmpty {
                        lines.append("would send: PATCH /api/v2/webhooks/\(webhook.id) \(JSONValue.object(changes.json(maskingHeaders: true)).serialized())")
                    }
                    if resume { lines.append("would send: POST /api/v2/webhooks/\(webhook.id)/resume (Instantly disabled it)") }
                case .upToDate(let webhook):
                    lines.append("up to date: webhook \(webhook.id)")
                }
            }
            if plan.steps.contains(where: { if case .create = $0 { true } else { false } })
                || plan.steps.contains(where: { if case .update(_, let changes, _) = $0 { changes.headers != nil } else { false } }) {
                lines.append("(******** stands for the first INSTANTLY_WEBHOOK_SECRET)")
            }
            return lines
        }

        static func summary(_ plan: InstantlyWebhookRegistration.Plan, dryRun: Bool) -> String {
            if plan.isUpToDate { return "summary: Hookyard's Instantly webhook is up to date; nothing changed" }
            let created = plan.steps.count { if case .create = $0 { true } else { false } }
            let updated = plan.steps.count { if case .update = $0 { true } else { false } }
            let current = plan.steps.count - created - updated
            let verb = dryRun ? "would create" : "created"
            return "summary: \(verb) \(created), \(dryRun ? "would update" : "updated") \(updated), up to date \(current)"
                + (dryRun ? " (dry run: nothing was sent)" : "")
        }
    }

    /// `hookyard instantly webhooks [--json]`: every webhook of the workspace with its status, Hookyard's marked.
    struct Webhooks: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the Instantly workspace's webhooks: id, name, event type, campaign, status, target; Hookyard's marked.",
            discussion: """
                Hookyard's own are those pointing at instantly.public_url or carrying a configured INSTANTLY_WEBHOOK_SECRET \
                (in the secret header, as a Bearer token, or in the URL's path); a secret in a URL is shown as [redacted]. \
                Needs INSTANTLY_API_KEY.
                """)
        @OptionGroup var options: ConfigurationOptions
        @Flag(help: "Print one JSON object per line.") var json = false

        func run() throws {
            let settings = try options.load(rules: false)
            let client = try instantlyClient(settings, command: "instantly webhooks")
            let ownership = InstantlyWebhookOwnership(publicURL: settings.instantly.publicURL, secretHeader: settings.instantly.secretHeader,
                                                      secrets: settings.instantly.webhookSecrets)
            let webhooks = try client.webhooks()
            if json {
                for webhook in webhooks {
                    let object: [String: Any] = [
                        "id": webhook.id, "name": webhook.name ?? NSNull(), "target_hook_url": ownership.redacted(webhook.targetURL),
                        "event_type": webhook.eventType ?? NSNull(), "campaign": webhook.campaign ?? NSNull(),
                        "status": webhook.statusName, "status_code": webhook.status ?? NSNull(), "disabled_at": webhook.disabledAt ?? NSNull(),
                        "created": webhook.created ?? NSNull(), "hookyard": ownership.owns(webhook),
                        "header_names": webhook.headers.keys.sorted(),
                    ]
                    print(try jsonLine(object))
                }
                return
            }
            guard !webhooks.isEmpty else {
                print("no webhooks in this Instantly workspace; run `hookyard instantly register --url https://<your-host>`")
                return
            }
            print(column("ID", 37) + column("NAME", 16) + column("EVENT", 24) + column("CAMPAIGN", 37) + column("STATUS", 22)
                  + column("HOOKYARD", 9) + "TARGET")
            for webhook in webhooks {
                let status = webhook.isDisabled ? "disabled by Instantly" : webhook.statusName
                print(column(webhook.id, 37) + column(webhook.name ?? "-", 16) + column(webhook.eventType ?? "custom label", 24)
                      + column(webhook.campaign ?? "every campaign", 37) + column(status, 22)
                      + column(ownership.owns(webhook) ? "yes" : "-", 9) + ownership.redacted(webhook.targetURL))
            }
            let own = webhooks.filter(ownership.owns)
            if !ownership.canIdentify {
                print("Hookyard's own cannot be told: set instantly.public_url or INSTANTLY_WEBHOOK_SECRET")
            } else if own.isEmpty {
                print("none of these is Hookyard's; run `hookyard instantly register --url https://<your-host>`")
            } else if own.contains(where: \.isDisabled) {
                print("Instantly disabled Hookyard's webhook: the daemon's watcher resumes it at its next check, "
                      + "or run `hookyard instantly register` now")
            }
        }
    }
}

/// An Instantly client for a command that must talk to the API, on the transport `serve` would use.
/// - Throws: `InstantlyCommandError.noAPIKey` without `INSTANTLY_API_KEY`.
private func instantlyClient(_ settings: HookyardConfiguration, command: String) throws -> InstantlyClient {
    guard !settings.instantly.apiKey.isEmpty else { throw InstantlyCommandError.noAPIKey(command: command) }
    return InstantlyClient(transport: Serve.providers(settings, limiters: Limiters(settings)).instantly)
}

/// Why an `instantly` command refused to start. The description says what to do.
enum InstantlyCommandError: Error, CustomStringConvertible {
    case noAPIKey(command: String)

    var description: String {
        switch self {
        case .noAPIKey(let command):
            "INSTANTLY_API_KEY is not set, and `hookyard \(command)` needs it to call Instantly's API. Set INSTANTLY_API_KEY "
                + "(or INSTANTLY_API_KEY_FILE, or the systemd credential INSTANTLY_API_KEY), as the daemon has it."
        }
    }
}

/// How a webhook is shown in one line. Stateless.
enum InstantlyWebhookText {
    /// `"hookyard", all_events, every campaign -> https://hooks.example.com/webhooks/instantly (header X-Webhook-Secret)`:
    /// header names only, a secret in the URL redacted.
    static func describe(_ webhook: InstantlyWebhook, ownership: InstantlyWebhookOwnership) -> String {
        var text = "\"\(webhook.name ?? "")\", \(webhook.eventType ?? "custom label"), "
            + (webhook.campaign.map { "campaign \($0)" } ?? "every campaign") + " -> \(ownership.redacted(webhook.targetURL))"
        if !webhook.headers.isEmpty { text += " (header\(webhook.headers.count == 1 ? "" : "s") \(webhook.headers.keys.sorted().joined(separator: ", ")))" }
        if webhook.isDisabled { text += ", disabled by Instantly" }
        return text
    }
}
