import PostgreSQL
import SQLite

/// One open connection of either engine, which the storages of one worker (or one command) share instead of each
/// opening its own. Not thread-safe: it has its connection's thread rules (one thread at a time).
public enum StorageConnection {
    case sqlite(SQLiteDatabase)
    case postgresql(PostgreSQLConnection)

    /// Closes the connection.
    public func close() {
        switch self {
        case .sqlite(let database): database.close()
        case .postgresql(let connection): connection.close()
        }
    }
}
