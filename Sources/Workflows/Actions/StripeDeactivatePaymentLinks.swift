import Jobs
import Outbound
import StrictJSON

/// `stripe.deactivate_payment_links`: lists the active links, keeps those whose metadata has every pair asked for,
/// and deactivates each under its own idempotency key (the job's plus the link id). A retry lists again and sees
/// only the links still active, so it writes nothing twice. A value; thread-safe.
struct StripeDeactivatePaymentLinks: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.deactivate_payment_links", provider: .stripe, required: ["metadata"], optional: [],
        outputs: ["deactivated", "payment_link_ids"],
        summary: "Deactivates every active payment link whose metadata has all the given pairs (for instance every link for a sold-out product: {hookyard_product: webinar}); lists them (GET /v1/payment_links?active=true), then POSTs active=false to each; a retry finds only those still active.")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let wanted = try arguments.stringPairs("metadata")
        guard !wanted.isEmpty else {
            throw Arguments.failure("argument 'metadata' must name at least one key, or every payment link of the account would be deactivated")
        }
        return try provider { () throws(ProviderFailure) in
            let matching = try context.stripe.activePaymentLinks().filter { link in wanted.allSatisfy { link.metadata[$0.0] == $0.1 } }
            var deactivated: [JSONValue] = []
            for link in matching {
                _ = try context.stripe.deactivatePaymentLink(id: link.id, idempotencyKey: context.idempotencyKey + "/" + link.id)
                deactivated.append(.string(link.id))
            }
            return .object(["deactivated": .integer(Int64(deactivated.count)), "payment_link_ids": .array(deactivated)])
        }
    }
}
