/// One registration of a contact for a catalog product (`contact.register`), as stored.
/// A value type; thread-safe.
public struct ContactRegistration: Sendable, Equatable {
    /// The catalog product key (`webinar`).
    public var product: String
    /// What the registration came from, unique: a Checkout Session id, an order number.
    public var reference: String
    /// The event whose flow recorded it.
    public var eventID: Int64
    /// Unix milliseconds.
    public var registeredAt: Int64

    public init(product: String, reference: String, eventID: Int64, registeredAt: Int64) {
        self.product = product
        self.reference = reference
        self.eventID = eventID
        self.registeredAt = registeredAt
    }
}

/// What `ContactStorage.register` did: whether the registration is new, where the product stands against its seats,
/// and the segment changes it caused.
/// A value type; thread-safe.
public struct RegistrationResult: Sendable, Equatable {
    public var contactID: Int64
    /// `false` when the reference, or this contact's registration for the product, was recorded before: nothing
    /// new was stored, and the counts are those of the registration recorded first.
    public var created: Bool
    /// The product of the registration (for a reference recorded before, the product it was recorded for).
    public var product: String
    /// How many registrations the product had once this one was recorded: its own place in line (the 1st, the
    /// 100th), so the same reference always reports the same count.
    public var registrations: Int
    /// The seats the call passed; `nil` without.
    public var seats: Int?
    /// `seats - registrations`, never below 0; `nil` without seats.
    public var seatsLeft: Int?
    /// `registrations >= seats`; `false` without seats.
    public var soldOut: Bool
    /// Segment entries and exits the registration caused (recorded unqueued, like those of `linkLead`).
    public var transitions: [SegmentTransition]

    public init(contactID: Int64, created: Bool, product: String, registrations: Int, seats: Int?,
                transitions: [SegmentTransition]) {
        self.contactID = contactID
        self.created = created
        self.product = product
        self.registrations = registrations
        self.seats = seats
        self.seatsLeft = seats.map { max(0, $0 - registrations) }
        self.soldOut = seats.map { registrations >= $0 } ?? false
        self.transitions = transitions
    }
}
