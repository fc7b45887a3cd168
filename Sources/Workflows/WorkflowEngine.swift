import Foundation
import Logging
import Outbound
import Store
import Synchronization

/// The provider connections workflows use: live transports when API keys are configured, dry-run transports
/// (which record the exact requests and send nothing) when they are not.
public struct ProviderSet: Sendable {
    public var stripe: any ProviderTransport
    public var instantly: any ProviderTransport
    public var stripeDryRun: Bool
    public var instantlyDryRun: Bool

    public init(stripe: any ProviderTransport, instantly: any ProviderTransport, stripeDryRun: Bool, instantlyDryRun: Bool) {
        self.stripe = stripe
        self.instantly = instantly
        self.stripeDryRun = stripeDryRun
        self.instantlyDryRun = instantlyDryRun
    }

    /// Both providers in dry-run.
    public static var dryRun: ProviderSet {
        ProviderSet(stripe: DryRunProviderTransport(provider: "Stripe"), instantly: DryRunProviderTransport(provider: "Instantly"),
                    stripeDryRun: true, instantlyDryRun: true)
    }
}

/// Runs the jobs of the queue: `process_event` jobs match an event against the rules and queue the first step of
/// each rule it starts; step jobs (kind = the action's name) run one step and queue the next.
///
/// A step job's input names its rule, step and flow and carries the earlier steps' outputs, so it is
/// self-contained: the next step is created in the transaction that records this one's output, and a crash at
/// any point resumes at the step that was running. Step jobs are keyed `flow:<rule>:<flow>:<step>`, unique in
/// the queue, so a flow never runs a step twice, and a rule with `once_per` never starts a second flow for the
/// same value. Thread-safe; `update(rules:)` swaps the rules for jobs that start afterwards.
public final class WorkflowEngine: JobHandler {
    public static let processEventKind = "process_event"

    private let rules: Mutex<[Rule]>
    private let providers: ProviderSet
    private let runner: ActionRunner
    private let logger: Logger
    private let clock: @Sendable () -> Int64

    public init(rules: [Rule], providers: ProviderSet, runner: ActionRunner = ActionRunner(), logger: Logger,
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.rules = Mutex(rules)
        self.providers = providers
        self.runner = runner
        self.logger = logger
        self.clock = clock
    }

    /// Replaces the rules (configuration reload). Steps already queued keep running against the rule of the same
    /// name; one whose rule or step is gone fails with a message saying so.
    public func update(rules newRules: [Rule]) {
        rules.withLock { $0 = newRules }
    }

    public var currentRules: [Rule] { rules.withLock { $0 } }

    public func run(_ job: Job, store: WorkflowStore) -> JobOutcome {
        do throws(ProviderFailure) {
            if job.kind == Self.processEventKind { return try processEvent(job, store: store) }
            guard ActionCatalog.spec(job.kind) != nil else {
                throw Arguments.failure("no handler for job kind '\(job.kind)'")
            }
            return try runStep(job, store: store)
        } catch {
            return .failed(error: error.message, status: error.status, retryable: error.retryable,
                           retryAfterMilliseconds: error.retryAfterMilliseconds)
        }
    }

    // MARK: Matching

    private func storedEvent(_ job: Job, store: WorkflowStore) throws(ProviderFailure) -> (source: EventSource, type: String, body: [UInt8]) {
        let stored: (source: EventSource, type: String, body: [UInt8])?
        do {
            stored = try store.event(id: job.eventID)
        } catch {
            throw ProviderFailure(message: "reading event \(job.eventID) failed: \(error)", status: nil, retryable: true, retryAfterMilliseconds: nil)
        }
        guard let stored else { throw Arguments.failure("event \(job.eventID) is not in the database") }
        return stored
    }

    private func parse(_ body: [UInt8], of job: Job) throws(ProviderFailure) -> JSONValue {
        do {
            return try JSONValue.parse(body)
        } catch {
            throw Arguments.failure("event \(job.eventID) is not JSON: \(error)")
        }
    }

