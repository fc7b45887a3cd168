import PostgreSQL
import SQLite
import Store

/// Raw SQL on either engine's database, for arranging rows a test needs and for corrupting stored values; not
/// through the storage under test. Each call opens and closes its own connection; stateless, so callable from any
/// thread.
public enum EngineSQL {
    /// Creates the SQLite file (migrated) if it does not exist yet; a PostgreSQL test database is migrated already.
    public static func prepare(_ location: DatabaseLocation) throws {
        if case .sqlite(let path) = location { try LoadingConnection.open(path: path).close() }
    }

    /// Runs `sqlite` or `postgresql` (no parameters; several statements allowed).
    public static func execute(_ location: DatabaseLocation, sqlite: String, postgresql: String) throws {
        switch location {
        case .sqlite(let path):
            let database = try SQLiteDatabase(path: path)
            defer { database.close() }
            try database.execute(sqlite)
        case .postgresql(let url, let password):
            let connection = try PostgreSQLConnection(url: url, password: password)
            defer { connection.close() }
            try connection.execute(postgresql)
        }
    }

    /// The same SQL on either engine.
    public static func execute(_ location: DatabaseLocation, _ sql: String) throws {
        try execute(location, sqlite: sql, postgresql: sql)
    }

    /// An integer the query returns (first column of the first row), or `nil`.
    public static func integer(_ location: DatabaseLocation, _ sql: String) throws -> Int64? {
        switch location {
        case .sqlite(let path):
            let database = try SQLiteDatabase(path: path)
            defer { database.close() }
            return try database.scalarInt(sql)
        case .postgresql(let url, let password):
            let connection = try PostgreSQLConnection(url: url, password: password)
            defer { connection.close() }
            return try connection.execute(sql).first?.optionalInt(0)
        }
    }

    /// Stores an empty event (as the intake would, without a body) and returns its id.
    @discardableResult
    public static func event(_ location: DatabaseLocation, key: String, type: String = "email_sent") throws -> Int64 {
        try execute(location,
                    sqlite: "INSERT INTO events (source, dedup_key, type, received_at, body, headers) VALUES ('instantly', '\(key)', '\(type)', 0, x'', '{}')",
                    postgresql: "INSERT INTO events (source, dedup_key, type, received_at, body, headers) VALUES ('instantly', '\(key)', '\(type)', 0, '', '{}')")
        return try integer(location, "SELECT id FROM events WHERE dedup_key = '\(key)'") ?? -1
    }

    /// The column and value of a decoding error from either engine (`nil` for any other error).
    public static func decodingFailure(_ error: any Error) -> (column: String, value: String?)? {
        if let error = error as? SQLiteDecodingError { return (error.column, error.value) }
        if let error = error as? PostgreSQLDecodingError { return (error.column, error.value) }
        return nil
    }
}
