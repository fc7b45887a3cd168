import Contacts
import Store

/// Opens the `WorkflowRecords` for a database location with the worker's `contacts` beside them:
/// `SQLiteWorkflowStore`'s records on a connection of their own, or `PostgreSQLWorkflowStore`. Stateless; the
/// returned store owns its connection and `contacts` (`close()` closes both).
public enum WorkflowRecordsOpening {
    /// - Parameter contacts: the worker's contact storage; on SQLite it must be a `SQLiteContactStore` (the SQLite
    ///   store's type), on PostgreSQL any `ContactStorage`.
    /// - Throws: `StoreError.missingDatabase` (SQLite: no file), `StoreError.newerSchema`, the engine's error, or
    ///   `WorkflowRecordsOpeningError.contactsOfAnotherEngine`.
    public static func open(_ location: DatabaseLocation, contacts: any ContactStorage) throws -> any WorkflowRecords {
        switch location {
        case .sqlite(let path):
            guard let sqliteContacts = contacts as? SQLiteContactStore else {
                throw WorkflowRecordsOpeningError.contactsOfAnotherEngine(String(describing: type(of: contacts)))
            }
            return SQLiteWorkflowStore(database: try StoreConnection.openExisting(path: path), contacts: sqliteContacts)
        case .postgresql(let url, let password):
            return try PostgreSQLWorkflowStore(url: url, password: password, contacts: contacts)
        }
    }
}

extension WorkflowRecordsOpening {
    /// A worker's records (or, without `shared`, a one-off user's such as the maintenance pass): on SQLite the
    /// records keep a connection of their own with `synchronous=FULL` (purchases and payment links are written once)
    /// and the contacts use `shared` (the worker's queue connection, `synchronous=NORMAL`: contact state and job
    /// outcomes are derived from durably stored events and rerun after a power loss); on PostgreSQL likewise, the
    /// contacts on the worker's queue connection (`synchronous_commit = off`) and the records on their own.
    /// Without `shared` the contacts get a connection of their own.
    public static func open(_ location: DatabaseLocation, sharing shared: StorageConnection?) throws -> any WorkflowRecords {
        switch (location, shared) {
        case (.sqlite(let path), .sqlite(let database)?):
            let records = try StoreConnection.openExisting(path: path)
            try StoreConnection.leaveCheckpointsToTheWriter(records)
            return SQLiteWorkflowStore(database: records, contacts: SQLiteContactStore(database: database))
        case (.sqlite(let path), _):
            return try SQLiteWorkflowStore(path: path)
        case (.postgresql(let url, let password), .postgresql(let connection)?):
            return try PostgreSQLWorkflowStore(url: url, password: password, contacts: PostgreSQLContactStore(connection: connection))
        case (.postgresql(let url, let password), _):
            return try PostgreSQLWorkflowStore(url: url, password: password,
                                               contacts: PostgreSQLContactStore(url: url, password: password, durableCommits: false))
        }
    }
}

/// Why `WorkflowRecordsOpening.open` refused its arguments.
public enum WorkflowRecordsOpeningError: Error, CustomStringConvertible, Equatable {
    /// A SQLite workflow store was asked for with contacts of another type.
    case contactsOfAnotherEngine(String)

    public var description: String {
        switch self {
        case .contactsOfAnotherEngine(let type): "a SQLite workflow store needs a SQLiteContactStore, not \(type)"
        }
    }
}
