import Cryptography
import HookyardFoundation
import Jobs
import Outbound
import Store
import StrictJSON

/// `stripe.find_or_create_customer`: one person, one Stripe customer, whatever case their address arrives in.
/// Stripe's `email` filter is case-sensitive, so the customer is looked up by the normalised address
/// (`EmailAddress.normalized`, the form Hookyard creates customers with), then by the address as received (a
/// customer created elsewhere with that spelling), both through the list endpoint, which reads its own writes; then
/// through the Search API by `metadata['hookyard_email']` (finds a customer Hookyard created with an address whose
/// spelling no list lookup matches, e.g. an email edited in the Dashboard; eventually consistent, so it only comes
/// last). A new customer gets the normalised address and `metadata[hookyard_email]` (the rule's value for that key,
/// normalised, if it sets one), with an idempotency key derived from the normalised address and the request's
/// fields, so a retry, or another flow for the same person sending the same fields, replays Stripe's answer instead
/// of creating a second customer. A customer found without `hookyard_email` gets it with the rule's missing metadata.
///
/// The engine links the customer id to the contact. A value; thread-safe.
struct StripeFindOrCreateCustomer: Action {
    let spec = ActionCatalog.Spec(
        name: "stripe.find_or_create_customer", provider: .stripe, required: ["email"], optional: ["name", "metadata"],
        outputs: ["customer_id", "created", "metadata_updated"],
        summary: "Finds the Stripe customer with this email (GET /v1/customers?email=, which reads its own writes; as given, then lower-cased) or creates one; on an existing customer, sets the metadata keys that are missing or differ.")

    var linksContact: Bool { true }

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let received = try arguments.string("email").trimmingCharacters(in: .whitespacesAndNewlines)
        let email = EmailAddress.normalized(received)
        guard !email.isEmpty else { throw Arguments.failure("argument 'email' is empty") }
        // hookyard_email always holds a normalised address (a rule's `{{ event.lead_email }}` may arrive in any case),
        // so the search below finds what an earlier step wrote.
        var metadata = try arguments.stringPairs("metadata").map { pair in
            pair.0 == Self.customerEmailKey ? (pair.0, EmailAddress.normalized(pair.1)) : pair
        }
        if !metadata.contains(where: { $0.0 == Self.customerEmailKey }) { metadata.append((Self.customerEmailKey, email)) }
        let name = try arguments.optionalString("name")
        // Two flows for the same person must not both find nothing and both create.
        return try runner.customerLocks.withLock(email) { () throws(JobFailure) -> JSONValue in
            try provider { () throws(ProviderFailure) -> JSONValue in
                var found = try context.stripe.findCustomer(email: email)
                if found == nil, !received.utf8.elementsEqual(email.utf8) { found = try context.stripe.findCustomer(email: received) }
                if found == nil { found = try context.stripe.searchCustomer(metadataKey: Self.customerEmailKey, value: email) }
                if let customer = found {
                    let missing = metadata.filter { customer.metadata[$0.0] != $0.1 }
                    if !missing.isEmpty {
                        _ = try context.stripe.updateCustomerMetadata(id: customer.id, metadata: missing,
                                                                      idempotencyKey: context.idempotencyKey + "/metadata")
                    }
                    return .object(["customer_id": .string(customer.id), "created": .bool(false), "metadata_updated": .bool(!missing.isEmpty)])
                }
                let customer = try context.stripe.createCustomer(email: email, name: name, metadata: metadata,
                                                                 idempotencyKey: Self.customerCreationKey(email: email, name: name,
                                                                                                          metadata: metadata))
                return .object(["customer_id": .string(customer.id), "created": .bool(true), "metadata_updated": .bool(false)])
            }
        }
    }

    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] {
        result["customer_id"]?.stringValue.map { [.customer(id: $0)] } ?? []
    }

    /// The metadata key holding the normalised address on every customer Hookyard creates or finds.
    static let customerEmailKey = "hookyard_email"

    /// `hookyard-customer-<sha256 hex>` of the normalised address and the fields sent: the same person created with
    /// the same fields always sends the same key (Stripe replays the first answer for 24 hours), while different
    /// fields never reuse a key (which Stripe would refuse).
    static func customerCreationKey(email: String, name: String?, metadata: [(String, String)]) -> String {
        var parts = [email, name ?? ""]
        for (key, value) in metadata { parts += [key, value] }
        return "hookyard-customer-" + Crypto.hex(Crypto.sha256(Array(parts.joined(separator: "\u{1f}").utf8)))
    }
}
