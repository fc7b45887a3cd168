import Foundation
import HookyardFoundation

/// Which campaign a purchase is credited to.
public enum AttributionModel: String, Codable, Sendable, CaseIterable {
    /// The campaign that first emailed the contact (at or before the purchase, no lookback).
    case first
    /// The payment link's campaign, else the last campaign that emailed the contact within the lookback.
    case last
}

/// What the report's groups are.
public enum ReportGrouping: String, Codable, Sendable, CaseIterable {
    /// The attributed campaign (per the model), or `direct`.
    case campaign
    /// The rule that created the payment link (its `hookyard_rule` metadata), else the rule that last ran for the
    /// contact within the lookback, else `(none)`.
    case rule
    /// `payment_link`, `outreach` or `direct`.
    case source
    /// The payment's tier, else `(none)`.
    case tier
}

/// A report request: the period `[since, until)`, the attribution model, the grouping and the last-touch lookback.
/// Built from text (CLI options, page query parameters) by `parse`, whose errors name the bad value and what is
/// accepted. A value type; Sendable.
public struct ReportQuery: Codable, Sendable, Equatable {
    /// Start of the period, inclusive (Unix milliseconds).
    public var since: Int64
    /// End of the period, exclusive (Unix milliseconds).
    public var until: Int64
    /// First or last touch.
    public var model: AttributionModel
    /// `--by`: campaign, rule, source or tier.
    public var grouping: ReportGrouping
    /// How far before a purchase a touch still counts as its last touch (milliseconds).
    public var lookbackMilliseconds: Int64

    /// 30 days: the default period and the default lookback.
    public static let defaultPeriodMilliseconds: Int64 = 30 * 86_400_000
    public static let defaultLookbackMilliseconds: Int64 = 30 * 86_400_000

    public init(since: Int64, until: Int64, model: AttributionModel = .last, grouping: ReportGrouping = .campaign,
                lookbackMilliseconds: Int64 = ReportQuery.defaultLookbackMilliseconds) {
        self.since = since
        self.until = until
        self.model = model
        self.grouping = grouping
        self.lookbackMilliseconds = lookbackMilliseconds
    }

    /// Reads a query from text; `nil` or empty text takes the default: until = `now`, since = until − 30 days,
    /// model `last`, grouping `campaign`, lookback `defaultLookback`.
    /// - Throws: `ReportQueryError` naming the field, the bad value and the accepted values; also when since is
    ///   not before until.
    public static func parse(since: String? = nil, until: String? = nil, model: String? = nil, by: String? = nil,
                             lookback: String? = nil, now: Int64,
                             defaultLookbackMilliseconds: Int64 = ReportQuery.defaultLookbackMilliseconds)
        throws(ReportQueryError) -> ReportQuery {
        let untilTime = try present(until).map { text throws(ReportQueryError) in try time(text, field: "until") } ?? now
        let sinceTime = try present(since).map { text throws(ReportQueryError) in try time(text, field: "since") }
            ?? untilTime - defaultPeriodMilliseconds
        guard sinceTime < untilTime else {
            throw ReportQueryError(field: "since", value: since ?? ISO8601Timestamp.string(sinceTime),
                                   expected: "a time before until (\(ISO8601Timestamp.string(untilTime)))")
        }
        return ReportQuery(
            since: sinceTime, until: untilTime,
            model: try present(model).map { text throws(ReportQueryError) in try attributionModel(text) } ?? .last,
            grouping: try present(by).map { text throws(ReportQueryError) in try grouping(text) } ?? .campaign,
            lookbackMilliseconds: try present(lookback).map { text throws(ReportQueryError) in
                try lookbackMilliseconds(text, field: "lookback")
            } ?? defaultLookbackMilliseconds)
    }

    /// `2026-08-14` (UTC midnight) or ISO 8601 (`2026-08-14T09:30:00Z`, `2026-08-14T11:30:00+02:00`) as Unix
    /// milliseconds.
    public static func time(_ text: String, field: String) throws(ReportQueryError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let isDay = trimmed.utf8.count == 10 && trimmed.utf8.allSatisfy { $0 == UInt8(ascii: "-") || (48...57).contains($0) }
        if let milliseconds = ISO8601Timestamp.milliseconds(isDay ? trimmed + "T00:00:00Z" : trimmed) {
            return milliseconds
        }
        throw ReportQueryError(field: field, value: text,
                               expected: "a date as YYYY-MM-DD (UTC midnight) or ISO 8601 such as 2026-08-14T09:30:00Z")
    }

