import Foundation
import MCP
import Store

/// `list_jobs` and `get_job`: the work the events caused, dead letters included. Stateless.
enum JobTools {
    static let listJobs = HookyardTool(
        name: "list_jobs", title: "List jobs",
        description: """
            Jobs newest first, optionally in one state (dead: the dead-letter queue) and of one kind \
            (process_event, workflow_step, ...), with attempts and last error. Pages with limit and cursor.
            """,
        input: ToolSchema.object([
            "state": ToolSchema.choice("Only jobs in this state.", JobState.allCases.map(\.rawValue)),
            "kind": ToolSchema.string("Only jobs of this kind."),
            "limit": ToolSchema.limit(standard: 20, maximum: 200),
            "cursor": ToolSchema.cursor,
        ]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["state", "kind", "limit", "cursor"])
        let state = try input.choice("state", JobState.allCases.map(\.rawValue)).flatMap(JobState.init(rawValue:))
        let kind = try input.string("kind")
        let beforeID = try input.string("cursor").map { try ToolCursor.read($0, listing: "jobs", count: 1)[0] }
        let limit = try input.limit(standard: 20, maximum: 200)
        return try await context.storage.withConnections { storage in
            let found = try storage.jobs.list(state: state, kind: kind, beforeID: beforeID, limit: limit + 1)
            let jobs = Array(found.prefix(limit))
            let next = found.count > limit ? jobs.last.map { ToolCursor.make("jobs", [$0.id]) } : nil
            var lines = ["\(ToolText.plural(jobs.count, "job"))\(next == nil ? "" : " (more: pass cursor)")"]
            for job in jobs { lines.append("  " + line(job)) }
            return ToolOutput(text: lines.joined(separator: "\n"),
                              structured: .object(["jobs": .array(jobs.map(summary)), "nextCursor": .optional(next)]))
        }
    }

    static let getJob = HookyardTool(
        name: "get_job", title: "One job",
        description: """
            One job by id: its kind, state, input, output (in dry-run, the exact requests the step recorded instead of \
            sending) and every attempt with its worker, outcome, HTTP status and error.
            """,
        input: ToolSchema.object(["id": ToolSchema.integer("The job's id.", minimum: 1)], required: ["id"]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["id"])
        guard let id = try input.integer("id") else { throw ToolError.invalidArgument("get_job", "id", "is required") }
        return try await context.storage.withConnections { storage in
            guard let (job, attempts) = try storage.jobs.job(id) else {
                throw ToolError.notFound(what: "job", reference: String(id), hint: "no job has this id (list_jobs lists them)")
            }
            var object = summary(job).objectValue ?? [:]
            object["input"] = job.input.map(Value.parsingJSON) ?? .null
            object["output"] = job.output.map(Value.parsingJSON) ?? .null
            object["idempotency_key"] = .string(job.idempotencyKey)
            object["next_run_at"] = .time(job.nextRunAt)
            object["attempt_log"] = .array(attempts.map { attempt in
                .object(["attempt": .int(attempt.attempt), "worker": .string(attempt.worker), "started_at": .time(attempt.startedAt),
                         "finished_at": .time(attempt.finishedAt), "outcome": .optional(attempt.outcome),
                         "status": attempt.status.map { .int($0) } ?? .null, "error": .optional(attempt.error)])
            })
            var lines = ["job " + line(job), "event: #\(job.eventID)"]
            if let input = job.input { lines.append("input: \(input)") }
            if let output = job.output { lines.append("output: \(output)") }
            lines.append(attempts.isEmpty ? "attempts: none" : "attempts:")
            for attempt in attempts {
                lines.append("  #\(attempt.attempt) \(ToolText.isoTime(attempt.startedAt)) \(attempt.worker) \(attempt.outcome ?? "running")"
                             + (attempt.status.map { " HTTP \($0)" } ?? "") + (attempt.error.map { ": \($0)" } ?? ""))
            }
            return ToolOutput(text: lines.joined(separator: "\n"), structured: .object(object))
        }
    }

    /// `rule/step` for a workflow step job, from its input.
    static func step(_ job: Job) -> String? {
        let subject = Job.alertSubject(of: job)
        return subject == job.kind ? nil : subject
    }

    static func line(_ job: Job) -> String {
        "#\(job.id) \(job.kind)\(step(job).map { " \($0)" } ?? "") \(job.state.rawValue), \(ToolText.plural(job.attempts, "attempt"))"
            + (Job.skipReason(of: job).map { ", skipped: \($0)" } ?? "") + (job.lastError.map { ", last error: \($0)" } ?? "")
    }

    static func summary(_ job: Job) -> Value {
        .object([
            "id": .int64(job.id), "event_id": .int64(job.eventID), "kind": .string(job.kind), "step": .optional(step(job)),
            "state": .string(job.state.rawValue), "attempts": .int(job.attempts), "last_error": .optional(job.lastError),
            "skipped_because": .optional(Job.skipReason(of: job)),
            "created_at": .time(job.createdAt), "updated_at": .time(job.updatedAt),
        ])
    }
}
