import HookyardFoundation
import Store
import StrictJSON

/// Reads what one stored webhook says about one person: the `ContactObservation` that `ContactStorage.apply` records.
///
/// Instantly payloads are flat objects (`lead_email`, `campaign_id`, `timestamp`, ...); Stripe payloads are events
/// (`{"id", "type", "created", "data": {"object": {...}}}`). Both the shapes of Stripe API versions before
/// `2025-03-31.basil` and those after are read (the invoice's subscription under `parent.subscription_details`, its
/// line's price under `pricing.price_details`, the period end on subscription items; `StripeObjectReading` knows
/// where), so events stored before an API version upgrade, or sent to an endpoint on an older version, read the
/// same way.
///
/// Instantly payloads also carry the lead's own fields and custom variables as extra top-level keys; those named in
/// `leadFields` are kept (text, numbers and booleans, as text). A Stripe price's tier comes from `tiers` (its id,
/// else its product's id), else from `lookupKeyTiers` by the price's `lookup_key` (the catalog's tiers); a price
/// whose lookup key belongs to a catalog product also sets the product interest to that product.
///
/// Pure: the result depends only on the arguments and the maps given at init. A value type; thread-safe.
public struct ContactEventReader: Sendable {
    /// Stripe price id or product id -> tier name.
    public let tiers: [String: String]
    /// Instantly campaign id -> product-interest name.
    public let campaignInterest: [String: String]
    /// Checked in order; the first match wins.
    public let linkInterest: [LinkInterest]
    /// Top-level Instantly payload keys kept as lead fields (`contacts.lead_fields`).
    public let leadFields: [String]
    /// Stripe price `lookup_key` -> tier name, for prices `tiers` does not name (the catalog's tiers).
    public let lookupKeyTiers: [String: String]
    /// Stripe price `lookup_key` -> product-interest name (the catalog's product keys).
    public let lookupKeyProducts: [String: String]

    public init(tiers: [String: String] = [:], campaignInterest: [String: String] = [:], linkInterest: [LinkInterest] = [],
                leadFields: [String] = [], lookupKeyTiers: [String: String] = [:], lookupKeyProducts: [String: String] = [:]) {
        self.tiers = tiers
        self.campaignInterest = campaignInterest
        self.linkInterest = linkInterest
        self.leadFields = leadFields
        self.lookupKeyTiers = lookupKeyTiers
        self.lookupKeyProducts = lookupKeyProducts
    }

    /// The observation for one stored event, or `nil` when it says nothing about a person (an Instantly event
    /// without `lead_email`, a Stripe object with neither a customer nor an email address).
    /// - Parameters:
    ///   - type: the stored event type (Instantly's click is stored as `email_link_clicked`; `link_clicked` is
    ///     read the same way).
    ///   - receivedAt: Unix milliseconds; the event time when the payload has none that parses.
    public func observation(eventID: Int64, source: EventSource, type: String, body: JSONValue,
                            receivedAt: Int64) -> ContactObservation? {
        switch source {
        case .instantly: instantly(eventID: eventID, type: type, body: body, receivedAt: receivedAt)
        case .stripe: stripe(eventID: eventID, type: type, body: body, receivedAt: receivedAt)
        }
    }

    // MARK: Instantly

    /// Activity per Instantly event type. `auto_reply_received` is deliberately absent: an automatic reply is not
    /// engagement.
    static let instantlyActivities: [String: ContactActivity] = [
        "email_sent": .sent,
        "email_opened": .opened,
        "email_link_clicked": .clicked,
        "link_clicked": .clicked,
        "reply_received": .replied,
        "email_bounced": .bounced,
        "lead_unsubscribed": .unsubscribed,
        "lead_meeting_booked": .meetingBooked,
    ]

    /// Interest status name per Instantly event type (the names `instantly.set_interest_status` takes).
    static let instantlyInterest: [String: String] = [
        "lead_interested": "interested",
        "lead_not_interested": "not_interested",
        "lead_meeting_booked": "meeting_booked",
        "lead_meeting_completed": "meeting_completed",
        "lead_closed": "won",
        "lead_out_of_office": "out_of_office",
        "lead_wrong_person": "wrong_person",
        "lead_no_show": "no_show",
        "lead_neutral": "neutral",
    ]

    /// Where a click event may carry the clicked URL, in the order they are looked at.
    static let clickedURLFields = ["link", "url", "link_url", "clicked_url"]

