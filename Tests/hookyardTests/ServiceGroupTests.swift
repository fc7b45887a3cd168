import Foundation
import Synchronization
import XCTest
@testable import hookyard

/// `ServiceGroup`: parts start in order and stop in reverse; a part that fails to start stops those already started.
final class ServiceGroupTests: XCTestCase {
    private struct Refused: Error {}

    /// The verbs run, in the order they ran (`start a`, `stop a`, …).
    private final class Journal: Sendable {
        private let entries = Mutex<[String]>([])
        var all: [String] { entries.withLock { $0 } }
        func record(_ entry: String) { entries.withLock { $0.append(entry) } }

        func service(_ name: String, failsToStart: Bool = false) -> DaemonService {
            DaemonService(name, start: {
                self.record("start \(name)")
                if failsToStart { throw Refused() }
            }, stop: { self.record("stop \(name)") })
        }
    }

    func testStartsInOrderAndStopsInReverseOnce() throws {
        let journal = Journal()
        let group = ServiceGroup(["a", "b", "c"].map { journal.service($0) })
        try group.start()
        XCTAssertEqual(journal.all, ["start a", "start b", "start c"])
        group.stop()
        group.stop()
        XCTAssertEqual(journal.all, ["start a", "start b", "start c", "stop c", "stop b", "stop a"])
    }

    func testAFailedStartStopsWhatStartedInReverseAndNothingAfter() {
        let journal = Journal()
        let group = ServiceGroup([journal.service("a"), journal.service("b"), journal.service("c", failsToStart: true),
                                  journal.service("d")])
        XCTAssertThrowsError(try group.start()) { XCTAssertTrue($0 is Refused, "\($0)") }
        XCTAssertEqual(journal.all, ["start a", "start b", "start c", "stop b", "stop a"])
        group.stop()
        XCTAssertEqual(journal.all.count, 5, "a group whose start failed is already stopped")
    }

    func testStopBeforeStartStopsNothing() throws {
        let journal = Journal()
        let group = ServiceGroup([journal.service("a")])
        group.stop()
        XCTAssertEqual(journal.all, [])
        try group.start()
        XCTAssertEqual(journal.all, [], "a stopped group does not start again")
    }

    /// Parts stopped together all begin stopping before any has finished: each stop waits for the other's to begin.
    func testTogetherStartsInOrderAndStopsAtTheSameTime() throws {
        let journal = Journal()
        let begun = (a: DispatchSemaphore(value: 0), b: DispatchSemaphore(value: 0))
        let waited = Mutex<[Bool]>([])
        func part(_ name: String, mine: DispatchSemaphore, other: DispatchSemaphore) -> DaemonService {
            DaemonService(name, start: { journal.record("start \(name)") }, stop: {
                mine.signal()
                let met = other.wait(timeout: .now() + 10) == .success
                waited.withLock { $0.append(met) }
                journal.record("stop \(name)")
            })
        }
        let group = ServiceGroup([journal.service("before"),
                                  .together("pair", [part("a", mine: begun.a, other: begun.b), part("b", mine: begun.b, other: begun.a)]),
                                  journal.service("after")])
        try group.start()
        XCTAssertEqual(journal.all, ["start before", "start a", "start b", "start after"])
        group.stop()
        XCTAssertEqual(waited.withLock { $0 }, [true, true], "each stop saw the other begin: they ran at the same time")
        XCTAssertEqual(journal.all.first(where: { $0.hasPrefix("stop") }), "stop after")
        XCTAssertEqual(journal.all.last, "stop before", "the pair stopped before the part started before it")
    }

    func testTogetherStopsItsStartedPartsWhenOneFailsToStart() {
        let journal = Journal()
        let group = ServiceGroup([journal.service("before"),
                                  .together("pair", [journal.service("a"), journal.service("b", failsToStart: true)])])
        XCTAssertThrowsError(try group.start())
        XCTAssertEqual(journal.all, ["start before", "start a", "start b", "stop a", "stop before"])
    }
}
