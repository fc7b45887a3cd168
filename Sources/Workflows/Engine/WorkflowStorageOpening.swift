import Contacts
import Store

/// Opens the workflow records (with the contacts they carry) for a database location. Stateless.
enum WorkflowStorageOpening {
    /// The records on a connection of their own (`synchronous=FULL` on SQLite: purchases and payment links are
    /// written once), with the contacts on `shared` when given (a worker's queue connection: contact state and job
    /// outcomes are derived from durably stored events and rerun after a power loss), else on the records' own.
    static func open(_ location: DatabaseLocation, sharing shared: StorageConnection? = nil) throws -> any WorkflowRecords {
        switch location {
        case .sqlite(let path):
            guard case .sqlite(let sharedDatabase)? = shared else { return try SQLiteWorkflowStore(path: path) }
            let records = try StoreConnection.openExisting(path: path)
            try StoreConnection.leaveCheckpointsToTheWriter(records)
            return SQLiteWorkflowStore(database: records, contacts: SQLiteContactStore(database: sharedDatabase))
        case .postgresql:
            throw StoreError.notOnThisEngine("the PostgreSQL workflow store is not part of this build yet")
        }
    }
}
