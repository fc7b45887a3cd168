import Contacts
import Jobs
import Outbound
import Store
import StrictJSON

/// `contact.register`: registers the contact for a catalog product (`ContactStore.register`): idempotent per
/// reference, so an attempt that runs again reports what the first reported. The segment changes go to
/// `context.effects`, whose rules the engine starts. A value; thread-safe.
struct ContactRegister: Action {
    let spec = ActionCatalog.Spec(
        name: "contact.register", provider: .local, required: ["email", "product"], optional: ["reference", "seats"],
        outputs: ["registered", "registrations", "seats", "seats_left", "sold_out"],
        summary: "Registers the contact for a catalog product, once per reference (a Checkout Session id; default: the step's own key) and per contact and product; counts the product's registrations against `seats` (default: the product's catalog seats) and says when they are sold out; re-evaluates the contact's segments (registered_for).")

    var linksContact: Bool { true }

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let email = try arguments.string("email")
        let key = try arguments.string("product")
        guard let product = context.catalog.product(key) else {
            throw Arguments.failure("argument 'product': no catalog product '\(key)' (\(context.catalog.productsDescription))")
        }
        let seats = try arguments.optionalInt("seats") ?? product.seats
        if let seats, seats < 1 { throw Arguments.failure("argument 'seats' must be at least 1") }
        let reference = try arguments.optionalString("reference") ?? context.idempotencyKey
        if context.storesNothing {
            // What the registration would give, from the count now; nothing is written.
            let count: Int
            do {
                count = try context.store.contacts.registrationCount(product: product.key)
            } catch {
                throw JobFailure.storage("counting the registrations for \(product.key)", error)
            }
            let full = seats.map { count >= $0 } ?? false
            let after = full ? count : count + 1
            return .object(["registered": .bool(!full), "registrations": .integer(Int64(after)),
                            "seats": seats.map { .integer(Int64($0)) } ?? .null,
                            "seats_left": seats.map { .integer(Int64(max(0, $0 - after))) } ?? .null,
                            "sold_out": .bool(seats.map { after >= $0 } ?? false), "would_register": .string(email)])
        }
        let result: RegistrationResult
        do {
            result = try context.store.contacts.register(email: email, product: product.key, reference: reference, seats: seats,
                                                         eventID: context.eventID, segments: context.segments, now: context.now())
        } catch ContactStorageError.emptyEmail {
            throw Arguments.failure("argument 'email' is not an address")
        } catch {
            throw JobFailure.storage("registering \(email) for \(product.key)", error)
        }
        context.effects?.transitions += result.transitions
        return .object(["registered": .bool(result.created), "registrations": .integer(Int64(result.registrations)),
                        "seats": result.seats.map { .integer(Int64($0)) } ?? .null,
                        "seats_left": result.seatsLeft.map { .integer(Int64($0)) } ?? .null, "sold_out": .bool(result.soldOut)])
    }

    /// Registered (and its segments re-evaluated) by the action itself, in one transaction.
    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] { [.contactChanged] }
}
