import Foundation
import Synchronization
import XCTest

import SQLite

final class WriteLockTests: XCTestCase {
    /// An urgent caller (the intake's writer) is served before background callers that were waiting first.
    func testUrgentCallerGoesBeforeWaitingBackgroundCallers() {
        let order = Mutex<[String]>([])
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        func start(_ name: String, urgent: Bool = false, _ body: @escaping @Sendable () -> Void = {}) {
            done.enter()
            Thread {
                WriteLock.withLock(urgent: urgent) {
                    order.withLock { $0.append(name) }
                    body()
                }
                done.leave()
            }.start()
        }
        start("holder") {
            holding.signal()
            release.wait()
        }
        holding.wait()
        for index in 0..<3 { start("background\(index)") }
        usleep(50_000)
        start("urgent", urgent: true)
        usleep(50_000)
        release.signal()
        done.wait()
        let seen = order.withLock { $0 }
        XCTAssertEqual(seen.count, 5)
        XCTAssertEqual(Array(seen.prefix(2)), ["holder", "urgent"], "\(seen)")
    }

    func testReentrantOnTheHoldingThread() {
        let value = WriteLock.withLock { WriteLock.withLock(urgent: true) { 42 } }
        XCTAssertEqual(value, 42)
    }
}
