import Alerts
import Contacts
import Foundation
import Jobs
import Logging
import Outbound
import Store
import Synchronization

/// How the engine keeps contacts (issue 5): what events say about people, how engagement is scored, the segments
/// compiled to SQL, and the loop guard's limits. A value type; swapped as a whole on reload.
public struct ContactPolicy: Sendable {
    public var reader: ContactEventReader
    public var engagement: EngagementPolicy
    /// Every configured segment, in configuration order.
    public var segments: [SegmentQuery]
    /// An Instantly event about a lead within this long after Hookyard's own write to that lead (for a rule) does
    /// not start that rule again.
    public var loopGuardMilliseconds: Int64
    /// A rule starts at most this many flows per contact in any 24 hours.
    public var maxRuleRunsPerDay: Int

    public init(reader: ContactEventReader = ContactEventReader(), engagement: EngagementPolicy = EngagementPolicy(),
                segments: [SegmentQuery] = [], loopGuardMilliseconds: Int64 = 300_000, maxRuleRunsPerDay: Int = 3) {
        self.reader = reader
        self.engagement = engagement
        self.segments = segments
        self.loopGuardMilliseconds = loopGuardMilliseconds
        self.maxRuleRunsPerDay = maxRuleRunsPerDay
    }
}

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
/// each rule it starts; step jobs (kind = the action's name) run one step and queue the next. The engine registers
/// these kinds (`jobKinds`, with Alerts' `alert.notify`) for the worker pool, which runs them with a `WorkflowStore` of
/// the worker's own.
///
/// A step job's input names its rule, step and flow and carries the earlier steps' outputs, so it is
/// self-contained: the next step is created in the transaction that records this one's output, and a crash at
/// any point resumes at the step that was running. Step jobs are keyed `flow:<rule>:<flow>:<step>`, unique in
/// the queue, so a flow never runs a step twice, and a rule with `once_per` never starts a second flow for the
/// same value.
///
/// Contacts: `process_event` first applies the event to its contact (one idempotent transaction,
/// `ContactStore.apply`), then starts the rules the event triggers and those on the segments the contact entered
/// or left. Before a flow starts, the rule's `if:` is tested on the contact, the loop guard holds back a rule that
/// Hookyard's own recent write to the lead would restart, and `maxRuleRunsPerDay` caps flows per contact; each
/// hold is logged and recorded in the job's output. Steps of Instantly actions skip contacts marked do-not-contact
/// (unsubscribed or bounced), whatever the rule says.
///
/// Alerts: with a `DeliverabilityWatch`, each Instantly event is also judged for account errors and deliverability
/// (campaign pauses join the event's follow-ups); `alert.notify` jobs post to the `AlertWebhook`, and
/// `deliverability.pause_campaign` jobs pause a campaign as `instantly.pause_campaign` does.
///
/// Thread-safe; `update(rules:contacts:)` swaps the configuration for jobs that start afterwards.
public final class WorkflowEngine: Sendable {
    public static let processEventKind = "process_event"

    private let rules: Mutex<[Rule]>
    private let contactPolicy: Mutex<ContactPolicy>
    /// The catalog and its JSON (`catalog.` in templates), swapped together.
    private let catalogState: Mutex<(catalog: Catalog, json: JSONValue)>
    private let providers: ProviderSet
    private let runner: ActionRunner
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    /// Judges Instantly events for account errors and deliverability; `nil`: no alerts.
    private let deliverability: DeliverabilityWatch?
    /// Where `alert.notify` jobs post; `nil`: such a job fails (no webhook is configured).
    private let alertWebhook: AlertWebhook?
    /// Stripe events in an API version other than `stripe.api_version` are logged once per version.
    private let stripeAPIVersions: StripeAPIVersionWatch

    /// - Parameters:
    ///   - deliverability: when given, Instantly events raise and clear account-error and deliverability alerts, and
    ///     campaign pauses are queued with the event's job.
    ///   - alertWebhook: runs the `alert.notify` jobs.
    ///   - stripeAPIVersion: `stripe.api_version`; a Stripe event in another version is logged as a warning, once
    ///     per version. `nil`: not checked.
    public init(rules: [Rule], contacts: ContactPolicy = ContactPolicy(), catalog: Catalog = Catalog(), providers: ProviderSet,
                runner: ActionRunner = ActionRunner(), logger: Logger,
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
                deliverability: DeliverabilityWatch? = nil, alertWebhook: AlertWebhook? = nil, stripeAPIVersion: String? = nil) {
        self.rules = Mutex(rules)
        self.contactPolicy = Mutex(contacts)
        self.catalogState = Mutex((catalog, catalog.json))
        self.providers = providers
        self.runner = runner
        self.logger = logger
        self.clock = clock
        self.deliverability = deliverability
        self.alertWebhook = alertWebhook
        self.stripeAPIVersions = StripeAPIVersionWatch(configured: stripeAPIVersion)
    }

