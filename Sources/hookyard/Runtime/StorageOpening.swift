import Alerts
import Contacts
import Foundation
import Reports
import PostgreSQL
import SQLite
import Store
import Workflows

/// Every storage the commands and the daemon open, for either engine: the one place the executable chooses between
/// the SQLite and the PostgreSQL implementations of the storage protocols. Stateless.
enum StorageOpening {
    /// Whether there is a database to read yet (a SQLite file exists; a PostgreSQL database is assumed to).
    static func exists(_ location: DatabaseLocation) -> Bool {
        guard let path = location.sqlitePath else { return true }
        return FileManager.default.fileExists(atPath: path)
    }

    static func reader(_ location: DatabaseLocation) throws -> any StoreReading {
        try StoreReadingOpening.open(location)
    }

    static func contacts(_ location: DatabaseLocation) throws -> any ContactStorage {
        try ContactStorageOpening.open(location)
    }

    static func alerts(_ location: DatabaseLocation) throws -> any AlertStorage {
        try AlertStorageOpening.open(location)
    }

    /// Workflow records that cannot write (a dry run's preview): SQLite's `query_only` connection, a PostgreSQL
    /// session whose transactions are read-only (`default_transaction_read_only`).
    static func readOnlyWorkflowRecords(_ location: DatabaseLocation) throws -> any WorkflowRecords {
        switch location {
        case .sqlite(let path):
            let connection = try ReadingConnection.open(path: path)
            return SQLiteWorkflowStore(database: connection, contacts: SQLiteContactStore(database: connection))
        case .postgresql(let url, let password):
            let connection = try PostgreSQLStoreConnection.openReadOnly(url: url, password: password)
            return PostgreSQLWorkflowStore(owning: connection, contacts: PostgreSQLContactStore(connection: connection))
        }
    }
}

/// The store's reader, opened for a command.
func openReader(_ location: DatabaseLocation) throws -> any StoreReading { try openStore { try StorageOpening.reader(location) } }

/// The contact store, opened for a command.
func openContacts(_ location: DatabaseLocation) throws -> any ContactStorage { try openStore { try StorageOpening.contacts(location) } }

/// The job queue, opened for a command.
func openJobs(_ location: DatabaseLocation) throws -> any JobQueueStorage { try openStore { try JobQueueOpening.open(location) } }
