import Contacts
import Foundation
import HookyardFoundation
import HookyardConfiguration
import MCP
import Reports
import Store

/// `get_contact` and `find_contacts`: people, their story and their segments. Stateless.
enum ContactTools {
    static let getContact = HookyardTool(
        name: "get_contact", title: "A contact's story",
        description: """
            One contact's whole story, by email (any case) or id: payment status, engagement, segments, campaigns \
            (Instantly leads), Stripe customers, revenue, subscription, and the timeline (events, jobs, payments, \
            segment changes), newest first. The first question for "why did or didn't X happen to this person".
            """,
        input: ToolSchema.object([
            "email": ToolSchema.string("The contact's email address (any case)."),
            "id": ToolSchema.integer("The contact's id (instead of email)."),
            "timeline_limit": ToolSchema.integer("How many timeline entries (default 50, at most 500).", minimum: 1, maximum: 500),
        ]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["email", "id", "timeline_limit"])
        let email = try input.string("email")
        let id = try input.integer("id")
        guard (email == nil) != (id == nil) else {
            throw ToolError.invalidArgument("get_contact", "email", "or 'id' is required, one of the two")
        }
        let timelineLimit = Int(try input.integer("timeline_limit") ?? 50)
        guard (1...500).contains(timelineLimit) else {
            throw ToolError.invalidArgument("get_contact", "timeline_limit", "must be between 1 and 500, not \(timelineLimit)")
        }
        let configuration = context.configuration
        return try await context.storage.withConnections { storage in
            let found: Contact?
            if let email {
                found = try storage.contacts.contact(email: EmailAddress.normalized(email))
            } else {
                found = try storage.contacts.contact(id: id!)
            }
            guard let contact = found.map(configuration.current) else {
                throw ToolError.notFound(what: "contact", reference: email ?? String(id!),
                                         hint: "no contact with this \(email == nil ? "id" : "address") in the database (find_contacts with text: searches addresses)")
            }
            let timeline = try storage.contacts.timeline(contactID: contact.id, limit: timelineLimit)
            var object = Value(ContactJSON.render(contact)).objectValue ?? [:]
            object["timeline"] = .array(timeline.map { entry in
                .object(["at": .time(entry.at), "kind": .string(entry.kind.rawValue), "reference": .string(entry.reference),
                         "detail": .string(entry.detail)])
            })
            var lines = [summary(contact)]
            lines.append("timeline (newest first, \(timeline.count) shown):")
            for entry in timeline {
                lines.append("  \(ToolText.isoTime(entry.at)) \(entry.kind.rawValue) \(entry.reference) \(entry.detail)")
            }
            if timeline.isEmpty { lines.append("  (nothing)") }
            return ToolOutput(text: lines.joined(separator: "\n"), structured: .object(object))
        }
    }

