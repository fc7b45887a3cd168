import Jobs
import Outbound
import StrictJSON

/// `stripe.get_customer`: the customer, its `email` Stripe's or, when Stripe has none (a customer created without
/// one, or a dry run, whose made-up answer has none), that of the contact this customer id is linked to. The engine
/// links the customer id to that address. A value; thread-safe.
struct StripeGetCustomer: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.get_customer", provider: .stripe, required: ["id"], optional: [],
        outputs: ["customer_id", "email", "name", "metadata"],
        summary: "Retrieves a customer (GET /v1/customers/{id}): the email address behind a subscription or invoice event, which names only the customer's id.")

    var linksContact: Bool { true }

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let id = try arguments.string("id")
        let customer = try provider { () throws(ProviderFailure) in try context.stripe.retrieveCustomer(id: id) }
        var email = customer.email.flatMap { $0.isEmpty ? nil : $0 }
        if email == nil {
            do {
                email = try context.store.contacts.email(ofCustomer: customer.id)
            } catch {
                throw JobFailure.storage("reading the contact of customer \(customer.id)", error)
            }
        }
        return .object(["customer_id": .string(customer.id), "email": Self.optional(email), "name": Self.optional(customer.name),
                        "metadata": Self.object(customer.metadata)])
    }

    /// The customer's own address (the action has no `email` argument).
    func linkedEmail(arguments: [String: JSONValue], result: JSONValue) -> String? {
        Self.normalisedEmail(result["email"])
    }

    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] {
        result["customer_id"]?.stringValue.map { [.customer(id: $0)] } ?? []
    }
}
