import Cluster
import Dispatch
import Foundation
import Logging
import PostgreSQL
import Store
import TestSupport
import XCTest

/// What nodes sharing one PostgreSQL database coordinate, with several "nodes" (connections) in one test process:
/// a periodic task runs on one node at a time, and a rate limit holds for the sum of the nodes.
final class ClusterCoordinationTests: XCTestCase {
    private var url = ""

    override func setUpWithError() throws {
        url = try PostgreSQLTestServer.start().makeStoreDatabase()
    }

    func testATaskRunsOnOneNodeAtATimeAndANodesEndReleasesIt() throws {
        let first = PostgreSQLTaskLock(url: url, password: nil)
        let second = PostgreSQLTaskLock(url: url, password: nil)
        defer { first.close(); second.close() }
        var ranInside: [Bool] = []
        XCTAssertTrue(try first.runIfNoOtherNodeIs("contact-maintenance") {
            ranInside.append(try second.runIfNoOtherNodeIs("contact-maintenance") {})
            ranInside.append(try second.runIfNoOtherNodeIs("instantly-webhook-watch") {})
        })
        XCTAssertEqual(ranInside, [false, true], "the same task is refused to the second node; another task is not")
        XCTAssertTrue(try second.runIfNoOtherNodeIs("contact-maintenance") {}, "released once the first node finished")

        // A node that dies mid-task: its session ends and the task is free again.
        let dying = try PostgreSQLConnection(url: url)
        XCTAssertTrue(try dying.tryAdvisoryLock(PostgreSQLTaskLock.key("contact-maintenance")))
        XCTAssertFalse(try second.runIfNoOtherNodeIs("contact-maintenance") {})
        dying.close()
        XCTAssertTrue(try waitUntil { try second.runIfNoOtherNodeIs("contact-maintenance") {} })
    }

    func testASQLiteDatabaseRunsEveryTask() throws {
        var runs = 0
        XCTAssertTrue(try DatabaseLocation.sqlite(path: "/unused").periodicTaskLock().runIfNoOtherNodeIs("x") { runs += 1 })
        XCTAssertEqual(runs, 1)
    }

    func testTheRateHoldsForTheSumOfTheNodes() throws {
        let rate = 100.0, nodes = 3, grantsPerNode = 40
        let limiters = (0..<nodes).map { _ in
            ClusterRateLimiter(name: "stripe", requestsPerSecond: rate, url: url, password: nil, logger: Logger(label: "test"))
        }
        defer { limiters.forEach { $0.close() } }
        let probe = try PostgreSQLConnection(url: url)
        defer { probe.close() }
        let serverStart = try XCTUnwrap(probe.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint").first?.int(0))
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: nodes * 2) { thread in
            for _ in 0..<(grantsPerNode / 2) { limiters[thread % nodes].acquireGrant() }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let total = nodes * grantsPerNode
        // Slots are one interval apart across the nodes: the last of `total` grants is at least (total - 1)
        // intervals after the first, and the next free slot is `total` intervals past the server's clock at start.
        XCTAssertGreaterThanOrEqual(elapsed, Double(total - 1) / rate - 0.005, "\(total) grants at \(rate)/s took \(elapsed) s")
        let nextSlot = try XCTUnwrap(probe.query("SELECT next_slot_us FROM cluster_rate_limits WHERE name = 'stripe'").first?.int(0))
        XCTAssertGreaterThanOrEqual(nextSlot - serverStart, Int64(total) * 10_000)
    }

    func testAPauseHoldsBackEveryNode() throws {
        let first = ClusterRateLimiter(name: "instantly", requestsPerSecond: 1000, url: url, password: nil, logger: Logger(label: "test"))
        let second = ClusterRateLimiter(name: "instantly", requestsPerSecond: 1000, url: url, password: nil, logger: Logger(label: "test"))
        defer { first.close(); second.close() }
        first.acquireGrant()
        first.pause(forMilliseconds: 400)
        let start = DispatchTime.now().uptimeNanoseconds
        second.acquireGrant()
        XCTAssertGreaterThanOrEqual(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6, 390)
    }

    func testAnUnreachableDatabaseFallsBackToThisNodesOwnLimit() {
        let limiter = ClusterRateLimiter(name: "stripe", requestsPerSecond: 1000, url: "postgresql:///x?host=/nonexistent&port=1",
                                         password: nil, logger: Logger(label: "test"))
        defer { limiter.close() }
        for _ in 0..<3 { limiter.acquireGrant() }  // returns: granted by the local limiter, not stuck on the database
    }
}
