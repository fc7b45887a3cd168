import ArgumentParser
import Foundation
import HookyardConfiguration
import Store
import Workflows

/// `hookyard explain EVENT`: why an event did or did not make something happen, rule by rule (the same
/// explanation as the MCP tool `explain_event`).
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain what an event did: each rule's trigger, the engine's decision, and the steps' outcomes.",
        discussion: """
            For every configured rule: whether its trigger matched the event and why not (source, type, each where: \
            condition), the decision the engine recorded when it processed the event (flow started; held back by its \
            if:, the loop guard, rollout or a cap), and each step of the flow with its outcome. Holds are read from \
            what the engine recorded, not judged again now.
            """)

    @OptionGroup var options: ConfigurationOptions
    @ArgumentParser.Argument(help: "Row id, Stripe event id (evt_...) or dedup key.") var event: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let settings = try options.load(rules: true, recorded: true)
        let reader = try openReader(settings.databaseLocation)
        let found = try Int64(event).flatMap { try reader.event(id: $0) } ?? reader.event(event)
        guard let stored = found else { throw ValidationError("no event '\(event)' in \(settings.databaseLocation)") }
        let queue = try openJobs(settings.databaseLocation)
        defer { queue.close() }
        let explanation = try EventExplanation.explain(stored, rules: settings.rules, jobs: queue.jobs(forEvent: stored.id),
                                                       jobByKey: { try queue.job(idempotencyKey: $0) })
        print(json ? explanation.json.serialized() : explanation.text)
    }
}
