import Foundation
import MCP
import Store
import StrictJSON
import Workflows

/// `dry_run_rule`: what one rule (or all) would do with a stored event or a given payload, storing and sending
/// nothing (`FlowDryRun`, shared with `hookyard dry-run`). Stateless.
enum DryRunTools {
    static let dryRunRule = HookyardTool(
        name: "dry_run_rule", title: "Dry-run a rule",
        description: """
            Runs one rule (or every rule) against a stored event or a given payload, storing and sending nothing: \
            whether the trigger matches and why not, then each step as the workers would decide it (if:, when:, \
            unless:, do-not-contact) with the exact Stripe and Instantly requests it would make, step by step. The \
            loop guard and daily caps are not judged. Same answer as `hookyard dry-run`.
            """,
        input: ToolSchema.object([
            "rule": ToolSchema.string("The rule's name (default: every rule)."),
            "event": ToolSchema.string("A stored event: row id, evt_... id or dedup key."),
            "payload": ["type": "object", "description": "A webhook body instead of a stored event (with source)."],
            "source": ToolSchema.choice("The payload's source (with payload).", EventSource.allCases.map(\.rawValue)),
            "type": ToolSchema.string("The payload's event type (default: its type, or event_type for Instantly)."),
        ]),
        // Reads only: nothing is stored or sent (dry-run transports), whatever the server's mode.
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["rule", "event", "payload", "source", "type"])
        let ruleName = try input.string("rule")
        let reference = try input.string("event") ?? { if case .int(let number)? = input.values["event"] { return String(number) } else { return nil } }()
        let payload = input.values["payload"]
        guard (reference == nil) != (payload == nil) else {
            throw ToolError.invalidArgument("dry_run_rule", "event", "or 'payload' is required, one of the two")
        }
        let dryRun = context.configuration.flowDryRun()
        if let ruleName, !context.configuration.rules.contains(where: { $0.name == ruleName }) {
            throw ToolError.notFound(what: "rule", reference: ruleName,
                                     hint: "the rules are: \(context.configuration.rules.map(\.name).joined(separator: ", "))")
        }
        var given: (source: EventSource, type: String, body: JSONValue)?
        if let payload {
            given = try Self.event(from: payload, source: try input.choice("source", EventSource.allCases.map(\.rawValue)),
                                   type: try input.string("type"))
        }
        let fixed = given
        return try await context.storage.withConnections { storage in
            let source: EventSource, type: String, body: JSONValue, eventID: Int64?
            if let fixed {
                (source, type, body, eventID) = (fixed.source, fixed.type, fixed.body, nil)
            } else {
                let reference = reference!
                let found = try Int64(reference).flatMap { try storage.store.event(id: $0) } ?? storage.store.event(reference)
                guard let event = found else {
                    throw ToolError.notFound(what: "event", reference: reference, hint: "no stored event has this row id, event id or dedup key (list_events lists them)")
                }
                guard !event.body.isEmpty, let parsed = try? JSONValue.parse(event.body) else {
                    throw ToolError.refused("event #\(event.id) has no body left (pruned by retention or erased): pass its payload instead")
                }
                (source, type, body, eventID) = (event.source, event.type, parsed, event.id)
            }
            let runs = try dryRun.run(rule: ruleName, source: source, type: type, body: body, eventID: eventID,
                                      store: storage.workflows(), now: ToolTime.now())
            let header = "dry run of \(ruleName.map { "rule \($0)" } ?? "every rule") on \(eventID.map { "event #\($0)" } ?? "the given payload") "
                + "(\(source.rawValue) \(type)): nothing is stored or sent"
            return ToolOutput(text: ([header] + runs.map(\.text)).joined(separator: "\n"),
                              structured: .object(["source": .string(source.rawValue), "type": .string(type),
                                                   "event_id": eventID.map { .int(Int($0)) } ?? .null,
                                                   "rules": .array(runs.map { Value($0.json) })]))
        }
    }

    /// A given payload as an event: a JSON object with a type. - Throws: `ToolError.invalidArgument` naming what is
    /// missing ("a payload that is not an event").
    static func event(from payload: Value, source: String?, type: String?) throws -> (EventSource, String, JSONValue) {
        guard case .object = payload else {
            throw ToolError.invalidArgument("dry_run_rule", "payload", "must be a JSON object (a webhook body), not \(ToolInput.kind(payload))")
        }
        guard let source = source.flatMap(EventSource.init(rawValue:)) else {
            throw ToolError.invalidArgument("dry_run_rule", "source", "is required with payload: stripe or instantly")
        }
        let body = try JSONValue.parse(payload.jsonText)
        let field = source == .stripe ? "type" : "event_type"
        guard let eventType = type ?? body[field]?.stringValue, !eventType.isEmpty else {
            throw ToolError.invalidArgument("dry_run_rule", "payload",
                                            "is not \(source == .stripe ? "a Stripe" : "an Instantly") event: it has no '\(field)' (or pass type)")
        }
        if source == .stripe, body["data"]?["object"] == nil {
            throw ToolError.invalidArgument("dry_run_rule", "payload", "is not a Stripe event: it has no data.object")
        }
        return (source, eventType, body)
    }
}
