import Contacts
import Jobs
import Outbound
import Store
import StrictJSON

/// `stripe.create_payment_link`: a payment link for a price, or for a catalog tier (the first on sale when the job
/// was due; its price found by lookup key), with metadata. The engine notes the link as sent (`payment_links_sent`)
/// for the report. A value; thread-safe.
struct StripeCreatePaymentLink: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.create_payment_link", provider: .stripe, required: [],
        optional: ["price", "tier", "quantity", "metadata", "prefilled_email", "seat_limit"],
        outputs: ["payment_link_id", "url", "stripe_url", "price_id", "tier", "tier_name", "amount", "currency", "metadata"],
        summary: "Creates a payment link for a price, or for a catalog tier (`tier: product/tier`, or a list: the first on sale when the job was due; its price found by lookup_key), with metadata; `url` carries ?prefilled_email= when given; with `seat_limit` (a whole number, at least 1) Stripe deactivates the link once that many payments completed (restrictions[completed_sessions][limit]).")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let quantity = try arguments.optionalInt("quantity") ?? 1
        guard quantity >= 1 else { throw Arguments.failure("argument 'quantity' must be at least 1") }
        let seatLimit = try arguments.optionalInt("seat_limit")
        if let seatLimit, seatLimit < 1 { throw Arguments.failure("argument 'seat_limit' must be at least 1") }
        // The report learns which rule made a link from `payment_links_sent`, not from added metadata: a body that
        // changed under the same Idempotency-Key (a job retried across an upgrade) would be refused by Stripe.
        var metadata = try arguments.stringPairs("metadata")
        var output: [String: JSONValue] = [:]
        let price: String
        if let tiers = try arguments.optionalStrings("tier") {
            guard arguments.values["price"].map(\.isNull) ?? true else { throw Arguments.failure("give price or tier, not both") }
            let chosen: (product: CatalogProduct, tier: CatalogTier)
            do {
                chosen = try context.catalog.tierOnSale(tiers, at: context.dueAt)
            } catch {
                throw Arguments.failure("argument 'tier': \(error.message)")
            }
            let reference = "\(chosen.product.key)/\(chosen.tier.key)"
            let lookupKey = chosen.tier.lookupKey
            let prices = try provider { () throws(ProviderFailure) in try context.stripe.prices(lookupKeys: [lookupKey]) }
            guard let found = prices.first(where: { $0.active && $0.lookupKey == lookupKey }) else {
                throw Arguments.failure("tier \(reference): Stripe has no active price with lookup_key '\(lookupKey)'; run `hookyard catalog sync`")
            }
            price = found.id
            // What a payment on the link was for, unless the rule says otherwise.
            for (key, value) in [("hookyard_product", chosen.product.key), ("hookyard_tier", chosen.tier.key)]
            where !metadata.contains(where: { $0.0 == key }) {
                metadata.append((key, value))
            }
            metadata.sort { $0.0 < $1.0 }
            output = ["tier": .string(reference), "tier_name": .string(chosen.tier.key), "price_id": .string(price),
                      "amount": .integer(chosen.tier.amount), "currency": .string(chosen.tier.currency)]
        } else {
            price = try arguments.string("price")
            output["price_id"] = .string(price)
        }
        // Rendered values (a lead's field, say) can exceed what Stripe accepts: say so instead of sending a request it refuses.
        if let problem = StripeMetadataLimits.problem(metadata) { throw Arguments.failure("argument 'metadata': \(problem)") }
        let link = try provider { () throws(ProviderFailure) in
            try context.stripe.createPaymentLink(price: price, quantity: quantity, metadata: metadata, seatLimit: seatLimit,
                                                 idempotencyKey: context.idempotencyKey)
        }
        var url = link.url
        if let email = try arguments.optionalString("prefilled_email"), !email.isEmpty {
            url += (url.contains("?") ? "&" : "?") + "prefilled_email=" + FormEncoder.percentEncode(email)
        }
        output["payment_link_id"] = .string(link.id)
        output["url"] = .string(url)
        output["stripe_url"] = .string(link.url)
        // What Stripe copies onto each Checkout Session of the link (`hookyard trigger` walk-throughs read it back).
        output["metadata"] = .object(Dictionary(metadata.map { ($0.0, JSONValue.string($0.1)) }, uniquingKeysWith: { _, last in last }))
        return .object(output)
    }

    /// The link, for the report's link figures: for the flow's contact, else the one its `prefilled_email` names;
    /// with the campaign its metadata names (`hookyard_campaign`, else `instantly_campaign_id`).
    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] {
        guard let linkID = result["payment_link_id"]?.stringValue, let url = result["url"]?.stringValue else { return [] }
        let metadata = arguments["metadata"]
        let campaign = [metadata?["hookyard_campaign"], metadata?["instantly_campaign_id"]].lazy
            .compactMap { $0?.text }.first { !$0.isEmpty }
        return [.paymentLinkSent(id: linkID, url: url, prefilledEmail: arguments["prefilled_email"].map { ContactObservation.normalise(email: $0.text) },
                                 campaign: campaign)]
    }
}
