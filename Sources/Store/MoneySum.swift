/// Checked sums of money amounts that came from outside (Stripe's smallest units, stored as received): the one place
/// that decides what an amount too large to count is and what a total that cannot be represented becomes.
///
/// Rule (docs/security.md, "Checked arithmetic"): an amount whose magnitude exceeds `plausibleLimit` is not money
/// Stripe can move and is left out of totals; an addition that would overflow `Int64` is left out too, never
/// trapped. Callers report what was left out (the report as a note, `contacts show` as an overflowed value).
///
/// A value type; not shared between threads while it is being added to.
public struct MoneySum: Sendable, Equatable {
    /// The largest magnitude counted, in smallest units: 10^15 (ten trillion dollars in cents). Stripe accepts at most
    /// eight digits (twelve for a few currencies such as IDR), so no real amount comes near it, and 9,223 rows at the
    /// limit still sum without overflow.
    public static let plausibleLimit: Int64 = 1_000_000_000_000_000

    /// Why an amount was not added.
    public enum Exclusion: String, Sendable, Equatable {
        /// Its magnitude exceeds `plausibleLimit`.
        case implausible
        /// Adding it would overflow the total (positive or negative side).
        case overflow
    }

    /// Sum of the positive amounts added, and of the negative ones: kept apart so that every partial sum of the
    /// added amounts (any subset: one group, gross or refunds) is representable too.
    public private(set) var positive: Int64 = 0
    public private(set) var negative: Int64 = 0

    public init() {}

    /// The net total of the amounts added (never overflows: it lies between `negative` and `positive`).
    public var total: Int64 { positive + negative }

    /// Whether `amount` may be counted at all.
    public static func isPlausible(_ amount: Int64) -> Bool { amount.magnitude <= UInt64(plausibleLimit) }

    /// Adds `amount` unless it is implausible or would overflow. - Returns: `nil` when added, else why not (the
    /// sum is then unchanged).
    @discardableResult
    public mutating func add(_ amount: Int64) -> Exclusion? {
        guard Self.isPlausible(amount) else { return .implausible }
        if amount >= 0 {
            let (sum, overflow) = positive.addingReportingOverflow(amount)
            if overflow { return .overflow }
            positive = sum
        } else {
            let (sum, overflow) = negative.addingReportingOverflow(amount)
            if overflow { return .overflow }
            negative = sum
        }
        return nil
    }

    /// An exact `Int64` sum of amounts of any size, or `nil` when it cannot be represented. Unlike `add`, no amount is
    /// refused as implausible: for showing what was recorded (one contact's revenue), not for aggregate figures.
    public static func exactTotal(_ amounts: some Sequence<Int64>) -> Int64? {
        var total: Int64 = 0
        for amount in amounts {
            let (sum, overflow) = total.addingReportingOverflow(amount)
            if overflow { return nil }
            total = sum
        }
        return total
    }
}