    private func instantly(eventID: Int64, type: String, body: JSONValue, receivedAt: Int64) -> ContactObservation? {
        guard let email = Self.email(body["lead_email"]) else { return nil }
        let campaign = Self.text(body["campaign_id"])
        let occurredAt = Self.text(body["timestamp"]).flatMap(ISO8601Timestamp.milliseconds) ?? receivedAt
        let activity = Self.instantlyActivities[type]
        var interest: String?
        if activity == .clicked {
            let url = Self.clickedURLFields.lazy.compactMap { Self.text(body[$0]) }.first
            if let url { interest = linkInterest.first(where: { $0.matches(url) })?.product }
        }
        if interest == nil, let campaign { interest = campaignInterest[campaign] }
        var fields: [String: String] = [:]
        for name in leadFields {
            // Text, numbers and booleans as text; an empty string, null, a list or a map is no value.
            switch body[name] {
            case .string(let text)? where !text.isEmpty: fields[name] = text
            case let value? where value.isScalarNumberOrBool: fields[name] = value.text
            default: break
            }
        }
        return ContactObservation(
            eventID: eventID, source: .instantly, occurredAt: occurredAt, email: email, campaignID: campaign,
            leadID: Self.text(body["lead_id"]) ?? Self.text(body["lead"]), activity: activity,
            interestStatus: Self.instantlyInterest[type], productInterest: interest,
            leadFields: fields.isEmpty ? nil : fields, account: Self.sendingAccount(in: body),
            campaignName: Self.text(body["campaign_name"]))
    }

    /// The Instantly sending account an event names (`email_account`), normalised like a contact's address; `nil`
    /// when it names none. Read for every Instantly event, `account_error` included (which names no lead).
    public static func sendingAccount(in body: JSONValue) -> String? {
        email(body["email_account"])
    }

    // MARK: Stripe

    private func stripe(eventID: Int64, type: String, body: JSONValue, receivedAt: Int64) -> ContactObservation? {
        guard let object = body[path: ["data", "object"]], object.objectValue != nil else { return nil }
        let created = body["created"]?.int64Value
        var observation = ContactObservation(eventID: eventID, source: .stripe,
                                             occurredAt: created.flatMap(Self.milliseconds(seconds:)) ?? receivedAt)
        let metadata = object["metadata"]
        switch type {
        case "customer.created", "customer.updated":
            observation.stripeCustomerID = Self.text(object["id"])
            observation.email = Self.email(object["email"]) ?? Self.email(metadata?["hookyard_email"])

        case "checkout.session.completed", "checkout.session.async_payment_succeeded":
            observation.stripeCustomerID = Self.id(object["customer"])
            observation.email = Self.email(metadata?["hookyard_email"]) ?? Self.email(metadata?["lead_email"])
                ?? Self.email(object[path: ["customer_details", "email"]]) ?? Self.email(object["customer_email"])
            observation.campaignID = Self.campaign(in: metadata) ?? Self.campaignUUID(Self.text(object["client_reference_id"]))
            // `paid`, or `no_payment_required` for a session that cost nothing (amount 0): a purchase either way.
            if StripeObjectReading.isSettled(checkoutSession: object), Self.text(object["mode"]) == "payment",
               let reference = Self.text(object["id"]), let amount = object["amount_total"]?.int64Value {
                observation.payment = ObservedPayment(
                    reference: reference, kind: .payment, amount: amount, currency: Self.currency(object["currency"]),
                    tier: Self.text(metadata?["hookyard_tier"]), campaignID: observation.campaignID,
                    paymentLink: Self.id(object["payment_link"]), rule: Self.text(metadata?["hookyard_rule"]))
            }

        case "invoice.paid", "invoice.payment_succeeded":
            invoiceIdentity(object, into: &observation)
            let (price, product, lookupKey) = StripeObjectReading.price(ofInvoice: object)
            if let reference = Self.text(object["id"]), let amount = object["amount_paid"]?.int64Value, amount != 0 {
                observation.payment = ObservedPayment(
                    reference: reference, kind: .invoice, amount: amount, currency: Self.currency(object["currency"]),
                    priceID: price, productID: product, tier: tier(price: price, product: product, lookupKey: lookupKey),
                    campaignID: observation.campaignID, rule: Self.invoiceRule(object))
                observation.productInterest = lookupKey.flatMap { lookupKeyProducts[$0] }
            }

        case "invoice.payment_failed":
            invoiceIdentity(object, into: &observation)
            if let subscription = StripeObjectReading.subscription(ofInvoice: object) {
                // A failed first invoice leaves the subscription `incomplete`, not `past_due`.
                let first = Self.text(object["billing_reason"]) == "subscription_create"
                observation.subscription = ObservedSubscription(id: subscription, status: first ? "incomplete" : "past_due")
            }

        case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
             "customer.subscription.paused", "customer.subscription.resumed", "customer.subscription.trial_will_end":
            observation.stripeCustomerID = Self.id(object["customer"])
            observation.email = Self.email(metadata?["hookyard_email"])
            observation.campaignID = Self.campaign(in: metadata)
            guard let id = Self.text(object["id"]) else { break }
            let item = object[path: ["items", "data", "0"]]
            let price = Self.id(item?["price"])
            let product = Self.id(item?[path: ["price", "product"]])
            let lookupKey = Self.text(item?[path: ["price", "lookup_key"]])
            // Before 2025-03-31.basil on the subscription; since, on each item.
            let periodEnd = (object["current_period_end"]?.int64Value ?? item?["current_period_end"]?.int64Value)
                .flatMap(Self.milliseconds(seconds:))
            let status = type == "customer.subscription.deleted" ? "canceled" : Self.text(object["status"])
            if let status {
                observation.subscription = ObservedSubscription(
                    id: id, status: status, priceID: price, productID: product,
                    tier: tier(price: price, product: product, lookupKey: lookupKey), currentPeriodEnd: periodEnd)
                observation.productInterest = lookupKey.flatMap { lookupKeyProducts[$0] }
            }

        case "charge.refunded":
            observation.stripeCustomerID = Self.id(object["customer"])
            observation.email = Self.email(object[path: ["billing_details", "email"]]) ?? Self.email(object["receipt_email"])
            if let reference = Self.text(object["id"]), let amount = object["amount_refunded"]?.int64Value {
                observation.payment = ObservedPayment(reference: reference, kind: .refund, amount: amount,
                                                      currency: Self.currency(object["currency"]))
            }

        default:
            observation.stripeCustomerID = Self.id(object["customer"])
            observation.email = Self.email(object["email"]) ?? Self.email(object["customer_email"])
                ?? Self.email(object["receipt_email"]) ?? Self.email(object[path: ["customer_details", "email"]])
                ?? Self.email(object[path: ["billing_details", "email"]]) ?? Self.email(metadata?["hookyard_email"])
        }
        guard observation.email != nil || observation.stripeCustomerID != nil else { return nil }
        return observation
    }

