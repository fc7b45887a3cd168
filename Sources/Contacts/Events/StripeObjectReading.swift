import StrictJSON

/// Reads the facts Hookyard acts on from Stripe objects, the same way whatever API version rendered them: the one
/// place that knows where each fact lives in each shape. `ContactEventReader` uses it for contacts, and the workflow
/// engine for rules, through `ruleFields(type:event:)` (`event.hookyard.…` in rules).
///
/// Shapes read:
/// - Checkout Session: `payment_status` `paid` and `no_payment_required` (a session that costs nothing: a 100 %
///   coupon, a free tier; `amount_total` 0) both mean the session is done and nothing is owed.
/// - Invoice: its subscription under `parent.subscription_details.subscription` since `2025-03-31.basil`, at the top
///   (`subscription`) before; its first line's price under `pricing.price_details` since, `price` (expanded) before.
/// - Subscription: a cancellation is scheduled when `cancel_at` is set (a date; `cancel_at: min_period_end` or
///   `max_period_end` resolve to one) or `cancel_at_period_end` is true; the period end is on the subscription
///   before basil, on each item since.
///
/// Pure and stateless; thread-safe.
public enum StripeObjectReading {
    /// The Checkout Session `payment_status` values of a session that is done with nothing owed.
    public static let settledPaymentStatuses: Set<String> = ["paid", "no_payment_required"]

    /// The member the engine adds to a Stripe event for rules (`event.hookyard.…`). Stripe's events have no member of
    /// this name; the stored event is never changed.
    public static let ruleFieldsMember = "hookyard"

    /// Whether a Checkout Session is paid or needed no payment.
    public static func isSettled(checkoutSession session: JSONValue) -> Bool {
        session["payment_status"]?.stringValue.map(settledPaymentStatuses.contains) ?? false
    }

    /// The invoice's subscription id, in either shape.
    public static func subscription(ofInvoice invoice: JSONValue) -> String? {
        id(invoice[path: ["parent", "subscription_details", "subscription"]]) ?? id(invoice["subscription"])
    }

    /// The price and product of the invoice's first line, in either shape.
    public static func price(ofInvoice invoice: JSONValue) -> (price: String?, product: String?, lookupKey: String?) {
        let line = invoice[path: ["lines", "data", "0"]]
        let price = id(line?[path: ["pricing", "price_details", "price"]]) ?? id(line?["price"])
        let product = id(line?[path: ["pricing", "price_details", "product"]]) ?? id(line?[path: ["price", "product"]])
        // Only the expanded price (before basil) carries its lookup key.
        return (price, product, text(line?[path: ["price", "lookup_key"]]))
    }

    /// The subscription's current period end (Unix seconds): on the subscription before basil, else the earliest of
    /// its items' (which is where `cancel_at_period_end` cancels a subscription with items of mixed intervals).
    public static func currentPeriodEnd(ofSubscription subscription: JSONValue) -> Int64? {
        if let end = subscription["current_period_end"]?.int64Value { return end }
        guard case .array(let items)? = subscription[path: ["items", "data"]] else { return nil }
        return items.compactMap { $0["current_period_end"]?.int64Value }.min()
    }

    /// Whether the subscription is set to cancel at a date or at its period end.
    public static func cancellationScheduled(_ subscription: JSONValue) -> Bool {
        scheduled(cancelAt: subscription["cancel_at"], atPeriodEnd: subscription["cancel_at_period_end"])
    }

    /// When a scheduled cancellation takes effect (Unix seconds): `cancel_at`, else the period end when
    /// `cancel_at_period_end` is set; `nil` when none is scheduled.
    public static func cancelsAt(_ subscription: JSONValue) -> Int64? {
        guard cancellationScheduled(subscription) else { return nil }
        return subscription["cancel_at"]?.int64Value ?? currentPeriodEnd(ofSubscription: subscription)
    }

    /// Whether a cancellation was scheduled before a `customer.subscription.updated`, when its
    /// `previous_attributes` name `cancel_at` or `cancel_at_period_end`; `nil` when the change is not about either.
    public static func cancellationWasScheduled(_ subscription: JSONValue, previous: JSONValue?) -> Bool? {
        guard let previous, previous["cancel_at"] != nil || previous["cancel_at_period_end"] != nil else { return nil }
        return scheduled(cancelAt: previous["cancel_at"] ?? subscription["cancel_at"],
                         atPeriodEnd: previous["cancel_at_period_end"] ?? subscription["cancel_at_period_end"])
    }

    /// The fields rules read as `event.hookyard.…`, from a Stripe event, whatever its API version (`nil` when the
    /// event has none of them):
    /// - `subscription`: the subscription the event is about (a subscription event's object, an invoice's
    ///   subscription in either shape, a Checkout Session's `subscription`);
    /// - `price`, `product`: of a subscription's first item or an invoice's first line;
    /// - `cancellation_scheduled` (subscription events), `cancels_at` (when one is), `cancellation_was_scheduled`
    ///   (on an update whose `previous_attributes` name `cancel_at` or `cancel_at_period_end`);
    /// - `payment_settled` (Checkout Sessions): `payment_status` is `paid` or `no_payment_required`.
    public static func ruleFields(type: String, event: JSONValue) -> JSONValue? {
        guard let object = event[path: ["data", "object"]], object.objectValue != nil else { return nil }
        var fields: [String: JSONValue] = [:]
        func set(_ key: String, _ value: String?) { if let value { fields[key] = .string(value) } }
        if type.hasPrefix("customer.subscription.") {
            set("subscription", text(object["id"]))
            let item = object[path: ["items", "data", "0"]]
            set("price", id(item?["price"]))
            set("product", id(item?[path: ["price", "product"]]))
            fields["cancellation_scheduled"] = .bool(cancellationScheduled(object))
            if let at = cancelsAt(object) { fields["cancels_at"] = .integer(at) }
            if let was = cancellationWasScheduled(object, previous: event[path: ["data", "previous_attributes"]]) {
                fields["cancellation_was_scheduled"] = .bool(was)
            }
        } else if type.hasPrefix("invoice.") {
            set("subscription", subscription(ofInvoice: object))
            let line = price(ofInvoice: object)
            set("price", line.price)
            set("product", line.product)
        } else if type.hasPrefix("checkout.session.") {
            set("subscription", id(object["subscription"]))
            fields["payment_settled"] = .bool(isSettled(checkoutSession: object))
        }
        return fields.isEmpty ? nil : .object(fields)
    }

    /// The event as rules see it: with `ruleFields` as its `hookyard` member (an event without them, or that is
    /// not an object, unchanged).
    public static func ruleView(type: String, event: JSONValue) -> JSONValue {
        guard case .object(var members) = event, let fields = ruleFields(type: type, event: event) else { return event }
        members[ruleFieldsMember] = fields
        return .object(members)
    }

    // MARK: Values

    private static func scheduled(cancelAt: JSONValue?, atPeriodEnd: JSONValue?) -> Bool {
        let date = cancelAt.map { !$0.isNull } ?? false
        return date || atPeriodEnd == .bool(true)
    }

    /// A non-empty string member.
    private static func text(_ value: JSONValue?) -> String? {
        guard let string = value?.stringValue, !string.isEmpty else { return nil }
        return string
    }

    /// An id that may be expanded: the string itself, or the expanded object's `id`.
    private static func id(_ value: JSONValue?) -> String? {
        text(value) ?? text(value?["id"])
    }
}
