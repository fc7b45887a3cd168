import PostgreSQL

/// Opening a PostgreSQL connection the way every Hookyard connection must see it, and the schema's migration runner
/// (`PostgreSQLSchema`). Stateless; each call returns a new connection with `PostgreSQLConnection`'s thread rules.
///
/// Migrations run one at a time, each in its own transaction holding a transaction-level advisory lock
/// (`migrationLockKey`), and each re-reads the version inside that lock: nodes that start together wait for one
/// another and the schema is migrated once. A crash mid-migration rolls that migration back whole.
public enum PostgreSQLStoreConnection {
    /// The advisory lock key the migrations hold (the bytes of "hookyard").
    public static let migrationLockKey: Int64 = 0x686F_6F6B_7961_7264

    /// Opens a connection to `url`, creating or migrating the schema when this build's is newer.
    /// - Parameters:
    ///   - password: from a file or a systemd credential, overriding the URI's.
    ///   - durableCommits: when false, the session commits with `synchronous_commit = off`: a commit survives the
    ///     process but a crash of the server may roll back the last few, which callers accept when what they write
    ///     is re-derived or repeated harmlessly (SQLite's `synchronous = NORMAL` connections). When true the session
    ///     uses `synchronous_commit = on` at least, even if the server's default is weaker.
    /// - Throws: `StoreError.newerSchema`, or `PostgreSQLError` (unreachable server, refused login, a failed migration).
    public static func open(url: String, password: String? = nil, applicationName: String = "hookyard",
                            durableCommits: Bool = true) throws -> PostgreSQLConnection {
        let connection = try PostgreSQLConnection(url: url, password: password, applicationName: applicationName)
        try applySessionSettings(connection, durableCommits: durableCommits)
        try migrate(connection)
        // A storage type's connection survives a server restart or a failover: the call after a lost connection opens
        // a new session with the same settings (never inside a transaction).
        connection.sessionSetup = { try applySessionSettings($0, durableCommits: durableCommits) }
        connection.reconnectsAutomatically = true
        return connection
    }

    /// `open`, for a session that cannot write: every transaction is read-only (`default_transaction_read_only`, kept
    /// across reconnections), so a statement that would write fails (SQLSTATE 25006), as on SQLite's `query_only`
    /// `ReadingConnection`. For previews and the MCP server's reads.
    public static func openReadOnly(url: String, password: String? = nil, applicationName: String = "hookyard") throws -> PostgreSQLConnection {
        let connection = try open(url: url, password: password, applicationName: applicationName)
        let setup = connection.sessionSetup
        connection.sessionSetup = { connection in
            try setup?(connection)
            try connection.execute("SET default_transaction_read_only = on")
        }
        try connection.execute("SET default_transaction_read_only = on")
        return connection
    }

    /// Opens `connection` again after a lost connection (`PostgreSQLConnection.reconnect()`) and applies the session
    /// settings for `durableCommits` (a new session starts from the server's defaults); later reconnections keep them.
    public static func reconnect(_ connection: PostgreSQLConnection, durableCommits: Bool) throws {
        connection.sessionSetup = { try applySessionSettings($0, durableCommits: durableCommits) }
        try connection.reconnect()
    }

    private static func applySessionSettings(_ connection: PostgreSQLConnection, durableCommits: Bool) throws {
        if durableCommits {
            // PostgreSQL-specific: the server's default may be `off` or `local`; an acknowledged event needs at least
            // the local flush (`on`), and keeps a stronger setting (`remote_write`, `remote_apply`) when there is one.
            let current = try connection.execute("SHOW synchronous_commit").first?.string(0) ?? "on"
            if current == "off" || current == "local" { try connection.execute("SET synchronous_commit = on") }
        } else {
            try connection.execute("SET synchronous_commit = off")
        }
    }

    /// The schema version of the connected database (0: empty).
    public static func schemaVersion(_ connection: PostgreSQLConnection) throws -> Int {
        let exists = try connection.query("SELECT to_regclass('schema_version') IS NOT NULL").first?.bool(0) ?? false
        guard exists else { return 0 }
        guard let row = try connection.query("SELECT version FROM schema_version WHERE id = 1").first else {
            throw StoreError.corrupt("schema_version has no row")
        }
        return Int(try row.int(0))
    }

    /// Brings the schema to `PostgreSQLSchema.currentVersion`, one migration per transaction under the advisory lock.
    /// - Throws: `StoreError.newerSchema` for a database a newer Hookyard migrated.
    public static func migrate(_ connection: PostgreSQLConnection) throws {
        while true {
            let done = try connection.transaction { () throws -> Bool in
                try connection.query("SELECT pg_advisory_xact_lock($1)", [migrationLockKey])
                let version = try schemaVersion(connection)
                guard version <= PostgreSQLSchema.currentVersion else {
                    throw StoreError.newerSchema(found: version, supported: PostgreSQLSchema.currentVersion)
                }
                if version == PostgreSQLSchema.currentVersion { return true }
                try connection.execute(PostgreSQLSchema.migrations[version])
                if version > 0 {
                    try connection.query("UPDATE schema_version SET version = $1 WHERE id = 1", [version + 1])
                }
                return false
            }
            if done { return }
        }
    }
}