    /// Replaces the rules (configuration reload). Steps already queued keep running against the rule of the same
    /// name; one whose rule or step is gone fails with a message saying so.
    public func update(rules newRules: [Rule], contacts: ContactPolicy? = nil, catalog: Catalog? = nil, stripeAPIVersion: String? = nil) {
        rules.withLock { $0 = newRules }
        if let stripeAPIVersion { stripeAPIVersions.update(configured: stripeAPIVersion) }
        if let contacts { contactPolicy.withLock { $0 = contacts } }
        if let catalog { catalogState.withLock { $0 = (catalog, catalog.json) } }
    }

    public var currentCatalog: Catalog { catalogState.withLock { $0.catalog } }

    private var catalogJSON: JSONValue { catalogState.withLock { $0.json } }

    public var currentRules: [Rule] { rules.withLock { $0 } }

    public var currentContactPolicy: ContactPolicy { contactPolicy.withLock { $0 } }

    /// The job kinds the engine runs, for the worker pool: `process_event` (quiet when it starts nothing), one kind
    /// per action of `ActionCatalog` (a step), `deliverability.pause_campaign`, and Alerts' `alert.notify` on the
    /// engine's alert webhook. Built on each call: build it once and hand it to the pool.
    public var jobKinds: JobKinds {
        var kinds = JobKinds()
        kinds.register(Self.processEventKind, quiet: true, handler: WorkflowJob(engine: self, part: .processEvent))
        for spec in ActionCatalog.specs { kinds.register(spec.name, handler: WorkflowJob(engine: self, part: .step)) }
        kinds.register(DeliverabilityWatch.pauseJobKind, handler: WorkflowJob(engine: self, part: .campaignPause))
        AlertNotificationJob.register(in: &kinds, webhook: alertWebhook)
        return kinds
    }

    /// Runs one attempt of `job` on `store`, as a worker would (through `jobKinds`, built for this call): for tests and
    /// one-off runs.
    public func run(_ job: Job, store: WorkflowStore) -> JobOutcome {
        let context = WorkerContext(databasePath: "", worker: "direct")
        context.adopt(WorkflowStoreResource(store))
        return jobKinds.run(job, context: context)
    }

    /// Runs one attempt of a job of the engine's own kinds (`WorkflowJob`).
    func run(_ part: WorkflowJob.Part, _ job: Job, store: WorkflowStore) throws(JobFailure) -> JobOutcome {
        switch part {
        case .processEvent: try processEvent(job, store: store)
        case .step: try runStep(job, store: store)
        case .campaignPause: try pauseCampaign(job, store: store)
        }
    }

    // MARK: Matching

    private func storedEvent(_ job: Job, store: WorkflowStore) throws(JobFailure) -> (source: EventSource, type: String, body: [UInt8]) {
        let stored: (source: EventSource, type: String, body: [UInt8])?
        do {
            stored = try store.event(id: job.eventID)
        } catch {
            throw JobFailure.storage("reading event \(job.eventID)", error)
        }
        guard let stored else { throw JobFailure.invalidJob("event \(job.eventID) is not in the database") }
        return stored
    }

    private func parse(_ body: [UInt8], of job: Job) throws(JobFailure) -> JSONValue {
        do {
            return try JSONValue.parse(body)
        } catch {
            throw JobFailure.invalidJob("event \(job.eventID) is not JSON: \(error)")
        }
    }

    private static func storeFailure(_ what: String, _ error: any Error) -> JobFailure {
        JobFailure.storage(what, error)
    }

    private var flowMode: String {
        // Dry-run flows have keys of their own: a lead walked through in dry-run still starts the real flow once
        // the API keys are set.
        providers.stripeDryRun || providers.instantlyDryRun ? "dry-run:" : ""
    }

