import Contacts
import Cryptography
import Foundation
import Outbound
import Store
import Synchronization

/// What an action needs to run once: provider clients (live or dry-run, wrapped to record their requests), the
/// worker's store, and the job's stable idempotency key.
struct ActionContext {
    var stripe: StripeClient
    var instantly: InstantlyClient
    var store: WorkflowStore
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
    /// created with the metadata that step sent (`WorkflowStore.createdPaymentLink`), as Stripe would.
    var stripeDryRun = false
    /// Whether Instantly runs in dry-run: writes are only recorded, so nothing waits for Instantly to apply them.
    var instantlyDryRun = false
}

/// What a local action changed that the engine acts on once the step is done: the segment entries and exits it
/// caused, whose rules start with the step's successors. One per step run, used on the worker's thread only.
final class ActionEffects {
    var transitions: [SegmentTransition] = []
}

/// Executes the catalog's actions. Every action is idempotent across attempts of the same job: Stripe writes carry
/// an `Idempotency-Key` derived from the job, and Instantly writes (which have no keys) first read the current state
/// and skip what is already done.
///
/// `http.post` targets (`http_targets:`) are the runner's own: the engine's providers are Stripe and Instantly.
///
/// Thread-safe: the shared state is the per-email lock that keeps two flows for the same person from creating two
/// Stripe customers at once, and the `http.post` targets (swapped whole by `update(httpTargets:)`).
public final class ActionRunner: Sendable {
    /// How long `instantly.move_lead` and `instantly.set_interest_status` wait for Instantly's background work
    /// to show before retrying later.
    let moveWaitMilliseconds: Int
    /// The first wait before looking again; it doubles up to 2 s.
    let movePollMilliseconds: Int
    private let customerLocks = KeyedLocks()
    /// `http.post` targets by name.
    private let httpTargets: Mutex<[String: HTTPTarget]>

