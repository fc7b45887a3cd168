import Jobs
import Outbound
import Store
import StrictJSON

/// `stripe.get_payment_link`: `GET /v1/payment_links/{id}`. In dry-run the request is only recorded, and the dry-run
/// transport knows no link; for a link a `stripe.create_payment_link` step of this database created, the answer
/// carries the metadata that step sent (the link's `url` is the dry-run one either way), so a walk-through's later
/// steps read what they would read live. A link this database did not create keeps the transport's empty metadata.
/// A value; thread-safe.
struct StripeGetPaymentLink: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.get_payment_link", provider: .stripe, required: ["id"], optional: [],
        outputs: ["payment_link_id", "url", "active", "metadata"],
        summary: "Retrieves a payment link (its metadata ties a payment back to the lead and campaign).")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let id = try arguments.string("id")
        let link = try provider { () throws(ProviderFailure) in try context.stripe.retrievePaymentLink(id: id) }
        var metadata = link.metadata
        if context.stripeDryRun, metadata.isEmpty {
            let created: CreatedPaymentLink?
            do {
                created = try context.store.createdPaymentLink(id: id)
            } catch {
                throw JobFailure.storage("reading payment link \(id) from the store", error)
            }
            if let created { metadata = created.metadata }
        }
        return .object(["payment_link_id": .string(link.id), "url": .string(link.url), "active": .bool(link.active),
                        "metadata": Self.object(metadata)])
    }
}