    private func processEvent(_ job: Job, store: WorkflowStore) throws(JobFailure) -> JobOutcome {
        let stored = try storedEvent(job, store: store)
        let policy = currentContactPolicy
        let rules = currentRules
        // A pruned or redacted event has no body left: nothing to learn, nothing to match.
        let body: JSONValue? = stored.body.isEmpty ? nil : try parse(stored.body, of: job)
        let now = clock()

        var change: ContactChange?
        var observedAt: Int64?
        if let body, let observation = policy.reader.observation(eventID: job.eventID, source: stored.source, type: stored.type,
                                                                   body: body, receivedAt: job.createdAt) {
            observedAt = observation.occurredAt
            do {
                change = try store.contacts.apply(observation, policy: policy.engagement, segments: policy.segments, now: now)
            } catch {
                throw Self.storeFailure("updating the contact for event \(job.eventID)", error)
            }
        }

        if stored.source == .stripe, let body { noteAPIVersion(of: body, eventID: job.eventID, type: stored.type) }

        var report: [JSONValue] = []
        var followUps: [NewJob] = []
        if let body = body.map({ Self.ruleView(source: stored.source, type: stored.type, body: $0) }) {
            let candidates = rules.filter { $0.trigger.segmentChange == nil && $0.trigger.source == stored.source }
            for rule in candidates where rule.trigger.matches(type: stored.type, event: body) {
                guard let first = rule.steps.first else { continue }
                let flow: String
                if let oncePer = rule.oncePer {
                    guard let value = try? oncePer.render(in: .object(["event": body])),
                          case let key = value.text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased(), !key.isEmpty else {
                        report.append(.object(["rule": .string(rule.name), "skipped": .string("once_per \(oncePer) has no value in this event")]))
                        continue
                    }
                    flow = "\(flowMode)once:\(key)"
                } else {
                    flow = "\(flowMode)event:\(job.eventID)"
                }
                let loopGuardFrom = stored.source == .instantly ? observedAt.map { $0 - policy.loopGuardMilliseconds } : nil
                if let held = try hold(rule, flow: flow, contactID: change?.contactID, email: change?.email,
                                       loopGuardFrom: loopGuardFrom, policy: policy, store: store, eventID: job.eventID, now: now) {
                    report.append(.object(["rule": .string(rule.name), "held": .string(held)]))
                    logger.info("rule held back", metadata: ["event": .stringConvertible(job.eventID), "rule": "\(rule.name)",
                                                            "contact_id": change?.contactID.map { .stringConvertible($0) } ?? "-", "reason": "\(held)"])
                    continue
                }
                if let first = startFlow(rule, step: first, flow: flow, contact: change?.email, context: .object(["event": body, "catalog": catalogJSON]),
                                         eventID: job.eventID, now: now, report: &report) {
                    followUps.append(first)
                }
            }
        }
        if stored.source == .instantly, let body, let deliverability {
            followUps += deliverability.observe(type: stored.type, account: ContactEventReader.sendingAccount(in: body),
                                                campaign: body["campaign_id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                                                eventID: job.eventID, occurredAt: observedAt ?? job.createdAt,
                                                reader: store.contacts.deliverabilityReader())
        }
        let transitions = change?.transitions ?? []
        let segmentStarts = try segmentJobs(for: transitions, rules: rules, policy: policy, store: store, now: now)
        report += segmentStarts.report
        followUps += segmentStarts.jobs

        let started = report.compactMap { $0["flow"] != nil ? $0["rule"]?.text : nil }
        if !started.isEmpty {
            logger.info("event matched rules", metadata: ["event": .stringConvertible(job.eventID), "type": "\(stored.type)",
                                                          "rules": "\(started.joined(separator: ","))"])
        }
        var output: [String: JSONValue] = ["matched": .array(report)]
        if let change {
            output["contact_id"] = change.contactID.map(JSONValue.integer) ?? .null
            if change.pending { output["contact"] = .string("pending: the Stripe customer is not linked to an email yet") }
            if !transitions.isEmpty {
                output["segments"] = .array(transitions.map {
                    .string("\($0.entered ? "entered" : "left") \($0.segment)\($0.entered ? " (#\($0.entry))" : "")")
                })
            }
        }
        return .succeeded(output: JSONValue.object(output).serialized(), followUps: followUps)
    }

    /// The first steps of the rules on the segments in `transitions`, each once per entry (or exit), and what was
    /// held back. Used for changes an event caused and for those the clock caused (`ContactMaintenance`).
    public func segmentJobs(for transitions: [SegmentTransition], store: WorkflowStore, now: Int64) throws(JobFailure)
        -> (jobs: [NewJob], report: [JSONValue]) {
        try segmentJobs(for: transitions, rules: currentRules, policy: currentContactPolicy, store: store, now: now)
    }

    private func segmentJobs(for transitions: [SegmentTransition], rules: [Rule], policy: ContactPolicy, store: WorkflowStore,
                             now: Int64) throws(JobFailure) -> (jobs: [NewJob], report: [JSONValue]) {
        var jobs: [NewJob] = []
        var report: [JSONValue] = []
        for transition in transitions {
            let change = SegmentChange(segment: transition.segment, entered: transition.entered)
            for rule in rules where rule.trigger.segmentChange == change {
                guard let first = rule.steps.first else { continue }
                // A contact known only from Hookyard's own writes has no event yet, and every job belongs to one.
                guard transition.eventID > 0 else {
                    report.append(.object(["rule": .string(rule.name), "held": .string("the contact has no event yet")]))
                    logger.info("rule held back", metadata: ["rule": "\(rule.name)", "contact_id": .stringConvertible(transition.contactID),
                                                            "reason": "the contact has no event yet"])
                    continue
                }
                let flow = "\(flowMode)segment:\(transition.segment):\(transition.entered ? "entered" : "left"):\(transition.contactID):\(transition.entry)"
                if let held = try hold(rule, flow: flow, contactID: transition.contactID, email: transition.email, loopGuardFrom: nil,
                                       policy: policy, store: store, eventID: transition.eventID, now: now) {
                    report.append(.object(["rule": .string(rule.name), "held": .string(held)]))
                    logger.info("rule held back", metadata: ["event": .stringConvertible(transition.eventID), "rule": "\(rule.name)",
                                                            "contact_id": .stringConvertible(transition.contactID), "reason": "\(held)"])
                    continue
                }
                if var job = startFlow(rule, step: first, flow: flow, contact: transition.email, context: .object(["catalog": catalogJSON]),
                                       eventID: transition.eventID, now: now, report: &report) {
                    job.eventID = transition.eventID
                    jobs.append(job)
                }
            }
        }
        return (jobs, report)
    }

    /// Why `rule` must not start `flow` for this contact, or `nil` when it may: its `if:` on the contact, the loop
    /// guard (Hookyard's own write to the lead for this rule at or after `loopGuardFrom`), its staged rollout
    /// (contacts outside the share are held back and counted), and the daily caps, per contact and for everyone
    /// (`max_per_day`; held back and counted). The caps are checked last and record the run, so a flow that starts is
    /// counted once, however often its event is processed again.
    private func hold(_ rule: Rule, flow: String, contactID: Int64?, email: String?, loopGuardFrom: Int64?, policy: ContactPolicy,
                      store: WorkflowStore, eventID: Int64, now: Int64) throws(JobFailure) -> String? {
        do {
            if let filter = rule.contactFilter {
                guard let contactID else { return "its if: tests the contact, and this event names no contact" }
                guard try store.contacts.evaluate(contactID: contactID, queries: [filter], now: now).first == true else {
                    return "the contact does not pass its if:"
                }
            }
            guard let email else {
                // No contact to count: a rollout decides by the flow, and the caps cannot apply.
                if let percent = rule.rolloutPercent, !Rollout.includes(flow, rule: rule.name, percent: percent) {
                    return "rollout: outside the rule's \(Rollout.describe(percent)) share"
                }
                return nil
            }
            if let loopGuardFrom, let wrote = try store.contacts.lastOwnWrite(email: email, rule: rule.name), wrote >= loopGuardFrom {
                return "loop guard: this rule wrote to the lead at \(ContactJSON.isoTime(wrote)), shortly before this event"
            }
            if let percent = rule.rolloutPercent, !Rollout.includes(email, rule: rule.name, percent: percent) {
                try store.contacts.recordHoldback(rule: rule.name, email: email, reason: "rollout", eventID: eventID, at: now)
                return "rollout: held back, outside the rule's \(Rollout.describe(percent)) share (counted for comparison)"
            }
            let cap = rule.maxRunsPerDay ?? policy.maxRuleRunsPerDay
            guard cap > 0 || rule.maxPerDay != nil else { return nil }
            switch try store.contacts.admitRuleRun(rule: rule.name, email: email, flow: "\(rule.name):\(flow)", now: now, maxPerDay: cap,
                                                   maxTotalPerDay: rule.maxPerDay, eventID: eventID) {
            case .admitted: return nil
            case .contactCap:
                return "\(rule.maxRunsPerDay == nil ? "max_rule_runs_per_day" : "max_runs_per_day"): the rule ran \(cap) times for this contact in the last 24 hours"
            case .ruleCap:
                return "max_per_day: the rule started \(rule.maxPerDay ?? 0) flows in the last 24 hours (held back, counted for comparison)"
            }
        } catch {
            throw Self.storeFailure("checking rule \(rule.name) for the contact", error)
        }
    }

    /// The first step's job of a flow that may start, noted in `report`; `nil` (noted as held, and logged as an
    /// error) when its schedule cannot be worked out, so one misconfigured rule does not stop the others.
    private func startFlow(_ rule: Rule, step: Step, flow: String, contact: String?, context: JSONValue, eventID: Int64, now: Int64,
                           report: inout [JSONValue]) -> NewJob? {
        do throws(JobFailure) {
            let job = try stepJob(rule: rule, step: step, flow: flow, outputs: [:], contact: contact, context: context, now: now)
            report.append(.object(["rule": .string(rule.name), "flow": .string(flow)]))
            return job
        } catch {
            report.append(.object(["rule": .string(rule.name), "held": .string(error.message)]))
            logger.error("rule not started", metadata: ["event": .stringConvertible(eventID), "rule": "\(rule.name)", "error": "\(error.message)"])
            return nil
        }
    }

    private func stepJob(rule: Rule, step: Step, flow: String, outputs: [String: JSONValue], contact: String?, context: JSONValue,
                         now: Int64) throws(JobFailure) -> NewJob {
        var input: [String: JSONValue] = ["rule": .string(rule.name), "step": .string(step.name), "flow": .string(flow),
                                          "steps": .object(outputs)]
        if let contact { input["contact"] = .string(contact) }
        let runAt = try scheduledTime(of: step, context: context, now: now)
        if runAt > now { input["scheduled_for"] = ContactJSON.time(runAt) }
        return NewJob(kind: step.action, idempotencyKey: "flow:\(rule.name):\(flow):\(step.name)", input: JSONValue.object(input).serialized(),
                      runAt: runAt)
    }

    /// When `step` is due, given the flow so far: now, a wait after now (`after:`), or the time its `at:` renders
    /// to plus the offset (at once when that is past).
    private func scheduledTime(of step: Step, context: JSONValue, now: Int64) throws(JobFailure) -> Int64 {
        switch step.schedule {
        case nil: return now
        case .after(let milliseconds)?: return now + milliseconds
        case .at(let template, let offset)?:
            let value: JSONValue
            do {
                value = try template.render(in: context)
            } catch {
                throw JobFailure.invalidJob("step '\(step.name)' at: \(error)")
            }
            guard let time = StepSchedule.time(of: value, iso8601: ISO8601Timestamp.milliseconds) else {
                throw JobFailure.invalidJob("step '\(step.name)' at: \(template) gave \(value.serialized()), which is not a time (Unix seconds or ISO 8601)")
            }
            return max(now, time + offset)
        }
    }

    /// The event as rules read it: a Stripe event gains `hookyard` (`StripeObjectReading.ruleFields`: the facts
    /// rules test, read from whichever API version's shape the event has); an Instantly event is as received.
    static func ruleView(source: EventSource, type: String, body: JSONValue) -> JSONValue {
        source == .stripe ? StripeObjectReading.ruleView(type: type, event: body) : body
    }

    /// Logs, once per version, a Stripe event whose `api_version` is not `stripe.api_version`.
    private func noteAPIVersion(of body: JSONValue, eventID: Int64, type: String) {
        let version = body["api_version"]?.stringValue
        guard stripeAPIVersions.firstDifferent(version), let version else { return }
        logger.warning("Stripe event API version differs from stripe.api_version", metadata: [
            "api_version": "\(version)", "configured": "\(stripeAPIVersions.configured ?? "")",
            "event": .stringConvertible(eventID), "type": "\(type)",
            "hint": "the webhook endpoint sends this version's payload shapes; set the endpoint's API version in Stripe to stripe.api_version (docs/operations.md); logged once per version",
        ])
    }

    // MARK: Alerts

    /// Pauses the campaign a deliverability alert names, through the same idempotent action as
    /// `instantly.pause_campaign` (it reads the status first, so a retry writes nothing once paused).
    private func pauseCampaign(_ job: Job, store: WorkflowStore) throws(JobFailure) -> JobOutcome {
        guard let input = try? JSONValue.parse(job.input ?? ""), let campaign = input["campaign"]?.stringValue else {
            throw JobFailure.invalidJob("job \(job.id) names no campaign to pause")
        }
        let instantly = RecordingProviderTransport(providers.instantly)
        let context = ActionContext(stripe: StripeClient(transport: providers.stripe), instantly: InstantlyClient(transport: instantly),
                                    store: store, eventID: job.eventID, rule: "deliverability", idempotencyKey: Self.stripeIdempotencyKey(job),
                                    now: clock)
        var output: [String: JSONValue]
        do {
            output = try runner.run("instantly.pause_campaign", Arguments(values: ["campaign": .string(campaign)]), in: context).objectValue ?? [:]
        } catch {
            throw JobFailure(provider: error)
        }
        output["alert"] = input["alert"] ?? .null
        if providers.instantlyDryRun {
            output["dry_run"] = .bool(true)
            output["requests"] = .array(Self.describeRequests(of: instantly))
        }
        logger.notice("deliverability: campaign paused", metadata: ["job_id": .stringConvertible(job.id), "campaign": "\(campaign)",
                                                                    "changed": "\(output["changed"]?.text ?? "-")",
                                                                    "dry_run": "\(providers.instantlyDryRun)"])
        return .succeeded(output: JSONValue.object(output).serialized(), followUps: [])
    }

    // MARK: Steps

    private func runStep(_ job: Job, store: WorkflowStore) throws(JobFailure) -> JobOutcome {
        guard let input = try? JSONValue.parse(job.input ?? ""), let ruleName = input["rule"]?.stringValue,
              let stepName = input["step"]?.stringValue, let flow = input["flow"]?.stringValue,
              case .object(let outputs)? = input["steps"] else {
            throw JobFailure.invalidJob("job \(job.id) has no valid step input")
        }
        guard let rule = currentRules.first(where: { $0.name == ruleName }) else {
            throw JobFailure.invalidJob("rule '\(ruleName)' is no longer configured")
        }
        guard let (index, step) = rule.step(named: stepName).map({ ($0.index, $0.step) }), step.action == job.kind else {
            throw JobFailure.invalidJob("rule '\(ruleName)' no longer has a step '\(stepName)' running \(job.kind) (the configuration changed)")
        }
        let event = try storedEvent(job, store: store)
        let body: JSONValue = event.body.isEmpty ? .object([:])
            : Self.ruleView(source: event.source, type: event.type, body: try parse(event.body, of: job))
        var contact: JSONValue = .null
        var contactID: Int64?
        let contactEmail = input["contact"]?.stringValue
        if let contactEmail {
            // The whole record only for a step that reads it (`contact.` in a template or condition); for the
            // others, whether it still exists.
            let readsContact = step.pathsRead.contains { $0.first == "contact" }
            let found: Contact?
            do {
                found = readsContact ? try store.contacts.contact(email: contactEmail) : nil
                contactID = readsContact ? found?.id : try store.contacts.contactID(email: contactEmail)
            } catch {
                throw Self.storeFailure("reading the contact of job \(job.id)", error)
            }
            guard contactID != nil else {
                // Erased since the flow started: nothing more is done for them.
                logger.info("step skipped; flow ends", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                                 "step": "\(stepName)", "reason": "contact erased"])
                return .skipped(reason: "the contact was erased", followUps: [])
            }
            if var current = found {
                let configured = Set(currentContactPolicy.segments.map(\.name))
                current.segments = current.segments.filter(configured.contains)  // not those of segments since removed
                contact = ContactJSON.render(current)
            }
        }
        let catalog = try liveCatalog(for: step, store: store)
        let context = JSONValue.object(["event": body, "steps": .object(outputs), "contact": contact, "catalog": catalog])

        if let unless = step.unless, let contactID {
            let holds: Bool
            do {
                holds = try store.contacts.evaluate(contactID: contactID, queries: [unless], now: clock()).first == true
            } catch {
                throw Self.storeFailure("checking step \(stepName)'s unless:", error)
            }
            if holds {
                logger.info("step skipped; flow ends", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                                 "step": "\(stepName)", "reason": "unless: holds"])
                return .skipped(reason: "unless: the contact now matches the step's guard", followUps: [])
            }
        }

        if let failed = step.conditions.first(where: { !$0.holds(in: context) }) {
            logger.info("step skipped; flow ends", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                             "step": "\(stepName)", "condition": "\(failed)"])
            return .skipped(reason: "if: condition \(failed) does not hold", followUps: [])
        }

        if let failed = step.skipConditions.first(where: { !$0.holds(in: context) }) {
            logger.info("step skipped; flow goes on", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                                "step": "\(stepName)", "condition": "\(failed)"])
            let reason = "when: condition \(failed) does not hold"
            // The next step sees this one's output as it is stored: `{"skipped": …}`.
            let result = JSONValue.object(["skipped": .string(reason)])
            let next = try nextStepJob(after: index, of: rule, result: result, outputs: outputs, body: body, contact: contact,
                                       contactEmail: contactEmail, catalog: catalog, flow: flow)
            return .skipped(reason: reason, followUps: next.map { [$0] } ?? [])
        }

