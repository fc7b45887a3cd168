/// Where a webhook came from.
public enum EventSource: String, Sendable, CaseIterable, Codable {
    case stripe
    case instantly
}

/// A verified webhook to store: the raw body exactly as received and the headers needed to verify it again.
public struct IncomingEvent: Sendable {
    public var source: EventSource
    /// Unique per source: Stripe's event id, or a digest of an Instantly event's identifying fields.
    public var dedupKey: String
    /// The provider's own event id, where it has one (`evt_...`).
    public var eventID: String?
    public var type: String
    /// Unix time in milliseconds.
    public var receivedAt: Int64
    public var body: [UInt8]
    /// A JSON object of the header fields kept for re-verification (lower-case names); never secrets.
    public var headersJSON: String

    public init(source: EventSource, dedupKey: String, eventID: String?, type: String, receivedAt: Int64,
                body: [UInt8], headersJSON: String) {
        self.source = source
        self.dedupKey = dedupKey
        self.eventID = eventID
        self.type = type
        self.receivedAt = receivedAt
        self.body = body
        self.headersJSON = headersJSON
    }
}

/// What happened to an appended event.
public enum AppendOutcome: Sendable, Equatable {
    /// Committed as a new event with this row id, with its processing job queued.
    case stored(id: Int64)
    /// An event with the same source and dedup key was already stored; nothing was written.
    case duplicate
}

/// A stored event as the CLI shows it.
public struct StoredEvent: Sendable {
    public var id: Int64
    public var source: EventSource
    public var eventID: String?
    public var dedupKey: String
    public var type: String
    public var receivedAt: Int64
    /// The raw body; empty in listings (`SQLiteStoreReader.events`), complete from `SQLiteStoreReader.event(_:)`.
    public var body: [UInt8]
    public var headersJSON: String
    /// Size of the raw body (also when a listing leaves `body` empty).
    public var bodyBytes: Int
    /// The states of this event's jobs, e.g. `["queued"]`.
    public var jobStates: [String]

    public init(id: Int64, source: EventSource, eventID: String? = nil, dedupKey: String, type: String, receivedAt: Int64,
                body: [UInt8], headersJSON: String, bodyBytes: Int, jobStates: [String]) {
        self.id = id
        self.source = source
        self.eventID = eventID
        self.dedupKey = dedupKey
        self.type = type
        self.receivedAt = receivedAt
        self.body = body
        self.headersJSON = headersJSON
        self.bodyBytes = bodyBytes
        self.jobStates = jobStates
    }
}

/// Counts of stored events per source and of jobs per state.
public struct StoreStatistics: Sendable, Equatable {
    public var events: [EventSource: Int]
    public var jobs: [String: Int]
    public var databaseBytes: Int64
    /// Recorded purchases per currency: how many and their total (smallest currency unit). Only what rules'
    /// `record_purchase` steps recorded.
    public var purchases: [String: PurchaseTotal] = [:]
    /// Payments seen in Stripe events per currency (`contact_payments`: one-off payments and paid invoices, less
    /// refunds): the money contacts show and the report counts.
    public var payments: [String: PaymentTotal] = [:]
}

/// Payments seen in one currency: the same rows a contact's revenue and the report's revenue sum.
public struct PaymentTotal: Sendable, Equatable {
    /// One-off payments and paid invoices.
    public var payments: Int
    public var refunds: Int
    /// Payments less refunds (smallest currency unit); `nil` when it does not fit 64 bits.
    public var net: Int64?

    public init(payments: Int, refunds: Int, net: Int64?) {
        self.payments = payments
        self.refunds = refunds
        self.net = net
    }
}

/// Purchases in one currency.
public struct PurchaseTotal: Sendable, Equatable {
    public var count: Int
    /// The sum of the purchases' amounts; `nil` when it does not fit 64 bits (amounts are stored as received).
    public var amount: Int64?
}
