import PostgreSQL
import Store

/// Opens the contact storage of either engine for a `DatabaseLocation`: `SQLiteContactStore` on a SQLite file,
/// `PostgreSQLContactStore` on its own new PostgreSQL connection. The store returned owns its connection (closed by
/// `close()`) and has the thread-safety of its type: one per thread. Stateless; thread-safe.
public enum ContactStorageOpening {
    /// - Parameter durableCommits: `false` for workers (SQLite `synchronous=NORMAL`, PostgreSQL
    ///   `synchronous_commit = off`): contact state is re-derived from durably stored events.
    /// - Throws: `StoreError` (a missing SQLite file, a newer schema) or the engine's error.
    public static func open(_ location: DatabaseLocation, durableCommits: Bool = true) throws -> any ContactStorage {
        switch location {
        case .sqlite(let path):
            return try SQLiteContactStore(path: path, durableCommits: durableCommits)
        case .postgresql(let url, let password):
            return try PostgreSQLContactStore(url: url, password: password, durableCommits: durableCommits)
        }
    }
}
