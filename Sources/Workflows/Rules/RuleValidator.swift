import Outbound

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
