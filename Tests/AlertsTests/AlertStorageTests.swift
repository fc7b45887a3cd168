import Alerts
import Foundation
import PostgreSQL
import Store
import Synchronization
import TestSupport
import XCTest

/// The alert storage, one body on both engines: episodes, repeats, clears, the notification jobs and the events they
/// belong to, the listings; a stored value Hookyard never writes is an error; and, on PostgreSQL, two nodes raising
/// the same condition at once store one alert and notify once.
final class AlertStorageTests: XCTestCase {
    private static let minute: Int64 = 60_000
    private var minute: Int64 { Self.minute }

    private static func job(_ record: AlertRecord) -> NewJob {
        NewJob(kind: "alert.notify", idempotencyKey: "alert:\(record.id):\(record.firstRaisedAt):notice:\(record.timesNotified):\(record.state.rawValue)",
               input: "{}", runAt: record.lastRaisedAt)
    }

    private static func raise(_ store: any AlertStorage, _ subject: String, message: String = "m", context: [String: String] = ["a": "b"],
                       eventID: Int64? = nil, now: Int64) throws -> AlertChange {
        try store.raise(kind: "job_dead", subject: subject, message: message, context: context, eventID: eventID, now: now,
                        repeatAfterMilliseconds: 60 * Self.minute, notification: Self.job)
    }

    func testEpisodesRepeatsAndClearsWithTheirJobs() throws {
        try forEachStorageEngine { location in
            try EngineSQL.prepare(location)
            let store = try AlertStorageOpening.open(location)
            defer { store.close() }
            XCTAssertNil(try store.newestEvent())
            // No stored event: the raise is recorded and notified, but no job can belong to anything.
            let first = try Self.raise(store, "flow/a", now: 1_000)
            XCTAssertEqual([first.newlyRaised, first.notified], [true, true])
            XCTAssertNil(first.jobID)
            XCTAssertEqual(first.record.timesNotified, 1)
            let event1 = try EngineSQL.event(location, key: "e1")
            let event2 = try EngineSQL.event(location, key: "e2")
            XCTAssertEqual(try store.newestEvent(), event2)

            // Same message within the interval: nothing changes; a new message is kept but not notified.
            let same = try Self.raise(store, "flow/a", now: 2_000)
            XCTAssertEqual([same.newlyRaised, same.notified], [false, false])
            XCTAssertEqual(same.record, first.record)
            let reworded = try Self.raise(store, "flow/a", message: "m2", context: ["a": "c"], now: 3_000)
            XCTAssertFalse(reworded.notified)
            XCTAssertEqual(try store.alert(kind: "job_dead", subject: "flow/a")?.message, "m2")
            XCTAssertEqual(try store.alert(kind: "job_dead", subject: "flow/a")?.lastRaisedAt, 3_000)

            // After the interval: notified again, the job under the event given.
            let again = try Self.raise(store, "flow/a", eventID: event1, now: 1_000 + 60 * minute)
            XCTAssertEqual([again.newlyRaised, again.notified], [false, true])
            XCTAssertEqual(again.record.timesNotified, 2)
            XCTAssertEqual(again.record.firstRaisedAt, 1_000)
            XCTAssertEqual(again.record.eventID, event1)
            XCTAssertNotNil(again.jobID)
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT event_id FROM jobs WHERE id = \(again.jobID ?? -1)"), event1)

            // A second condition with a named event that does not exist: the newest one instead.
            let other = try Self.raise(store, "flow/b", eventID: 999, now: 5_000)
            XCTAssertEqual(other.record.eventID, event2)
            XCTAssertEqual(try store.raisedSubjects(kind: "job_dead"), ["flow/a", "flow/b"])
            XCTAssertEqual(try store.raisedCounts(), ["job_dead": 2])
            XCTAssertTrue(try store.anyRaised(kind: "job_dead", subjects: ["x", "flow/b"]))
            XCTAssertFalse(try store.anyRaised(kind: "job_dead", subjects: ["x"]))
            XCTAssertFalse(try store.anyRaised(kind: "deliverability", subjects: ["flow/a"]))
            XCTAssertFalse(try store.anyRaised(kind: "job_dead", subjects: []))

            // Clear: once, with its job under the condition's event; a second clear does nothing.
            let cleared = try XCTUnwrap(try store.clear(kind: "job_dead", subject: "flow/a", message: "fixed", now: 9_000_000,
                                                        notification: Self.job))
            XCTAssertEqual(cleared.record.state, .cleared)
            XCTAssertEqual(cleared.record.clearedAt, 9_000_000)
            XCTAssertEqual(cleared.record.eventID, event1)
            XCTAssertNotNil(cleared.jobID)
            XCTAssertNil(try store.clear(kind: "job_dead", subject: "flow/a", message: "fixed", now: 9_000_001, notification: Self.job))
            XCTAssertNil(try store.clear(kind: "job_dead", subject: "never", message: "fixed", now: 9_000_001, notification: Self.job))
            XCTAssertEqual(try store.raisedSubjects(kind: "job_dead"), ["flow/b"])
            XCTAssertEqual(try store.alerts(includeCleared: false).map(\.subject), ["flow/b"])
            XCTAssertEqual(try store.alerts(includeCleared: true).map(\.subject), ["flow/b", "flow/a"])

            // Raised again after the clear: a new episode, with the same row.
            let episode = try Self.raise(store, "flow/a", now: 10_000_000)
            XCTAssertEqual([episode.newlyRaised, episode.notified], [true, true])
            XCTAssertEqual(episode.record.firstRaisedAt, 10_000_000)
            XCTAssertEqual(episode.record.timesNotified, 1)
            XCTAssertNil(episode.record.clearedAt)
            XCTAssertEqual(episode.record.id, first.record.id)
            XCTAssertEqual(try store.alerts(includeCleared: false).map(\.subject), ["flow/a", "flow/b"], "most recently raised first")
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM jobs"), 4, "the repeat, flow/b, the clear, the new episode")
            XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM alerts"), 2)
        }
    }

