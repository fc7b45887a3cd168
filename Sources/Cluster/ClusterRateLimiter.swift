import Logging
import Outbound
import PostgreSQL
import Store
import Synchronization

/// A provider's request rate limit shared by every node on one PostgreSQL database, so that `max_rps` holds for the
/// sum of the nodes' requests in every sliding second, however many nodes run.
///
/// The database keeps, per limit, the next free request slot in the server's clock (`cluster_rate_limits`). Each
/// grant is one statement: it takes the slot (`max(next_slot, now)`), moves `next_slot` one interval (⌈10^6 / rate⌉
/// µs) past it, and returns how far the slot is from the server's now; the caller sleeps that long, then sends.
/// Slots are therefore at least one interval apart across the cluster, whichever node takes them, and the nodes'
/// own clocks never enter into it (each wait is measured against the one server clock, and the round trip back only
/// adds to it). Idling saves nothing up (a slot is never earlier than now), a restart adds no burst (the next slot
/// is kept in the database), and a 429 pauses every node (`pause(forMilliseconds:)` moves the slot).
///
/// Cost: one round trip per request, serialized on the limit's row for the statement's duration: 0.04 ms of server time
/// per grant with one node, 0.12 ms with three at once (pgbench, docs/benchmarks.md), against at most ~100 requests/s
/// per provider. The session commits without waiting for the WAL flush (`synchronous_commit = off`).
///
/// While the database cannot be reached the limiter falls back to this node's own `RateLimiter` at the full rate
/// (the workers cannot claim jobs from an unreachable database either, so only requests already under way are
/// concerned) and logs it once; it connects again on the next grant.
///
/// Thread-safe: the connection is used under a lock, the sleeps happen outside it.
public final class ClusterRateLimiter: RequestRateLimiting {
    private struct State {
        var intervalMicroseconds: Int64
        var reportedFailure = false
    }

    private let name: String
    private let session: ClusterSession
    private let state: Mutex<State>
    private let local: RateLimiter
    private let logger: Logger

    /// - Parameters:
    ///   - name: the limit's name, the same on every node (`stripe`, `instantly`).
    ///   - requestsPerSecond: the most requests in any one-second window across the cluster.
    public init(name: String, requestsPerSecond: Double, url: String, password: String?, logger: Logger) {
        self.name = name
        // A slot need not survive a crash of the server (losing the last few moves it only lets a node send a little
        // early once): without waiting for the WAL flush, a grant costs 0.04 ms of the server instead of 0.9 ms
        // (pgbench on this machine, docs/scale-out.md).
        session = ClusterSession(url: url, password: password, applicationName: "hookyard rate limits", connectTimeoutSeconds: 2,
                                 setup: { try $0.execute("SET synchronous_commit = off") })
        self.logger = logger
        local = RateLimiter(requestsPerSecond: requestsPerSecond)
        state = Mutex(State(intervalMicroseconds: Self.interval(requestsPerSecond)))
    }

    /// ⌈10^6 / rate⌉ microseconds, at least 1 (rates below 0.001 or not finite are taken as 0.001, as `RateLimiter`).
    static func interval(_ requestsPerSecond: Double) -> Int64 {
        let rate = requestsPerSecond.isFinite && requestsPerSecond >= 0.001 ? requestsPerSecond : 0.001
        return max(1, Int64((1e6 / rate).rounded(.up)))
    }

    public func update(requestsPerSecond: Double) {
        local.update(requestsPerSecond: requestsPerSecond)
        state.withLock { $0.intervalMicroseconds = Self.interval(requestsPerSecond) }
    }

    public func acquireGrant() {
        while true {
            let wait: Int64?
            do {
                wait = try withConnection { connection, interval in
                    // PostgreSQL-specific: clock_timestamp() is the server's clock at this statement (now() would be
                    // the transaction's start); the row lock serializes the nodes' grants.
                    try connection.query("""
                        WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now_us)
                        UPDATE cluster_rate_limits SET next_slot_us = greatest(next_slot_us, clock.now_us) + $2
                        FROM clock WHERE name = $1
                        RETURNING next_slot_us - $2 - clock.now_us
                        """, [name, interval]).first?.int(0)
                }
            } catch {
                reportFailure(error)
                local.acquire()
                return
            }
            guard let wait else {
                // First use of this limit on this database: create its row (every node may race to; one wins).
                do {
                    _ = try withConnection { connection, _ in
                        try connection.query("INSERT INTO cluster_rate_limits (name, next_slot_us) VALUES ($1, 0) ON CONFLICT DO NOTHING", [name])
                    }
                } catch {
                    reportFailure(error)
                    local.acquire()
                    return
                }
                continue
            }
            if wait > 0 { SystemRateLimiterClock().sleep(nanoseconds: UInt64(wait) * 1_000) }
            if wait >= 1_000_000 { continue } // a slot over a second away was not taken to be slept on in one go
            return
        }
    }

    public func pause(forMilliseconds milliseconds: Double) {
        local.pause(forMilliseconds: milliseconds)
        guard milliseconds > 0 else { return }
        let microseconds = Int64(min(milliseconds, 86_400_000) * 1_000)
        _ = try? withConnection { connection, _ in
            try connection.query("""
                UPDATE cluster_rate_limits
                SET next_slot_us = greatest(next_slot_us, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $2)
                WHERE name = $1
                """, [name, microseconds])
        }
    }

    /// Closes the connection.
    public func close() { session.close() }

    /// Runs `body` on the session with the current interval; the first success after a failure says so in the log.
    private func withConnection<R>(_ body: (PostgreSQLConnection, Int64) throws -> R) throws -> R {
        let interval = state.withLock { $0.intervalMicroseconds }
        let result = try session.withConnection { try body($0, interval) }
        let recovered = state.withLock { state in
            defer { state.reportedFailure = false }
            return state.reportedFailure
        }
        if recovered { logger.notice("the cluster's rate limit is shared again", metadata: ["limit": "\(name)"]) }
        return result
    }

    private func reportFailure(_ error: any Error) {
        let first = state.withLock { state in
            defer { state.reportedFailure = true }
            return !state.reportedFailure
        }
        if first {
            logger.warning("cannot reach the database for the cluster's rate limit; this node limits itself alone until it can",
                           metadata: ["limit": "\(name)", "error": "\(error)"])
        }
    }
}
