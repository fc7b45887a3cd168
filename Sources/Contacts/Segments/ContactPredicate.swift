import Store
import StrictJSON

/// A contact field a segment or a rule's `if:` can test. Each maps to a column or a subquery of the contacts
/// tables (see `SegmentCompiler`).
/// A value type; thread-safe.
public enum ContactField: String, Sendable, CaseIterable {
    case email
    case paymentStatus = "payment_status"
    case engagement
    case tier
    case productInterest = "product_interest"
    case interestStatus = "interest_status"
    case subscriptionStatus = "subscription_status"
    /// Membership: the contact has a lead in this campaign.
    case campaign
    /// Net revenue in smallest units; `revenue` sums every currency, `revenue.usd` one (`currency`).
    case revenue
    /// Whole days since the last engagement (none ever: treated as never, i.e. larger than any number).
    case daysSinceEngagement = "days_since_engagement"
    /// `true` when the contact unsubscribed or bounced.
    case doNotContact = "do_not_contact"
    case firstCampaign = "first_campaign"
    case lastCampaign = "last_campaign"
    /// Membership: the contact registered for this catalog product (`contact.register`).
    case registeredFor = "registered_for"
    /// How many opens, clicks and replies Instantly reported for the contact, in every campaign, ever.
    case opens, clicks, replies
}

/// A test of a contact, as written under `segments:` or a rule's `if:`; combine with `all`, `any`, `not`, and
/// refer to a named segment with `segment`. A value type; thread-safe.
public indirect enum ContactPredicate: Sendable, Equatable {
    public enum Test: Sendable, Equatable {
        case equals(JSONValue)
        case notEquals(JSONValue)
        case oneOf([JSONValue])
        case noneOf([JSONValue])
        case greaterThan(Double)
        case greaterThanOrEqual(Double)
        case lessThan(Double)
        case lessThanOrEqual(Double)
        /// `true`: the field has a value.
        case exists(Bool)
    }

    case all([ContactPredicate])
    case any([ContactPredicate])
    case not(ContactPredicate)
    /// The named segment's predicate.
    case segment(String)
    /// `currency` only for `.revenue` (lower-case ISO code).
    case field(ContactField, currency: String?, Test)
    /// An Instantly lead field kept for the contact (`lead.<name>`, one of `contacts.lead_fields`), as text; a field
    /// never seen for the contact has no value.
    case leadField(String, Test)
}

/// A named segment from the configuration.
/// A value type; thread-safe.
public struct SegmentDefinition: Sendable, Equatable {
    public var name: String
    public var predicate: ContactPredicate

    public init(name: String, predicate: ContactPredicate) {
        self.name = name
        self.predicate = predicate
    }
}