    /// `first` or `last`.
    public static func attributionModel(_ text: String) throws(ReportQueryError) -> AttributionModel {
        guard let model = AttributionModel(rawValue: text.lowercased()) else {
            throw ReportQueryError(field: "model", value: text, expected: AttributionModel.allCases.map(\.rawValue).joined(separator: " or "))
        }
        return model
    }

    /// `campaign`, `rule`, `source` or `tier`.
    public static func grouping(_ text: String) throws(ReportQueryError) -> ReportGrouping {
        guard let grouping = ReportGrouping(rawValue: text.lowercased()) else {
            throw ReportQueryError(field: "by", value: text,
                                   expected: ReportGrouping.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return grouping
    }

    /// A positive whole number of weeks, days or hours: `30d`, `2w`, `12h`, as milliseconds.
    public static func lookbackMilliseconds(_ text: String, field: String) throws(ReportQueryError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Int64] = ["w": 604_800_000, "d": 86_400_000, "h": 3_600_000]
        if let unit = trimmed.last, let size = units[unit], let count = Int64(trimmed.dropLast()), (1...36_500).contains(count) {
            return count * size
        }
        throw ReportQueryError(field: field, value: text, expected: "a duration such as 30d, 2w or 12h")
    }

    private static func present(_ text: String?) -> String? {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return text
    }

    enum CodingKeys: String, CodingKey {
        case since, until, model
        case grouping = "by"
        case lookbackMilliseconds = "lookback_ms"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        since = try ReportTime.decode(container, .since)
        until = try ReportTime.decode(container, .until)
        model = try container.decode(AttributionModel.self, forKey: .model)
        grouping = try container.decode(ReportGrouping.self, forKey: .grouping)
        lookbackMilliseconds = try container.decode(Int64.self, forKey: .lookbackMilliseconds)
    }

    /// `since` and `until` as ISO 8601 text, `by`, `lookback_ms`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ISO8601Timestamp.string(since), forKey: .since)
        try container.encode(ISO8601Timestamp.string(until), forKey: .until)
        try container.encode(model, forKey: .model)
        try container.encode(grouping, forKey: .grouping)
        try container.encode(lookbackMilliseconds, forKey: .lookbackMilliseconds)
    }
}

/// A report option whose value was not understood: `description` names the option, the value and what is accepted,
/// e.g. `invalid by 'week': expected campaign, rule, source, tier`.
public struct ReportQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The option or query parameter: since, until, model, by, lookback.
    public let field: String
    public let value: String
    /// What would have been accepted.
    public let expected: String

    public init(field: String, value: String, expected: String) {
        self.field = field
        self.value = value
        self.expected = expected
    }

    public var description: String { "invalid \(field) '\(value)': expected \(expected)" }
}

/// Formatting of report times and durations, shared by the renderers. Stateless.
public enum ReportTime {
    /// `2026-08-14` (times themselves are written with `ISO8601Timestamp.string`).
    public static func day(_ milliseconds: Int64) -> String { String(ISO8601Timestamp.string(milliseconds).prefix(10)) }

    /// A duration as its largest whole units: `3d 4h`, `5h 12m`, `40m`, `12s`.
    public static func duration(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60)
        if days > 0 { return hours > 0 ? "\(days)d \(hours)h" : "\(days)d" }
        if hours > 0 { return minutes > 0 ? "\(hours)h \(minutes)m" : "\(hours)h" }
        if minutes > 0 { return "\(minutes)m" }
        return "\(seconds)s"
    }

    /// `30d` or `12h`: the lookback as `ReportQuery.lookbackMilliseconds` reads it.
    public static func lookback(_ milliseconds: Int64) -> String {
        milliseconds % 86_400_000 == 0 ? "\(milliseconds / 86_400_000)d" : "\(milliseconds / 3_600_000)h"
    }

    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Int64 {
        let text = try container.decode(String.self, forKey: key)
        guard let milliseconds = ISO8601Timestamp.milliseconds(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "'\(text)' is not ISO 8601")
        }
        return milliseconds
    }
}
