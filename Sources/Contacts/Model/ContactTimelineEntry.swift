/// One line of a contact's history (`ContactStorage.timeline`), newest first there.
/// A value type; thread-safe.
public struct ContactTimelineEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// An event applied to the contact: `reference` is the event's row id, `detail` "<source> <type>".
        case event
        /// A job of such an event: `reference` is the job id, `detail` "<kind> <state>"; `at` is its last change.
        case job
        /// A payment, invoice or refund: `reference` is Stripe's id, `detail` "<kind> <amount> <currency>".
        case payment
        /// A purchase a workflow recorded for their email: `reference` is its provider reference,
        /// `detail` "<amount> <currency> <rule>".
        case purchase
        /// A segment entry or exit: `reference` is the segment, `detail` "entered #<n>" or "left".
        case segment
        /// A registration (`contact.register`): `reference` is its reference (a Checkout Session id), `detail`
        /// "<product>".
        case registration
    }

    /// Unix milliseconds.
    public var at: Int64
    public var kind: Kind
    public var reference: String
    public var detail: String

    public init(at: Int64, kind: Kind, reference: String, detail: String) {
        self.at = at
        self.kind = kind
        self.reference = reference
        self.detail = detail
    }
}
