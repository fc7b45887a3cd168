import Jobs
import Outbound
import StrictJSON

/// `stripe.deactivate_payment_link`: reads the link first: an inactive one (deactivated by an earlier attempt whose
/// answer was lost, by hand, or by Stripe at its seat limit) is left alone, so a retry writes nothing.
/// A value; thread-safe.
struct StripeDeactivatePaymentLink: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.deactivate_payment_link", provider: .stripe, required: ["id"], optional: [],
        outputs: ["payment_link_id", "active", "changed"],
        summary: "Deactivates a payment link (POST /v1/payment_links/{id} active=false) so it takes no more payments; skips when it is already inactive.")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let id = try arguments.string("id")
        return try provider { () throws(ProviderFailure) in
            let current = try context.stripe.retrievePaymentLink(id: id)
            guard current.active else {
                return .object(["payment_link_id": .string(current.id), "active": .bool(false), "changed": .bool(false)])
            }
            let link = try context.stripe.deactivatePaymentLink(id: id, idempotencyKey: context.idempotencyKey)
            return .object(["payment_link_id": .string(link.id), "active": .bool(link.active), "changed": .bool(true)])
        }
    }
}
