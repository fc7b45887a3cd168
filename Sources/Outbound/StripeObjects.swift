/// The parts of a Stripe Customer (`cus_...`) Hookyard uses. A value; thread-safe.
public struct StripeCustomer: Sendable, Equatable {
    public var id: String
    public var email: String?
    public var name: String?
    public var metadata: [String: String]

    public init(id: String, email: String? = nil, name: String? = nil, metadata: [String: String] = [:]) {
        self.id = id
        self.email = email
        self.name = name
        self.metadata = metadata
    }

    /// - Returns: `nil` without an `id`.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]) else { return nil }
        self.init(id: id, email: json["email"] as? String, name: json["name"] as? String,
                  metadata: ProviderJSON.stringMap(json["metadata"]))
    }
}

/// The parts of a Stripe Payment Link (`plink_...`) Hookyard uses. A value; thread-safe.
public struct StripePaymentLink: Sendable, Equatable {
    public var id: String
    /// The shareable `https://buy.stripe.com/...` URL.
    public var url: String
    public var active: Bool
    public var metadata: [String: String]
    /// `restrictions.completed_sessions.limit`: how many Checkout Sessions may complete before Stripe deactivates
    /// the link; `nil` without that restriction.
    public var seatLimit: Int?

    public init(id: String, url: String, active: Bool = true, metadata: [String: String] = [:], seatLimit: Int? = nil) {
        self.id = id
        self.url = url
        self.active = active
        self.metadata = metadata
        self.seatLimit = seatLimit
    }

    /// - Returns: `nil` without an `id` or a `url`. A missing `active` (Stripe always sends it) counts as active.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]), let url = ProviderJSON.string(json["url"]) else { return nil }
        let completedSessions = (json["restrictions"] as? [String: Any])?["completed_sessions"] as? [String: Any]
        self.init(id: id, url: url, active: ProviderJSON.bool(json["active"]) ?? true, metadata: ProviderJSON.stringMap(json["metadata"]),
                  seatLimit: ProviderJSON.int(completedSessions?["limit"]))
    }
}

/// The parts of a Stripe Checkout Session (`cs_...`) Hookyard uses to tie a payment back to a lead. A value; thread-safe.
public struct StripeCheckoutSession: Sendable, Equatable {
    public var id: String
    /// `paid`, `unpaid` or `no_payment_required`.
    public var paymentStatus: String?
    /// `open`, `complete` or `expired`.
    public var status: String?
    /// In the currency's smallest unit.
    public var amountTotal: Int?
    public var currency: String?
    /// The customer id (`cus_...`), also when the customer was expanded.
    public var customer: String?
    /// `customer_details.email`: what the buyer typed at checkout.
    public var customerEmail: String?
    /// The payment link id (`plink_...`) when the session came from one.
    public var paymentLink: String?
    public var clientReferenceID: String?
    public var metadata: [String: String]

    public init(id: String, paymentStatus: String? = nil, status: String? = nil, amountTotal: Int? = nil, currency: String? = nil,
                customer: String? = nil, customerEmail: String? = nil, paymentLink: String? = nil, clientReferenceID: String? = nil,
                metadata: [String: String] = [:]) {
        self.id = id
        self.paymentStatus = paymentStatus
        self.status = status
        self.amountTotal = amountTotal
        self.currency = currency
        self.customer = customer
        self.customerEmail = customerEmail
        self.paymentLink = paymentLink
        self.clientReferenceID = clientReferenceID
        self.metadata = metadata
    }

    /// - Returns: `nil` without an `id`.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]) else { return nil }
        self.init(id: id, paymentStatus: json["payment_status"] as? String, status: json["status"] as? String,
                  amountTotal: ProviderJSON.int(json["amount_total"]), currency: json["currency"] as? String,
                  customer: ProviderJSON.idOrExpanded(json["customer"]),
                  customerEmail: (json["customer_details"] as? [String: Any])?["email"] as? String,
                  paymentLink: ProviderJSON.idOrExpanded(json["payment_link"]),
                  clientReferenceID: json["client_reference_id"] as? String, metadata: ProviderJSON.stringMap(json["metadata"]))
    }
}

/// The parts of a Stripe Price (`price_...`) Hookyard uses. A value; thread-safe.
public struct StripePrice: Sendable, Equatable {
    public var id: String
    public var active: Bool
    public var currency: String?
    /// In the currency's smallest unit; `nil` for tiered or custom-amount prices.
    public var unitAmount: Int?
    /// The product id (`prod_...`), also when the product was expanded.
    public var product: String?
    /// `one_time` or `recurring`.
    public var type: String?
    /// `day`, `week`, `month` or `year` for recurring prices.
    public var recurringInterval: String?
    /// The stable name the price is found by (`GET /v1/prices?lookup_keys[]=...`); at most one price holds a given
    /// lookup key at a time. `nil` without one.
    public var lookupKey: String?
    public var metadata: [String: String]

    public init(id: String, active: Bool = true, currency: String? = nil, unitAmount: Int? = nil, product: String? = nil,
                type: String? = nil, recurringInterval: String? = nil, lookupKey: String? = nil, metadata: [String: String] = [:]) {
        self.id = id
        self.active = active
        self.currency = currency
        self.unitAmount = unitAmount
        self.product = product
        self.type = type
        self.recurringInterval = recurringInterval
        self.lookupKey = lookupKey
        self.metadata = metadata
    }

    /// - Returns: `nil` without an `id`. A missing `active` (Stripe always sends it) counts as active.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]) else { return nil }
        self.init(id: id, active: ProviderJSON.bool(json["active"]) ?? true, currency: json["currency"] as? String,
                  unitAmount: ProviderJSON.int(json["unit_amount"]), product: ProviderJSON.idOrExpanded(json["product"]),
                  type: json["type"] as? String, recurringInterval: (json["recurring"] as? [String: Any])?["interval"] as? String,
                  lookupKey: ProviderJSON.string(json["lookup_key"]), metadata: ProviderJSON.stringMap(json["metadata"]))
    }
}

/// The parts of a Stripe Product (`prod_...`) Hookyard uses: catalog sync finds its products by the metadata key
/// `hookyard_product`. A value; thread-safe.
public struct StripeProduct: Sendable, Equatable {
    public var id: String
    public var name: String
    /// `false` for an archived product: its prices cannot be used in new payment links or checkouts.
    public var active: Bool
    public var metadata: [String: String]
    /// When the product last changed (Unix seconds), `nil` when Stripe did not say. Catalog sync puts it into an
    /// update's idempotency key, so renaming back and forth within Stripe's 24 hours is never answered by an older,
    /// replayed update.
    public var updated: Int?

    public init(id: String, name: String, active: Bool = true, metadata: [String: String] = [:], updated: Int? = nil) {
        self.id = id
        self.name = name
        self.active = active
        self.metadata = metadata
        self.updated = updated
    }

    /// - Returns: `nil` without an `id`. A missing `name` reads as empty; a missing `active` (Stripe always sends it)
    ///   counts as active.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]) else { return nil }
        self.init(id: id, name: json["name"] as? String ?? "", active: ProviderJSON.bool(json["active"]) ?? true,
                  metadata: ProviderJSON.stringMap(json["metadata"]), updated: ProviderJSON.int(json["updated"]))
    }
}
