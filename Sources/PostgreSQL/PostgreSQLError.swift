/// An error from PostgreSQL or from libpq, with the server's SQLSTATE (when the server answered), its own message, and
/// the SQL that failed.
public struct PostgreSQLError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The five-character SQLSTATE the server reported (`23505`: unique violation), or `nil` when no server answered
    /// (the connection could not be made or was lost).
    public let sqlState: String?
    /// PostgreSQL's or libpq's message, without its trailing newline.
    public let message: String
    /// The statement that failed, when one did.
    public let sql: String?
    /// Whether the connection itself failed (could not be opened, was lost, or the server is shutting down): the
    /// statement may or may not have been executed, and a new connection is needed.
    public let isConnectionFailure: Bool

    public init(sqlState: String?, message: String, sql: String?, isConnectionFailure: Bool) {
        self.sqlState = sqlState
        self.message = message
        self.sql = sql
        self.isConnectionFailure = isConnectionFailure
    }

    public var description: String {
        var text = "PostgreSQL error"
        if let sqlState { text += " \(sqlState)" }
        if isConnectionFailure { text += " (connection)" }
        text += ": \(message)"
        if let sql { text += " [\(sql.count > 300 ? String(sql.prefix(300)) + "…" : sql)]" }
        return text
    }

    /// A unique or primary key constraint refused a row (SQLSTATE 23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// The transaction lost a serialization race or a deadlock (40001, 40P01): running it again may succeed.
    public var isTransientConflict: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// Whether SQLSTATE `state` means the connection is unusable: class 08 (connection exception) and the server's
    /// shutdown states (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
    static func meansConnectionFailure(_ state: String?) -> Bool {
        guard let state else { return false }
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }
}

/// A value read back from PostgreSQL that its Swift type cannot hold: a text where a number belongs, NULL where a
/// value is required, a name no enum case has. Hookyard never writes such values, so reading one means the database
/// was changed by hand; it is an error, never a silent default.
public struct PostgreSQLDecodingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The result column's name (its alias, or the column's name).
    public let column: String
    /// The value as the server sent it in text form (`nil`: NULL).
    public let value: String?
    /// The Swift type it was read as.
    public let type: String
    public let sql: String

    public init(column: String, value: String?, type: String, sql: String) {
        self.column = column
        self.value = value
        self.type = type
        self.sql = sql
    }

    public var description: String {
        let shown = value.map { "'\($0)'" } ?? "NULL"
        return "impossible value in the database: \(column) is \(shown), which is not a \(type) [\(sql)]"
    }
}
