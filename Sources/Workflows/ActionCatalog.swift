import Outbound

/// The actions a rule step can name, with the arguments each takes and the outputs later steps can read.
///
/// `hookyard check-config` validates rules against this catalog; `ActionRunner` executes them. Static and
/// thread-safe.
public enum ActionCatalog {
    /// One action's contract.
    public struct Spec: Sendable {
        public enum Provider: String, Sendable { case stripe = "Stripe", instantly = "Instantly", http = "HTTP", local }

        public var name: String
        public var provider: Provider
        public var required: [String]
        public var optional: [String]
        /// Top-level output fields (`steps.<step>.<field>`).
        public var outputs: [String]
        public var summary: String

        public var parameters: [String] { required + optional }
    }

    public static let specs: [Spec] = [
        Spec(name: "stripe.find_or_create_customer", provider: .stripe, required: ["email"], optional: ["name", "metadata"],
             outputs: ["customer_id", "created", "metadata_updated"],
             summary: "Finds the Stripe customer with this email (GET /v1/customers?email=, which reads its own writes; as given, then lower-cased) or creates one; on an existing customer, sets the metadata keys that are missing or differ."),
        Spec(name: "stripe.get_customer", provider: .stripe, required: ["id"], optional: [],
             outputs: ["customer_id", "email", "name", "metadata"],
             summary: "Retrieves a customer (GET /v1/customers/{id}): the email address behind a subscription or invoice event, which names only the customer's id."),
        Spec(name: "stripe.create_payment_link", provider: .stripe, required: [],
             optional: ["price", "tier", "quantity", "metadata", "prefilled_email", "seat_limit"],
             outputs: ["payment_link_id", "url", "stripe_url", "price_id", "tier", "tier_name", "amount", "currency", "metadata"],
             summary: "Creates a payment link for a price, or for a catalog tier (`tier: product/tier`, or a list: the first on sale when the job was due; its price found by lookup_key), with metadata; `url` carries ?prefilled_email= when given; with `seat_limit` (a whole number, at least 1) Stripe deactivates the link once that many payments completed (restrictions[completed_sessions][limit])."),
        Spec(name: "stripe.deactivate_payment_link", provider: .stripe, required: ["id"], optional: [],
             outputs: ["payment_link_id", "active", "changed"],
             summary: "Deactivates a payment link (POST /v1/payment_links/{id} active=false) so it takes no more payments; skips when it is already inactive."),
        Spec(name: "stripe.deactivate_payment_links", provider: .stripe, required: ["metadata"], optional: [],
             outputs: ["deactivated", "payment_link_ids"],
             summary: "Deactivates every active payment link whose metadata has all the given pairs (for instance every link for a sold-out product: {hookyard_product: webinar}); lists them (GET /v1/payment_links?active=true), then POSTs active=false to each; a retry finds only those still active."),
        Spec(name: "stripe.get_payment_link", provider: .stripe, required: ["id"], optional: [],
             outputs: ["payment_link_id", "url", "active", "metadata"],
             summary: "Retrieves a payment link (its metadata ties a payment back to the lead and campaign)."),
        Spec(name: "stripe.get_checkout_session", provider: .stripe, required: ["id"], optional: [],
             outputs: ["session_id", "status", "payment_status", "amount_total", "currency", "customer", "customer_email",
                       "payment_link", "client_reference_id", "metadata"],
             summary: "Retrieves a Checkout Session (fresh state, where a webhook's snapshot may be stale)."),
        Spec(name: "stripe.get_price", provider: .stripe, required: ["id"], optional: [],
             outputs: ["price_id", "active", "currency", "unit_amount", "product", "type", "recurring_interval"],
             summary: "Retrieves a price."),
        Spec(name: "instantly.add_lead", provider: .instantly, required: ["email", "campaign"],
             optional: ["first_name", "last_name", "company_name", "variables"],
             outputs: ["lead_id", "created"],
             summary: "Adds a lead to a campaign unless it is already there."),
        Spec(name: "instantly.remove_lead", provider: .instantly, required: ["email", "campaign"], optional: [],
             outputs: ["lead_id", "removed"],
             summary: "Removes a lead from a campaign (finds it, then DELETE /api/v2/leads/{id}); no such lead is removed: false, without a write."),
        Spec(name: "instantly.pause_campaign", provider: .instantly, required: ["campaign"], optional: [],
             outputs: ["campaign", "status", "changed"],
             summary: "Pauses a campaign (POST /api/v2/campaigns/{id}/pause) unless it is already paused."),
        Spec(name: "instantly.resume_campaign", provider: .instantly, required: ["campaign"], optional: [],
             outputs: ["campaign", "status", "changed"],
             summary: "Activates or resumes a campaign (POST /api/v2/campaigns/{id}/activate) unless it is already active or running subsequences."),
        Spec(name: "instantly.set_lead_variables", provider: .instantly, required: ["email", "campaign", "variables"], optional: [],
             outputs: ["lead_id", "changed"],
             summary: "Sets custom variables on a lead: reads the lead, merges, writes the whole set back (Instantly replaces it); skips when already set."),
        Spec(name: "instantly.move_lead", provider: .instantly, required: ["email", "from_campaign", "to_campaign"], optional: [],
             outputs: ["lead_id", "moved"],
             summary: "Moves a lead to another campaign and waits for Instantly's background job; skips when it is already there."),
        Spec(name: "instantly.set_interest_status", provider: .instantly, required: ["email", "campaign", "status"], optional: [],
             outputs: ["changed", "interest_value"],
             summary: "Sets a lead's interest status (interested, meeting_booked, meeting_completed, won, out_of_office, not_interested, wrong_person, lost, no_show, or the number) and waits until the lead shows it; skips when already set."),
        Spec(name: "http.post", provider: .http, required: ["target", "body"], optional: [],
             outputs: ["target", "status", "response"],
             summary: "POSTs `body` as JSON (keys sorted) to an http_targets entry, signed in Hookyard-Signature (t=…,v1=HMAC-SHA256, as Stripe signs) with the job's Idempotency-Key; 408, 429 and 5xx retry."),
        Spec(name: "record_purchase", provider: .local, required: ["reference", "amount", "currency"],
             optional: ["email", "campaign", "payment_link"],
             outputs: ["purchase_id", "created"],
             summary: "Records a purchase for revenue reports, once per reference (a Checkout Session id)."),
        Spec(name: "contact.register", provider: .local, required: ["email", "product"], optional: ["reference", "seats"],
             outputs: ["registered", "registrations", "seats", "seats_left", "sold_out"],
             summary: "Registers the contact for a catalog product, once per reference (a Checkout Session id; default: the step's own key) and per contact and product; counts the product's registrations against `seats` (default: the product's catalog seats) and says when they are sold out; re-evaluates the contact's segments (registered_for)."),
    ]

