import Jobs
import Outbound
import Store
import StrictJSON

/// `record_purchase`: records a purchase for revenue reports, once per reference (a Checkout Session id).
/// A value; thread-safe.
struct RecordPurchase: Action {
    let spec = ActionCatalog.Spec(
        name: "record_purchase", provider: .local, required: ["reference", "amount", "currency"],
        optional: ["email", "campaign", "payment_link"],
        outputs: ["purchase_id", "created"],
        summary: "Records a purchase for revenue reports, once per reference (a Checkout Session id).")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        guard let amount = try arguments.value("amount").int64Value else {
            throw Arguments.failure("argument 'amount' must be a whole number (the smallest currency unit, as Stripe sends it)")
        }
        let purchase = Purchase(eventID: context.eventID, reference: try arguments.string("reference"),
                                email: try arguments.optionalString("email"), amount: amount,
                                currency: try arguments.string("currency").lowercased(),
                                campaignID: try arguments.optionalString("campaign"),
                                paymentLink: try arguments.optionalString("payment_link"), rule: context.rule)
        if context.storesNothing {
            return .object(["purchase_id": .null, "created": .bool(true), "would_record": .object([
                "reference": .string(purchase.reference), "amount": .integer(purchase.amount), "currency": .string(purchase.currency),
                "email": purchase.email.map(JSONValue.string) ?? .null, "campaign": purchase.campaignID.map(JSONValue.string) ?? .null,
            ])])
        }
        do {
            let (id, created) = try context.store.recordPurchase(purchase, now: context.now())
            return .object(["purchase_id": .integer(id), "created": .bool(created)])
        } catch {
            throw JobFailure.storage("recording the purchase", error)
        }
    }
}
