/// What the CLI and health checks read from the store, whatever engine holds it (`SQLiteStoreReader`,
/// `PostgreSQLStoreReader`; `StoreReadingOpening` opens either).
///
/// Contract every implementation keeps: it only reads; a stored value it cannot read (an unknown source or job
/// state) is an error, never a default. Thread-safety is the implementation's: `SQLiteStoreReader` is used by one
/// thread at a time.
public protocol StoreReading: AnyObject {
    /// Counts of events per source, jobs per state, money recorded and seen, and the store's size.
    func statistics() throws -> StoreStatistics
    /// The number of jobs in each state, every `JobState` present (0 when none).
    func jobCounts() throws -> [String: Int]
    /// The most recent events first, optionally of one source; bodies left empty.
    func events(source: EventSource?, limit: Int) throws -> [StoredEvent]
    /// The most recent events first that pass `query`, at most `limit`, bodies left empty.
    func events(matching query: EventQuery, limit: Int) throws -> [StoredEvent]
    /// One event by its row id, with its body.
    func event(id: Int64) throws -> StoredEvent?
    /// One event by row id, or by the provider's event id (`evt_...`) or dedup key, with its body.
    func event(_ reference: String) throws -> StoredEvent?
    /// What the last daemon to start on this store recorded, or `nil`.
    func daemonStatus() throws -> DaemonStatus?
    /// The mark `hookyard backup` set if this is a backup copy, or `nil`.
    func backupOrigin() throws -> BackupOrigin?
    /// The payment link `id` as the step that created it recorded it, or `nil`.
    func createdPaymentLink(id: String) throws -> CreatedPaymentLink?
    /// The newest created payment link's id, for `email` when given.
    func newestCreatedPaymentLinkID(email: String?) throws -> String?
    /// The newest `limit` stored Stripe events per `api_version`, the most recently seen version first.
    func stripeAPIVersions(newest limit: Int) throws -> [StripeAPIVersionCount]
}

/// A payment link a workflow step (`stripe.create_payment_link`) created, as the store remembers it: what a
/// Checkout Session on it carries (Stripe copies a link's metadata onto the sessions it creates), for
/// `hookyard trigger` walk-throughs.
public struct CreatedPaymentLink: Sendable, Equatable {
    public var id: String
    /// The metadata the link was created with; empty when the step's output predates recording it and it was not a
    /// dry run (whose recorded request has it).
    public var metadata: [String: String]
    /// The contact the link was made for (`payment_links_sent`, live links), else its `lead_email` or
    /// `hookyard_email` metadata.
    public var email: String?
    /// A catalog tier link's price amount and currency; `nil` for a link to a price given by id.
    public var amount: Int64?
    public var currency: String?
    /// The rule whose step created it.
    public var rule: String?
    public var dryRun: Bool
}


/// The Stripe API versions stored events were rendered in (`api_version`), as `hookyard stats` and
/// `hookyard check-config` show them.
public struct StripeAPIVersionCount: Sendable, Equatable {
    /// `nil` for events whose payload was pruned (`retention.payload_days`) or names no version.
    public var version: String?
    public var events: Int
    /// Unix milliseconds: when the newest of them was received.
    public var lastSeen: Int64

    public init(version: String?, events: Int, lastSeen: Int64) {
        self.version = version
        self.events = events
        self.lastSeen = lastSeen
    }
}

/// Which stored events a listing returns (`StoreReading.events(matching:limit:)`): every condition given must hold.
/// A value; thread-safe.
public struct EventQuery: Sendable, Equatable {
    public var source: EventSource?
    /// The event's type exactly (`checkout.session.completed`, `email_opened`).
    public var type: String?
    /// Events applied to this contact (the contact store's row id).
    public var contactID: Int64?
    /// Unix milliseconds: received at or after.
    public var since: Int64?
    /// Unix milliseconds: received before.
    public var until: Int64?
    /// Where a page starts: only events with a smaller row id (the last id of the previous page).
    public var beforeID: Int64?

    public init(source: EventSource? = nil, type: String? = nil, contactID: Int64? = nil, since: Int64? = nil,
                until: Int64? = nil, beforeID: Int64? = nil) {
        self.source = source
        self.type = type
        self.contactID = contactID
        self.since = since
        self.until = until
        self.beforeID = beforeID
    }
}

extension StoreReading {
    /// How many of the newest Stripe events `stripeAPIVersions()` looks at: bounded, so `stats` stays fast on a large
    /// store; what matters is what the endpoint sends now.
    public static var stripeAPIVersionSample: Int { 10_000 }

    /// The Stripe API versions of the newest `stripeAPIVersionSample` stored Stripe events.
    public func stripeAPIVersions() throws -> [StripeAPIVersionCount] {
        try stripeAPIVersions(newest: Self.stripeAPIVersionSample)
    }
}
