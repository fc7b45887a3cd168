import Store

/// Everything Hookyard holds about one person (`ContactStorage.export`), for a data subject's access request.
/// A value type; thread-safe.
public struct ContactExport: Sendable {
    /// A job of one of the contact's events, with every attempt (oldest first).
    public struct JobRecord: Sendable, Equatable {
        public var job: Job
        public var attempts: [JobAttempt]

        public init(job: Job, attempts: [JobAttempt]) {
            self.job = job
            self.attempts = attempts
        }
    }

    /// A segment entry or exit with when it was recorded.
    public struct RecordedTransition: Sendable, Equatable {
        public var transition: SegmentTransition
        /// Unix milliseconds.
        public var at: Int64

        public init(transition: SegmentTransition, at: Int64) {
            self.transition = transition
            self.at = at
        }
    }

    /// One Instantly activity counted on the contact.
    public struct Activity: Sendable, Equatable {
        /// A `ContactActivity` raw value.
        public var kind: String
        public var campaignID: String?
        public var occurredAt: Int64
        public var eventID: Int64?

        public init(kind: String, campaignID: String?, occurredAt: Int64, eventID: Int64?) {
            self.kind = kind
            self.campaignID = campaignID
            self.occurredAt = occurredAt
            self.eventID = eventID
        }
    }

    /// A flow a rule started for the contact (the loop guard's record).
    public struct RuleRun: Sendable, Equatable {
        public var flow: String
        public var rule: String
        public var at: Int64

        public init(flow: String, rule: String, at: Int64) {
            self.flow = flow
            self.rule = rule
            self.at = at
        }
    }

    public var contact: Contact
    /// Every event applied to the contact, oldest first, with its full body.
    public var events: [StoredEvent]
    /// The jobs of those events, oldest first.
    public var jobs: [JobRecord]
    public var payments: [ContactPayment]
    /// Purchases workflows recorded for their email.
    public var purchases: [Purchase]
    public var transitions: [RecordedTransition]
    public var activity: [Activity]
    public var ruleRuns: [RuleRun]
    /// The latest Instantly write Hookyard made per rule (Unix milliseconds).
    public var ownWrites: [String: Int64]
    /// Rules that held them back (staged rollout, `max_per_day`): rule, reason, when.
    public var holdbacks: [(rule: String, reason: String, at: Int64)] = []
    /// Their registrations, oldest first.
    public var registrations: [ContactRegistration] = []

    public init(contact: Contact, events: [StoredEvent], jobs: [JobRecord], payments: [ContactPayment],
                purchases: [Purchase], transitions: [RecordedTransition], activity: [Activity], ruleRuns: [RuleRun],
                ownWrites: [String: Int64]) {
        self.contact = contact
        self.events = events
        self.jobs = jobs
        self.payments = payments
        self.purchases = purchases
        self.transitions = transitions
        self.activity = activity
        self.ruleRuns = ruleRuns
        self.ownWrites = ownWrites
    }
}
