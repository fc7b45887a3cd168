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
