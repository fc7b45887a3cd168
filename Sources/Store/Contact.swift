import Foundation

/// Something a person did that Instantly reports, counted on their contact record and weighed for engagement.
public enum ContactActivity: String, Sendable, CaseIterable, Codable {
    case sent
    case opened
    case clicked
    case replied
    case bounced
    case unsubscribed
    case meetingBooked = "meeting_booked"
}

/// Where a contact stands with payments. Derived, never set by hand: the current subscription's status when the
/// contact has one (`active`/`trialing`/`paused` -> customer, `past_due`/`unpaid` -> past_due, `canceled` and
/// `incomplete_expired` -> canceled), otherwise `customer` once they paid anything, otherwise `prospect`.
public enum PaymentStatus: String, Sendable, CaseIterable, Codable {
    case prospect
    case customer
    case pastDue = "past_due"
    case canceled
}

/// How engaged a contact is over the rolling window of `EngagementPolicy`.
public enum EngagementLevel: String, Sendable, CaseIterable, Codable, Comparable {
    case low
    case medium
    case high

    private var rank: Int { self == .low ? 0 : self == .medium ? 1 : 2 }
    public static func < (a: EngagementLevel, b: EngagementLevel) -> Bool { a.rank < b.rank }
}

/// Weights and thresholds that turn a contact's activities within the last `windowDays` days into a level.
///
/// score = sum over activities in the window of weight(kind). `high` when score >= `high`, `medium` when
/// score >= `medium`, else `low`. Unless `opensCanMakeHigh`, opens alone never reach `high`: when the score
/// without opens is below `high`, the score is capped just below it (privacy proxies fetch tracking pixels, so an
/// "open" is often a machine). A value type; thread-safe.
public struct EngagementPolicy: Sendable, Equatable {
    public var windowDays: Int
    public var weights: [ContactActivity: Double]
    public var high: Double
    public var medium: Double
    public var opensCanMakeHigh: Bool

    public static let defaultWeights: [ContactActivity: Double] = [
        .sent: 0, .opened: 1, .clicked: 3, .replied: 10, .meetingBooked: 10, .bounced: 0, .unsubscribed: 0,
    ]

    public init(windowDays: Int = 30, weights: [ContactActivity: Double] = EngagementPolicy.defaultWeights,
                high: Double = 10, medium: Double = 3, opensCanMakeHigh: Bool = false) {
        self.windowDays = windowDays
        self.weights = weights
        self.high = high
        self.medium = medium
        self.opensCanMakeHigh = opensCanMakeHigh
    }

    public var windowMilliseconds: Int64 { Int64(windowDays) * 86_400_000 }

    /// The level for these counts of activities within the window.
    public func level(counts: [ContactActivity: Int]) -> EngagementLevel {
        var score = 0.0
        var withoutOpens = 0.0
        for (kind, count) in counts {
            let part = (weights[kind] ?? 0) * Double(count)
            score += part
            if kind != .opened { withoutOpens += part }
        }
        if !opensCanMakeHigh, withoutOpens < high, score >= high { score = max(withoutOpens, medium) }
        if score >= high { return .high }
        if score >= medium, medium > 0 || score > 0 { return .medium }
        return .low
    }
}

/// A payment, invoice or refund a Stripe event reports.
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
/// Applying it to the contacts (`ContactStore.apply`) is idempotent per `eventID`. `Codable`: an observation that
/// waits for its Stripe customer to be linked is kept as JSON (`contact_pending`).
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

/// A segment compiled to SQL: a boolean expression over the `contacts` table (aliased `c`), with `?` placeholders
/// bound in order from `parameters`. Built by the `Contacts` module from the configuration; never from user input
/// at run time, and values are always bound, never spliced.
public struct SegmentQuery: Sendable, Equatable {
    public enum Parameter: Sendable, Equatable {
        case text(String)
        case integer(Int64)
        case real(Double)
        /// The evaluation time, Unix milliseconds.
        case now
    }

    public var name: String
    public var sql: String
    public var parameters: [Parameter]

    public init(name: String, sql: String, parameters: [Parameter]) {
        self.name = name
        self.sql = sql
        self.parameters = parameters
    }
}

/// A contact entering or leaving a segment. `entry` counts entries (1 for the first), so a rule on
/// `segment_entered` fires once per entry.
public struct SegmentTransition: Sendable, Equatable {
    public var contactID: Int64
    public var email: String
    public var segment: String
    public var entered: Bool
    public var entry: Int
    /// The event that caused it (for a change the clock caused, the contact's latest event).
    public var eventID: Int64

