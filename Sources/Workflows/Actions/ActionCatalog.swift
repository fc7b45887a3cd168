import Outbound

/// The actions a rule step can name, with the arguments each takes and the outputs later steps can read: the list
/// of `Action` values, one file each under `Actions/`.
///
/// `hookyard check-config` validates rules against this catalog; `ActionRunner` executes them. Static and
/// thread-safe.
public enum ActionCatalog {
    /// One action's contract.
    public struct Spec: Sendable {
        public enum Provider: String, Sendable { case stripe = "Stripe", instantly = "Instantly", http = "HTTP", local }

        public var name: String
        public var provider: Provider
        public var required: [String]
        public var optional: [String]
        /// Top-level output fields (`steps.<step>.<field>`).
        public var outputs: [String]
        public var summary: String

        public var parameters: [String] { required + optional }
    }

    /// Every action, in the order help and errors list them.
    static let actions: [any Action] = [
        StripeFindOrCreateCustomer(), StripeGetCustomer(), StripeCreatePaymentLink(), StripeDeactivatePaymentLink(),
        StripeDeactivatePaymentLinks(), StripeGetPaymentLink(), StripeGetCheckoutSession(), StripeGetPrice(),
        InstantlyAddLead(), InstantlyRemoveLead(), InstantlyCampaignStatus.pauseCampaign, InstantlyCampaignStatus.resumeCampaign,
        InstantlySetLeadVariables(), InstantlyMoveLead(), InstantlySetInterestStatus(),
        HTTPPost(), RecordPurchase(), ContactRegister(),
    ]

    public static let specs: [Spec] = actions.map(\.spec)

    private static let byName: [String: any Action] = Dictionary(uniqueKeysWithValues: actions.map { ($0.spec.name, $0) })

    public static func spec(_ name: String) -> Spec? { byName[name]?.spec }

    /// The action named `name`, or `nil`.
    static func action(_ name: String) -> (any Action)? { byName[name] }

    /// Instantly's interest status values by name.
    public static var interestStatuses: [String: Int] { InstantlySetInterestStatus.interestStatuses }
}
