import ArgumentParser
import Foundation
import HookyardConfiguration
import Contacts
import HookyardFoundation
import StrictJSON
import Store
import Workflows

/// `hookyard dry-run --rule R --event E`: what a rule (or every rule) would do with a stored event or a payload file,
/// storing and sending nothing (the same preview as the MCP tool `dry_run_rule`).
struct DryRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dry-run",
        abstract: "Preview what a rule would do with an event: the exact requests of each step, nothing stored or sent.",
        discussion: """
            Decides each step as the workers do (if:, when:, unless:, do-not-contact) and runs it through dry-run \
            transports whatever the API keys, each step seeing the previous steps' outputs. The loop guard and the \
            daily caps are not judged (they depend on when a flow starts). Give a stored event with --event, or a \
            webhook body with --payload FILE and --source.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "The rule to run (default: every rule).") var rule: String?
    @Option(help: "A stored event: row id, Stripe event id (evt_...) or dedup key.") var event: String?
    @Option(help: "A file holding a webhook body to use instead of a stored event.") var payload: String?
    @Option(help: "The payload's source: stripe or instantly.") var source: EventSource?
    @Option(help: "The payload's event type (default: its type, or event_type for Instantly).") var type: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard (event == nil) != (payload == nil) else { throw ValidationError("give --event or --payload (one of the two)") }
        if payload != nil, source == nil { throw ValidationError("--payload needs --source stripe or --source instantly") }
    }

    func run() throws {
        let settings = try options.load(rules: true, recorded: true)
        let eventSource: EventSource, eventType: String, body: JSONValue, eventID: Int64?
        if let payload {
            let text: String
            do {
                text = try String(contentsOfFile: payload, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read --payload \(payload): \(error.localizedDescription)")
            }
            guard case .object? = try? JSONValue.parse(text), let parsed = try? JSONValue.parse(text) else {
                throw ValidationError("--payload \(payload) is not a JSON object (a webhook body)")
            }
            let field = source == .stripe ? "type" : "event_type"
            guard let found = type ?? parsed[field]?.stringValue, !found.isEmpty else {
                throw ValidationError("--payload \(payload) is not a \(source == .stripe ? "Stripe" : "Instantly") event: it has no '\(field)' (or give --type)")
            }
            (eventSource, eventType, body, eventID) = (source!, found, parsed, nil)
        } else {
            let reader = try openReader(settings.databaseLocation)
            let found = try Int64(event!).flatMap { try reader.event(id: $0) } ?? reader.event(event!)
            guard let stored = found else { throw ValidationError("no event '\(event!)' in \(settings.databaseLocation)") }
            guard !stored.body.isEmpty, let parsed = try? JSONValue.parse(stored.body) else {
                throw ValidationError("event #\(stored.id) has no body left (pruned by retention or erased): give its payload with --payload")
            }
            (eventSource, eventType, body, eventID) = (stored.source, stored.type, parsed, stored.id)
        }
        // A query_only connection: a preview cannot write, whatever a step would do.
        let store = try openStore { try StorageOpening.readOnlyWorkflowRecords(settings.databaseLocation) }
        defer { store.close() }
        let runs: [FlowDryRun.RuleRun]
        do {
            runs = try settings.flowDryRun().run(rule: rule, source: eventSource, type: eventType, body: body, eventID: eventID,
                                                 store: store, now: WallClock.nowMilliseconds())
        } catch let error as FlowDryRunError {
            throw ValidationError(error.description)
        }
        if json {
            print(JSONValue.array(runs.map(\.json)).serialized())
        } else {
            print("dry run of \(rule.map { "rule \($0)" } ?? "every rule") on \(eventID.map { "event #\($0)" } ?? payload ?? "") "
                  + "(\(eventSource.rawValue) \(eventType)): nothing is stored or sent")
            for run in runs { print(run.text) }
        }
    }
}
