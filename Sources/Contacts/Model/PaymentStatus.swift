/// Where a contact stands with payments. Derived, never set by hand: the current subscription's status when the
/// contact has one (`active`/`trialing`/`paused` -> customer, `past_due`/`unpaid` -> past_due, `canceled` and
/// `incomplete_expired` -> canceled), otherwise `customer` once they paid anything, otherwise `prospect`.
/// A value type; thread-safe.
public enum PaymentStatus: String, Sendable, CaseIterable, Codable {
    case prospect
    case customer
    case pastDue = "past_due"
    case canceled
}
