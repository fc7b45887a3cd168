import Alerts
import Contacts
import Foundation
import HookyardFoundation
import Jobs
import Logging
import Outbound
import Store
import StrictJSON

/// Step running: one step job of a flow (kind = the action's name) at a time: reads its rule and step as configured
/// now, the event, the contact and the catalog; checks the step's guards (`unless:`, `if:`, `when:`, do-not-contact);
/// renders its arguments and runs its action (`Action`) through recording transports (dry-run requests go into the
/// job's output); records what the action learned (`Action.learned`) and queues the next step, in the transaction
/// that records this one's output, so a crash at any point resumes at the step that was running.
///
/// Thread-safe: its state is the swappable settings, read once per job.
final class StepRunner: Sendable {
    private let settings: WorkflowSettings
    private let matcher: EventMatcher
    private let providers: ProviderSet
    private let runner: ActionRunner
    private let logger: Logger
    private let clock: MillisecondClock

    init(settings: WorkflowSettings, matcher: EventMatcher, providers: ProviderSet, runner: ActionRunner, logger: Logger,
         clock: @escaping MillisecondClock) {
        self.settings = settings
        self.matcher = matcher
        self.providers = providers
        self.runner = runner
        self.logger = logger
        self.clock = clock
    }

    private var currentRules: [Rule] { settings.currentRules }
    private var currentContactPolicy: ContactPolicy { settings.currentContactPolicy }
    private var currentCatalog: Catalog { settings.currentCatalog }
    private var catalogJSON: JSONValue { settings.catalogJSON }

