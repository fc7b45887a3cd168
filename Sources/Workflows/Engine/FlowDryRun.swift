import Contacts
import Foundation
import HookyardFoundation
import Jobs
import Outbound
import Store
import StrictJSON

/// A preview of what rules would do with an event, storing and sending nothing: for each rule (or one), the
/// trigger's verdict (`Trigger.evaluate`, as the engine matches), its `once_per` key and contact filter, then each
/// step in order decided by `StepGate` (the step runner's own guards) and run through dry-run transports, so the
/// answer is the exact Stripe and Instantly requests each step would make, step by step, each step seeing the
/// previous steps' outputs as a real flow would. Scheduled steps (`after:`, `at:`) are previewed at once, with their
/// schedule noted. `hookyard dry-run` and the MCP tool `dry_run_rule` show this same value.
///
/// What it does not judge: the loop guard and the daily caps (they depend on the moment a flow starts, and
/// counting them writes), and Stripe answers (dry-run answers stand in, as in a dry-run daemon). Reads the store
/// (the contact, created payment links, registrations), never writes to it. An immutable value (thread-safe); each
/// `run` uses the `store` it is given on the calling thread only.
public struct FlowDryRun: Sendable {
    public let rules: [Rule]
    public let policy: ContactPolicy
    public let catalog: Catalog
    public let providers: ProviderSet
    public let runner: ActionRunner

    public init(rules: [Rule], policy: ContactPolicy, catalog: Catalog, providers: ProviderSet, runner: ActionRunner) {
        self.rules = rules
        self.policy = policy
        self.catalog = catalog
        self.providers = providers
        self.runner = runner
    }

    /// One rule's preview.
    public struct RuleRun: Sendable {
        public var rule: String
        public var triggered: Bool
        public var reason: String?
        /// `once:<key>` or `event:<id>`: the flow a real run would start.
        public var flow: String?
        public var steps: [StepRun]
    }

    /// One step's preview: `ran` (with its requests and output), `skipped` (this step only), `ends flow`, or
    /// `failed` (the action's error, as the job would record it).
    public struct StepRun: Sendable {
        public var step: String
        public var action: String
        public var outcome: String
        public var reason: String?
        public var schedule: String?
        public var arguments: JSONValue
        public var requests: [JSONValue]
        public var output: JSONValue
    }

    /// Previews `rule` (every rule when `nil`) on an event of `source` and `type` with `body` (as received);
    /// `eventID` is the stored event's id, if it is one.
    /// - Throws: `FlowDryRunError.unknownRule` for a rule not configured.
    public func run(rule name: String?, source: EventSource, type: String, body: JSONValue, eventID: Int64?, store: any WorkflowRecords,
                    now: Int64) throws -> [RuleRun] {
        if let name, !rules.contains(where: { $0.name == name }) {
            throw FlowDryRunError.unknownRule(name, known: rules.map(\.name))
        }
        let view = StoredEventReading.ruleView(source: source, type: type, body: body)
        let observation = policy.reader.observation(eventID: eventID ?? 0, source: source, type: type, body: body, receivedAt: now)
        var email = observation?.email
        if email == nil, let customer = observation?.stripeCustomerID { email = try store.contacts.email(ofCustomer: customer) }
        let contact = try email.flatMap { try store.contacts.contact(email: $0) }
        var results: [RuleRun] = []
        for rule in rules where name == nil || rule.name == name {
            let evaluation = rule.trigger.evaluate(source: source, type: type, event: view)
            var run = RuleRun(rule: rule.name, triggered: evaluation.matched, reason: evaluation.reason, flow: nil, steps: [])
            guard evaluation.matched else {
                results.append(run)
                continue
            }
            if rule.oncePer != nil {
                guard let key = rule.oncePerKey(in: view) else {
                    run.reason = "once_per \(rule.oncePer!) has no value in this event: the engine skips the rule"
                    results.append(run)
                    continue
                }
                run.flow = "once:\(key)"
            } else {
                run.flow = "event:\(eventID.map(String.init) ?? "new")"
            }
            if let filter = rule.contactFilter {
                guard let contact, try store.contacts.evaluate(contactID: contact.id, queries: [filter], now: now).first == true else {
                    run.reason = contact == nil ? "its if: tests the contact, and this event names no known contact"
                                                : "the contact does not pass its if:: the engine holds the rule back"
                    results.append(run)
                    continue
                }
            }
            if let percent = rule.rolloutPercent, let key = email ?? run.flow, !Rollout.includes(key, rule: rule.name, percent: percent) {
                run.reason = "rollout: outside the rule's \(Rollout.describe(percent)) share: the engine holds the rule back"
                results.append(run)
                continue
            }
            run.steps = try steps(of: rule, flow: run.flow ?? "", event: view, contact: contact, email: email, eventID: eventID ?? 0,
                                  store: store, now: now)
            results.append(run)
        }
        return results
    }

