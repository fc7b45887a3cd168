import Store

/// Whether an alert's condition holds.
public enum AlertState: String, Sendable, Codable, CaseIterable {
    case raised, cleared
}

/// One alert condition as stored: a kind and a subject (unique together), its state, and how it was notified.
/// A condition raised again after it cleared starts a new episode: `firstRaisedAt` and `timesNotified` start over.
public struct AlertRecord: Sendable, Equatable {
    public var id: Int64
    /// `job_dead`, `store_commit_failed`, `deliverability`, ... (`AlertCondition.Kind`'s raw values).
    public var kind: String
    public var subject: String
    public var state: AlertState
    /// When this episode began (Unix milliseconds).
    public var firstRaisedAt: Int64
    /// When the condition was last reported to hold.
    public var lastRaisedAt: Int64
    /// When it was last notified (logged and queued); `nil` never happens for a stored raise, kept optional for rows
    /// a future version might store unnotified.
    public var lastNotifiedAt: Int64?
    /// Notifications of this episode, the first included.
    public var timesNotified: Int
    /// The last message: the raise's while raised, the clear's once cleared.
    public var message: String
    /// The structured fields of the last raise (`job_id`, `account`, ...).
    public var context: [String: String]
    public var clearedAt: Int64?
    /// The stored event the notification jobs belong to.
    public var eventID: Int64?
}

/// What a `raise` or `clear` did.
public struct AlertChange: Sendable, Equatable {
    public var record: AlertRecord
    /// The condition was not raised before this call (a new episode began).
    public var newlyRaised: Bool
    /// This call is a notification: the first of an episode, a repeat after the interval, or the clear.
    public var notified: Bool
    /// The notification job created (`nil`: none was asked for, or there is no stored event to attach it to).
    public var jobID: Int64?
}

/// What the alert center and the CLI need from the durable state of alert conditions, whatever engine stores it
/// (`SQLiteAlertStore` today).
///
/// Contract every implementation keeps: `raise` and `clear` are atomic together with the notification job they
/// create (a crash can neither notify without recording it nor record without notifying), a notification job
/// belongs to a stored event (the one given, else the condition's previous one, else the newest) and none is
/// created without one; a stored state the implementation cannot read is an error. Thread-safety is the
/// implementation's: `SQLiteAlertStore` is used by one thread at a time.
public protocol AlertStorage: AnyObject {
    /// The condition's row, or `nil` when it was never raised.
    func alert(kind: String, subject: String) throws -> AlertRecord?
    /// Raised conditions (most recently raised first), then, with `includeCleared`, cleared ones.
    func alerts(includeCleared: Bool) throws -> [AlertRecord]
    /// The subjects of the raised conditions of `kind`, sorted.
    func raisedSubjects(kind: String) throws -> [String]
    /// Whether any of `subjects` of `kind` is raised.
    func anyRaised(kind: String, subjects: [String]) throws -> Bool
    /// Raised conditions per kind.
    func raisedCounts() throws -> [String: Int]
    /// Records that the condition holds; notifies (creating `notification`'s job) when newly raised or due again.
    func raise(kind: String, subject: String, message: String, context: [String: String], eventID: Int64?, now: Int64,
               repeatAfterMilliseconds: Int64, notification: (AlertRecord) -> NewJob?) throws -> AlertChange
    /// Records that a raised condition no longer holds, with its notification job. - Returns: `nil` if not raised.
    func clear(kind: String, subject: String, message: String, now: Int64,
               notification: (AlertRecord) -> NewJob?) throws -> AlertChange?
    /// The newest stored event's id (what a job no event caused is attached to).
    func newestEvent() throws -> Int64?
    /// Releases the storage's connection.
    func close()
}
