import Alerts
import Contacts
import Foundation
import HookyardFoundation
import Jobs
import Logging
import Outbound
import Store
import StrictJSON

/// Event matching: which rules an event (a `process_event` job) or a segment change starts, and which it holds back
/// (a rule's `if:` on the contact, the loop guard, its staged rollout, the daily caps), each decision noted in the
/// job's output (`matched`: `flow` or `held` with the reason) so it can be explained later. Applies the event to its
/// contact first (one idempotent transaction, `ContactStore.apply`); judges Instantly events for deliverability.
///
/// Thread-safe: its state is the swappable settings, read once per job.
final class EventMatcher: Sendable {
    private let settings: WorkflowSettings
    private let providers: ProviderSet
    private let logger: Logger
    private let clock: MillisecondClock
    /// Judges Instantly events for account errors and deliverability; `nil`: no alerts.
    private let deliverability: DeliverabilityWatch?
    /// Stripe events in an API version other than `stripe.api_version` are logged once per version.
    let stripeAPIVersions: StripeAPIVersionWatch

    init(settings: WorkflowSettings, providers: ProviderSet, logger: Logger, clock: @escaping MillisecondClock,
         deliverability: DeliverabilityWatch?, stripeAPIVersion: String?) {
        self.settings = settings
        self.providers = providers
        self.logger = logger
        self.clock = clock
        self.deliverability = deliverability
        stripeAPIVersions = StripeAPIVersionWatch(configured: stripeAPIVersion)
    }

    private var currentRules: [Rule] { settings.currentRules }
    private var currentContactPolicy: ContactPolicy { settings.currentContactPolicy }
    private var catalogJSON: JSONValue { settings.catalogJSON }

    private var flowMode: String {
        // Dry-run flows have keys of their own: a lead walked through in dry-run still starts the real flow once
        // the API keys are set.
        providers.stripeDryRun || providers.instantlyDryRun ? "dry-run:" : ""
    }

    /// A `process_event` job: applies the event to its contact, then starts the rules the event triggers and those on
    /// the segments the contact entered or left (their first steps are the follow-ups); the output lists each
    /// rule started (`flow`) or held back (`held`, with why), the contact and its segment changes.
    func processEvent(_ job: Job, store: any WorkflowRecords) throws(JobFailure) -> JobOutcome {
        let stored = try StoredEventReading.event(of: job, store: store)
        let policy = currentContactPolicy
        let rules = currentRules
        // A pruned or redacted event has no body left: nothing to learn, nothing to match.
        let body: JSONValue? = stored.body.isEmpty ? nil : try StoredEventReading.parse(stored.body, of: job)
        let now = clock()

        var change: ContactChange?
        var observedAt: Int64?
        if let body, let observation = policy.reader.observation(eventID: job.eventID, source: stored.source, type: stored.type,
                                                                   body: body, receivedAt: job.createdAt) {
            observedAt = observation.occurredAt
            do {
                change = try store.contacts.apply(observation, policy: policy.engagement, segments: policy.segments, now: now)
            } catch {
                throw JobFailure.storage("updating the contact for event \(job.eventID)", error)
            }
        }

        if stored.source == .stripe, let body { noteAPIVersion(of: body, eventID: job.eventID, type: stored.type) }

        var report: [JSONValue] = []
        var followUps: [NewJob] = []
        if let body = body.map({ StoredEventReading.ruleView(source: stored.source, type: stored.type, body: $0) }) {
            let candidates = rules.filter { $0.trigger.segmentChange == nil && $0.trigger.source == stored.source }
            for rule in candidates where rule.trigger.matches(type: stored.type, event: body) {
                guard let first = rule.steps.first else { continue }
                let flow: String
                if let oncePer = rule.oncePer {
                    guard let key = rule.oncePerKey(in: body) else {
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
                                                reader: store.deliverabilityReader())
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
    func segmentJobs(for transitions: [SegmentTransition], store: any WorkflowRecords, now: Int64) throws(JobFailure)
        -> (jobs: [NewJob], report: [JSONValue]) {
        try segmentJobs(for: transitions, rules: currentRules, policy: currentContactPolicy, store: store, now: now)
    }

    private func segmentJobs(for transitions: [SegmentTransition], rules: [Rule], policy: ContactPolicy, store: any WorkflowRecords,
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

    /// Why `rule` must not start `flow` for this contact, or `nil` when it may: its `if:` on the contact, the loop
    /// guard (Hookyard's own write to the lead for this rule at or after `loopGuardFrom`), its staged rollout
    /// (contacts outside the share are held back and counted), and the daily caps, per contact and for everyone
    /// (`max_per_day`; held back and counted). The caps are checked last and record the run, so a flow that starts is
    /// counted once, however often its event is processed again.
    private func hold(_ rule: Rule, flow: String, contactID: Int64?, email: String?, loopGuardFrom: Int64?, policy: ContactPolicy,
                      store: any WorkflowRecords, eventID: Int64, now: Int64) throws(JobFailure) -> String? {
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
                return "loop guard: this rule wrote to the lead at \(ISO8601Timestamp.string(wrote)), shortly before this event"
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
            throw JobFailure.storage("checking rule \(rule.name) for the contact", error)
        }
    }

    /// The first step's job of a flow that may start, noted in `report`; `nil` (noted as held, and logged as an

    /// The first step's job of a flow that may start, noted in `report`; `nil` (noted as held, and logged as an
    /// error) when its schedule cannot be worked out, so one misconfigured rule does not stop the others.
    private func startFlow(_ rule: Rule, step: Step, flow: String, contact: String?, context: JSONValue, eventID: Int64, now: Int64,
                           report: inout [JSONValue]) -> NewJob? {
        do throws(JobFailure) {
            let job = try FlowStepJob.make(rule: rule, step: step, flow: flow, outputs: [:], contact: contact, context: context, now: now)
            report.append(.object(["rule": .string(rule.name), "flow": .string(flow)]))
            return job
        } catch {
            report.append(.object(["rule": .string(rule.name), "held": .string(error.message)]))
            logger.error("rule not started", metadata: ["event": .stringConvertible(eventID), "rule": "\(rule.name)", "error": "\(error.message)"])
            return nil
        }
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
}