    static let findContacts = HookyardTool(
        name: "find_contacts", title: "Find contacts",
        description: """
            Contacts, most recently updated first, filtered by segment, payment status, engagement, Instantly campaign \
            id or text in the address; every filter given must hold. Pages with limit and cursor.
            """,
        input: ToolSchema.object([
            "segment": ToolSchema.string("Only members of this configured segment (see list_segments)."),
            "payment_status": ToolSchema.choice("Only this payment status.", PaymentStatus.allCases.map(\.rawValue)),
            "engagement": ToolSchema.choice("Only this engagement level.", EngagementLevel.allCases.map(\.rawValue)),
            "campaign": ToolSchema.string("Only leads of this Instantly campaign id."),
            "text": ToolSchema.string("Only addresses containing this text (any case)."),
            "limit": ToolSchema.limit(standard: 20, maximum: 100),
            "cursor": ToolSchema.cursor,
        ]),
        annotations: HookyardTool.readOnly
    ) { input, context in
        try input.expectOnly(["segment", "payment_status", "engagement", "campaign", "text", "limit", "cursor"])
        let configuration = context.configuration
        var filter = ContactFilter()
        if let segment = try input.string("segment") {
            guard let query = configuration.segmentCompiler.query(segment: segment) else {
                let known = configuration.segments.map(\.name)
                throw ToolError.notFound(what: "segment", reference: segment,
                                         hint: "the segments are: \(known.isEmpty ? "none configured" : known.joined(separator: ", "))")
            }
            filter.segment = query
        }
        filter.paymentStatus = try input.choice("payment_status", PaymentStatus.allCases.map(\.rawValue)).flatMap(PaymentStatus.init(rawValue:))
        filter.engagement = try input.choice("engagement", EngagementLevel.allCases.map(\.rawValue)).flatMap(EngagementLevel.init(rawValue:))
        filter.campaign = try input.string("campaign")
        filter.addressContains = try input.string("text")
        if let cursor = try input.string("cursor") {
            let parts = try ToolCursor.read(cursor, listing: "contacts", count: 2)
            filter.after = ContactCursor(updatedAt: parts[0], id: parts[1])
        }
        let limit = try input.limit(standard: 20, maximum: 100)
        let page = filter
        return try await context.storage.withConnections { storage in
            let found = try storage.contacts.contacts(matching: page, limit: limit + 1, now: ToolTime.now()).map(configuration.current)
            let contacts = Array(found.prefix(limit))
            let next = found.count > limit ? contacts.last.map { ToolCursor.make("contacts", [$0.updatedAt, $0.id]) } : nil
            var lines = ["\(ToolText.plural(contacts.count, "contact"))\(next == nil ? "" : " (more: pass cursor)")"]
            for contact in contacts {
                lines.append("  \(contact.email) \(contact.paymentStatus.rawValue), engagement \(contact.engagement.rawValue)"
                             + (contact.segments.isEmpty ? "" : ", segments \(contact.segments.joined(separator: ","))")
                             + (revenue(contact).isEmpty ? "" : ", revenue \(revenue(contact))"))
            }
            return ToolOutput(text: lines.joined(separator: "\n"), structured: .object([
                "contacts": .array(contacts.map { Value(ContactJSON.render($0)) }),
                "nextCursor": .optional(next),
            ]))
        }
    }

    /// Net revenue per currency, `USD 147.00 EUR 20.00`.
    static func revenue(_ contact: Contact) -> String {
        contact.revenue.keys.sorted().map { ReportFormat.amount(contact.revenue[$0]!, currency: $0) }.joined(separator: " ")
    }

    static func summary(_ contact: Contact) -> String {
        var lines: [String] = []
        lines.append("\(contact.email) (contact \(contact.id)): \(contact.paymentStatus.rawValue), engagement \(contact.engagement.rawValue)"
                     + (contact.doNotContact.map { ", do not contact (\($0))" } ?? ""))
        lines.append("first seen \(ToolText.isoTime(contact.firstSeenAt)), last engaged \(contact.lastEngagementAt.map(ToolText.isoTime) ?? "never")")
        lines.append("activity: " + ContactActivity.allCases.map { "\($0.rawValue) \(contact.counts[$0] ?? 0)" }.joined(separator: ", "))
        let revenue = revenue(contact)
        lines.append("revenue: \(revenue.isEmpty ? "none" : revenue)" + (contact.tier.map { ", tier \($0)" } ?? ""))
        if let subscription = contact.subscription {
            lines.append("subscription: \(subscription.id) \(subscription.status)" + (subscription.tier.map { " tier \($0)" } ?? ""))
        }
        lines.append("campaigns: \(contact.leads.isEmpty ? "none" : contact.leads.keys.sorted().joined(separator: ", "))")
        lines.append("stripe customers: \(contact.stripeCustomerIDs.isEmpty ? "none" : contact.stripeCustomerIDs.joined(separator: ", "))")
        lines.append("segments: \(contact.segments.isEmpty ? "none" : contact.segments.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }
}
