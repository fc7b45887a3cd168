/// What applying one observation did.
/// A value type; thread-safe.
public struct ContactChange: Sendable, Equatable {
    /// The contact the event belongs to; `nil` when the event names no one yet (a Stripe event with only an unlinked
    /// customer id: it is kept pending and applied when that customer is linked).
    public var contactID: Int64?
    public var email: String?
    /// `true`: this event had been applied before; nothing changed, and `transitions` are the ones it caused then.
    public var alreadyApplied: Bool
    public var created: Bool
    public var pending: Bool
    /// Segment entries and exits this event caused (including those of pending events it resolved).
    public var transitions: [SegmentTransition]

    public init(contactID: Int64?, email: String?, alreadyApplied: Bool, created: Bool, pending: Bool,
                transitions: [SegmentTransition]) {
        self.contactID = contactID
        self.email = email
        self.alreadyApplied = alreadyApplied
        self.created = created
        self.pending = pending
        self.transitions = transitions
    }
}
