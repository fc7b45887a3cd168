import Jobs
@testable import Store
import Synchronization
import XCTest

/// A resource that counts how often it was opened and records when it was closed.
final class CountingResource: WorkerResource {
    static let opened = Mutex<Int>(0)
    static let closed = Mutex<[String]>([])
    let name: String

    init(name: String) { self.name = name }

    static func open(in context: WorkerContext) throws -> CountingResource {
        opened.withLock { $0 += 1 }
        return CountingResource(name: context.location.description)
    }

    func close() { Self.closed.withLock { $0.append(name) } }
}

/// A resource that cannot be opened.
final class BrokenResource: WorkerResource {
    struct Unavailable: Error {}
    static func open(in context: WorkerContext) throws -> BrokenResource { throw Unavailable() }
    func close() {}
}

/// Answers every job with a fixed outcome, opening `CountingResource` on its worker.
struct FixedHandler: JobHandler {
    let outcome: JobOutcome

    func run(_ job: Job, context: WorkerContext) -> JobOutcome {
        do {
            _ = try context.resource(CountingResource.self)
        } catch {
            return .failed(.storage("opening", error))
        }
        return outcome
    }
}

final class JobKindsTests: XCTestCase {
    private func job(kind: String) -> Job {
        Job(id: 7, eventID: 1, kind: kind, state: .running, attempts: 1, nextRunAt: 0, idempotencyKey: "k", createdAt: 0, updatedAt: 0)
    }

    func testEachKindRunsItsHandlerAndAnUnknownKindFailsAsAnInvalidJob() {
        var kinds = JobKinds()
        kinds.register("a", handler: FixedHandler(outcome: .succeeded(output: "a", followUps: [])))
        kinds.register("b", quiet: true, handler: FixedHandler(outcome: .skipped(reason: "b", followUps: [])))
        XCTAssertEqual(kinds.kinds, ["a", "b"])
        XCTAssertEqual(kinds.quietKinds, ["b"])
        let context = WorkerContext(location: .sqlite(path: "unused"), worker: "w0")
        defer { context.close() }
        XCTAssertEqual(kinds.run(job(kind: "a"), context: context), .succeeded(output: "a", followUps: []))
        XCTAssertEqual(kinds.run(job(kind: "b"), context: context), .skipped(reason: "b", followUps: []))
        XCTAssertEqual(kinds.run(job(kind: "c"), context: context),
                       .failed(JobFailure(message: "no handler for job kind 'c'", retryable: false, cause: .invalidJob)))
    }

    func testRegisteringAnotherRegistryKeepsItsQuietKinds() {
        var workflows = JobKinds()
        workflows.register("process_event", quiet: true, handler: FixedHandler(outcome: .succeeded(output: nil, followUps: [])))
        var all = JobKinds()
        all.register("alert.notify", handler: FixedHandler(outcome: .succeeded(output: nil, followUps: [])))
        all.register(contentsOf: workflows)
        XCTAssertEqual(all.kinds, ["alert.notify", "process_event"])
        XCTAssertEqual(all.quietKinds, ["process_event"])
    }

    func testAWorkerContextOpensEachResourceOnceAndClosesThemAll() throws {
        let before = CountingResource.opened.withLock { $0 }
        let context = WorkerContext(location: .sqlite(path: "ctx-\(UUID().uuidString)"), worker: "w0")
        let first = try context.resource(CountingResource.self)
        let second = try context.resource(CountingResource.self)
        XCTAssertTrue(first === second)
        XCTAssertEqual(CountingResource.opened.withLock { $0 } - before, 1)
        XCTAssertThrowsError(try context.resource(BrokenResource.self))
        context.close()
        XCTAssertTrue(CountingResource.closed.withLock { $0.contains(context.location.description) })
    }

    func testAStorageFailureKeepsItsCause() {
        struct DiskFull: Error, CustomStringConvertible { var description: String { "disk I/O error" } }
        let failure = JobFailure.storage("updating the contact", DiskFull())
        XCTAssertEqual(failure.message, "updating the contact failed: disk I/O error")
        XCTAssertTrue(failure.retryable)
        XCTAssertEqual(failure.cause, .storage)
    }
}
