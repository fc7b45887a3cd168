import HookyardConfiguration
import ArgumentParser
import Foundation
import HookyardFoundation
import Outbound
import Store

/// `hookyard jobs list|show|retry|discard`: inspect the job queue and handle the dead-letter queue.
struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect queued jobs and handle dead ones.",
        subcommands: [List.self, Show.self, Retry.self, Discard.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Only jobs in this state (\(JobState.allCases.map(\.rawValue).joined(separator: ", "))).")
        var state: JobState?
        @Option(help: "How many jobs to show.") var limit = 50
        @Flag(help: "Print JSON lines.") var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let jobs = try openQueue(options).list(state: state, limit: limit)
            if json {
                for job in jobs { print(try jsonLine(summary(job))) }
                return
            }
            // The STEP column is as wide as the longest `rule/step` shown, so long names do not push the rest out of line.
            let stepWidth = max(36, (jobs.compactMap { stepName($0)?.count }.max() ?? 0) + 2)
            print(column("ID", 8) + column("STATE", 11) + column("KIND", 32) + column("STEP", stepWidth) + column("ATTEMPTS", 10) + column("EVENT", 8)
                  + column("NEXT RUN", 26) + "LAST ERROR")
            for job in jobs {
                print(column(String(job.id), 8) + column(job.state.rawValue, 11) + column(job.kind, 32) + column(stepName(job) ?? "-", stepWidth)
                      + column(String(job.attempts), 10) + column(String(job.eventID), 8) + column(isoTime(job.nextRunAt), 26)
                      + ((job.lastError ?? Job.skipReason(of: job).map { "skipped: " + $0 }).map { String($0.prefix(80)) } ?? ""))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job: its input, output and every attempt.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Job id.") var id: Int64
        @Flag(help: "Show recorded request bodies exactly as sent (Stripe's as form strings), not decoded.") var raw = false

        func run() throws {
            guard let (job, attempts) = try openQueue(options).job(id) else {
                throw ValidationError("no job \(id) in \(try options.load(rules: false).database)")
            }
            var object = summary(job)
            object["input"] = decoded(job.input)
            object["output"] = raw ? decoded(job.output) : readableRequests(decoded(job.output))
            object["attempts_log"] = attempts.map { attempt -> [String: Any] in
                var entry: [String: Any] = ["attempt": attempt.attempt, "worker": attempt.worker,
                                            "started_at": isoTime(attempt.startedAt), "outcome": attempt.outcome ?? "running"]
                if let finished = attempt.finishedAt { entry["finished_at"] = isoTime(finished) }
                if let status = attempt.status { entry["status"] = status }
                if let error = attempt.error { entry["error"] = error }
                return entry
            }
            print(try jsonLine(object, pretty: true))
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a dead job again (or every dead job). Provider calls keep their idempotency keys, so a side effect that already happened is not repeated.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Job id.") var id: Int64?
        @Flag(help: "Retry every dead job.") var allDead = false

        func validate() throws {
            if id != nil, allDead { throw ValidationError("give a job id or --all-dead, not both") }
            if id == nil, !allDead { throw ValidationError("give the id of the job to retry (see `hookyard jobs list --state dead`), or --all-dead") }
        }

        func run() throws {
            let queue = try openQueue(options)
            let now = WallClock.nowMilliseconds()
            if allDead {
                print("queued \(try queue.retryAllDead(now: now)) dead job(s) again")
            } else if let id {
                try change { try queue.retry(id, now: now) }
                print("job \(id) queued again")
            }
            try clearResolvedDeadJobAlerts(options, queue: queue)
        }
    }

    struct Discard: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a dead job out of the dead-letter queue without running it.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Job id.") var id: Int64

        func run() throws {
            let queue = try openQueue(options)
            try change { try queue.discard(id, now: WallClock.nowMilliseconds()) }
            print("job \(id) discarded (it stays listed as discarded; 'hookyard jobs retry \(id)' brings it back)")
            try clearResolvedDeadJobAlerts(options, queue: queue)
        }
    }
}

extension JobState: ExpressibleByArgument {}

private func openQueue(_ options: ConfigurationOptions) throws -> any JobQueueStorage {
    let settings = try options.load(rules: false)
    return try openJobs(settings.databaseLocation)
}

/// Runs a dead-letter change, turning its refusal into a CLI error message.
private func change(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as JobChangeError {
        throw ValidationError(error.description)
    }
}

private func summary(_ job: Job) -> [String: Any] {
    var object: [String: Any] = [
        "id": job.id, "event": job.eventID, "kind": job.kind, "state": job.state.rawValue, "attempts": job.attempts,
        "next_run_at": isoTime(job.nextRunAt), "idempotency_key": job.idempotencyKey,
        "created_at": isoTime(job.createdAt), "updated_at": isoTime(job.updatedAt),
    ]
    if let error = job.lastError { object["last_error"] = error }
    if let reason = Job.skipReason(of: job) { object["skipped_because"] = reason }
    if let owner = job.leaseOwner { object["lease_owner"] = owner }
    if let expires = job.leaseExpiresAt { object["lease_expires_at"] = isoTime(expires) }
    return object
}

private func decoded(_ text: String?) -> Any {
    guard let text else { return NSNull() }
    return (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
}

/// The output with each recorded request's `body` shown decoded: a JSON body (Instantly's, `http.post`'s) as JSON, a
/// form body (Stripe's) as its keys and values, with the form as sent kept in `body_form`. Anything else is unchanged.
func readableRequests(_ output: Any) -> Any {
    guard var object = output as? [String: Any], let requests = object["requests"] as? [[String: Any]] else { return output }
    object["requests"] = requests.map { request -> [String: Any] in
        guard let body = request["body"] as? String, !body.isEmpty else { return request }
        var readable = request
        if let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)), json is [String: Any] || json is [Any] {
            readable["body"] = json
        } else if let pairs = FormDecoder.decode(body) {
            var fields: [String: Any] = [:]
            for (key, value) in pairs {
                switch fields[key] {
                case nil: fields[key] = value
                case let values as [String]: fields[key] = values + [value]
                case let first?: fields[key] = ["\(first)", value]
                }
            }
            readable["body"] = fields
            readable["body_form"] = body
        }
        return readable
    }
    return object
}

/// `rule/step` for a workflow step job, from its input.
func stepName(_ job: Job) -> String? {
    guard let input = job.input, let object = try? JSONSerialization.jsonObject(with: Data(input.utf8)) as? [String: Any],
          let rule = object["rule"] as? String, let step = object["step"] as? String else { return nil }
    return "\(rule)/\(step)"
}
