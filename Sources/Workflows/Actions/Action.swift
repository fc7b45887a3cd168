import Contacts
import Jobs
import Outbound
import Store
import StrictJSON

/// One action a rule step can name, in one place: its contract (`spec`: arguments and outputs, which
/// `hookyard check-config` validates rules against), how it runs (`run`), and what the engine learns from its result
/// (`learned`, `linkedEmail`, `linksContact`). `ActionCatalog.actions` lists them all.
///
/// Every action is idempotent across attempts of the same job: Stripe writes carry an `Idempotency-Key` derived
/// from the job, and Instantly writes (which have no keys) first read the current state and skip what is already
/// done. Implementations are values and thread-safe; what they share between jobs (the per-email customer lock, the
/// `http.post` targets, Instantly's wait) is the `ActionRunner`'s.
protocol Action: Sendable {
    /// The action's contract: name, provider, arguments, outputs, summary.
    var spec: ActionCatalog.Spec { get }

    /// Runs the action once with rendered `arguments`. - Returns: the output object later steps read.
    /// - Throws: `JobFailure`: a provider call's failure (`provider(_:)`), the store's (`storage`), or an argument
    ///   error (`invalidJob`, naming the argument).
    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue

    /// Whether the step's result links a contact (creating it if need be), so a flow that started without a known
    /// contact has one for its later steps. Default: `false`.
    var linksContact: Bool { get }

    /// The normalised address a step ties its result to. Default: its `email` argument.
    func linkedEmail(arguments: [String: JSONValue], result: JSONValue) -> String?

    /// What the engine records once the step succeeded (links to the contact, segment changes, links sent), in
    /// order. Default: nothing.
    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning]
}

extension Action {
    var linksContact: Bool { false }

    func linkedEmail(arguments: [String: JSONValue], result: JSONValue) -> String? {
        Self.normalisedEmail(arguments["email"])
    }

    func learned(from result: JSONValue, arguments: [String: JSONValue]) -> [ActionLearning] { [] }

    /// Makes a provider call; its failure becomes the job's, cause `provider` (status, retryability and
    /// `Retry-After` kept).
    func provider<T>(_ call: () throws(ProviderFailure) -> T) throws(JobFailure) -> T {
        do {
            return try call()
        } catch {
            throw JobFailure(provider: error)
        }
    }

    /// `value` as a normalised address, or `nil` when absent or empty.
    static func normalisedEmail(_ value: JSONValue?) -> String? {
        guard let email = value.map({ ContactObservation.normalise(email: $0.text) }), !email.isEmpty else { return nil }
        return email
    }

    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    static func object(_ strings: [String: String]) -> JSONValue { .object(strings.mapValues(JSONValue.string)) }
}

/// A fact a step's result established, which the engine records after the step (`StepRunner`). A value.
enum ActionLearning: Sendable, Equatable {
    /// The contact (the step's linked email) is this Stripe customer.
    case customer(id: String)
    /// The contact is this Instantly lead in `campaign`.
    case lead(campaign: String, id: String)
    /// The contact's lead left `campaign`.
    case leadRemoved(campaign: String)
    /// The action changed the contact itself (`ActionContext.effects` holds the segment changes it caused).
    case contactChanged
    /// A payment link was created (for the report's link figures): for the flow's contact, else `prefilledEmail`.
    case paymentLinkSent(id: String, url: String, prefilledEmail: String?, campaign: String?)
}

/// What an action needs to run once: provider clients (live or dry-run, wrapped to record their requests), the
/// worker's store, and the job's stable idempotency key. Used on the worker's thread only.
struct ActionContext {
    var stripe: StripeClient
    var instantly: InstantlyClient
    var store: any WorkflowRecords
    var eventID: Int64
    var rule: String
    /// Stable across every attempt of the job: Stripe's `Idempotency-Key` is derived from it.
    var idempotencyKey: String
    var now: () -> Int64
    /// The catalog `tier:` arguments name, and `contact.register` checks its product against (and takes seats from).
    var catalog: Catalog = Catalog()
    /// When the job was due (its scheduled time, else when it was queued): the same on every attempt, so a tier
    /// chosen by date (`tier: [webinar/early-bird, webinar/regular]`) is the same on a retry after the deadline,
    /// and so is the request under the job's idempotency key.
    var dueAt: Int64 = 0
    /// The configured segments, re-evaluated by local actions that change the contact.
    var segments: [SegmentQuery] = []
    /// Where local actions leave what the engine acts on after the step (segment changes to start rules for).
    var effects: ActionEffects?
    /// Whether Stripe runs in dry-run: `stripe.get_payment_link` then answers a link a step of this database
    /// created with the metadata that step sent (`SQLiteWorkflowStore.createdPaymentLink`), as Stripe would.
    var stripeDryRun = false
    /// Whether Instantly runs in dry-run: writes are only recorded, so nothing waits for Instantly to apply them.
    var instantlyDryRun = false
    /// A preview (`FlowDryRun`): local actions say what they would record and write nothing.
    var storesNothing = false
}

/// What a local action changed that the engine acts on once the step is done: the segment entries and exits it
/// caused, whose rules start with the step's successors. One per step run, used on the worker's thread only.
final class ActionEffects {
    var transitions: [SegmentTransition] = []
}
