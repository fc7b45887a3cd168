import HookyardFoundation
import Store

/// A payment, invoice or refund a Stripe event reports.
/// A value type; thread-safe.
public struct ObservedPayment: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// A Checkout Session paid in `payment` mode (one-off).
        case payment
        /// A paid invoice (first subscription invoice or a renewal).
        case invoice
        /// A charge's refunds: `amount` is the charge's cumulative `amount_refunded` (positive); the latest wins.
        case refund
    }

    /// `cs_...` for a payment, `in_...` for an invoice, the charge `ch_...` for a refund. Unique per kind.
    public var reference: String
    public var kind: Kind
    /// In the currency's smallest unit, never converted.
    public var amount: Int64
    /// Lower-case ISO code.
    public var currency: String
    public var priceID: String?
    public var productID: String?
    /// The tier the configuration maps the price or product to.
    public var tier: String?
    /// The campaign named in payment-link or session metadata (`hookyard_campaign`, `instantly_campaign_id`), or by
    /// the session's `client_reference_id` when that is an Instantly campaign id (a UUID), when present. Stored as the
    /// payment's `link_campaign`: the definitive last touch for reports.
    public var campaignID: String?
    /// The Payment Link the Checkout Session came from (`plink_...`), when it did.
    public var paymentLink: String?
    /// The rule that created the payment link (its metadata `hookyard_rule`), when present.
    public var rule: String?

    public init(reference: String, kind: Kind, amount: Int64, currency: String, priceID: String? = nil,
                productID: String? = nil, tier: String? = nil, campaignID: String? = nil, paymentLink: String? = nil,
                rule: String? = nil) {
        self.reference = reference
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.priceID = priceID
        self.productID = productID
        self.tier = tier
        self.campaignID = campaignID
        self.paymentLink = paymentLink
        self.rule = rule
    }
}

/// A subscription's state as a Stripe event shows it. Fields that are `nil` leave the stored value as it is.
/// A value type; thread-safe.
public struct ObservedSubscription: Sendable, Equatable, Codable {
    public var id: String
    /// Stripe's status: trialing, active, past_due, unpaid, canceled, incomplete, incomplete_expired, paused.
    public var status: String
    public var priceID: String?
    public var productID: String?
    public var tier: String?
    /// Unix milliseconds.
    public var currentPeriodEnd: Int64?

    public init(id: String, status: String, priceID: String? = nil, productID: String? = nil, tier: String? = nil,
                currentPeriodEnd: Int64? = nil) {
        self.id = id
        self.status = status
        self.priceID = priceID
        self.productID = productID
        self.tier = tier
        self.currentPeriodEnd = currentPeriodEnd
    }
}

/// What one stored event says about one person, extracted from its payload (see the `Contacts` module).
/// Applying it to the contacts (`ContactStorage.apply`) is idempotent per `eventID`. `Codable`: an observation that
/// waits for its Stripe customer to be linked is kept as JSON (`contact_pending`).
/// A value type; thread-safe.
public struct ContactObservation: Sendable, Equatable, Codable {
    /// The `events` row it comes from.
    public var eventID: Int64
    public var source: EventSource
    /// The event's own time (Stripe's `created`, Instantly's `timestamp`), Unix milliseconds: what out-of-order
    /// events are compared by.
    public var occurredAt: Int64
    /// Normalised (`EmailAddress.normalized`) address, when the event names one.
    public var email: String?
    public var stripeCustomerID: String?
    public var campaignID: String?
    /// The campaign's name as Instantly's event gives it (`campaign_name`); the latest by event time is kept per
    /// campaign id for reports. Optional in JSON, as observations stored by earlier builds lack it.
    public var campaignName: String?
    public var leadID: String?
    public var activity: ContactActivity?
    /// Instantly's interest status by name (`interested`, `meeting_booked`, `not_interested`, ...).
    public var interestStatus: String?
    /// From the configuration's campaign or link map.
    public var productInterest: String?
    public var payment: ObservedPayment?
    public var subscription: ObservedSubscription?
    /// The Instantly lead fields the configuration keeps (`contacts.lead_fields`), by name, each as text; `nil` or
    /// empty when the event carries none of them. Stored per contact, the latest by `occurredAt` winning per name.
    /// Optional so pending observations stored by earlier builds (without the key) still decode.
    public var leadFields: [String: String]?
    /// The Instantly sending account (`email_account`, lower case) the activity came from, for deliverability per
    /// account. Optional so pending observations stored by earlier builds still decode.
    public var account: String?

    public init(eventID: Int64, source: EventSource, occurredAt: Int64, email: String? = nil, stripeCustomerID: String? = nil,
                campaignID: String? = nil, leadID: String? = nil, activity: ContactActivity? = nil,
                interestStatus: String? = nil, productInterest: String? = nil, payment: ObservedPayment? = nil,
                subscription: ObservedSubscription? = nil, leadFields: [String: String]? = nil, account: String? = nil,
                campaignName: String? = nil) {
        self.eventID = eventID
        self.campaignName = campaignName
        self.source = source
        self.occurredAt = occurredAt
        self.email = email
        self.stripeCustomerID = stripeCustomerID
        self.campaignID = campaignID
        self.leadID = leadID
        self.activity = activity
        self.interestStatus = interestStatus
        self.productInterest = productInterest
        self.payment = payment
        self.subscription = subscription
        self.leadFields = leadFields
        self.account = account
    }

    /// The form every contact is keyed by: `EmailAddress.normalized` (trimmed, NFC, Unicode lower case).
    public static func normalise(email: String) -> String {
        EmailAddress.normalized(email)
    }
}