    /// - Parameter httpTargets: the `http_targets:` entries `http.post` may name.
    public init(moveWaitMilliseconds: Int = 15_000, movePollMilliseconds: Int = 250, httpTargets: [HTTPTarget] = []) {
        self.moveWaitMilliseconds = moveWaitMilliseconds
        self.movePollMilliseconds = max(1, movePollMilliseconds)
        self.httpTargets = Mutex(Dictionary(httpTargets.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }))
    }

    /// Replaces the `http.post` targets (configuration reload); jobs that start afterwards use the new ones.
    public func update(httpTargets targets: [HTTPTarget]) {
        httpTargets.withLock { $0 = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }) }
    }

    /// Runs `action` with rendered `arguments`. - Returns: the output object later steps read.
    /// - Throws: `ProviderFailure` (argument errors are non-retryable failures that name the argument).
    func run(_ action: String, _ arguments: Arguments, in context: ActionContext) throws(ProviderFailure) -> JSONValue {
        switch action {
        case "stripe.find_or_create_customer": return try findOrCreateCustomer(arguments, context)
        case "stripe.create_payment_link": return try createPaymentLink(arguments, context)
        case "stripe.deactivate_payment_link": return try deactivatePaymentLink(arguments, context)
        case "stripe.deactivate_payment_links": return try deactivatePaymentLinks(arguments, context)
        case "stripe.get_customer": return try getCustomer(arguments, context)
        case "stripe.get_payment_link": return try getPaymentLink(arguments, context)
        case "stripe.get_checkout_session":
            let session = try context.stripe.retrieveCheckoutSession(id: try arguments.string("id"))
            return .object(["session_id": .string(session.id), "status": Self.optional(session.status),
                            "payment_status": Self.optional(session.paymentStatus),
                            "amount_total": session.amountTotal.map { .integer(Int64($0)) } ?? .null,
                            "currency": Self.optional(session.currency), "customer": Self.optional(session.customer),
                            "customer_email": Self.optional(session.customerEmail), "payment_link": Self.optional(session.paymentLink),
                            "client_reference_id": Self.optional(session.clientReferenceID), "metadata": Self.object(session.metadata)])
        case "stripe.get_price":
            let price = try context.stripe.retrievePrice(id: try arguments.string("id"))
            return .object(["price_id": .string(price.id), "active": .bool(price.active), "currency": Self.optional(price.currency),
                            "unit_amount": price.unitAmount.map { .integer(Int64($0)) } ?? .null,
                            "product": Self.optional(price.product), "type": Self.optional(price.type),
                            "recurring_interval": Self.optional(price.recurringInterval)])
        case "instantly.add_lead": return try addLead(arguments, context)
        case "instantly.remove_lead": return try removeLead(arguments, context)
        case "instantly.pause_campaign": return try setCampaign(arguments, context, pause: true)
        case "instantly.resume_campaign": return try setCampaign(arguments, context, pause: false)
        case "instantly.set_lead_variables": return try setLeadVariables(arguments, context)
        case "instantly.move_lead": return try moveLead(arguments, context)
        case "instantly.set_interest_status": return try setInterestStatus(arguments, context)
        case "record_purchase": return try recordPurchase(arguments, context)
        case "contact.register": return try register(arguments, context)
        case "http.post": return try httpPost(arguments, context)
        default: throw Arguments.failure("unknown action '\(action)'")
        }
    }

    // MARK: Stripe

    /// One person, one Stripe customer, whatever case their address arrives in. Stripe's `email` filter is
    /// case-sensitive, so the customer is looked up by the normalised address (`EmailAddress.normalized`, the form
    /// Hookyard creates customers with), then by the address as received (a customer created elsewhere with that
    /// spelling), both through the list endpoint, which reads its own writes; then through the Search API by
    /// `metadata['hookyard_email']` (finds a customer Hookyard created with an address whose spelling no list lookup
    /// matches, e.g. an email edited in the Dashboard; eventually consistent, so it only comes last). A new customer
    /// gets the normalised address and `metadata[hookyard_email]` (the rule's value for that key, normalised, if it
    /// sets one), with an idempotency
    /// key derived from the normalised address and the request's fields, so a retry, or another flow for the same
    /// person sending the same fields, replays Stripe's answer instead of creating a second customer. A customer
    /// found without `hookyard_email` gets it with the rule's missing metadata.
    private func findOrCreateCustomer(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
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
        return try customerLocks.withLock(email) { () throws(ProviderFailure) -> JSONValue in
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

    /// The customer, its `email` Stripe's or, when Stripe has none (a customer created without one, or a dry run,
    /// whose made-up answer has none), that of the contact this customer id is linked to.
    private func getCustomer(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let customer = try context.stripe.retrieveCustomer(id: try arguments.string("id"))
        var email = customer.email.flatMap { $0.isEmpty ? nil : $0 }
        if email == nil {
            do {
                email = try context.store.contacts.email(ofCustomer: customer.id)
            } catch {
                throw ProviderFailure(message: "reading the contact of customer \(customer.id) failed: \(error)", status: nil, retryable: true,
                                      retryAfterMilliseconds: nil)
            }
        }
        return .object(["customer_id": .string(customer.id), "email": Self.optional(email), "name": Self.optional(customer.name),
                        "metadata": Self.object(customer.metadata)])
    }

    private func createPaymentLink(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let quantity = try arguments.optionalInt("quantity") ?? 1
        guard quantity >= 1 else { throw Arguments.failure("argument 'quantity' must be at least 1") }
        let seatLimit = try arguments.optionalInt("seat_limit")
        if let seatLimit, seatLimit < 1 { throw Arguments.failure("argument 'seat_limit' must be at least 1") }
        // The report learns which rule made a link from `payment_links_sent`, not from added metadata: a body that
        // changed under the same Idempotency-Key (a job retried across an upgrade) would be refused by Stripe.
        var metadata = try arguments.stringPairs("metadata")
        var output: [String: JSONValue] = [:]
        let price: String
        if let tiers = try arguments.optionalStrings("tier") {
            guard arguments.values["price"].map(\.isNull) ?? true else { throw Arguments.failure("give price or tier, not both") }
            let chosen: (product: CatalogProduct, tier: CatalogTier)
            do {
                chosen = try context.catalog.tierOnSale(tiers, at: context.dueAt)
            } catch {
                throw Arguments.failure("argument 'tier': \(error.message)")
            }
            let reference = "\(chosen.product.key)/\(chosen.tier.key)"
            let lookupKey = chosen.tier.lookupKey
            guard let found = try context.stripe.prices(lookupKeys: [lookupKey]).first(where: { $0.active && $0.lookupKey == lookupKey }) else {
                throw Arguments.failure("tier \(reference): Stripe has no active price with lookup_key '\(lookupKey)'; run `hookyard catalog sync`")
            }
            price = found.id
            // What a payment on the link was for, unless the rule says otherwise.
            for (key, value) in [("hookyard_product", chosen.product.key), ("hookyard_tier", chosen.tier.key)]
            where !metadata.contains(where: { $0.0 == key }) {
                metadata.append((key, value))
            }
            metadata.sort { $0.0 < $1.0 }
            output = ["tier": .string(reference), "tier_name": .string(chosen.tier.key), "price_id": .string(price),
                      "amount": .integer(chosen.tier.amount), "currency": .string(chosen.tier.currency)]
        } else {
            price = try arguments.string("price")
            output["price_id"] = .string(price)
        }
        // Rendered values (a lead's field, say) can exceed what Stripe accepts: say so instead of sending a request it refuses.
        if let problem = StripeMetadataLimits.problem(metadata) { throw Arguments.failure("argument 'metadata': \(problem)") }
        let link = try context.stripe.createPaymentLink(price: price, quantity: quantity, metadata: metadata, seatLimit: seatLimit,
                                                        idempotencyKey: context.idempotencyKey)
        var url = link.url
        if let email = try arguments.optionalString("prefilled_email"), !email.isEmpty {
            url += (url.contains("?") ? "&" : "?") + "prefilled_email=" + FormEncoder.percentEncode(email)
        }
        output["payment_link_id"] = .string(link.id)
        output["url"] = .string(url)
        output["stripe_url"] = .string(link.url)
        // What Stripe copies onto each Checkout Session of the link (`hookyard trigger` walk-throughs read it back).
        output["metadata"] = .object(Dictionary(metadata.map { ($0.0, JSONValue.string($0.1)) }, uniquingKeysWith: { _, last in last }))
        return .object(output)
    }

    /// `GET /v1/payment_links/{id}`. In dry-run the request is only recorded, and the dry-run transport knows no
    /// link; for a link a `stripe.create_payment_link` step of this database created, the answer carries the
    /// metadata that step sent (the link's `url` is the dry-run one either way), so a walk-through's later steps
    /// read what they would read live. A link this database did not create keeps the transport's empty metadata.
    private func getPaymentLink(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let id = try arguments.string("id")
        let link = try context.stripe.retrievePaymentLink(id: id)
        var metadata = link.metadata
        if context.stripeDryRun, metadata.isEmpty {
            let created: CreatedPaymentLink?
            do {
                created = try context.store.createdPaymentLink(id: id)
            } catch {
                throw ProviderFailure(message: "reading payment link \(id) from the store failed: \(error)", status: nil, retryable: true,
                                      retryAfterMilliseconds: nil)
            }
            if let created { metadata = created.metadata }
        }
        return .object(["payment_link_id": .string(link.id), "url": .string(link.url), "active": .bool(link.active),
                        "metadata": Self.object(metadata)])
    }

    /// Reads the link first: an inactive one (deactivated by an earlier attempt whose answer was lost, by hand, or
    /// by Stripe at its seat limit) is left alone, so a retry writes nothing.
    private func deactivatePaymentLink(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let id = try arguments.string("id")
        let current = try context.stripe.retrievePaymentLink(id: id)
        guard current.active else {
            return .object(["payment_link_id": .string(current.id), "active": .bool(false), "changed": .bool(false)])
        }
        let link = try context.stripe.deactivatePaymentLink(id: id, idempotencyKey: context.idempotencyKey)
        return .object(["payment_link_id": .string(link.id), "active": .bool(link.active), "changed": .bool(true)])
    }

    /// Lists the active links, keeps those whose metadata has every pair asked for, and deactivates each under
    /// its own idempotency key (the job's plus the link id). A retry lists again and sees only the links still
    /// active, so it writes nothing twice.
    private func deactivatePaymentLinks(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let wanted = try arguments.stringPairs("metadata")
        guard !wanted.isEmpty else {
            throw Arguments.failure("argument 'metadata' must name at least one key, or every payment link of the account would be deactivated")
        }
        let matching = try context.stripe.activePaymentLinks().filter { link in wanted.allSatisfy { link.metadata[$0.0] == $0.1 } }
        var deactivated: [JSONValue] = []
        for link in matching {
            _ = try context.stripe.deactivatePaymentLink(id: link.id, idempotencyKey: context.idempotencyKey + "/" + link.id)
            deactivated.append(.string(link.id))
        }
        return .object(["deactivated": .integer(Int64(deactivated.count)), "payment_link_ids": .array(deactivated)])
    }

    // MARK: Instantly

    private func addLead(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        if let lead = try context.instantly.findLead(email: email, campaign: campaign) {
            return .object(["lead_id": .string(lead.id), "created": .bool(false)])
        }
        let lead = try context.instantly.createLead(campaign: campaign, email: email,
                                                    firstName: try arguments.optionalString("first_name"),
                                                    lastName: try arguments.optionalString("last_name"),
                                                    companyName: try arguments.optionalString("company_name"),
                                                    variables: try arguments.scalarMap("variables"))
        return .object(["lead_id": .string(lead.id), "created": .bool(true)])
    }

    /// Finds the lead in the campaign and deletes it; no lead (never added, removed by hand, or by an earlier
    /// attempt whose answer was lost) is `removed: false` without a write.
    private func removeLead(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        guard let lead = try context.instantly.findLead(email: email, campaign: campaign) else {
            return .object(["lead_id": .null, "removed": .bool(false)])
        }
        _ = try context.instantly.deleteLead(id: lead.id)
        return .object(["lead_id": .string(lead.id), "removed": .bool(true)])
    }

    /// Reads the campaign's status first and posts pause (unless paused) or activate (unless active or running
    /// subsequences) only when needed, so a retry writes nothing once the first attempt took effect.
    private func setCampaign(_ arguments: Arguments, _ context: ActionContext, pause: Bool) throws(ProviderFailure) -> JSONValue {
        let id = try arguments.string("campaign")
        let current = try context.instantly.campaign(id: id)
        let done = pause ? current.status == InstantlyCampaign.paused
            : [InstantlyCampaign.active, InstantlyCampaign.runningSubsequences].contains(current.status)
        guard !done else {
            return .object(["campaign": .string(current.id), "status": .string(current.statusName), "changed": .bool(false)])
        }
        let updated = pause ? try context.instantly.pauseCampaign(id: id) : try context.instantly.activateCampaign(id: id)
        return .object(["campaign": .string(updated.id), "status": .string(updated.statusName), "changed": .bool(true)])
    }

    private func setLeadVariables(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        let wanted = try arguments.scalarMap("variables")
        guard let lead = try context.instantly.findLead(email: email, campaign: campaign) else {
            throw Arguments.failure("Instantly has no lead \(email) in campaign \(campaign)")
        }
        // PATCH replaces custom_variables as a whole: merge into what the lead has, and skip if nothing changes.
        let merged = lead.variables.merging(wanted) { _, new in new }
        guard merged != lead.variables else { return .object(["lead_id": .string(lead.id), "changed": .bool(false)]) }
        _ = try context.instantly.replaceLeadVariables(id: lead.id, variables: merged)
        return .object(["lead_id": .string(lead.id), "changed": .bool(true)])
    }

    private func moveLead(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let email = try arguments.string("email")
        let from = try arguments.string("from_campaign")
        let to = try arguments.string("to_campaign")
        guard from != to else { throw Arguments.failure("from_campaign and to_campaign are the same campaign (\(from))") }
        guard let lead = try context.instantly.findLead(email: email, campaign: from) else {
            // Already moved (by an earlier attempt whose answer was lost, or by hand)?
            if let moved = try context.instantly.findLead(email: email, campaign: to) {
                return .object(["lead_id": .string(moved.id), "moved": .bool(false)])
            }
            throw Arguments.failure("Instantly has no lead \(email) in campaign \(from) or \(to)")
        }
        var job = try context.instantly.moveLead(id: lead.id, fromCampaign: from, toCampaign: to)
        if !job.isFinished {
            _ = try waitForInstantly { () throws(ProviderFailure) -> Bool in
                job = try context.instantly.backgroundJob(id: job.id)
                return job.isFinished
            }
        }
        guard job.isFinished else {
            throw ProviderFailure(message: "Instantly is still moving lead \(email) (background job \(job.id), status \(job.status)); will check again",
                                  status: nil, retryable: true, retryAfterMilliseconds: 5_000)
        }
        guard job.succeeded else {
            throw ProviderFailure(message: "Instantly's background job \(job.id) moving lead \(email) ended with status \(job.status)",
                                  status: nil, retryable: true, retryAfterMilliseconds: nil)
        }
        return .object(["lead_id": .string(lead.id), "moved": .bool(true)])
    }

    private func setInterestStatus(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let email = try arguments.string("email")
        let campaign = try arguments.string("campaign")
        let status = try arguments.value("status")
        let value: Int
        if let number = status.int64Value {
            value = Int(number)
        } else if let named = ActionCatalog.interestStatuses[status.text.lowercased()] {
            value = named
        } else {
            throw Arguments.failure("argument 'status': '\(status.text)' is not an interest status (\(ActionCatalog.interestStatuses.keys.sorted().joined(separator: ", ")), or a number)")
        }
        let lead = try context.instantly.findLead(email: email, campaign: campaign)
        if lead?.interestStatus == value {
            return .object(["changed": .bool(false), "interest_value": .integer(Int64(value))])
        }
        try context.instantly.updateInterestStatus(email: email, campaign: campaign, value: value)
        // Instantly applies the status in the background (202). Wait until the lead shows it, so the next step
        // (typically a move to another campaign) runs after it; if it does not show in time, check again later
        // (the retry reads the state first and does not post twice once it shows). In dry-run nothing was sent, and
        // the made-up lead never shows a status: there is nothing to wait for.
        if lead != nil, !context.instantlyDryRun {
            let shown = try waitForInstantly { () throws(ProviderFailure) -> Bool in
                guard let current = try context.instantly.findLead(email: email, campaign: campaign) else { return true }
                return current.interestStatus == value
            }
            guard shown else {
                throw ProviderFailure(message: "Instantly has not applied interest status \(value) to \(email) yet; will check again",
                                      status: nil, retryable: true, retryAfterMilliseconds: 5_000)
            }
        }
        return .object(["changed": .bool(true), "interest_value": .integer(Int64(value))])
    }

    /// Instantly does some writes in the background: asks `done` after a pause that starts at
    /// `movePollMilliseconds` and doubles up to 2 s, until it says yes or `moveWaitMilliseconds` have passed.
    /// - Returns: whether `done` said yes in time.
    private func waitForInstantly(_ done: () throws(ProviderFailure) -> Bool) throws(ProviderFailure) -> Bool {
        var waited = 0
        var pause = movePollMilliseconds
        while waited < moveWaitMilliseconds {
            Thread.sleep(forTimeInterval: Double(pause) / 1000)
            waited += pause
            pause = min(pause * 2, 2_000)
            if try done() { return true }
        }
        return false
    }

    // MARK: HTTP

    /// Posts the rendered `body` (compact JSON, keys sorted: the same bytes on every attempt) to the named target,
    /// signed at this attempt's time, with the job's idempotency key. The receiver deduplicates on the key, so a
    /// retry after a lost answer does no harm there.
    private func httpPost(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let name = try arguments.string("target")
        let body = try arguments.value("body")
        guard let target = httpTargets.withLock({ $0[name] }) else {
            let known = httpTargets.withLock { $0.keys.sorted() }
            throw Arguments.failure("http.post: no http_targets entry named '\(name)' (configured: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        let bytes = body.bytes
        let timestamp = context.now() / 1000
        let response = try target.post(body: bytes, idempotencyKey: context.idempotencyKey, timestamp: timestamp)
        let text = response.bodyText
        let answer: JSONValue = (try? JSONValue.parse(response.body)) ?? .string(String(text.prefix(4096)))
        var output: [String: JSONValue] = ["target": .string(name), "status": .integer(Int64(response.status)), "response": answer]
        if target.isDryRun {
            let request = target.request(body: bytes, idempotencyKey: context.idempotencyKey, timestamp: timestamp)
            output["dry_run"] = .bool(true)
            output["requests"] = .array([.object(["method": .string(request.method), "url": .string(target.url),
                                                  "body": .string(request.bodyText), "idempotency_key": .string(context.idempotencyKey)])])
        }
        return .object(output)
    }

    // MARK: Local

    private func recordPurchase(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        guard let amount = try arguments.value("amount").int64Value else {
            throw Arguments.failure("argument 'amount' must be a whole number (the smallest currency unit, as Stripe sends it)")
        }
        let purchase = Purchase(eventID: context.eventID, reference: try arguments.string("reference"),
                                email: try arguments.optionalString("email"), amount: amount,
                                currency: try arguments.string("currency").lowercased(),
                                campaignID: try arguments.optionalString("campaign"),
                                paymentLink: try arguments.optionalString("payment_link"), rule: context.rule)
        do {
            let (id, created) = try context.store.recordPurchase(purchase, now: context.now())
            return .object(["purchase_id": .integer(id), "created": .bool(created)])
        } catch {
            throw ProviderFailure(message: "recording the purchase failed: \(error)", status: nil, retryable: true, retryAfterMilliseconds: nil)
        }
    }

    /// Registers the contact for a catalog product (`SQLiteContactStore.register`): idempotent per reference, so an
    /// attempt that runs again reports what the first reported. The segment changes go to `context.effects`.
    private func register(_ arguments: Arguments, _ context: ActionContext) throws(ProviderFailure) -> JSONValue {
        let email = try arguments.string("email")
        let key = try arguments.string("product")
        guard let product = context.catalog.product(key) else {
            throw Arguments.failure("argument 'product': no catalog product '\(key)' (\(context.catalog.productsDescription))")
        }
        let seats = try arguments.optionalInt("seats") ?? product.seats
        if let seats, seats < 1 { throw Arguments.failure("argument 'seats' must be at least 1") }
        let reference = try arguments.optionalString("reference") ?? context.idempotencyKey
        let result: RegistrationResult
        do {
            result = try context.store.contacts.register(email: email, product: product.key, reference: reference, seats: seats,
                                                         eventID: context.eventID, segments: context.segments, now: context.now())
        } catch ContactStorageError.emptyEmail {
            throw Arguments.failure("argument 'email' is not an address")
        } catch {
            throw ProviderFailure(message: "registering \(email) for \(product.key) failed: \(error)", status: nil, retryable: true,
                                  retryAfterMilliseconds: nil)
        }
        context.effects?.transitions += result.transitions
        return .object(["registered": .bool(result.created), "registrations": .integer(Int64(result.registrations)),
                        "seats": result.seats.map { .integer(Int64($0)) } ?? .null,
                        "seats_left": result.seatsLeft.map { .integer(Int64($0)) } ?? .null, "sold_out": .bool(result.soldOut)])
    }

    private static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    private static func object(_ strings: [String: String]) -> JSONValue { .object(strings.mapValues(JSONValue.string)) }
}

/// A step's rendered arguments, with typed accessors whose errors name the argument.
struct Arguments {
    var values: [String: JSONValue]

    static func failure(_ message: String) -> ProviderFailure {
        ProviderFailure(message: message, status: nil, retryable: false, retryAfterMilliseconds: nil)
    }

    func value(_ name: String) throws(ProviderFailure) -> JSONValue {
        guard let value = values[name], !value.isNull else { throw Self.failure("argument '\(name)' is missing") }
        return value
    }

    func string(_ name: String) throws(ProviderFailure) -> String {
        let value = try value(name)
        switch value {
        case .array, .object: throw Self.failure("argument '\(name)' must be text, not \(value.serialized())")
        default:
            let text = value.text
            guard !text.isEmpty else { throw Self.failure("argument '\(name)' is empty") }
            return text
        }
    }

    func optionalString(_ name: String) throws(ProviderFailure) -> String? {
        guard let value = values[name], !value.isNull else { return nil }
        return try string(name)
    }

    /// One text value or a list of them; `nil` when absent.
    func optionalStrings(_ name: String) throws(ProviderFailure) -> [String]? {
        guard let value = values[name], !value.isNull else { return nil }
        guard case .array(let items) = value else { return [try string(name)] }
        var texts: [String] = []
        for item in items {
            switch item {
            case .array, .object, .null: throw Self.failure("argument '\(name)' must be text or a list of text")
            default: texts.append(item.text)
            }
        }
        guard !texts.isEmpty else { throw Self.failure("argument '\(name)' is an empty list") }
        return texts
    }

    func optionalInt(_ name: String) throws(ProviderFailure) -> Int? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let number = value.int64Value else { throw Self.failure("argument '\(name)' must be a whole number, not \(value.serialized())") }
        return Int(number)
    }

    /// A map of text values, sorted by key (so requests are byte-for-byte the same on every attempt).
    func stringPairs(_ name: String) throws(ProviderFailure) -> [(String, String)] {
        guard let value = values[name], !value.isNull else { return [] }
        guard case .object(let members) = value else { throw Self.failure("argument '\(name)' must be a map") }
        var pairs: [(String, String)] = []
        for key in members.keys.sorted() {
            let member = members[key]!
            switch member {
            case .array, .object: throw Self.failure("argument '\(name).\(key)' must be text")
            default: pairs.append((key, member.text))
            }
        }
        return pairs
    }

    /// A map of Instantly custom-variable values (text, numbers, booleans, null; no lists or maps).
    func scalarMap(_ name: String) throws(ProviderFailure) -> [String: InstantlyValue] {
        guard let value = values[name], !value.isNull else { return [:] }
        guard case .object(let members) = value else { throw Self.failure("argument '\(name)' must be a map") }
        var result: [String: InstantlyValue] = [:]
        for (key, member) in members {
            switch member {
            case .null: result[key] = .null
            case .bool(let flag): result[key] = .bool(flag)
            case .integer(let number): result[key] = .number(Double(number))
            case .number(let number): result[key] = .number(number)
            case .string(let text): result[key] = .string(text)
            case .array, .object: throw Self.failure("argument '\(name).\(key)': Instantly custom variables must be text, numbers or booleans")
            }
        }
        return result
    }
}

/// Mutual exclusion per key (for instance per email), for work that must not run twice at once for the same key.
/// Thread-safe; keys are forgotten when no one holds them.
final class KeyedLocks: @unchecked Sendable {  // Safe: `held` is only read or changed with `condition` locked.
    private var held: Set<String> = []
    private let condition = NSCondition()

    func withLock<T, E: Error>(_ key: String, _ body: () throws(E) -> T) throws(E) -> T {
        condition.lock()
        while held.contains(key) { condition.wait() }
        held.insert(key)
        condition.unlock()
        defer {
            condition.lock()
            held.remove(key)
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
