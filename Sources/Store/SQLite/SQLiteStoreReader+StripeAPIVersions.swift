extension SQLiteStoreReader {
    /// The newest `limit` stored Stripe events per `api_version`, the most recently seen version first; events
    /// whose payload is gone (pruned) count under `nil`. Bounded, so `stats` stays fast on a large store (every
    /// stored Stripe payload of 200,000 events took 4 to 7 s): what matters is what the endpoint sends now.
    public func stripeAPIVersions(newest limit: Int) throws -> [StripeAPIVersionCount] {
        // SQLite-specific: JSON functions `json_valid`/`json_type`/`json_extract` (PostgreSQL: `jsonb` operators); `CAST` between BLOB and TEXT.
        let statement = try database.prepare("""
            SELECT CASE WHEN length(body) > 0 AND json_valid(CAST(body AS TEXT))
                        THEN json_extract(CAST(body AS TEXT), '$.api_version') END AS version,
                   count(*), max(received_at)
            FROM (SELECT body, received_at FROM events WHERE source = 'stripe' ORDER BY id DESC LIMIT ?)
            GROUP BY version ORDER BY max(received_at) DESC, version
            """)
        try statement.bind(1, Int64(max(1, limit)))
        var counts: [StripeAPIVersionCount] = []
        while try statement.step() {
            let version = statement.string(0).flatMap { $0.isEmpty ? nil : $0 }
            counts.append(StripeAPIVersionCount(version: version, events: Int(statement.int(1)), lastSeen: statement.int(2)))
        }
        return counts
    }
}