    private static let byName: [String: Spec] = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })

    public static func spec(_ name: String) -> Spec? { byName[name] }

    /// Instantly's interest status values by name.
    public static let interestStatuses: [String: Int] = [
        "interested": 1, "meeting_booked": 2, "meeting_completed": 3, "won": 4, "closed": 4, "out_of_office": 0,
        "not_interested": -1, "wrong_person": -2, "lost": -3, "no_show": -4,
    ]
}

/// Checks rules against the catalog and each other. Stateless.
public enum RuleValidator {
    /// The `http.post` steps whose `target` names no configured target. A target given by a template (`{{ … }}`) is
    /// only known when the step runs, and is not checked here.
    /// - Parameter httpTargets: the names under `http_targets:`.
    public static func httpTargetProblems(in rules: [Rule], httpTargets: Set<String>) -> [Problem] {
        var problems: [Problem] = []
        for (ruleIndex, rule) in rules.enumerated() {
            for (stepIndex, step) in rule.steps.enumerated() where step.action == "http.post" {
                guard let name = literal(step.arguments["target"]), !httpTargets.contains(name) else { continue }
                let known = httpTargets.isEmpty ? "none is configured under http_targets" : "configured: \(httpTargets.sorted().joined(separator: ", "))"
                problems.append(Problem(key: "rules[\(ruleIndex)].steps[\(stepIndex)].with.target",
                                        message: "no http_targets entry named '\(name)' (\(known))"))
            }
        }
        return problems
    }