    public init(contactID: Int64, email: String, segment: String, entered: Bool, entry: Int, eventID: Int64) {
        self.contactID = contactID
        self.email = email
        self.segment = segment
        self.entered = entered
        self.entry = entry
        self.eventID = eventID
    }
}

/// What applying one observation did.
public struct ContactChange: Sendable, Equatable {
    /// The contact the event belongs to; `nil` when the event names no one yet (a Stripe event with only an unlinked
    /// customer id: it is kept pending and applied when that customer is linked).
    public var contactID: Int64?
    public var email: String?
    /// `true`: this event had been applied before; nothing changed, and `transitions` are the ones it caused then.
    public var alreadyApplied: Bool
    public var created: Bool
    public var pending: Bool
    /// Segment entries and exits this event caused (including those of pending events it resolved).
    public var transitions: [SegmentTransition]

    public init(contactID: Int64?, email: String?, alreadyApplied: Bool, created: Bool, pending: Bool,
                transitions: [SegmentTransition]) {
        self.contactID = contactID
        self.email = email
        self.alreadyApplied = alreadyApplied
        self.created = created
        self.pending = pending
        self.transitions = transitions
    }
}

/// The current subscription on a contact: the latest state Stripe's events showed (see `ContactStore.apply` for
/// how out-of-order events are resolved).
public typealias ContactSubscription = ObservedSubscription

/// One person as Hookyard knows them.
public struct Contact: Sendable, Equatable {
    public var id: Int64
    public var email: String
    public var firstSeenAt: Int64
    public var lastEngagementAt: Int64?
    /// Totals of every activity ever (not only the window).
    public var counts: [ContactActivity: Int]
    public var interestStatus: String?
    public var paymentStatus: PaymentStatus
    public var engagement: EngagementLevel
    public var subscription: ContactSubscription?
    /// The tier of the current subscription, or else of the latest payment.
    public var tier: String?
    public var productInterest: String?
    /// `unsubscribed` or `bounced` once either happened; `nil` otherwise. Instantly actions skip such contacts.
    public var doNotContact: String?
    /// Every campaign they are a lead in, with the lead's id there; an empty id while Instantly has not told it
    /// (webhooks carry no lead id; Hookyard learns it from its own lead lookups).
    public var leads: [String: String]
    public var stripeCustomerIDs: [String]
    /// Net revenue (payments and invoices minus refunds) per currency, smallest unit. A currency whose total does
    /// not fit 64 bits (stored amounts are as Stripe sent them) is not here but in `revenueOverflowed`.
    public var revenue: [String: Int64]
    /// Currencies, sorted, whose net revenue overflowed `Int64` (see `MoneySum`): shown as overflowed, never summed.
    public var revenueOverflowed: [String] = []
    /// The campaign of their earliest activity.
    public var firstCampaign: String?
    /// The campaign of their latest activity.
    public var lastCampaign: String?
    /// Segments they are in now.
    public var segments: [String]
    public var updatedAt: Int64
    /// The catalog products they registered for (`contact.register`), sorted.
    public var registeredFor: [String] = []
    /// The Instantly lead fields kept for them (`contacts.lead_fields`): name -> the latest value, as text.
    public var leadFields: [String: String] = [:]

    public init(id: Int64, email: String, firstSeenAt: Int64, lastEngagementAt: Int64? = nil,
                counts: [ContactActivity: Int] = [:], interestStatus: String? = nil,
                paymentStatus: PaymentStatus = .prospect, engagement: EngagementLevel = .low,
                subscription: ContactSubscription? = nil, tier: String? = nil, productInterest: String? = nil,
                doNotContact: String? = nil, leads: [String: String] = [:], stripeCustomerIDs: [String] = [],
                revenue: [String: Int64] = [:], firstCampaign: String? = nil, lastCampaign: String? = nil,
                segments: [String] = [], updatedAt: Int64) {
        self.id = id
        self.email = email
        self.firstSeenAt = firstSeenAt
        self.lastEngagementAt = lastEngagementAt
        self.counts = counts
        self.interestStatus = interestStatus
        self.paymentStatus = paymentStatus
        self.engagement = engagement
        self.subscription = subscription
        self.tier = tier
        self.productInterest = productInterest
        self.doNotContact = doNotContact
        self.leads = leads
        self.stripeCustomerIDs = stripeCustomerIDs
        self.revenue = revenue
        self.firstCampaign = firstCampaign
        self.lastCampaign = lastCampaign
        self.segments = segments
        self.updatedAt = updatedAt
    }
}

