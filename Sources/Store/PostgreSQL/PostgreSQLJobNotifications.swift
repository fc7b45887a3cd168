import HookyardFoundation
import PostgreSQL

/// Announcements that jobs were queued, across nodes: the event writer and the job queue send `NOTIFY hookyard_jobs`
/// in the transaction that queued jobs, and every node's workers wait here instead of polling tightly. Owns a
/// connection of its own that only `LISTEN`s.
///
/// After a lost connection, `wait` opens it again, listens again and returns `true`: announcements sent meanwhile
/// were missed, so the caller must look for due jobs. A `true` is a hint to look, never a promise that a job is due
/// (another node may have claimed it); a `false` only means nothing was announced while waiting.
///
/// Not thread-safe: one thread waits at a time. `close()` ends the session.
public final class PostgreSQLJobNotifications {
    /// The channel Hookyard announces queued jobs on.
    public static let channel = "hookyard_jobs"

    private let connection: PostgreSQLConnection
    /// The connection was lost: reconnect and listen again before the next wait.
    private var needsReconnect = false

    /// Connects to `url` (no migration: listening needs no table) and starts listening.
    /// - Throws: `PostgreSQLError` when the server cannot be reached or refuses the login.
    public convenience init(url: String, password: String?, applicationName: String = "hookyard-listener") throws {
        self.init(listeningOn: try PostgreSQLConnection(url: url, password: password, applicationName: applicationName))
        try connection.listen(Self.channel)
    }

    private init(listeningOn connection: PostgreSQLConnection) {
        self.connection = connection
    }

    /// Waits up to `timeoutMilliseconds` for an announcement. - Returns: `true` if jobs were announced (all
    /// announcements that arrived are consumed), or if the connection was lost and listening had to start again;
    /// `false` when nothing came in time.
    /// - Throws: `PostgreSQLError` only when the server cannot be reached again (the next call tries again).
    public func wait(timeoutMilliseconds: Int32) throws -> Bool {
        if needsReconnect || !connection.isOpen {
            try connection.reconnect()
            try connection.listen(Self.channel)
            needsReconnect = false
            return true
        }
        let deadline = MonotonicClock.milliseconds() + Int64(max(0, timeoutMilliseconds))
        while true {
            let received: [PostgreSQLNotification]
            do {
                received = try connection.notifications(waitingUpTo: Int32(clamping: max(0, deadline - MonotonicClock.milliseconds())))
            } catch {
                guard error.isConnectionFailure else { throw error }
                return listenAgain()
            }
            // Input without notifications (a message from the server ending the session, say) waits on.
            if !received.isEmpty { return received.contains { $0.channel == Self.channel } }
            if !connection.isOpen { return listenAgain() }
            if MonotonicClock.milliseconds() >= deadline { return false }
        }
    }

    /// After a lost connection: reconnects and listens again at once, and reports `true` even if that fails (the
    /// caller looks for jobs, then waits again, which retries the connection).
    private func listenAgain() -> Bool {
        needsReconnect = true
        if (try? connection.reconnect()) != nil, (try? connection.listen(Self.channel)) != nil { needsReconnect = false }
        return true
    }

    /// Ends the session. Idempotent.
    public func close() { connection.close() }
}
