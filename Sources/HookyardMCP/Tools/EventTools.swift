import Contacts
import Foundation
import HookyardFoundation
import MCP
import Store

/// `list_events` and `get_event`: the webhooks stored, and what each caused. Stateless.
enum EventTools {
    /// Bodies larger than this are cut in `get_event` (the full body stays in the database: `hookyard events show`).
    static let bodyLimit = 65_536

    static let listEvents = HookyardTool(
        name: "list_events", title: "List events",
        description: """
            Stored webhook events, newest first, filtered by source, type, contact email and time; each with the \
            states of the jobs it caused. Pages with limit and cursor.
            """,
        input: ToolSchema.object([
            "source": ToolSchema.choice("Only events from this source.", EventSource.allCases.map(\.rawValue)),
            "type": ToolSchema.string("Only this event type exactly (checkout.session.completed, email_opened, ...)."),
            "email": ToolSchema.string("Only events applied to the contact with this address."),
            "since": ToolSchema.time, "until": ToolSchema.time,
            "limit": ToolSchema.limit(standard: 20, maximum: 200),
            "cursor": ToolSchema.cursor,
        ]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["source", "type", "email", "since", "until", "limit", "cursor"])
        var query = EventQuery()
        query.source = try input.choice("source", EventSource.allCases.map(\.rawValue)).flatMap(EventSource.init(rawValue:))
        query.type = try input.string("type")
        query.since = try input.time("since")
        query.until = try input.time("until")
        if let cursor = try input.string("cursor") {
            query.beforeID = try ToolCursor.read(cursor, listing: "events", count: 1)[0]
        }
        let email = try input.string("email")
        let limit = try input.limit(standard: 20, maximum: 200)
        let filter = query
        return try await context.storage.withConnections { storage in
            var query = filter
            if let email {
                guard let id = try storage.contacts.contactID(email: EmailAddress.normalized(email)) else {
                    throw ToolError.notFound(what: "contact", reference: email, hint: "no contact with this address, so no events of theirs")
                }
                query.contactID = id
            }
            let found = try storage.store.events(matching: query, limit: limit + 1)
            let events = Array(found.prefix(limit))
            let next = found.count > limit ? events.last.map { ToolCursor.make("events", [$0.id]) } : nil
            var lines = ["\(ToolText.plural(events.count, "event"))\(next == nil ? "" : " (more: pass cursor)")"]
            for event in events {
                lines.append("  #\(event.id) \(ToolText.isoTime(event.receivedAt)) \(event.source.rawValue) \(event.type)"
                             + " jobs [\(event.jobStates.joined(separator: ","))] \(event.eventID ?? event.dedupKey)")
            }
            return ToolOutput(text: lines.joined(separator: "\n"),
                              structured: .object(["events": .array(events.map(summary)), "nextCursor": .optional(next)]))
        }
    }

    static let getEvent = HookyardTool(
        name: "get_event", title: "One event",
        description: """
            One stored event by row id, Stripe event id (evt_...) or dedup key: its body (parsed JSON), the headers \
            kept, and every job it caused with its state, attempts, last error and why it was skipped.
            """,
        input: ToolSchema.object(["id": ToolSchema.string("Row id (as a string or number), evt_... id or dedup key.")], required: ["id"]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["id"])
        let reference = try input.eventReference()
        return try await context.storage.withConnections { storage in
            // A row id is read by its key; an event id or dedup key needs the slower lookup of `events show`.
            let found = try Int64(reference).flatMap { try storage.store.event(id: $0) } ?? storage.store.event(reference)
            guard let event = found else {
                throw ToolError.notFound(what: "event", reference: reference, hint: "no stored event has this row id, event id or dedup key (list_events lists them)")
            }
            let jobs = try storage.jobs.jobs(forEvent: event.id)
            var object = summary(event).objectValue ?? [:]
            let truncated = event.body.count > bodyLimit
            let bodyText = String(decoding: truncated ? Array(event.body.prefix(bodyLimit)) : event.body, as: UTF8.self)
            object["body"] = truncated ? .string(bodyText) : Value.parsingJSON(bodyText)
            object["body_truncated"] = .bool(truncated)
            object["headers"] = Value.parsingJSON(event.headersJSON)
            object["jobs"] = .array(jobs.map(JobTools.summary))
            var lines = ["event #\(event.id): \(event.source.rawValue) \(event.type), received \(ToolText.isoTime(event.receivedAt)), \(event.bodyBytes) bytes"
                         + (event.eventID.map { ", \($0)" } ?? "")]
            lines.append(jobs.isEmpty ? "jobs: none" : "jobs:")
            for job in jobs { lines.append("  " + JobTools.line(job)) }
            lines.append("body: " + (truncated ? "(first \(bodyLimit) bytes) " : "") + bodyText)
            return ToolOutput(text: lines.joined(separator: "\n"), structured: .object(object))
        }
    }

    static func summary(_ event: StoredEvent) -> Value {
        .object([
            "id": .int64(event.id), "source": .string(event.source.rawValue), "type": .string(event.type),
            "event_id": .optional(event.eventID), "dedup_key": .string(event.dedupKey),
            "received_at": .time(event.receivedAt), "bytes": .int(event.bodyBytes),
            "job_states": .array(event.jobStates.map(Value.string)),
        ])
    }
}
