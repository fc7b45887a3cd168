import Foundation
import PostgreSQL

/// A node's own PostgreSQL session for one coordination concern (its task locks, its rate-limit grants): opened on
/// first use, so a node starts while the database is down, and after a lost connection opened again by the wrapper
/// on the next call (`reconnectsAutomatically`), with `setup` applied to every new session.
///
/// Thread-safe: calls on the session are serialized under a lock (the body runs inside it: keep it to statements).
final class ClusterSession: @unchecked Sendable {  // Safe: `connection` only under `lock`.
    private let lock = NSLock()
    private var connection: PostgreSQLConnection?
    private let url: String
    private let password: String?
    private let applicationName: String
    private let connectTimeoutSeconds: Int
    private let setup: (@Sendable (PostgreSQLConnection) throws -> Void)?

    init(url: String, password: String?, applicationName: String, connectTimeoutSeconds: Int,
         setup: (@Sendable (PostgreSQLConnection) throws -> Void)? = nil) {
        self.url = url
        self.password = password
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.setup = setup
    }

    /// Runs `body` on the session, opening it first if need be.
    /// - Throws: `PostgreSQLError` when the server cannot be reached (the next call tries again), or `body`'s error.
    func withConnection<R>(_ body: (PostgreSQLConnection) throws -> R) throws -> R {
        try lock.withLock {
            if connection == nil {
                let opened = try PostgreSQLConnection(url: url, password: password, applicationName: applicationName,
                                                      connectTimeoutSeconds: connectTimeoutSeconds)
                try setup?(opened)
                opened.sessionSetup = setup
                opened.reconnectsAutomatically = true
                connection = opened
            }
            return try body(connection!)
        }
    }

    /// Ends the session (releasing what it holds, such as advisory locks).
    func close() {
        lock.withLock {
            connection?.close()
            connection = nil
        }
    }
}