    func testImpossibleStateOrContextIsAnError() throws {
        try forEachStorageEngine { location in
            try EngineSQL.prepare(location)
            let store = try AlertStorageOpening.open(location)
            defer { store.close() }
            for subject in ["good", "bad-state", "bad-context"] { _ = try Self.raise(store, subject, now: 1_000) }
            XCTAssertEqual(try store.alert(kind: "job_dead", subject: "good")?.context, ["a": "b"])
            try EngineSQL.execute(location, sqlite: """
                PRAGMA ignore_check_constraints = ON;
                UPDATE alerts SET state = 'snoozed' WHERE subject = 'bad-state';
                UPDATE alerts SET context = '[1]' WHERE subject = 'bad-context';
                """, postgresql: """
                ALTER TABLE alerts DROP CONSTRAINT alerts_state_check;
                UPDATE alerts SET state = 'snoozed' WHERE subject = 'bad-state';
                UPDATE alerts SET context = '[1]' WHERE subject = 'bad-context';
                """)
            XCTAssertThrowsError(try store.alert(kind: "job_dead", subject: "bad-state")) { error in
                XCTAssertEqual(EngineSQL.decodingFailure(error)?.column, "state")
                XCTAssertEqual(EngineSQL.decodingFailure(error)?.value, "snoozed")
            }
            XCTAssertThrowsError(try store.alert(kind: "job_dead", subject: "bad-context")) { error in
                XCTAssertEqual(EngineSQL.decodingFailure(error)?.column, "context")
            }
            XCTAssertThrowsError(try store.alerts(includeCleared: true))
            XCTAssertEqual(try store.alert(kind: "job_dead", subject: "good")?.state, .raised)
        }
    }

