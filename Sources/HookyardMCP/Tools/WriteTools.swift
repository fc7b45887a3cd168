import Foundation
import MCP
import Store

/// `retry_job` and `discard_job`: the dead-letter queue's two actions (`send_test_event` is in TestEventTools). Absent from `tools/list` unless writes are
/// enabled (`mcp.allow_writes` or `--allow-writes`). In live mode the first call only says what it would do and
/// hands out a confirmation token; the call that presents the token acts. Stateless.
enum WriteTools {
    static let retryJob = HookyardTool(
        name: "retry_job", title: "Retry a dead job",
        description: """
            Queues a dead (or discarded) job again, due now, with a fresh attempt budget; the daemon's workers run it \
            (in live mode: real Stripe or Instantly calls). In live mode the first call returns a confirmation token; \
            call again with `confirmation` to act.
            """,
        input: ToolSchema.object([
            "id": ToolSchema.integer("The job's id (list_jobs with state dead).", minimum: 1),
            "confirmation": ToolSchema.string("The token a previous call returned (live mode only)."),
        ], required: ["id"]),
        annotations: Tool.Annotations(readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true)
    ) { input, context in
        try await change(input, context, verb: "retry", allowed: [.dead, .discarded]) { storage, id in
            try storage.writableJobs().retry(id, now: ToolTime.now())
        }
    }

    static let discardJob = HookyardTool(
        name: "discard_job", title: "Discard a dead job",
        description: """
            Takes a dead job out of the dead-letter queue as discarded: it will not run (retry_job can still bring it \
            back). In live mode the first call returns a confirmation token; call again with `confirmation` to act.
            """,
        input: ToolSchema.object([
            "id": ToolSchema.integer("The job's id (list_jobs with state dead).", minimum: 1),
            "confirmation": ToolSchema.string("The token a previous call returned (live mode only)."),
        ], required: ["id"]),
        annotations: Tool.Annotations(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false)
    ) { input, context in
        try await change(input, context, verb: "discard", allowed: [.dead]) { storage, id in
            try storage.writableJobs().discard(id, now: ToolTime.now())
        }
    }

    /// The flow both tools share: check the job, ask for confirmation in live mode, act, and say what changed.
    private static func change(_ input: ToolInput, _ context: ToolContext, verb: String, allowed: Set<JobState>,
                               act: @escaping @Sendable (HookyardStorage.Connections, Int64) throws -> Void) async throws -> ToolOutput {
        try input.expectOnly(["id", "confirmation"])
        guard let id = try input.integer("id") else { throw ToolError.invalidArgument(input.tool, "id", "is required") }
        let confirmation = try input.string("confirmation")
        let job = try await context.storage.withConnections { storage in
            guard let job = try storage.jobs.job(id)?.job else {
                throw ToolError.notFound(what: "job", reference: String(id), hint: "no job has this id (list_jobs lists them)")
            }
            return job
        }
        guard allowed.contains(job.state) else {
            throw ToolError.refused("job \(id) is \(job.state.rawValue); only \(allowed.map(\.rawValue).sorted().joined(separator: " or ")) jobs can be \(verb == "retry" ? "retried" : "discarded")")
        }
        let action = "\(verb) job \(id)"
        let plan = "\(verb) job " + JobTools.line(job)
        if await context.liveMode() {
            guard let confirmation else {
                let token = context.confirmations.issue(for: action)
                return ToolOutput(
                    text: "live mode: this would \(plan). Nothing was changed. To go ahead, call \(input.tool) again with id \(id) and confirmation \"\(token)\" (valid \(ConfirmationTokens.lifetimeMilliseconds / 1000) s).",
                    structured: .object(["done": false, "would": .string(plan), "confirmation": .string(token),
                                         "expires_in_seconds": .int(Int(ConfirmationTokens.lifetimeMilliseconds / 1000))]))
            }
            try context.confirmations.redeem(confirmation, for: action)
        }
        let after = try await context.storage.withConnections { storage in
            do {
                try act(storage, id)
            } catch let error as JobChangeError {
                throw ToolError.refused(error.description)
            }
            return try storage.jobs.job(id)?.job
        }
        let state = after?.state.rawValue ?? "gone"
        return ToolOutput(text: "done: \(action); it is now \(state)",
                          structured: .object(["done": true, "job": after.map(JobTools.summary) ?? .null]))
    }
}
