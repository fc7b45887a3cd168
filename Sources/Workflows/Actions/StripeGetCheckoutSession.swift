import Jobs
import Outbound
import StrictJSON

/// `stripe.get_checkout_session`: a Checkout Session's fresh state, where a webhook's snapshot may be stale.
/// A value; thread-safe.
struct StripeGetCheckoutSession: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.get_checkout_session", provider: .stripe, required: ["id"], optional: [],
        outputs: ["session_id", "status", "payment_status", "amount_total", "currency", "customer", "customer_email",
                  "payment_link", "client_reference_id", "metadata"],
        summary: "Retrieves a Checkout Session (fresh state, where a webhook's snapshot may be stale).")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let id = try arguments.string("id")
        let session = try provider { () throws(ProviderFailure) in try context.stripe.retrieveCheckoutSession(id: id) }
        return .object(["session_id": .string(session.id), "status": Self.optional(session.status),
                        "payment_status": Self.optional(session.paymentStatus),
                        "amount_total": session.amountTotal.map { .integer(Int64($0)) } ?? .null,
                        "currency": Self.optional(session.currency), "customer": Self.optional(session.customer),
                        "customer_email": Self.optional(session.customerEmail), "payment_link": Self.optional(session.paymentLink),
                        "client_reference_id": Self.optional(session.clientReferenceID), "metadata": Self.object(session.metadata)])
    }
}
