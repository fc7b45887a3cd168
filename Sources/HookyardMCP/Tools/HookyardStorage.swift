import Alerts
import Contacts
import Dispatch
import Foundation
import HookyardConfiguration
import Reports
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
    public final class Connections {
        public let store: any StoreReading
        public let jobs: any JobQueueStorage
        public let contacts: any ContactStorage
        public let alerts: any AlertStorage
        let databasePath: String
        let configuration: HookyardConfiguration
        private var reportBuilder: ReportBuilder?
        private var workflowStore: WorkflowStore?

        init(path: String, configuration: HookyardConfiguration) throws {
            databasePath = path
            self.configuration = configuration
            store = try SQLiteStoreReader(path: path)
            jobs = try SQLiteJobQueue(path: path)
            contacts = try SQLiteContactStore(path: path)
            alerts = try SQLiteAlertStore(path: path)
        }

        /// The report builder, opened on first use (its connection is `query_only`).
        func reports() throws -> ReportBuilder {
            if let reportBuilder { return reportBuilder }
            let builder = try ReportBuilder(path: databasePath, deliverability: configuration.reportDeliverability())
            reportBuilder = builder
            return builder
        }

        /// The workflow store a dry run reads through (the contact, created payment links), opened on first use.
        func workflows() throws -> WorkflowStore {
            if let workflowStore { return workflowStore }
            let store = try WorkflowStore(path: databasePath)
            workflowStore = store
            return store
        }

        func close() {
            jobs.close()
            contacts.close()
            alerts.close()
            reportBuilder?.close()
            workflowStore?.close()
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
