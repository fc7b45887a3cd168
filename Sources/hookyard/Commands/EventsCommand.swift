import HookyardConfiguration
import ArgumentParser
import Contacts
import Foundation
import Reports
import Store

/// `hookyard events list|show`.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inspect stored webhook events.",
                                                    subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the most recent events.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Only events from this source (stripe or instantly).") var source: EventSource?
        @Option(help: "How many events to show.") var limit = 20
        @Flag(help: "Print JSON lines.") var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let settings = try options.load(rules: false)
            let events = try openReader(settings.databaseLocation).events(source: source, limit: limit)
            if json {
                for event in events { print(try jsonLine(summary(event))) }
                return
            }
            print(column("ID", 8) + column("SOURCE", 10) + column("RECEIVED", 25) + column("TYPE", 36) + column("JOB", 10) + "EVENT")
            for event in events {
                print(column(String(event.id), 8) + column(event.source.rawValue, 10) + column(isoTime(event.receivedAt), 25)
                      + column(event.type, 36) + column(event.jobStates.joined(separator: ","), 10) + (event.eventID ?? event.dedupKey))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one event with its raw body.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Row id, Stripe event id (evt_...) or dedup key.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let settings = try options.load(rules: false)
            guard let event = try openReader(settings.databaseLocation).event(id) else {
                throw ValidationError("no event '\(id)' in \(settings.databaseLocation)")
            }
            var object = summary(event)
            object["jobs"] = try openJobs(settings.databaseLocation).jobs(forEvent: event.id).map { job -> [String: Any] in
                var entry: [String: Any] = ["id": job.id, "kind": job.kind, "state": job.state.rawValue, "attempts": job.attempts]
                if let step = stepName(job) { entry["step"] = step }
                if let error = job.lastError { entry["last_error"] = error }
                if let reason = Job.skipReason(of: job) { entry["skipped_because"] = reason }
                return entry
            }
            object["headers"] = (try? JSONSerialization.jsonObject(with: Data(event.headersJSON.utf8))) ?? [:]
            let body = String(decoding: event.body, as: UTF8.self)
            if json {
                object["body"] = (try? JSONSerialization.jsonObject(with: Data(event.body))) ?? body
                print(try jsonLine(object, pretty: true))
            } else {
                print(try jsonLine(object, pretty: true))
                print("body:")
                print(body)
            }
        }
    }
}

extension EventSource: ExpressibleByArgument {}

private func summary(_ event: StoredEvent) -> [String: Any] {
    var object: [String: Any] = [
        "id": event.id, "source": event.source.rawValue, "type": event.type, "dedup_key": event.dedupKey,
        "received_at": isoTime(event.receivedAt), "jobs": event.jobStates, "bytes": event.bodyBytes,
    ]
    if let eventID = event.eventID { object["event_id"] = eventID }
    return object
}
