/// A payment on a contact's record, with the campaigns credited for it.
/// A value type; thread-safe.
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