        var rendered: [String: JSONValue] = [:]
        for (name, argument) in step.arguments {
            do {
                rendered[name] = try argument.render(in: context)
            } catch {
                throw JobFailure.invalidJob("step '\(stepName)' argument '\(name)': \(error)")
            }
        }

        let spec = ActionCatalog.spec(step.action)
        let leadEmail = rendered["email"].map { ContactObservation.normalise(email: $0.text) }
        if spec?.provider == .instantly, let leadEmail, !leadEmail.isEmpty {
            // Unsubscribed or bounced people get no more email from any rule; this is not configurable.
            let reason: String?
            do {
                reason = try store.contacts.doNotContact(email: leadEmail)
                // Recorded before the call: the webhook Instantly sends about this write must find it (loop guard).
                if reason == nil { try store.contacts.recordOwnWrite(email: leadEmail, rule: ruleName, at: clock()) }
            } catch {
                throw Self.storeFailure("checking do-not-contact", error)
            }
            if let reason {
                logger.info("step skipped; flow ends", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                                 "step": "\(stepName)", "reason": "do-not-contact (\(reason))"])
                return .skipped(reason: "do-not-contact: the contact \(reason)", followUps: [])
            }
        }

        let stripe = RecordingProviderTransport(providers.stripe)
        let instantly = RecordingProviderTransport(providers.instantly)
        let effects = ActionEffects()
        let actionContext = ActionContext(stripe: StripeClient(transport: stripe), instantly: InstantlyClient(transport: instantly),
                                          store: store, eventID: job.eventID, rule: ruleName,
                                          idempotencyKey: Self.stripeIdempotencyKey(job), now: clock, catalog: currentCatalog,
                                          dueAt: input["scheduled_for"]?.stringValue.flatMap(ISO8601Timestamp.milliseconds) ?? job.createdAt,
                                          segments: currentContactPolicy.segments, effects: effects,
                                          stripeDryRun: providers.stripeDryRun, instantlyDryRun: providers.instantlyDryRun)
        let result: JSONValue
        do {
            result = try runner.run(step.action, Arguments(values: rendered), in: actionContext)
        } catch {
            throw JobFailure(provider: error)
        }

        var stored = result.objectValue ?? ["result": result]
        let dryRunTransports = (providers.stripeDryRun ? [stripe] : []) + (providers.instantlyDryRun ? [instantly] : [])
        let dryRunRequests = dryRunTransports.flatMap(\.requests)
        if !dryRunRequests.isEmpty {
            stored["dry_run"] = .bool(true)
            stored["requests"] = .array(dryRunTransports.flatMap(Self.describeRequests))
            logger.info("dry run: step recorded the requests it would send", metadata: [
                "job_id": .stringConvertible(job.id), "rule": "\(ruleName)", "step": "\(stepName)",
                // Paths without their query: a query can carry an email address, which stays out of info logs.
                "requests": "\(dryRunRequests.map { "\($0.method) \($0.path.split(separator: "?")[0])" }.joined(separator: "; "))"])
        }
        let action = ActionCatalog.action(step.action)
        let learned = action?.learned(from: result, arguments: rendered) ?? []
        if !providers.stripeDryRun {
            for case .paymentLinkSent(let linkID, let url, let prefilledEmail, let campaign) in learned {
                try recordLinkSent(linkID: linkID, url: url, email: contactEmail ?? prefilledEmail, campaign: campaign, rule: ruleName,
                                   job: job, store: store)
            }
        }
        let linkedEmail = action?.linkedEmail(arguments: rendered, result: result)
        var followUps = try learn(learned, email: linkedEmail, action: step.action, job: job, store: store, effects: effects)
        // A flow that started without a known contact (a Stripe event whose customer was not linked yet) has one
        // from the step that linked it: later steps read `contact.` and check `unless:` against it.
        let flowContact = contactEmail ?? (action?.linksContact == true ? linkedEmail : nil)
        if let next = try nextStepJob(after: index, of: rule, result: result, outputs: outputs, body: body, contact: contact,
                                      contactEmail: flowContact, catalog: catalog, flow: flow) {
            followUps.append(next)
        }
        return .succeeded(output: JSONValue.object(stored).serialized(), followUps: followUps)
    }

    /// The catalog as `step` reads it: with `registrations`, `seats_left` and `sold_out` counted now for each product
    /// whose live figures the step names (`catalog.event.sold_out`), so a waiting step sees the seats as they are
    /// when it runs.
    private func liveCatalog(for step: Step, store: WorkflowStore) throws(JobFailure) -> JSONValue {
        let live: Set<String> = ["registrations", "seats_left", "sold_out"]
        let products = Set(step.pathsRead.filter { $0.count >= 3 && $0[0] == "catalog" && live.contains($0[2]) }.map { $0[1] })
        let catalog = currentCatalog
        guard !products.isEmpty, case .object(var members) = catalogJSON else { return catalogJSON }
        for key in products {
            guard let product = catalog.product(key), case .object(var object)? = members[key] else { continue }
            let count: Int
            do {
                count = try store.contacts.registrationCount(product: key)
            } catch {
                throw Self.storeFailure("counting the registrations for \(key)", error)
            }
            object["registrations"] = .integer(Int64(count))
            object["seats_left"] = product.seats.map { .integer(Int64(max(0, $0 - count))) } ?? .null
            object["sold_out"] = .bool(product.seats.map { count >= $0 } ?? false)
            members[key] = .object(object)
        }
        return .object(members)
    }

    /// The job of the step after `index`, which sees `result` as this step's output; `nil` after the last step.
    private func nextStepJob(after index: Int, of rule: Rule, result: JSONValue, outputs: [String: JSONValue], body: JSONValue,
                             contact: JSONValue, contactEmail: String?, catalog: JSONValue, flow: String) throws(JobFailure) -> NewJob? {
        guard index + 1 < rule.steps.count else { return nil }
        var next = outputs
        next[rule.steps[index].name] = result
        let nextContext = JSONValue.object(["event": body, "steps": .object(next), "contact": contact, "catalog": catalog])
        return try stepJob(rule: rule, step: rule.steps[index + 1], flow: flow, outputs: next, contact: contactEmail,
                           context: nextContext, now: clock())
    }

    /// Records what the step's action learned (`Action.learned`) about the contact `email` (the step's linked
    /// address; nothing without one): a Stripe customer id (which applies the Stripe events that were waiting for
    /// it, and may move the contact between segments: their rules start with this step's successors), an Instantly
    /// lead id per campaign or its removal, and the segment changes a local action such as `contact.register` caused
    /// (`effects`). - Returns: the first steps of the rules those segment changes start.
    private func learn(_ learned: [ActionLearning], email: String?, action: String, job: Job,
                       store: WorkflowStore, effects: ActionEffects) throws(JobFailure) -> [NewJob] {
        guard let email else { return [] }
        let now = clock()
        var jobs: [NewJob] = []
        do {
            for fact in learned {
                switch fact {
                case .customer(let customer):
                    let policy = currentContactPolicy
                    let change = try store.contacts.linkCustomer(email: email, customerID: customer, eventID: job.eventID,
                                                                 policy: policy.engagement, segments: policy.segments, now: now)
                    jobs += try segmentJobs(for: change.transitions, store: store, now: now).jobs
                case .lead(let campaign, let lead):
                    let transitions = try store.contacts.linkLead(email: email, campaignID: campaign, leadID: lead, eventID: job.eventID,
                                                                  segments: currentContactPolicy.segments, now: now)
                    jobs += try segmentJobs(for: transitions, store: store, now: now).jobs
                case .leadRemoved(let campaign):
                    let transitions = try store.contacts.unlinkLead(email: email, campaignID: campaign, eventID: job.eventID,
                                                                    segments: currentContactPolicy.segments, now: now)
                    jobs += try segmentJobs(for: transitions, store: store, now: now).jobs
                case .contactChanged:
                    // Registered (and its segments re-evaluated) by the action itself, in one transaction.
                    jobs += try segmentJobs(for: effects.transitions, store: store, now: now).jobs
                case .paymentLinkSent:
                    continue  // recorded before (`recordLinkSent`), whether or not the step has a contact
                }
            }
        } catch let failure as JobFailure {
            throw failure
        } catch {
            throw Self.storeFailure("linking \(action)'s result to the contact", error)
        }
        return jobs
    }

    /// Notes a payment link a step created (`payment_links_sent`, once per link id) for the report's link figures,
    /// for `email` (the flow's contact, else the link's `prefilled_email`) and the campaign its metadata names.
    private func recordLinkSent(linkID: String, url: String, email: String?, campaign: String?, rule: String,
                                job: Job, store: WorkflowStore) throws(JobFailure) {
        do {
            try store.recordPaymentLinkSent(linkID: linkID, url: url, email: email, campaignID: campaign, rule: rule,
                                            jobID: job.id, now: clock())
        } catch {
            throw Self.storeFailure("recording payment link \(linkID)", error)
        }
    }

    /// Stripe's `Idempotency-Key` for a job: its queue key (stable across attempts, unique per rule, flow and
    /// step), percent-encoded to plain ASCII, and shortened with the job id if longer than Stripe's 255 characters.
    static func stripeIdempotencyKey(_ job: Job) -> String {
        let key = "hookyard-" + FormEncoder.percentEncode(job.idempotencyKey)
        guard key.utf8.count > 255 else { return key }
        return String(key.prefix(200)) + "-job\(job.id)"
    }

    /// Every request a dry-run transport recorded, as a job's output shows them.
    static func describeRequests(of transport: RecordingProviderTransport) -> [JSONValue] {
        transport.requests.map { describe($0, baseURL: transport.baseURL) }
    }

    /// A request as a dry-run output shows it: method, URL and path, body; never a key.
    static func describe(_ request: ProviderRequest, baseURL: String) -> JSONValue {
        var object: [String: JSONValue] = ["method": .string(request.method), "path": .string(request.path)]
        if !baseURL.isEmpty { object["url"] = .string(baseURL + request.path) }
        if !request.body.isEmpty { object["body"] = .string(request.bodyText) }
        if let key = request.idempotencyKey { object["idempotency_key"] = .string(key) }
        return .object(object)
    }
}
