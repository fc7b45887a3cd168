import Contacts
import Jobs
import SQLite
import Store

/// The handler of the job kinds the workflow engine runs (`WorkflowEngine.jobKinds`): opens the worker's
/// `SQLiteWorkflowStore` and runs its part of the engine. A value; thread-safe (the engine is).
struct WorkflowJob: JobHandler {
    /// Which of the engine's jobs.
    enum Part: Sendable {
        /// `process_event`: match an event against the rules.
        case processEvent
        /// A step (kind = the action's name): run it and queue the next.
        case step
        /// `deliverability.pause_campaign`.
        case campaignPause
    }

    let engine: WorkflowEngine
    let part: Part

    func prepare(_ context: WorkerContext) throws {
        _ = try context.resource(WorkflowStoreResource.self)
    }

    func run(_ job: Job, context: WorkerContext) -> JobOutcome {
        do throws(JobFailure) {
            let store: SQLiteWorkflowStore
            do {
                store = try context.resource(WorkflowStoreResource.self).store
            } catch {
                throw JobFailure.storage("opening the workflow store", error)
            }
            return try engine.run(part, job, store: store)
        } catch {
            return .failed(error)
        }
    }
}

/// A worker's `SQLiteWorkflowStore` (its own connection), opened and closed by its `WorkerContext`. Used only on that worker.
final class WorkflowStoreResource: WorkerResource {
    let store: SQLiteWorkflowStore

    init(_ store: SQLiteWorkflowStore) {
        self.store = store
    }

    /// The contacts share the worker's queue connection when it has one (both are `synchronous=NORMAL`: contact
    /// state and job outcomes are derived from durably stored events and rerun after a power loss); the workflow
    /// records (purchases, payment links) keep a connection of their own with `synchronous=FULL`.
    static func open(in context: WorkerContext) throws -> WorkflowStoreResource {
        guard let shared = context.connection else { return WorkflowStoreResource(try SQLiteWorkflowStore(path: context.databasePath)) }
        let records = try StoreConnection.openExisting(path: context.databasePath)
        try StoreConnection.leaveCheckpointsToTheWriter(records)
        return WorkflowStoreResource(SQLiteWorkflowStore(database: records, contacts: SQLiteContactStore(database: shared)))
    }

    func close() { store.close() }
}
