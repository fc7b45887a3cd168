import Foundation
import Outbound
import Store

/// A contact as JSON: what `contacts show --json` and `contacts export` print, and what rule templates and
/// conditions read as `contact.<field>` (`{{ contact.tier }}`, `if: {contact.payment_status: customer}`).
/// Times are ISO 8601 (UTC), amounts in the currency's smallest unit. Stateless.
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
            "leads": .object(contact.leads.mapValues(JSONValue.string)),
            "stripe_customer_ids": .array(contact.stripeCustomerIDs.map(JSONValue.string)),
            "revenue": .object(contact.revenue.mapValues(JSONValue.integer)),
            "first_campaign": optional(contact.firstCampaign),
            "last_campaign": optional(contact.lastCampaign),
            "segments": .array(contact.segments.map(JSONValue.string)),
            "updated_at": time(contact.updatedAt),
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
        .string(isoTime(milliseconds))
    }

    public static func isoTime(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    private static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
}
