/// The Stripe API versions stored events were rendered in (`api_version`), as `hookyard stats` and
/// `hookyard check-config` show them.
public struct StripeAPIVersionCount: Sendable, Equatable {
    /// `nil` for events whose payload was pruned (`retention.payload_days`) or names no version.
    public var version: String?
    public var events: Int
    /// Unix milliseconds: when the newest of them was received.
    public var lastSeen: Int64

    public init(version: String?, events: Int, lastSeen: Int64) {
        self.version = version
        self.events = events
        self.lastSeen = lastSeen
    }
}

extension StoreReader {
    /// Stored Stripe events per `api_version`, the most recently seen version first. Reads every stored Stripe
    /// payload (the last `retention.payload_days` of them); events whose payload is gone count under `nil`.
    public func stripeAPIVersions() throws -> [StripeAPIVersionCount] {
        let statement = try database.prepare("""
            SELECT CASE WHEN length(body) > 0 AND json_valid(CAST(body AS TEXT))
                        THEN json_extract(CAST(body AS TEXT), '$.api_version') END AS version,
                   count(*), max(received_at)
            FROM events WHERE source = 'stripe'
            GROUP BY version ORDER BY max(received_at) DESC, version
            """)
        var counts: [StripeAPIVersionCount] = []
        while try statement.step() {
            let version = statement.string(0).flatMap { $0.isEmpty ? nil : $0 }
            counts.append(StripeAPIVersionCount(version: version, events: Int(statement.int(1)), lastSeen: statement.int(2)))
        }
        return counts
    }
}
