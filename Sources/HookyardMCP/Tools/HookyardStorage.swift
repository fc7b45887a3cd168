import Alerts
import Contacts
import Dispatch
import Foundation
import HookyardConfiguration
import Reports
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
    private let databasePath: String
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
        let databasePath: String
        let configuration: HookyardConfiguration
        private let reading: SQLiteDatabase
        private let contactStore: SQLiteContactStore
        private var reportBuilder: ReportBuilder?
        private var workflowStore: SQLiteWorkflowStore?
        private var writable: SQLiteJobQueue?

        init(path: String, configuration: HookyardConfiguration) throws {
            databasePath = path
            self.configuration = configuration
            reading = try ReadingConnection.open(path: path)
            store = SQLiteStoreReader(database: reading)
            jobs = SQLiteJobQueue(database: reading)
            contactStore = SQLiteContactStore(database: reading)
            contacts = contactStore
            alerts = SQLiteAlertStore(database: reading)
        }

        /// The report builder, opened on first use (its two connections are `query_only`: the email activity is read on
        /// the second in parallel).
        func reports() throws -> ReportBuilder {
            if let reportBuilder { return reportBuilder }
            let builder = try ReportBuilder(path: databasePath, deliverability: configuration.reportDeliverability())
            reportBuilder = builder
            return builder
        }

        /// The workflow store a dry run reads through (the contact, created payment links), on the `query_only`
        /// connection: a dry run cannot write.
        func workflows() -> SQLiteWorkflowStore {
            if let workflowStore { return workflowStore }
            let store = SQLiteWorkflowStore(database: reading, contacts: contactStore)
            workflowStore = store
            return store
        }

        /// The job queue on a writable connection, for the write tools only; opened on first use.
        func writableJobs() throws -> any JobQueueStorage {
            if let writable { return writable }
            let queue = try SQLiteJobQueue(path: databasePath)
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
        self.databasePath = configuration.database
        self.configuration = configuration
    }

    /// Runs `body` with the open connections on the storage queue. A `ToolError` passes through; any other error
    /// (SQLite's, a missing database) becomes `ToolError.storage` with its own words, and the connections are
    /// opened afresh next time.
    public func withConnections<Result: Sendable>(_ body: @escaping @Sendable (Connections) throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let open = try self.connections ?? Connections(path: self.databasePath, configuration: self.configuration)
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
                    continuation.resume(throwing: ToolError.storage("\(error) (database \(self.databasePath))"))
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
