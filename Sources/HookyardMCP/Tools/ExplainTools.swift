import MCP
import Store
import Workflows

/// `explain_event`: "why did or didn't this happen", the engine's own decisions (`EventExplanation`, shared with
/// `hookyard explain`). Stateless.
enum ExplainTools {
    static let explainEvent = HookyardTool(
        name: "explain_event", title: "Explain an event",
        description: """
            For one stored event (row id, evt_... id or dedup key): every configured rule, whether its trigger \
            matched and why not (source, type, each where: condition), the decision the engine recorded (flow \
            started; held back by its if:, the loop guard, rollout or a cap; a once_per flow that had already run), \
            and each step with its outcome (succeeded, skipped and why, failing with the error, waiting). Same \
            answer as `hookyard explain EVENT`.
            """,
        input: ToolSchema.object(["id": ToolSchema.string("Row id (as a string or number), evt_... id or dedup key.")], required: ["id"]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["id"])
        let reference = try input.eventReference()
        let rules = context.configuration.rules
        return try await context.storage.withConnections { storage in
            let found = try Int64(reference).flatMap { try storage.store.event(id: $0) } ?? storage.store.event(reference)
            guard let event = found else {
                throw ToolError.notFound(what: "event", reference: reference, hint: "no stored event has this row id, event id or dedup key (list_events lists them)")
            }
            let explanation = try EventExplanation.explain(event, rules: rules, jobs: storage.jobs.jobs(forEvent: event.id),
                                                           jobByKey: { try storage.jobs.job(idempotencyKey: $0) })
            return ToolOutput(text: explanation.text, structured: Value(explanation.json))
        }
    }
}