    private func steps(of rule: Rule, flow: String, event: JSONValue, contact: Contact?, email: String?, eventID: Int64,
                       store: any WorkflowRecords, now: Int64) throws -> [StepRun] {
        var outputs: [String: JSONValue] = [:]
        var runs: [StepRun] = []
        var contactJSON: JSONValue = contact.map(policy.view(of:)) ?? .null
        for step in rule.steps {
            let context = JSONValue.object(["event": event, "steps": .object(outputs), "contact": contactJSON, "catalog": catalog.json])
            let schedule = step.schedule.map { "\($0)" }
            let gate = try StepGate.decide(step, context: context, contactID: contact?.id, contacts: store.contacts, clock: { now })
            switch gate {
            case .endFlow(let reason):
                runs.append(StepRun(step: step.name, action: step.action, outcome: "ends flow", reason: reason, schedule: schedule,
                                    arguments: .null, requests: [], output: .object(["skipped": .string(reason)])))
                return runs
            case .skipStep(let reason):
                let output = JSONValue.object(["skipped": .string(reason)])
                outputs[step.name] = output
                runs.append(StepRun(step: step.name, action: step.action, outcome: "skipped", reason: reason, schedule: schedule,
                                    arguments: .null, requests: [], output: output))
            case .run(let arguments, _):
                let stripe = RecordingProviderTransport(providers.stripe)
                let instantly = RecordingProviderTransport(providers.instantly)
                let actionContext = ActionContext(
                    stripe: StripeClient(transport: stripe), instantly: InstantlyClient(transport: instantly), store: store, eventID: eventID,
                    rule: rule.name, idempotencyKey: "hookyard-" + FormEncoder.percentEncode("flow:\(rule.name):dry-run:\(flow):\(step.name)"),
                    now: { now }, catalog: catalog, dueAt: now, segments: policy.segments, effects: ActionEffects(),
                    stripeDryRun: true, instantlyDryRun: true, storesNothing: true)
                do {
                    let result = try runner.run(step.action, Arguments(values: arguments), in: actionContext)
                    var stored = result.objectValue ?? ["result": result]
                    let requests = [stripe, instantly].flatMap(StepRunner.describeRequests)
                    if !requests.isEmpty {
                        stored["dry_run"] = .bool(true)
                        stored["requests"] = .array(requests)
                    }
                    outputs[step.name] = .object(stored)
                    runs.append(StepRun(step: step.name, action: step.action, outcome: "ran", reason: nil, schedule: schedule,
                                        arguments: .object(arguments), requests: requests, output: .object(stored)))
                } catch {
                    runs.append(StepRun(step: step.name, action: step.action, outcome: "failed", reason: error.message, schedule: schedule,
                                        arguments: .object(arguments), requests: [stripe, instantly].flatMap(StepRunner.describeRequests),
                                        output: .null))
                    return runs
                }
            }
            if contactJSON == .null, let email, let found = try store.contacts.contact(email: email) {
                contactJSON = policy.view(of: found)
            }
        }
        return runs
    }
}

/// Why a dry run could not start. A value.
public enum FlowDryRunError: Error, CustomStringConvertible, Equatable, Sendable {
    case unknownRule(String, known: [String])

    public var description: String {
        switch self {
        case .unknownRule(let name, let known):
            "no rule '\(name)' in the configuration (rules: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        }
    }
}

extension FlowDryRun.RuleRun {
    /// The preview as text: the verdict, then each step with its requests.
    public var text: String {
        var lines = ["rule \(rule): " + (triggered ? (reason.map { "triggered, but \($0)" } ?? "triggered, flow \(flow ?? "")")
                                                   : "not triggered: \(reason ?? "no match")")]
        for step in steps {
            lines.append("  step \(step.step) (\(step.action))\(step.schedule.map { ", scheduled \($0)" } ?? ""): \(step.outcome)"
                         + (step.reason.map { ": \($0)" } ?? ""))
            for request in step.requests {
                let method = request["method"]?.stringValue ?? ""
                let url = request["url"]?.stringValue ?? request["path"]?.stringValue ?? ""
                lines.append("    \(method) \(url)")
                if let body = request["body"]?.stringValue, !body.isEmpty { lines.append("      \(body)") }
            }
            if step.requests.isEmpty, step.outcome == "ran", let output = step.output.objectValue {
                lines.append("    (local) \(JSONValue.object(output).serialized())")
            }
        }
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        .object([
            "rule": .string(rule), "triggered": .bool(triggered), "reason": reason.map(JSONValue.string) ?? .null,
            "flow": flow.map(JSONValue.string) ?? .null,
            "steps": .array(steps.map { step in
                .object(["step": .string(step.step), "action": .string(step.action), "outcome": .string(step.outcome),
                         "reason": step.reason.map(JSONValue.string) ?? .null, "schedule": step.schedule.map(JSONValue.string) ?? .null,
                         "arguments": step.arguments, "requests": .array(step.requests), "output": step.output])
            }),
        ])
    }
}
