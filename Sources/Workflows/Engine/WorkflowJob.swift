import Contacts
import Jobs
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
            let store: any WorkflowRecords
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

/// A worker's workflow records (`WorkflowRecords`, on its own connection), opened and closed by its `WorkerContext`.
/// Used only on that worker.
final class WorkflowStoreResource: WorkerResource {
    let store: any WorkflowRecords

    init(_ store: any WorkflowRecords) {
        self.store = store
    }

    static func open(in context: WorkerContext) throws -> WorkflowStoreResource {
        WorkflowStoreResource(try WorkflowRecordsOpening.open(context.location, sharing: context.connection))
    }

    func close() { store.close() }
}
