import Alerts
import Contacts
import Foundation
import Reports
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
        switch location {
        case .sqlite(let path): try SQLiteStoreReader(path: path)
        case .postgresql: throw StoreError.notOnThisEngine("the PostgreSQL store reader is not part of this build yet")
        }
    }

    static func contacts(_ location: DatabaseLocation) throws -> any ContactStorage {
        switch location {
        case .sqlite(let path): try SQLiteContactStore(path: path)
        case .postgresql: throw StoreError.notOnThisEngine("the PostgreSQL contact store is not part of this build yet")
        }
    }

    static func alerts(_ location: DatabaseLocation) throws -> any AlertStorage {
        switch location {
        case .sqlite(let path): try SQLiteAlertStore(path: path)
        case .postgresql: throw StoreError.notOnThisEngine("the PostgreSQL alert store is not part of this build yet")
        }
    }

    static func reportQueries(_ location: DatabaseLocation) throws -> any ReportQueries {
        switch location {
        case .sqlite(let path): try SQLiteReportQueries(path: path)
        case .postgresql: throw StoreError.notOnThisEngine("the PostgreSQL report queries are not part of this build yet")
        }
    }

    /// Workflow records that cannot write (a dry run's preview): SQLite's `query_only` connection.
    static func readOnlyWorkflowRecords(_ location: DatabaseLocation) throws -> any WorkflowRecords {
        switch location {
        case .sqlite(let path):
            let connection = try ReadingConnection.open(path: path)
            return SQLiteWorkflowStore(database: connection, contacts: SQLiteContactStore(database: connection))
        case .postgresql:
            throw StoreError.notOnThisEngine("the PostgreSQL workflow store is not part of this build yet")
        }
    }
}

/// The store's reader, opened for a command.
func openReader(_ location: DatabaseLocation) throws -> any StoreReading { try openStore { try StorageOpening.reader(location) } }

/// The contact store, opened for a command.
func openContacts(_ location: DatabaseLocation) throws -> any ContactStorage { try openStore { try StorageOpening.contacts(location) } }

/// The job queue, opened for a command.
func openJobs(_ location: DatabaseLocation) throws -> any JobQueueStorage { try openStore { try location.openJobQueue().queue } }
