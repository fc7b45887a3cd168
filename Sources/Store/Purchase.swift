/// A purchase a workflow records for reporting: one per provider reference (a Checkout Session id).
public struct Purchase: Sendable, Equatable {
    public var eventID: Int64
    /// The provider's id for the payment (`cs_...`); recording the same reference twice keeps the first.
    public var reference: String
    public var email: String?
    /// In the currency's smallest unit (cents), as Stripe reports it.
    public var amount: Int64
    /// Lower-case ISO code (`usd`), never converted.
    public var currency: String
    public var campaignID: String?
    public var paymentLink: String?
    public var rule: String

    public init(eventID: Int64, reference: String, email: String?, amount: Int64, currency: String, campaignID: String?,
                paymentLink: String?, rule: String) {
        self.eventID = eventID
        self.reference = reference
        self.email = email
        self.amount = amount
        self.currency = currency
        self.campaignID = campaignID
        self.paymentLink = paymentLink
        self.rule = rule
    }
}
