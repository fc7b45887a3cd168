import Jobs
import Outbound
import StrictJSON

/// `stripe.get_price`: retrieves a price. A value; thread-safe.
struct StripeGetPrice: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.get_price", provider: .stripe, required: ["id"], optional: [],
        outputs: ["price_id", "active", "currency", "unit_amount", "product", "type", "recurring_interval"],
        summary: "Retrieves a price.")

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let id = try arguments.string("id")
        let price = try provider { () throws(ProviderFailure) in try context.stripe.retrievePrice(id: id) }
        return .object(["price_id": .string(price.id), "active": .bool(price.active), "currency": Self.optional(price.currency),
                        "unit_amount": price.unitAmount.map { .integer(Int64($0)) } ?? .null,
                        "product": Self.optional(price.product), "type": Self.optional(price.type),
                        "recurring_interval": Self.optional(price.recurringInterval)])
    }
}
