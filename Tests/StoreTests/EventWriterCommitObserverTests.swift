import Foundation
import Synchronization
import TestSupport
import XCTest
@testable import Store

/// `whenCommitted` (`SQLiteEventWriter`, `PostgreSQLEventWriter`): an observer added after the writer is built hears each commit that stored events,
/// after `onCommit` and before the appends' completions, and not a commit that stored nothing new.
final class EventWriterCommitObserverTests: TemporaryDirectoryTestCase {
    private func append(_ writer: any EventSink, key: String) {
        let done = expectation(description: "append \(key)")
        writer.append(IncomingEvent(source: .stripe, dedupKey: key, eventID: key, type: "invoice.paid", receivedAt: 1_732_500_000_000,
                                    body: Array("{\"id\":\"\(key)\"}".utf8), headersJSON: "{}")) { _ in done.fulfill() }
        wait(for: [done], timeout: 30)
    }

    func testObserverHearsCommitsThatStoredEventsAfterOnCommit() throws {
        try forEachStorageEngine { location in
            let heard = Mutex<[String]>([])
            let writer = try EventSinkOpening.open(location, logger: TestLog.logger(),
                                                   onCommit: { heard.withLock { $0.append("onCommit") } })
            defer { writer.close() }
            writer.whenCommitted { heard.withLock { $0.append("first") } }
            writer.whenCommitted { heard.withLock { $0.append("second") } }
            append(writer, key: "evt_1")
            XCTAssertEqual(heard.withLock { $0 }, ["onCommit", "first", "second"], "heard before the append completed")
            append(writer, key: "evt_1")
            XCTAssertEqual(heard.withLock { $0 }.count, 3, "a duplicate stores nothing: no one is told")
            append(writer, key: "evt_2")
            XCTAssertEqual(heard.withLock { $0 }, ["onCommit", "first", "second", "onCommit", "first", "second"])
        }
    }
}
