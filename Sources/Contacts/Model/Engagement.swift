/// How engaged a contact is over the rolling window of `EngagementPolicy`.
/// A value type; thread-safe.
public enum EngagementLevel: String, Sendable, CaseIterable, Codable, Comparable {
    case low
    case medium
    case high

    private var rank: Int { self == .low ? 0 : self == .medium ? 1 : 2 }
    public static func < (a: EngagementLevel, b: EngagementLevel) -> Bool { a.rank < b.rank }
}

/// Weights and thresholds that turn a contact's activities within the last `windowDays` days into a level.
///
/// score = sum over activities in the window of weight(kind). `high` when score >= `high`, `medium` when
/// score >= `medium`, else `low`. Unless `opensCanMakeHigh`, opens alone never reach `high`: when the score
/// without opens is below `high`, the score is capped just below it (privacy proxies fetch tracking pixels, so an
/// "open" is often a machine). A value type; thread-safe.
public struct EngagementPolicy: Sendable, Equatable {
    public var windowDays: Int
    public var weights: [ContactActivity: Double]
    public var high: Double
    public var medium: Double
    public var opensCanMakeHigh: Bool

    public static let defaultWeights: [ContactActivity: Double] = [
        .sent: 0, .opened: 1, .clicked: 3, .replied: 10, .meetingBooked: 10, .bounced: 0, .unsubscribed: 0,
    ]

    public init(windowDays: Int = 30, weights: [ContactActivity: Double] = EngagementPolicy.defaultWeights,
                high: Double = 10, medium: Double = 3, opensCanMakeHigh: Bool = false) {
        self.windowDays = windowDays
        self.weights = weights
        self.high = high
        self.medium = medium
        self.opensCanMakeHigh = opensCanMakeHigh
    }

    public var windowMilliseconds: Int64 { Int64(windowDays) * 86_400_000 }

    /// The level for these counts of activities within the window.
    public func level(counts: [ContactActivity: Int]) -> EngagementLevel {
        var score = 0.0
        var withoutOpens = 0.0
        for (kind, count) in counts {
            let part = (weights[kind] ?? 0) * Double(count)
            score += part
            if kind != .opened { withoutOpens += part }
        }
        if !opensCanMakeHigh, withoutOpens < high, score >= high { score = max(withoutOpens, medium) }
        if score >= high { return .high }
        if score >= medium, medium > 0 || score > 0 { return .medium }
        return .low
    }
}