    /// Customer, email and campaign of an invoice (the campaign from the invoice's or its subscription's metadata).
    private func invoiceIdentity(_ invoice: JSONValue, into observation: inout ContactObservation) {
        observation.stripeCustomerID = Self.id(invoice["customer"])
        observation.email = Self.email(invoice["customer_email"])
        observation.campaignID = Self.campaign(in: invoice["metadata"])
            ?? Self.campaign(in: invoice[path: ["parent", "subscription_details", "metadata"]])
            ?? Self.campaign(in: invoice["subscription_details"]?["metadata"])
    }

    /// The rule named in the invoice's or its subscription's metadata (`hookyard_rule`).
    private static func invoiceRule(_ invoice: JSONValue) -> String? {
        text(invoice[path: ["metadata", "hookyard_rule"]])
            ?? text(invoice[path: ["parent", "subscription_details", "metadata", "hookyard_rule"]])
            ?? text(invoice[path: ["subscription_details", "metadata", "hookyard_rule"]])
    }

    /// An Instantly campaign id given as a Checkout Session's `client_reference_id` (a payment link opened with
    /// `?client_reference_id=<campaign id>`): a UUID (8-4-4-4-12 hex digits), else `nil`.
    static func campaignUUID(_ text: String?) -> String? {
        guard let text else { return nil }
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12], groups.allSatisfy({ $0.allSatisfy(\.isHexDigit) }) else { return nil }
        return text
    }

    /// The configured tier of the price, else of the product, else the catalog tier with the price's lookup key.
    private func tier(price: String?, product: String?, lookupKey: String?) -> String? {
        price.flatMap { tiers[$0] } ?? product.flatMap { tiers[$0] } ?? lookupKey.flatMap { lookupKeyTiers[$0] }
    }

    /// The campaign Hookyard's own rules write into metadata: `hookyard_campaign`, or `instantly_campaign_id`
    /// (deploy/examples/lead-to-sale.yaml).
    private static func campaign(in metadata: JSONValue?) -> String? {
        text(metadata?["hookyard_campaign"]) ?? text(metadata?["instantly_campaign_id"])
    }

    // MARK: Values

    /// A non-empty string member.
    /// Stripe's Unix seconds as milliseconds; `nil` (no usable time) beyond year 9999 either way, so that the
    /// milliseconds, and any time computed from them with a configured delay, fit 64 bits.
    static func milliseconds(seconds: Int64) -> Int64? {
        seconds.magnitude <= 253_402_300_799 ? seconds * 1_000 : nil
    }

    private static func text(_ value: JSONValue?) -> String? {
        guard let string = value?.stringValue, !string.isEmpty else { return nil }
        return string
    }

    /// An id that may be expanded: the string itself, or the expanded object's `id`.
    private static func id(_ value: JSONValue?) -> String? {
        text(value) ?? text(value?["id"])
    }

    private static func email(_ value: JSONValue?) -> String? {
        guard let raw = text(value) else { return nil }
        let normalised = ContactObservation.normalise(email: raw)
        return normalised.isEmpty ? nil : normalised
    }

    private static func currency(_ value: JSONValue?) -> String {
        (text(value) ?? "").lowercased()
    }
}

private extension JSONValue {
    var isScalarNumberOrBool: Bool {
        switch self {
        case .bool, .integer, .number: true
        default: false
        }
    }
}
