import Alerts
import Contacts
import Foundation
import HookyardConfiguration
import MCP
import Store

/// `status`, `list_segments` and `get_config`: the state of the whole installation. Stateless.
enum StatusTools {
    static let status = HookyardTool(
        name: "status", title: "Hookyard status",
        description: """
            The state of this Hookyard: live or dry-run for Stripe and Instantly, the daemon (running or not), jobs per \
            state (queue depth, dead letters), raised alerts, and the last event received from each source. Start here.
            """,
        input: ToolSchema.object([:]), annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly([])
        let configuration = context.configuration
        return try await context.storage.withConnections { storage in
            let counts = try storage.jobs.jobCounts()
            let daemon = try storage.store.daemonStatus()
            let alerts = try storage.alerts.alerts(includeCleared: false).filter { $0.state == .raised }
            var lastEvents: [String: Value] = [:]
            var lines: [String] = []
            let stripeLive = daemon?.stripeLive ?? !configuration.stripe.apiKey.isEmpty
            let instantlyLive = daemon?.instantlyLive ?? !configuration.instantly.apiKey.isEmpty
            let running = daemon.map { $0.stoppedAt == nil && $0.processIsAlive } ?? false
            let mode = "Stripe \(stripeLive ? "live" : "dry-run"), Instantly \(instantlyLive ? "live" : "dry-run")"
            lines.append("mode: \(mode)\(daemon == nil ? " (from this process's environment: no daemon has run on this database)" : " (as the daemon recorded it)")")
            if let daemon {
                lines.append("daemon: pid \(daemon.pid), version \(daemon.version), started \(ToolText.isoTime(daemon.startedAt)), "
                             + (running ? "running" : daemon.stoppedAt.map { "stopped \(ToolText.isoTime($0))" } ?? "gone without a clean stop"))
            } else {
                lines.append("daemon: none has run on this database")
            }
            lines.append("jobs: " + JobState.allCases.map { "\($0.rawValue) \(counts[$0.rawValue] ?? 0)" }.joined(separator: ", "))
            for source in EventSource.allCases {
                let last = try storage.store.events(source: source, limit: 1).first
                lastEvents[source.rawValue] = last.map { event in
                    .object(["id": .int64(event.id), "type": .string(event.type), "received_at": .time(event.receivedAt)])
                } ?? .null
                lines.append("last \(source.rawValue) event: " + (last.map { "#\($0.id) \($0.type) at \(ToolText.isoTime($0.receivedAt))" } ?? "none"))
            }
            lines.append(alerts.isEmpty ? "alerts: none raised" : "alerts: \(ToolText.plural(alerts.count, "raised alert"))")
            for alert in alerts.prefix(10) { lines.append("  \(alert.kind) \(alert.subject): \(alert.message)") }
            let structured: Value = .object([
                "mode": .object(["stripe": .string(stripeLive ? "live" : "dry-run"), "instantly": .string(instantlyLive ? "live" : "dry-run"),
                                 "from": .string(daemon == nil ? "environment" : "daemon")]),
                "daemon": daemon.map { daemon in
                    .object(["pid": .int(Int(daemon.pid)), "version": .string(daemon.version), "started_at": .time(daemon.startedAt),
                             "stopped_at": .time(daemon.stoppedAt), "running": .bool(running)])
                } ?? .null,
                "jobs": .object(Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, Value.int(counts[$0.rawValue] ?? 0)) })),
                "queue_depth": .int((counts["queued"] ?? 0) + (counts["retrying"] ?? 0) + (counts["running"] ?? 0)),
                "dead_jobs": .int(counts["dead"] ?? 0),
                "alerts": .array(alerts.map { alert in
                    .object(["kind": .string(alert.kind), "subject": .string(alert.subject), "message": .string(alert.message),
                             "since": .time(alert.firstRaisedAt)])
                }),
                "last_event": .object(lastEvents),
                "database": .string(configuration.databaseLocation.description),
            ])
            return ToolOutput(text: lines.joined(separator: "\n"), structured: structured)
        }
    }

    static let listSegments = HookyardTool(
        name: "list_segments", title: "Segments",
        description: "The segments configured (segments: in the configuration) with how many contacts are in each now.",
        input: ToolSchema.object([:]), annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly([])
        let configuration = context.configuration
        return try await context.storage.withConnections { storage in
            let now = ToolTime.now()
            var rows: [Value] = []
            var lines: [String] = []
            for definition in configuration.segments {
                guard let query = configuration.segmentCompiler.query(segment: definition.name) else { continue }
                let members = try storage.contacts.count(matching: query, now: now)
                rows.append(.object(["name": .string(definition.name), "members": .int(members)]))
                lines.append("\(definition.name): \(ToolText.plural(members, "contact"))")
            }
            if rows.isEmpty { lines.append("no segments are configured") }
            for issue in configuration.ignoredIssues { lines.append("left out: \(issue)") }
            return ToolOutput(text: lines.joined(separator: "\n"), structured: .object([
                "segments": .array(rows), "left_out": .array(configuration.ignoredIssues.map { .string($0.description) }),
            ]))
        }
    }

    static let getConfig = HookyardTool(
        name: "get_config", title: "Configuration",
        description: """
            The configuration as loaded: rules (trigger, conditions, caps, rollout, steps), segments, the catalog, \
            engagement, retention and which secrets are set. Secrets are never shown, only whether they are set.
            """,
        input: ToolSchema.object([:]), annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly([])
        let description = ConfigurationSummary(context.configuration)
        return ToolOutput(text: description.text, structured: description.structured)
    }
}

