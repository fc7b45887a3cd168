/// A contact entering or leaving a segment. `entry` counts entries (1 for the first), so a rule on
/// `segment_entered` fires once per entry.
/// A value type; thread-safe.
public struct SegmentTransition: Sendable, Equatable {
    public var contactID: Int64
    public var email: String
    public var segment: String
    public var entered: Bool
    public var entry: Int
    /// The event that caused it (for a change the clock caused, the contact's latest event).
    public var eventID: Int64

    public init(contactID: Int64, email: String, segment: String, entered: Bool, entry: Int, eventID: Int64) {
        self.contactID = contactID
        self.email = email
        self.segment = segment
        self.entered = entered
        self.entry = entry
        self.eventID = eventID
    }
}
