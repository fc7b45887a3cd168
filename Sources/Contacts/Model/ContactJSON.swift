#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HookyardFoundation
import StrictJSON
import Store

/// A contact as JSON: what `contacts show --json` and `contacts export` print, and what rule templates and
/// conditions read as `contact.<field>` (`{{ contact.tier }}`, `if: {contact.payment_status: customer}`).
/// Times are ISO 8601 (UTC), amounts in the currency's smallest unit. `registered_for` lists the catalog products
/// they registered for (sorted), `lead` the kept Instantly lead fields (`{{ contact.lead.industry }}`).
/// Stateless; thread-safe.
public enum ContactJSON {
    public static func render(_ contact: Contact) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .integer(contact.id),
            "email": .string(contact.email),
            "first_seen_at": time(contact.firstSeenAt),
            "last_engagement_at": contact.lastEngagementAt.map(time) ?? .null,
            "counts": .object(Dictionary(uniqueKeysWithValues: ContactActivity.allCases.map {
                ($0.rawValue, JSONValue.integer(Int64(contact.counts[$0] ?? 0)))
            })),
            "interest_status": optional(contact.interestStatus),
            "payment_status": .string(contact.paymentStatus.rawValue),
            "engagement": .string(contact.engagement.rawValue),
            "tier": optional(contact.tier),
            "product_interest": optional(contact.productInterest),
            "do_not_contact": optional(contact.doNotContact),
            "leads": .object(contact.leads.mapValues { $0.isEmpty ? .null : .string($0) }),
            "stripe_customer_ids": .array(contact.stripeCustomerIDs.map(JSONValue.string)),
            "revenue": .object(contact.revenue.mapValues(JSONValue.integer)),
            // Currencies whose net revenue does not fit 64 bits (not in `revenue`).
            "revenue_overflowed": .array(contact.revenueOverflowed.map(JSONValue.string)),
            "first_campaign": optional(contact.firstCampaign),
            "last_campaign": optional(contact.lastCampaign),
            "segments": .array(contact.segments.map(JSONValue.string)),
            "updated_at": time(contact.updatedAt),
            "registered_for": .array(contact.registeredFor.map(JSONValue.string)),
            "lead": .object(contact.leadFields.mapValues(JSONValue.string)),
        ]
        if let subscription = contact.subscription {
            object["subscription"] = .object([
                "id": .string(subscription.id), "status": .string(subscription.status),
                "price": optional(subscription.priceID), "product": optional(subscription.productID),
                "tier": optional(subscription.tier),
                "current_period_end": subscription.currentPeriodEnd.map(time) ?? .null,
            ])
        } else {
            object["subscription"] = .null
        }
        return .object(object)
    }

    public static func render(_ payment: ContactPayment) -> JSONValue {
        .object([
            "reference": .string(payment.reference), "kind": .string(payment.kind.rawValue),
            "amount": .integer(payment.amount), "currency": .string(payment.currency),
            "occurred_at": time(payment.occurredAt), "tier": optional(payment.tier),
            "first_campaign": optional(payment.firstCampaign), "last_campaign": optional(payment.lastCampaign),
            "event": payment.eventID.map(JSONValue.integer) ?? .null,
        ])
    }

    /// Unix milliseconds as ISO 8601 with milliseconds, UTC.
    public static func time(_ milliseconds: Int64) -> JSONValue {
        .string(ISO8601Timestamp.string(milliseconds))
    }

    private static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
}

/// Everything held about one person as one JSON document (`hookyard contacts export`): raw payloads are included
/// as the provider sent them (parsed when they are JSON, else as text).
/// Stateless; thread-safe.
public enum ContactExportJSON {
    public static func render(_ export: ContactExport, exportedAt: Int64) -> JSONValue {
        .object([
            "exported_at": ContactJSON.time(exportedAt),
            "contact": ContactJSON.render(export.contact),
            "events": .array(export.events.map { event in
                let body: JSONValue = event.body.isEmpty ? .null : ((try? JSONValue.parse(event.body)) ?? .string(String(decoding: event.body, as: UTF8.self)))
                return .object([
                    "id": .integer(event.id), "source": .string(event.source.rawValue), "type": .string(event.type),
                    "provider_event_id": event.eventID.map(JSONValue.string) ?? .null,
                    "received_at": ContactJSON.time(event.receivedAt),
                    "payload": body,
                ])
            }),
            "jobs": .array(export.jobs.map { record in
                .object([
                    "id": .integer(record.job.id), "event": .integer(record.job.eventID), "kind": .string(record.job.kind),
                    "state": .string(record.job.state.rawValue), "key": .string(record.job.idempotencyKey),
                    "input": record.job.input.map(parsedOrText) ?? .null,
                    "output": record.job.output.map(parsedOrText) ?? .null,
                    "last_error": record.job.lastError.map(JSONValue.string) ?? .null,
                    "created_at": ContactJSON.time(record.job.createdAt),
                    "attempts": .array(record.attempts.map { attempt in
                        .object([
                            "attempt": .integer(Int64(attempt.attempt)), "started_at": ContactJSON.time(attempt.startedAt),
                            "outcome": attempt.outcome.map(JSONValue.string) ?? .null,
                            "status": attempt.status.map { .integer(Int64($0)) } ?? .null,
                            "error": attempt.error.map(JSONValue.string) ?? .null,
                        ])
                    }),
                ])
            }),
            "payments": .array(export.payments.map(ContactJSON.render)),
            "purchases": .array(export.purchases.map { purchase in
                .object([
                    "reference": .string(purchase.reference), "amount": .integer(purchase.amount),
                    "currency": .string(purchase.currency), "campaign": purchase.campaignID.map(JSONValue.string) ?? .null,
                    "payment_link": purchase.paymentLink.map(JSONValue.string) ?? .null, "rule": .string(purchase.rule),
                    "event": .integer(purchase.eventID),
                ])
            }),
            "segment_history": .array(export.transitions.map { recorded in
                .object([
                    "segment": .string(recorded.transition.segment), "entered": .bool(recorded.transition.entered),
                    "entry": .integer(Int64(recorded.transition.entry)), "at": ContactJSON.time(recorded.at),
                ])
            }),
            "activity": .array(export.activity.map { activity in
                .object([
                    "kind": .string(activity.kind), "campaign": activity.campaignID.map(JSONValue.string) ?? .null,
                    "at": ContactJSON.time(activity.occurredAt),
                ])
            }),
            "rule_runs": .array(export.ruleRuns.map { run in
                .object(["rule": .string(run.rule), "flow": .string(run.flow), "at": ContactJSON.time(run.at)])
            }),
            "own_writes": .object(export.ownWrites.mapValues(ContactJSON.time)),
            "held_back_by": .array(export.holdbacks.map { holdback in
                .object(["rule": .string(holdback.rule), "reason": .string(holdback.reason), "at": ContactJSON.time(holdback.at)])
            }),
            "registrations": .array(export.registrations.map { registration in
                .object(["product": .string(registration.product), "reference": .string(registration.reference),
                         "at": ContactJSON.time(registration.registeredAt), "event": .integer(registration.eventID)])
            }),
        ])
    }

    private static func parsedOrText(_ text: String) -> JSONValue {
        (try? JSONValue.parse(text)) ?? .string(text)
    }
}