    /// Node A raises a new condition and, inside its transaction (its notification closure), lets node B raise the
    /// same one; B must wait for A's row (seen waiting on a lock in `pg_stat_activity`), then find the condition
    /// raised and notified: one alert row, one episode, one notification job.
    func testTwoNodesRaisingTheSameConditionAtOnceStoreOneAlertAndNotifyOnce() throws {
        let url = try PostgreSQLTestServer.start().makeStoreDatabase()
        let location = DatabaseLocation.postgresql(url: url, password: nil)
        let event = try EngineSQL.event(location, key: "e1")
        let nodeA = try AlertStorageOpening.open(location)
        let observer = try PostgreSQLConnection(url: url)
        defer { nodeA.close(); observer.close() }
        let nodeB = Mutex<(any AlertStorage)?>(try AlertStorageOpening.open(location))
        let changeB = Mutex<Result<AlertChange, any Error>?>(nil)
        let finishedB = DispatchSemaphore(value: 0)
        var sawBWaiting = false

        let changeA = try nodeA.raise(kind: "job_dead", subject: "flow/x", message: "from A", context: [:], eventID: event, now: 1_000,
                                      repeatAfterMilliseconds: 60 * minute) { record in
            Thread.detachNewThread {
                let result = Result { () throws -> AlertChange in
                    try nodeB.withLock { store in
                        try store!.raise(kind: "job_dead", subject: "flow/x", message: "from B", context: [:], eventID: event, now: 1_001,
                                         repeatAfterMilliseconds: 60 * Self.minute, notification: Self.job)
                    }
                }
                changeB.withLock { $0 = result }
                finishedB.signal()
            }
            sawBWaiting = (try? waitUntil {
                try observer.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
                    .first?.int(0) == 1
            }) ?? false
            return Self.job(record)
        }
        XCTAssertEqual(finishedB.wait(timeout: .now() + 30), .success)
        nodeB.withLock { $0?.close() }
        XCTAssertTrue(sawBWaiting, "node B waited for node A's transaction")
        let b = try XCTUnwrap(changeB.withLock { $0 }).get()
        XCTAssertEqual([changeA.newlyRaised, changeA.notified], [true, true])
        XCTAssertEqual([b.newlyRaised, b.notified], [false, false], "B sees A's episode, notified a moment ago")
        XCTAssertNil(b.jobID)
        XCTAssertEqual(b.record.firstRaisedAt, 1_000)
        XCTAssertEqual(b.record.timesNotified, 1)
        XCTAssertEqual(b.record.message, "from B")
        XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM alerts"), 1)
        XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM jobs"), 1)
        XCTAssertEqual(try EngineSQL.integer(location, "SELECT times_notified FROM alerts"), 1)
    }

    /// Many raises of the same new conditions from four connections at once: one row and one notification each.
    func testConcurrentRaisesFromFourNodesNotifyEachConditionOnce() throws {
        let url = try PostgreSQLTestServer.start().makeStoreDatabase()
        let location = DatabaseLocation.postgresql(url: url, password: nil)
        try EngineSQL.event(location, key: "e1")
        let failures = Mutex<[String]>([])
        let notified = Mutex<[String: Int]>([:])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let node = Result { try AlertStorageOpening.open(location) }
            guard case .success(let store) = node else { return failures.withLock { $0.append("\(node)") } }
            defer { store.close() }
            for subject in 0..<40 {
                do {
                    let change = try Self.raise(store, "flow/\(subject)", now: 1_000)
                    if change.notified { notified.withLock { $0["flow/\(subject)", default: 0] += 1 } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(notified.withLock { $0 }, Dictionary(uniqueKeysWithValues: (0..<40).map { ("flow/\($0)", 1) }))
        XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM alerts"), 40)
        XCTAssertEqual(try EngineSQL.integer(location, "SELECT count(*) FROM jobs"), 40)
    }
}