/// A payment on a contact's record, with the campaigns credited for it.
public struct ContactPayment: Sendable, Equatable {
    public var reference: String
    public var kind: ObservedPayment.Kind
    /// Negative for refunds.
    public var amount: Int64
    public var currency: String
    public var occurredAt: Int64
    public var tier: String?
    /// The campaign that first touched the contact.
    public var firstCampaign: String?
    /// The last campaign that touched them before this payment (or the one its metadata names).
    public var lastCampaign: String?
    public var eventID: Int64?

    public init(reference: String, kind: ObservedPayment.Kind, amount: Int64, currency: String, occurredAt: Int64,
                tier: String? = nil, firstCampaign: String? = nil, lastCampaign: String? = nil, eventID: Int64? = nil) {
        self.reference = reference
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.occurredAt = occurredAt
        self.tier = tier
        self.firstCampaign = firstCampaign
        self.lastCampaign = lastCampaign
        self.eventID = eventID
    }
}

/// One line of a contact's history (`ContactStore.timeline`), newest first there.
public struct ContactTimelineEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// An event applied to the contact: `reference` is the event's row id, `detail` "<source> <type>".
        case event
        /// A job of such an event: `reference` is the job id, `detail` "<kind> <state>"; `at` is its last change.
        case job
        /// A payment, invoice or refund: `reference` is Stripe's id, `detail` "<kind> <amount> <currency>".
        case payment
        /// A purchase a workflow recorded for their email: `reference` is its provider reference,
        /// `detail` "<amount> <currency> <rule>".
        case purchase
        /// A segment entry or exit: `reference` is the segment, `detail` "entered #<n>" or "left".
        case segment
        /// A registration (`contact.register`): `reference` is its reference (a Checkout Session id), `detail`
        /// "<product>".
        case registration
    }

    /// Unix milliseconds.
    public var at: Int64
    public var kind: Kind
    public var reference: String
    public var detail: String

    public init(at: Int64, kind: Kind, reference: String, detail: String) {
        self.at = at
        self.kind = kind
        self.reference = reference
        self.detail = detail
    }
}

/// Everything Hookyard holds about one person (`ContactStore.export`), for a data subject's access request.
public struct ContactExport: Sendable {
    /// A job of one of the contact's events, with every attempt (oldest first).
    public struct JobRecord: Sendable, Equatable {
        public var job: Job
        public var attempts: [JobAttempt]

        public init(job: Job, attempts: [JobAttempt]) {
            self.job = job
            self.attempts = attempts
        }
    }

    /// A segment entry or exit with when it was recorded.
    public struct RecordedTransition: Sendable, Equatable {
        public var transition: SegmentTransition
        /// Unix milliseconds.
        public var at: Int64

        public init(transition: SegmentTransition, at: Int64) {
            self.transition = transition
            self.at = at
        }
    }

    /// One Instantly activity counted on the contact.
    public struct Activity: Sendable, Equatable {
        /// A `ContactActivity` raw value.
        public var kind: String
        public var campaignID: String?
        public var occurredAt: Int64
        public var eventID: Int64?

        public init(kind: String, campaignID: String?, occurredAt: Int64, eventID: Int64?) {
            self.kind = kind
            self.campaignID = campaignID
            self.occurredAt = occurredAt
            self.eventID = eventID
        }
    }

    /// A flow a rule started for the contact (the loop guard's record).
    public struct RuleRun: Sendable, Equatable {
        public var flow: String
        public var rule: String
        public var at: Int64

        public init(flow: String, rule: String, at: Int64) {
            self.flow = flow
            self.rule = rule
            self.at = at
        }
    }

    public var contact: Contact
    /// Every event applied to the contact, oldest first, with its full body.
    public var events: [StoredEvent]
    /// The jobs of those events, oldest first.
    public var jobs: [JobRecord]
    public var payments: [ContactPayment]
    /// Purchases workflows recorded for their email.
    public var purchases: [Purchase]
    public var transitions: [RecordedTransition]
    public var activity: [Activity]
    public var ruleRuns: [RuleRun]
    /// The latest Instantly write Hookyard made per rule (Unix milliseconds).
    public var ownWrites: [String: Int64]
    /// Rules that held them back (staged rollout, `max_per_day`): rule, reason, when.
    public var holdbacks: [(rule: String, reason: String, at: Int64)] = []
    /// Their registrations, oldest first.
    public var registrations: [ContactRegistration] = []

    public init(contact: Contact, events: [StoredEvent], jobs: [JobRecord], payments: [ContactPayment],
                purchases: [Purchase], transitions: [RecordedTransition], activity: [Activity], ruleRuns: [RuleRun],
                ownWrites: [String: Int64]) {
        self.contact = contact
        self.events = events
        self.jobs = jobs
        self.payments = payments
        self.purchases = purchases
        self.transitions = transitions
        self.activity = activity
        self.ruleRuns = ruleRuns
        self.ownWrites = ownWrites
    }
}