    /// The `tier` arguments of `stripe.create_payment_link` steps that name no tier of `catalog` (`product/tier`),
    /// and the `product` arguments of `contact.register` steps that name no product of it. A tier or product given by
    /// a template is only known when the step runs, and is not checked here.
    public static func catalogProblems(in rules: [Rule], catalog: Catalog) -> [Problem] {
        var problems: [Problem] = []
        for (ruleIndex, rule) in rules.enumerated() {
            for (stepIndex, step) in rule.steps.enumerated() {
                if step.action == "contact.register", let name = literal(step.arguments["product"]), catalog.product(name) == nil {
                    problems.append(Problem(key: "rules[\(ruleIndex)].steps[\(stepIndex)].with.product",
                                            message: "no catalog product '\(name)' (\(catalog.productsDescription))"))
                }
                guard step.action == "stripe.create_payment_link" else { continue }
                let key = "rules[\(ruleIndex)].steps[\(stepIndex)].with.tier"
                let references: [Argument]
                switch step.arguments["tier"] {
                case .list(let items)?: references = items
                case let argument?: references = [argument]
                case nil: continue
                }
                for reference in references {
                    if let name = literal(reference), catalog.tier(name) == nil {
                        problems.append(Problem(key: key, message: catalog.unknownTier(name)))
                    }
                }
            }
        }
        return problems
    }

    /// The `metadata` arguments of the steps that send metadata to Stripe (`stripe.find_or_create_customer`,
    /// `stripe.create_payment_link`) that Stripe would refuse (`StripeMetadataLimits`): a key over 40 characters or
    /// with `[` or `]`, more than 50 keys (counting the `hookyard_product` and `hookyard_tier` a tier link adds), a
    /// value over 500 characters (a literal, or a template whose literal text alone is longer). Keys are located as
    /// `…with.metadata.<key>`.
    public static func metadataProblems(in rules: [Rule]) -> [Problem] {
        var problems: [Problem] = []
        for (ruleIndex, rule) in rules.enumerated() {
            for (stepIndex, step) in rule.steps.enumerated()
            where ["stripe.find_or_create_customer", "stripe.create_payment_link"].contains(step.action) {
                guard case .map(let members)? = step.arguments["metadata"] else { continue }
                let key = "rules[\(ruleIndex)].steps[\(stepIndex)].with.metadata"
                for (name, argument) in members.sorted(by: { $0.key < $1.key }) {
                    if let problem = StripeMetadataLimits.keyProblem(name) {
                        problems.append(Problem(key: "\(key).\(name)", message: problem))
                    }
                    if let text = literal(argument), let problem = StripeMetadataLimits.valueProblem(text) {
                        problems.append(Problem(key: "\(key).\(name)", message: problem))
                    } else if case .template(let template) = argument, !template.paths.isEmpty {
                        let fixed = template.parts.reduce(0) { total, part in
                            if case .literal(let text) = part { return total + text.count }
                            return total
                        }
                        if fixed > StripeMetadataLimits.maxValueLength {
                            problems.append(Problem(key: "\(key).\(name)", message: "Stripe refuses metadata values over \(StripeMetadataLimits.maxValueLength) characters (this one has \(fixed) before its placeholders are filled)"))
                        }
                    }
                }
                let added = step.action == "stripe.create_payment_link" && step.arguments["tier"] != nil
                    ? ["hookyard_product", "hookyard_tier"].filter { members[$0] == nil } : []
                if members.count + added.count > StripeMetadataLimits.maxKeys {
                    let detail = added.isEmpty ? "this has \(members.count)"
                        : "this link would have \(members.count + added.count): the \(members.count) given, plus \(added.joined(separator: " and ")) for its tier"
                    problems.append(Problem(key: key, message: "Stripe refuses more than \(StripeMetadataLimits.maxKeys) metadata keys (\(detail))"))
                }
            }
        }
        return problems
    }

    /// The text of an argument known before the step runs (a value, or a template without paths); else `nil`.
    private static func literal(_ argument: Argument?) -> String? {
        switch argument {
        case .value(let value)?: return value.text
        case .template(let template)? where template.paths.isEmpty: return try? template.render(in: .object([:])).text
        default: return nil
        }
    }