    private func processEvent(_ job: Job, store: WorkflowStore) throws(ProviderFailure) -> JobOutcome {
        // Most events (sends, opens) start no rule: decide that from the source and type before reading the body.
        let header: (source: EventSource, type: String)?
        do {
            header = try store.eventHeader(id: job.eventID)
        } catch {
            throw ProviderFailure(message: "reading event \(job.eventID) failed: \(error)", status: nil, retryable: true, retryAfterMilliseconds: nil)
        }
        guard let (source, type) = header.map({ ($0.source, $0.type) }) else {
            throw Arguments.failure("event \(job.eventID) is not in the database")
        }
        let candidates = currentRules.filter { $0.trigger.source == source && $0.trigger.eventTypes.contains(type) }
        guard !candidates.isEmpty else { return .succeeded(output: #"{"matched":[]}"#, followUps: []) }
        let body = try parse(try storedEvent(job, store: store).body, of: job)
        let now = clock()
        // Dry-run flows have keys of their own: a lead walked through in dry-run still starts the real flow once
        // the API keys are set.
        let mode = providers.stripeDryRun || providers.instantlyDryRun ? "dry-run:" : ""
        var matched: [JSONValue] = []
        var followUps: [NewJob] = []
        for rule in candidates where rule.trigger.matches(type: type, event: body) {
            guard let first = rule.steps.first else { continue }
            let flow: String
            if let oncePer = rule.oncePer {
                guard let value = try? oncePer.render(in: .object(["event": body])),
                      case let key = value.text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased(), !key.isEmpty else {
                    matched.append(.object(["rule": .string(rule.name), "skipped": .string("once_per \(oncePer) has no value in this event")]))
                    continue
                }
                flow = "\(mode)once:\(key)"
            } else {
                flow = "\(mode)event:\(job.eventID)"
            }
            matched.append(.object(["rule": .string(rule.name), "flow": .string(flow)]))
            followUps.append(stepJob(rule: rule, step: first, flow: flow, outputs: [:], now: now))
        }
        if !matched.isEmpty {
            logger.info("event matched rules", metadata: ["event": .stringConvertible(job.eventID), "type": "\(type)",
                                                          "rules": "\(matched.compactMap { $0["rule"]?.text }.joined(separator: ","))"])
        }
        let output = JSONValue.object(["matched": .array(matched)])
        return .succeeded(output: output.serialized(), followUps: followUps)
    }

    private func stepJob(rule: Rule, step: Step, flow: String, outputs: [String: JSONValue], now: Int64) -> NewJob {
        let input = JSONValue.object(["rule": .string(rule.name), "step": .string(step.name), "flow": .string(flow),
                                      "steps": .object(outputs)])
        return NewJob(kind: step.action, idempotencyKey: "flow:\(rule.name):\(flow):\(step.name)", input: input.serialized(), runAt: now)
    }

    // MARK: Steps

    private func runStep(_ job: Job, store: WorkflowStore) throws(ProviderFailure) -> JobOutcome {
        guard let input = try? JSONValue.parse(job.input ?? ""), let ruleName = input["rule"]?.stringValue,
              let stepName = input["step"]?.stringValue, let flow = input["flow"]?.stringValue,
              case .object(let outputs)? = input["steps"] else {
            throw Arguments.failure("job \(job.id) has no valid step input")
        }
        guard let rule = currentRules.first(where: { $0.name == ruleName }) else {
            throw Arguments.failure("rule '\(ruleName)' is no longer configured")
        }
        guard let (index, step) = rule.step(named: stepName).map({ ($0.index, $0.step) }), step.action == job.kind else {
            throw Arguments.failure("rule '\(ruleName)' no longer has a step '\(stepName)' running \(job.kind) (the configuration changed)")
        }
        let body = try parse(try storedEvent(job, store: store).body, of: job)
        let context = JSONValue.object(["event": body, "steps": .object(outputs)])

        if let failed = step.conditions.first(where: { !$0.holds(in: context) }) {
            logger.info("step skipped; flow ends", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                             "step": "\(stepName)", "condition": "\(failed)"])
            return .succeeded(output: JSONValue.object(["skipped": .string("condition \(failed) does not hold")]).serialized(), followUps: [])
        }

        var rendered: [String: JSONValue] = [:]
        for (name, argument) in step.arguments {
            do {
                rendered[name] = try argument.render(in: context)
            } catch {
                throw Arguments.failure("step '\(stepName)' argument '\(name)': \(error)")
            }
        }

        let stripe = RecordingProviderTransport(providers.stripe)
        let instantly = RecordingProviderTransport(providers.instantly)
        let actionContext = ActionContext(stripe: StripeClient(transport: stripe), instantly: InstantlyClient(transport: instantly),
                                          store: store, eventID: job.eventID, rule: ruleName,
                                          idempotencyKey: Self.stripeIdempotencyKey(job), now: clock)
        let result = try runner.run(step.action, Arguments(values: rendered), in: actionContext)

        var stored = result.objectValue ?? ["result": result]
        let dryRunRequests = (providers.stripeDryRun ? stripe.requests : []) + (providers.instantlyDryRun ? instantly.requests : [])
        if !dryRunRequests.isEmpty {
            stored["dry_run"] = .bool(true)
            stored["requests"] = .array(dryRunRequests.map(Self.describe))
            logger.info("dry run: step recorded the requests it would send", metadata: [
                "job_id": .stringConvertible(job.id), "rule": "\(ruleName)", "step": "\(stepName)",
                // Paths without their query: a query can carry an email address, which stays out of info logs.
                "requests": "\(dryRunRequests.map { "\($0.method) \($0.path.split(separator: "?")[0])" }.joined(separator: "; "))"])
        }
        var followUps: [NewJob] = []
        if index + 1 < rule.steps.count {
            var next = outputs
            next[stepName] = result
            followUps.append(stepJob(rule: rule, step: rule.steps[index + 1], flow: flow, outputs: next, now: clock()))
        }
        return .succeeded(output: JSONValue.object(stored).serialized(), followUps: followUps)
    }

    /// Stripe's `Idempotency-Key` for a job: its queue key (stable across attempts, unique per rule, flow and
    /// step), percent-encoded to plain ASCII, and shortened with the job id if longer than Stripe's 255 characters.
    static func stripeIdempotencyKey(_ job: Job) -> String {
        let key = "hookyard-" + FormEncoder.percentEncode(job.idempotencyKey)
        guard key.utf8.count > 255 else { return key }
        return String(key.prefix(200)) + "-job\(job.id)"
    }

    /// A request as a dry-run output shows it: method, path, body; never a key.
    static func describe(_ request: ProviderRequest) -> JSONValue {
        var object: [String: JSONValue] = ["method": .string(request.method), "path": .string(request.path)]
        if !request.body.isEmpty { object["body"] = .string(request.bodyText) }
        if let key = request.idempotencyKey { object["idempotency_key"] = .string(key) }
        return .object(object)
    }
}
