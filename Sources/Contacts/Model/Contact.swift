/// The current subscription on a contact: the latest state Stripe's events showed (see `SQLiteContactStore.apply` for
/// how out-of-order events are resolved).
public typealias ContactSubscription = ObservedSubscription

/// One person as Hookyard knows them.
/// A value type; thread-safe.
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

extension Contact {
    /// This contact with only the memberships of `configured` segments: what the CLI and the MCP tools show and what
    /// steps see, leaving out segments removed from the configuration since.
    public func keepingSegments(_ configured: Set<String>) -> Contact {
        var contact = self
        contact.segments = segments.filter(configured.contains)
        return contact
    }
}