/// The configuration as tools and the `hookyard://configuration` resource show it: never a secret's value. A value.
struct ConfigurationSummary {
    let text: String
    let structured: Value

    init(_ configuration: HookyardConfiguration) {
        var lines: [String] = ["configuration: \(configuration.file ?? "built-in defaults")", "database: \(configuration.databaseLocation)"]
        let secrets: [String: Value] = [
            "STRIPE_API_KEY": .string(configuration.stripe.apiKey.isEmpty ? "not set (Stripe calls are dry-run)" : configuration.stripe.isTestKey ? "set (test mode)" : "set (live mode)"),
            "INSTANTLY_API_KEY": .string(configuration.instantly.apiKey.isEmpty ? "not set (Instantly calls are dry-run)" : "set"),
            "STRIPE_WEBHOOK_SECRET": .string(HookyardConfiguration.describe(secrets: configuration.stripe.webhookSecrets)),
            "INSTANTLY_WEBHOOK_SECRET": .string(HookyardConfiguration.describe(secrets: configuration.instantly.webhookSecrets)),
            "HOOKYARD_ADMIN_TOKEN": .string(HookyardConfiguration.describe(secrets: configuration.adminTokens)),
        ]
        for name in secrets.keys.sorted() { lines.append("\(name): \(secrets[name]!.stringValue ?? "")") }
        var rules: [Value] = []
        lines.append("rules: \(configuration.rules.isEmpty ? "none" : String(configuration.rules.count))")
        for rule in configuration.rules {
            let trigger = rule.trigger.segmentChange.map(\.description)
                ?? "\(rule.trigger.source.rawValue) \(rule.trigger.eventTypes.joined(separator: "|"))"
            let conditions = rule.trigger.conditions.map(\.description)
            lines.append("  \(rule.name): on \(trigger)\(conditions.isEmpty ? "" : " where " + conditions.joined(separator: " and "))"
                         + (rule.contactFilter == nil ? "" : " if the contact passes its if:"))
            var steps: [Value] = []
            for step in rule.steps {
                let only = step.conditions.map(\.description)
                let when = step.skipConditions.map(\.description)
                lines.append("    \(step.name): \(step.action)\(step.schedule.map { " \($0)" } ?? "")"
                             + (only.isEmpty ? "" : " if " + only.joined(separator: " and "))
                             + (when.isEmpty ? "" : " when " + when.joined(separator: " and "))
                             + (step.unless == nil ? "" : " unless the contact matches its guard"))
                steps.append(.object([
                    "name": .string(step.name), "action": .string(step.action),
                    "schedule": step.schedule.map { .string("\($0)") } ?? .null,
                    "if": .array(only.map(Value.string)), "when": .array(when.map(Value.string)),
                    "has_unless_guard": .bool(step.unless != nil),
                ]))
            }
            rules.append(.object([
                "name": .string(rule.name), "trigger": .string(trigger), "conditions": .array(conditions.map(Value.string)),
                "contact_filter": .bool(rule.contactFilter != nil),
                "max_per_day": rule.maxPerDay.map { .int($0) } ?? .null,
                "max_runs_per_day": rule.maxRunsPerDay.map { .int($0) } ?? .null,
                "rollout_percent": rule.rolloutPercent.map(Value.double) ?? .null,
                "steps": .array(steps),
            ]))
        }
        lines.append("segments: \(configuration.segments.isEmpty ? "none" : configuration.segments.map(\.name).joined(separator: ", "))")
        let products: [Value] = configuration.catalog.products.map { product in
            .object(["key": .string(product.key), "name": .string(product.name), "seats": product.seats.map { .int($0) } ?? .null,
                     "tiers": .int(product.tiers.count)])
        }
        lines.append("catalog: \(products.isEmpty ? "empty" : ToolText.plural(products.count, "product"))")
        lines.append("payload retention: \(configuration.retentionPayloadDays == 0 ? "forever" : "\(configuration.retentionPayloadDays) days")")
        text = lines.joined(separator: "\n")
        structured = .object([
            "file": .optional(configuration.file), "database": .string(configuration.databaseLocation.description),
            "secrets": .object(secrets), "rules": .array(rules),
            "segments": .array(configuration.segments.map { .string($0.name) }),
            "catalog": .object(["products": .array(products)]),
            "retention_payload_days": .int(configuration.retentionPayloadDays),
            "stripe": .object(["api_base": .string(configuration.stripe.apiBase), "api_version": .string(configuration.stripe.apiVersion)]),
            "instantly": .object(["api_base": .string(configuration.instantly.apiBase)]),
        ])
    }
}