    /// Pauses the campaign a deliverability alert names, through the same idempotent action as
    /// `instantly.pause_campaign` (it reads the status first, so a retry writes nothing once paused).
    func pauseCampaign(_ job: Job, store: any WorkflowRecords) throws(JobFailure) -> JobOutcome {
        guard let input = try? JSONValue.parse(job.input ?? ""), let campaign = input["campaign"]?.stringValue else {
            throw JobFailure.invalidJob("job \(job.id) names no campaign to pause")
        }
        let instantly = RecordingProviderTransport(providers.instantly)
        let context = ActionContext(stripe: StripeClient(transport: providers.stripe), instantly: InstantlyClient(transport: instantly),
                                    store: store, eventID: job.eventID, rule: "deliverability", idempotencyKey: Self.stripeIdempotencyKey(job),
                                    now: clock)
        var output = try runner.run("instantly.pause_campaign", Arguments(values: ["campaign": .string(campaign)]), in: context).objectValue ?? [:]
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

    /// A step job: runs the step its input names (or skips it by its guards) and queues the next.
    func runStep(_ job: Job, store: any WorkflowRecords) throws(JobFailure) -> JobOutcome {
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
        let event = try StoredEventReading.event(of: job, store: store)
        let body: JSONValue = event.body.isEmpty ? .object([:])
            : StoredEventReading.ruleView(source: event.source, type: event.type, body: try StoredEventReading.parse(event.body, of: job))
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
                throw JobFailure.storage("reading the contact of job \(job.id)", error)
            }
            guard contactID != nil else {
                // Erased since the flow started: nothing more is done for them.
                logger.info("step skipped; flow ends", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                                 "step": "\(stepName)", "reason": "contact erased"])
                return .skipped(reason: "the contact was erased", followUps: [])
            }
            if let found { contact = currentContactPolicy.view(of: found) }
        }
        let catalog = try liveCatalog(for: step, store: store)
        let context = JSONValue.object(["event": body, "steps": .object(outputs), "contact": contact, "catalog": catalog])

        let gate = try StepGate.decide(step, context: context, contactID: contactID, contacts: store.contacts, clock: clock)
        let rendered: [String: JSONValue]
        switch gate {
        case .endFlow(let reason):
            logger.info("step skipped; flow ends", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                             "step": "\(stepName)", "reason": "\(reason)"])
            return .skipped(reason: reason, followUps: [])
        case .skipStep(let reason):
            logger.info("step skipped; flow goes on", metadata: ["job_id": .stringConvertible(job.id), "rule": "\(ruleName)",
                                                                "step": "\(stepName)", "reason": "\(reason)"])
            // The next step sees this one's output as it is stored: `{"skipped": …}`.
            let result = JSONValue.object(["skipped": .string(reason)])
            let next = try nextStepJob(after: index, of: rule, result: result, outputs: outputs, body: body, contact: contact,
                                       contactEmail: contactEmail, catalog: catalog, flow: flow)
            return .skipped(reason: reason, followUps: next.map { [$0] } ?? [])
        case .run(let arguments, let leadEmail):
            rendered = arguments
            if let leadEmail {
                // Recorded before the call: the webhook Instantly sends about this write must find it (loop guard).
                do {
                    try store.contacts.recordOwnWrite(email: leadEmail, rule: ruleName, at: clock())
                } catch {
                    throw JobFailure.storage("checking do-not-contact", error)
                }
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
        let result = try runner.run(step.action, Arguments(values: rendered), in: actionContext)

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
    private func liveCatalog(for step: Step, store: any WorkflowRecords) throws(JobFailure) -> JSONValue {
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
                throw JobFailure.storage("counting the registrations for \(key)", error)
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
        return try FlowStepJob.make(rule: rule, step: rule.steps[index + 1], flow: flow, outputs: next, contact: contactEmail,
                           context: nextContext, now: clock())
    }

    /// Records what the step's action learned (`Action.learned`) about the contact `email` (the step's linked
    /// address; nothing without one): a Stripe customer id (which applies the Stripe events that were waiting for
    /// it, and may move the contact between segments: their rules start with this step's successors), an Instantly
    /// lead id per campaign or its removal, and the segment changes a local action such as `contact.register` caused
    /// (`effects`). - Returns: the first steps of the rules those segment changes start.
    private func learn(_ learned: [ActionLearning], email: String?, action: String, job: Job,
                       store: any WorkflowRecords, effects: ActionEffects) throws(JobFailure) -> [NewJob] {
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
                    jobs += try matcher.segmentJobs(for: change.transitions, store: store, now: now).jobs
                case .lead(let campaign, let lead):
                    let transitions = try store.contacts.linkLead(email: email, campaignID: campaign, leadID: lead, eventID: job.eventID,
                                                                  segments: currentContactPolicy.segments, now: now)
                    jobs += try matcher.segmentJobs(for: transitions, store: store, now: now).jobs
                case .leadRemoved(let campaign):
                    let transitions = try store.contacts.unlinkLead(email: email, campaignID: campaign, eventID: job.eventID,
                                                                    segments: currentContactPolicy.segments, now: now)
                    jobs += try matcher.segmentJobs(for: transitions, store: store, now: now).jobs
                case .contactChanged:
                    // Registered (and its segments re-evaluated) by the action itself, in one transaction.
                    jobs += try matcher.segmentJobs(for: effects.transitions, store: store, now: now).jobs
                case .paymentLinkSent:
                    continue  // recorded before (`recordLinkSent`), whether or not the step has a contact
                }
            }
        } catch let failure as JobFailure {
            throw failure
        } catch {
            throw JobFailure.storage("linking \(action)'s result to the contact", error)
        }
        return jobs
    }

    /// Notes a payment link a step created (`payment_links_sent`, once per link id) for the report's link figures,
    /// for `email` (the flow's contact, else the link's `prefilled_email`) and the campaign its metadata names.
    private func recordLinkSent(linkID: String, url: String, email: String?, campaign: String?, rule: String,
                                job: Job, store: any WorkflowRecords) throws(JobFailure) {
        do {
            try store.recordPaymentLinkSent(linkID: linkID, url: url, email: email, campaignID: campaign, rule: rule,
                                            jobID: job.id, now: clock())
        } catch {
            throw JobFailure.storage("recording payment link \(linkID)", error)
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
