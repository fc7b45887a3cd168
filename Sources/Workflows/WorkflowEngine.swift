import Alerts
import Contacts
import Foundation
import HookyardFoundation
import Jobs
import Logging
import Outbound
import Store
import StrictJSON
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

extension ContactPolicy {
    /// `contact` as a step sees it (`contact.` in templates and conditions): with only the segments configured now,
    /// not those of segments since removed. The step runner and the dry run render it alike.
    func view(of contact: Contact) -> JSONValue {
        ContactJSON.render(contact.keepingSegments(Set(segments.map(\.name))))
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
/// these kinds (`jobKinds`, with Alerts' `alert.notify`) for the worker pool, which runs them with a `SQLiteWorkflowStore` of
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
///
/// The work is split in two (`Engine/`): `EventMatcher` decides which rules an event or segment change starts and
/// which it holds back; `StepRunner` runs one step and queues the next. The engine registers their job kinds and
/// holds the configuration they share (`WorkflowSettings`).
public final class WorkflowEngine: Sendable {
    public static let processEventKind = "process_event"

    private let settings: WorkflowSettings
    private let matcher: EventMatcher
    private let steps: StepRunner
    /// Where `alert.notify` jobs post; `nil`: such a job succeeds as skipped (no webhook is configured).
    private let alertWebhook: AlertWebhook?

    /// - Parameters:
    ///   - deliverability: when given, Instantly events raise and clear account-error and deliverability alerts, and
    ///     campaign pauses are queued with the event's job.
    ///   - alertWebhook: runs the `alert.notify` jobs.
    ///   - stripeAPIVersion: `stripe.api_version`; a Stripe event in another version is logged as a warning, once
    ///     per version. `nil`: not checked.
    public init(rules: [Rule], contacts: ContactPolicy = ContactPolicy(), catalog: Catalog = Catalog(), providers: ProviderSet,
                runner: ActionRunner = ActionRunner(), logger: Logger,
                clock: @escaping MillisecondClock = WallClock.system,
                deliverability: DeliverabilityWatch? = nil, alertWebhook: AlertWebhook? = nil, stripeAPIVersion: String? = nil) {
        settings = WorkflowSettings(rules: rules, contacts: contacts, catalog: catalog)
        matcher = EventMatcher(settings: settings, providers: providers, logger: logger, clock: clock, deliverability: deliverability,
                               stripeAPIVersion: stripeAPIVersion)
        steps = StepRunner(settings: settings, matcher: matcher, providers: providers, runner: runner, logger: logger, clock: clock)
        self.alertWebhook = alertWebhook
    }

    /// Replaces the rules (configuration reload). Steps already queued keep running against the rule of the same
    /// name; one whose rule or step is gone fails with a message saying so.
    public func update(rules newRules: [Rule], contacts: ContactPolicy? = nil, catalog: Catalog? = nil, stripeAPIVersion: String? = nil) {
        settings.update(rules: newRules, contacts: contacts, catalog: catalog)
        if let stripeAPIVersion { matcher.stripeAPIVersions.update(configured: stripeAPIVersion) }
    }

    public var currentCatalog: Catalog { settings.currentCatalog }

    public var currentRules: [Rule] { settings.currentRules }

    public var currentContactPolicy: ContactPolicy { settings.currentContactPolicy }

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
    public func run(_ job: Job, store: any WorkflowRecords) -> JobOutcome {
        let context = WorkerContext(location: .sqlite(path: ""), worker: "direct")
        context.adopt(WorkflowStoreResource(store))
        return jobKinds.run(job, context: context)
    }

    /// Runs one attempt of a job of the engine's own kinds (`WorkflowJob`).
    func run(_ part: WorkflowJob.Part, _ job: Job, store: any WorkflowRecords) throws(JobFailure) -> JobOutcome {
        switch part {
        case .processEvent: try matcher.processEvent(job, store: store)
        case .step: try steps.runStep(job, store: store)
        case .campaignPause: try steps.pauseCampaign(job, store: store)
        }
    }

    /// The first steps of the rules on the segments in `transitions`, each once per entry (or exit), and what was
    /// held back. Used for changes an event caused and for those the clock caused (`ContactMaintenance`).
    public func segmentJobs(for transitions: [SegmentTransition], store: any WorkflowRecords, now: Int64) throws(JobFailure)
        -> (jobs: [NewJob], report: [JSONValue]) {
        try matcher.segmentJobs(for: transitions, store: store, now: now)
    }
}
