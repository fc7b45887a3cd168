/// Why a segment or a rule's condition cannot be compiled: an unknown or circular segment reference, a duplicate
/// name, or a test that does not fit its field (a number test on a text field, an unknown `payment_status`).
/// A value type; thread-safe.
public struct SegmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The segment being compiled (the name passed to `compile` for a rule's condition).
    public var segment: String
    /// A sentence naming the problem and, where there is a choice, the allowed values.
    public var message: String

    public init(segment: String, message: String) {
        self.segment = segment
        self.message = message
    }

    public var description: String { "segment '\(segment)': \(message)" }
}
