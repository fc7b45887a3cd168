import Alerts
import Contacts
import Dispatch
import Foundation
import HookyardConfiguration
import Reports
import PostgreSQL
import SQLite
import Store
import Workflows

/// The storage the tools read and write, behind its protocols (`StoreReading`, `JobQueueStorage`, `ContactStorage`,
/// `AlertStorage`, the report builder): opened on first use, beside a running daemon (WAL readers; the daemon keeps
/// writing), and used from one serial queue only, since none of the connections is thread-safe.
///
/// Thread-safety: `withConnections` may be called from any task; the body runs on the queue, one at a time. A
/// connection that failed is closed and opened again at the next call.
public final class HookyardStorage: @unchecked Sendable {
    // @unchecked: `connections` is read and written only on `queue` (a serial queue); nothing else is mutable.
    private let queue = DispatchQueue(label: "hookyard.mcp.storage")
    private let location: DatabaseLocation
    private let configuration: HookyardConfiguration
    private var connections: Connections?

    /// The open connections, lent to a tool's body on the storage queue. Not `Sendable`: they never leave it.
    ///
    /// Every read goes through one `query_only` connection (`ReadingConnection`): a statement that would write fails,
    /// so the read tools and the dry run cannot change the database, whatever they call. Only the write tools
    /// (`retry_job`, `discard_job`, when enabled) open a writable connection, on first use.
    public final class Connections {
        public let store: any StoreReading
        /// Reads only (its connection is `query_only`); the write tools use `writableJobs()`.
        public let jobs: any JobQueueStorage
        public let contacts: any ContactStorage
        public let alerts: any AlertStorage
        let location: DatabaseLocation
        let configuration: HookyardConfiguration
        private let reading: StorageConnection
        private let workflowStore: any WorkflowRecords
        private var reportBuilder: ReportBuilder?
        private var writable: (any JobQueueStorage)?

        /// One read-only connection for every read: SQLite's `query_only`, or a PostgreSQL session whose transactions
        /// are read-only (`default_transaction_read_only`): a statement that would write fails on either engine.
        init(location: DatabaseLocation, configuration: HookyardConfiguration) throws {
            self.location = location
            self.configuration = configuration
            switch location {
            case .sqlite(let path):
                let database = try ReadingConnection.open(path: path)
                reading = .sqlite(database)
                store = SQLiteStoreReader(database: database)
                jobs = SQLiteJobQueue(database: database)
                let contactStore = SQLiteContactStore(database: database)
                contacts = contactStore
                alerts = SQLiteAlertStore(database: database)
                workflowStore = SQLiteWorkflowStore(database: database, contacts: contactStore)
            case .postgresql(let url, let password):
                let connection = try PostgreSQLStoreConnection.openReadOnly(url: url, password: password, applicationName: "hookyard mcp")
                reading = .postgresql(connection)
                store = PostgreSQLStoreReader(connection: connection)
                jobs = PostgreSQLJobQueue(connection: connection)
                let contactStore = PostgreSQLContactStore(connection: connection)
                contacts = contactStore
                alerts = PostgreSQLAlertStore(connection: connection)
                workflowStore = PostgreSQLWorkflowStore(connection: connection, contacts: contactStore)
            }
        }

        /// The report builder, opened on first use (its two connections only read: the email activity is read on the second in
        /// parallel).
        func reports() throws -> ReportBuilder {
            if let reportBuilder { return reportBuilder }
            let builder = try ReportBuilder(location, deliverability: configuration.reportDeliverability())
            reportBuilder = builder
            return builder
        }

        /// The workflow store a dry run reads through (the contact, created payment links), on the read-only
        /// connection: a dry run cannot write.
        func workflows() -> any WorkflowRecords { workflowStore }

        /// The job queue on a writable connection, for the write tools only; opened on first use.
        func writableJobs() throws -> any JobQueueStorage {
            if let writable { return writable }
            let queue = try JobQueueOpening.open(location)
            writable = queue
            return queue
        }

        func close() {
            writable?.close()
            reportBuilder?.close()
            reading.close()
        }
    }

    public init(configuration: HookyardConfiguration) {
        self.location = configuration.databaseLocation
        self.configuration = configuration
    }

    /// Runs `body` with the open connections on the storage queue. A `ToolError` passes through; any other error
    /// (SQLite's, a missing database) becomes `ToolError.storage` with its own words, and the connections are
    /// opened afresh next time.
    public func withConnections<Result: Sendable>(_ body: @escaping @Sendable (Connections) throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let open = try self.connections ?? Connections(location: self.location, configuration: self.configuration)
                    self.connections = open
                    do {
                        continuation.resume(returning: try body(open))
                    } catch let error as ToolError {
                        continuation.resume(throwing: error)
                    } catch {
                        open.close()
                        self.connections = nil
                        continuation.resume(throwing: ToolError.storage("\(error)"))
                    }
                } catch {
                    continuation.resume(throwing: ToolError.storage("\(error) (database \(self.location))"))
                }
            }
        }
    }

    /// Closes the connections (after the server stopped). Later calls open them again.
    public func close() {
        queue.sync {
            connections?.close()
            connections = nil
        }
    }
}
