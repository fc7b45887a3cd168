/// What erasing one person (`ContactStorage.erase`) changed.
/// A value type; thread-safe.
public struct ContactErasure: Sendable, Equatable {
    /// The id the erased contact had; `nil` when there was no contact record, only other copies of the address.
    public var contactID: Int64?
    /// Events whose body was emptied: the contact's own, those pending for their Stripe customers, and any other
    /// whose body contained the address.
    public var eventsRedacted: Int
    /// Jobs whose input, output and error were cleared (those of the redacted events, and any naming the address).
    public var jobsRedacted: Int
    /// Job attempts whose error was replaced by `erased`.
    public var attemptsRedacted: Int
    /// Purchases whose email was removed (kept for revenue reports).
    public var purchasesAnonymised: Int
    /// Observations that waited for one of their Stripe customers, deleted.
    public var pendingDeleted: Int
    /// Activity rows kept as anonymous counts (contact and event removed).
    public var activityAnonymised: Int
    /// Payment rows kept as anonymous revenue (contact and event removed).
    public var paymentsAnonymised: Int
    /// `true` once the write-ahead log was checkpointed and truncated to zero bytes, so no earlier page version
    /// survives in it; `false` when another connection's read kept the checkpoint from finishing (run it again).
    public var walTruncated: Bool
    /// Other columns where values named the address and had it replaced (alerts, headers, holdbacks, ...), with rows.
    public var otherRedacted: [AddressOccurrence]
    /// What still names the address after the erasure, searched in every text column of every table once the
    /// database was rewritten: empty when the erasure is complete.
    public var remaining: [AddressOccurrence]

    public init(contactID: Int64?, eventsRedacted: Int, jobsRedacted: Int, attemptsRedacted: Int,
                purchasesAnonymised: Int, pendingDeleted: Int, activityAnonymised: Int, paymentsAnonymised: Int,
                walTruncated: Bool, otherRedacted: [AddressOccurrence] = [], remaining: [AddressOccurrence] = []) {
        self.otherRedacted = otherRedacted
        self.remaining = remaining
        self.contactID = contactID
        self.eventsRedacted = eventsRedacted
        self.jobsRedacted = jobsRedacted
        self.attemptsRedacted = attemptsRedacted
        self.purchasesAnonymised = purchasesAnonymised
        self.pendingDeleted = pendingDeleted
        self.activityAnonymised = activityAnonymised
        self.paymentsAnonymised = paymentsAnonymised
        self.walTruncated = walTruncated
    }
}
