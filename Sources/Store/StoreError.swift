import SQLite
/// Errors the store raises itself (SQLite's own errors are `SQLiteError`).
public enum StoreError: Error, CustomStringConvertible, Sendable {
    /// The database was written by a newer Hookyard whose schema this build does not know.
    case newerSchema(found: Int, supported: Int)
    /// The store was closed; nothing more is accepted.
    case closed
    /// A commit failed; the events in its batch were not stored.
    case commitFailed(String)
    /// There is no database file at this path.
    case missingDatabase(String)
    /// A job could not be queued as asked.
    case invalidJob(String)
    /// A value read back from the database is one Hookyard never writes.
    case corrupt(String)
    /// What was asked exists for the other storage engine only (`hookyard backup` copies a SQLite file); the text
    /// says what to do instead.
    case notOnThisEngine(String)

    public var description: String {
        switch self {
        case .newerSchema(let found, let supported):
            "database schema version \(found) is newer than this hookyard supports (\(supported)); upgrade hookyard"
        case .closed: "store is closed"
        case .commitFailed(let message): "commit failed: \(message)"
        case .missingDatabase(let path):
            "no database at '\(path)': start 'hookyard serve' once to create it, or point --database or HOOKYARD_DATABASE at it"
        case .invalidJob(let message): "invalid job: \(message)"
        case .corrupt(let message): "impossible value in the database: \(message)"
        case .notOnThisEngine(let message): message
        }
    }
}