/// What erasing one person (`ContactStore.erase`) changed.
public struct ContactErasure: Sendable, Equatable {
    /// The id the erased contact had; `nil` when there was no contact record, only other copies of the address.
    public var contactID: Int64?
    /// Events whose body was emptied: the contact's own, those pending for their Stripe customers, and any other
    /// whose body contained the address.
    public var eventsRedacted: Int
    /// Jobs whose input, output and error were cleared (those of the redacted events, and any naming the address).
    public var jobsRedacted: Int
    /// Job attempts whose error was replaced by `erased`.
    public var attemptsRedacted: Int
    /// Purchases whose email was removed (kept for revenue reports).
    public var purchasesAnonymised: Int
    /// Observations that waited for one of their Stripe customers, deleted.
    public var pendingDeleted: Int
    /// Activity rows kept as anonymous counts (contact and event removed).
    public var activityAnonymised: Int
    /// Payment rows kept as anonymous revenue (contact and event removed).
    public var paymentsAnonymised: Int
    /// `true` once the write-ahead log was checkpointed and truncated to zero bytes, so no earlier page version
    /// survives in it; `false` when another connection's read kept the checkpoint from finishing (run it again).
    public var walTruncated: Bool
    /// Other columns where values named the address and had it replaced (alerts, headers, holdbacks, ...), with rows.
    public var otherRedacted: [AddressOccurrence]
    /// What still names the address after the erasure, searched in every text column of every table once the
    /// database was rewritten: empty when the erasure is complete.
    public var remaining: [AddressOccurrence]

    public init(contactID: Int64?, eventsRedacted: Int, jobsRedacted: Int, attemptsRedacted: Int,
                purchasesAnonymised: Int, pendingDeleted: Int, activityAnonymised: Int, paymentsAnonymised: Int,
                walTruncated: Bool, otherRedacted: [AddressOccurrence] = [], remaining: [AddressOccurrence] = []) {
        self.otherRedacted = otherRedacted
        self.remaining = remaining
        self.contactID = contactID
        self.eventsRedacted = eventsRedacted
        self.jobsRedacted = jobsRedacted
        self.attemptsRedacted = attemptsRedacted
        self.purchasesAnonymised = purchasesAnonymised
        self.pendingDeleted = pendingDeleted
        self.activityAnonymised = activityAnonymised
        self.paymentsAnonymised = paymentsAnonymised
        self.walTruncated = walTruncated
    }
}

/// One registration of a contact for a catalog product (`contact.register`), as stored.
public struct ContactRegistration: Sendable, Equatable {
    /// The catalog product key (`webinar`).
    public var product: String
    /// What the registration came from, unique: a Checkout Session id, an order number.
    public var reference: String
    /// The event whose flow recorded it.
    public var eventID: Int64
    /// Unix milliseconds.
    public var registeredAt: Int64

    public init(product: String, reference: String, eventID: Int64, registeredAt: Int64) {
        self.product = product
        self.reference = reference
        self.eventID = eventID
        self.registeredAt = registeredAt
    }
}

/// What `ContactStore.register` did: whether the registration is new, where the product stands against its seats,
/// and the segment changes it caused.
public struct RegistrationResult: Sendable, Equatable {
    public var contactID: Int64
    /// `false` when the reference, or this contact's registration for the product, was recorded before: nothing
    /// new was stored, and the counts are those of the registration recorded first.
    public var created: Bool
    /// The product of the registration (for a reference recorded before, the product it was recorded for).
    public var product: String
    /// How many registrations the product had once this one was recorded: its own place in line (the 1st, the
    /// 100th), so the same reference always reports the same count.
    public var registrations: Int
    /// The seats the call passed; `nil` without.
    public var seats: Int?
    /// `seats - registrations`, never below 0; `nil` without seats.
    public var seatsLeft: Int?
    /// `registrations >= seats`; `false` without seats.
    public var soldOut: Bool
    /// Segment entries and exits the registration caused (recorded unqueued, like those of `linkLead`).
    public var transitions: [SegmentTransition]

    public init(contactID: Int64, created: Bool, product: String, registrations: Int, seats: Int?,
                transitions: [SegmentTransition]) {
        self.contactID = contactID
        self.created = created
        self.product = product
        self.registrations = registrations
        self.seats = seats
        self.seatsLeft = seats.map { max(0, $0 - registrations) }
        self.soldOut = seats.map { registrations >= $0 } ?? false
        self.transitions = transitions
    }
}