    /// One problem, located by its key path inside the rule list (`rules[0].steps[2].with.price`).
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var key: String
        public var message: String
        public var description: String { "\(key): \(message)" }
    }

    /// Every problem in `rules`: duplicate rule or step names, unknown actions, unknown or missing arguments, and
    /// templates naming a step that does not run before the one using it (or an output that step does not have).
    public static func problems(in rules: [Rule]) -> [Problem] {
        var problems: [Problem] = []
        var ruleNames: Set<String> = []
        for (ruleIndex, rule) in rules.enumerated() {
            let ruleKey = "rules[\(ruleIndex)]"
            if !ruleNames.insert(rule.name).inserted {
                problems.append(Problem(key: "\(ruleKey).name", message: "another rule is already named '\(rule.name)'"))
            }
            if rule.trigger.segmentChange == nil, rule.trigger.eventTypes.isEmpty {
                problems.append(Problem(key: "\(ruleKey).on.event", message: "names no event type"))
            }
            for condition in rule.trigger.conditions where condition.path.first != "event" {
                problems.append(Problem(key: "\(ruleKey).on.where", message: "'\(condition.path.joined(separator: "."))' must start with event."))
            }
            if let oncePer = rule.oncePer {
                if rule.trigger.segmentChange != nil {
                    problems.append(Problem(key: "\(ruleKey).once_per", message: "a rule on a segment runs once per entry already; remove once_per"))
                } else if oncePer.paths.contains(where: { $0.first != "event" }) {
                    problems.append(Problem(key: "\(ruleKey).once_per", message: "may only use event fields ({{ event.… }})"))
                }
            }
            if rule.steps.isEmpty {
                problems.append(Problem(key: "\(ruleKey).steps", message: "a rule needs at least one step"))
            }
            var earlier: [String: ActionCatalog.Spec] = [:]
            for (stepIndex, step) in rule.steps.enumerated() {
                let stepKey = "\(ruleKey).steps[\(stepIndex)]"
                if earlier[step.name] != nil || rule.steps[..<stepIndex].contains(where: { $0.name == step.name }) {
                    problems.append(Problem(key: "\(stepKey).name", message: "another step of this rule is already named '\(step.name)'"))
                }
                guard let spec = ActionCatalog.spec(step.action) else {
                    let known = ActionCatalog.specs.map(\.name).joined(separator: ", ")
                    problems.append(Problem(key: "\(stepKey).action", message: "unknown action '\(step.action)' (known: \(known))"))
                    continue
                }
                for name in step.arguments.keys.sorted() where !spec.parameters.contains(name) {
                    problems.append(Problem(key: "\(stepKey).with.\(name)",
                                            message: "\(spec.name) has no argument '\(name)' (it takes: \(spec.parameters.joined(separator: ", ")))"))
                }
                for name in spec.required where step.arguments[name] == nil {
                    problems.append(Problem(key: "\(stepKey).with", message: "\(spec.name) needs argument '\(name)'"))
                }
                if spec.name == "stripe.create_payment_link", (step.arguments["price"] == nil) == (step.arguments["tier"] == nil) {
                    let message = step.arguments["price"] == nil ? "stripe.create_payment_link needs price (a price id) or tier (product/tier from catalog:)"
                        : "stripe.create_payment_link takes price or tier, not both"
                    problems.append(Problem(key: "\(stepKey).with", message: message))
                }
                var paths: [(String, [String])] = []
                for (name, argument) in step.arguments {
                    for template in argument.templates { paths += template.paths.map { ("\(stepKey).with.\(name)", $0) } }
                }
                for condition in step.conditions { paths.append(("\(stepKey).if", condition.path)) }
                for condition in step.skipConditions { paths.append(("\(stepKey).when", condition.path)) }
                if case .at(let template, _)? = step.schedule {
                    // The time is worked out when the step is queued, from the event and the earlier steps.
                    for path in template.paths where path.first == "contact" {
                        problems.append(Problem(key: "\(stepKey).at", message: "'\(path.joined(separator: "."))': at: may use event. and steps., not contact."))
                    }
                    if stepIndex == 0, rule.trigger.segmentChange != nil {
                        problems.append(Problem(key: "\(stepKey).at", message: "the first step of a rule on a segment has no event to read a time from; use after:"))
                    }
                    paths += template.paths.filter { $0.first != "contact" }.map { ("\(stepKey).at", $0) }
                }
                for (key, path) in paths where path.first == "steps" {
                    guard path.count >= 3, let source = earlier[path[1]] else {
                        let name = path.count > 1 ? path[1] : ""
                        problems.append(Problem(key: key, message: "'\(path.joined(separator: "."))' names step '\(name)', which does not run before this one"))
                        continue
                    }
                    if !source.outputs.contains(path[2]) {
                        problems.append(Problem(key: key, message: "step '\(path[1])' (\(source.name)) has no output '\(path[2])' (it has: \(source.outputs.joined(separator: ", ")))"))
                    }
                }
                for (key, path) in paths where !["steps", "event", "contact", "catalog"].contains(path.first ?? "") {
                    problems.append(Problem(key: key, message: "'\(path.joined(separator: "."))' must start with event., contact., steps. or catalog."))
                }
                earlier[step.name] = spec
            }
        }
        return problems + metadataProblems(in: rules)
    }
}
