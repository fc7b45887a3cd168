/// Something a person did that Instantly reports, counted on their contact record and weighed for engagement.
/// A value type; thread-safe.
public enum ContactActivity: String, Sendable, CaseIterable, Codable {
    case sent
    case opened
    case clicked
    case replied
    case bounced
    case unsubscribed
    case meetingBooked = "meeting_booked"
}
