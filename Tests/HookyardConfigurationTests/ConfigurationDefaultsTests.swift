import Foundation
import HTTPServer
import XCTest
@testable import HookyardConfiguration

/// The defaults users get, pinned: they come from the components' configuration structs (`HTTPServerConfiguration`,
/// `HTTPParserLimits`, `WorkerPool.Configuration`, `RetryPolicy`, `AlertCenter.Configuration`), so a change there
/// shows here as a change users would see.
final class ConfigurationDefaultsTests: XCTestCase {
    func testHTTPDefaults() {
        let http = HookyardConfiguration().http
        XCTAssertEqual([http.maxRequestLineBytes, http.maxHeaderBytes, http.maxHeaderFields, http.maxBodyBytes, http.maxConnections],
                       [8 * 1024, 32 * 1024, 100, 1024 * 1024, 1024])
        XCTAssertEqual([http.headerTimeoutSeconds, http.bodyTimeoutSeconds, http.idleTimeoutSeconds, http.shutdownGraceSeconds],
                       [10, 30, 60, 10])
    }

    /// The daemon spreads connections over one event loop per CPU, not `HTTPServerConfiguration`'s default of 2.
    func testServerConfigurationUsesOneEventLoopPerCPU() throws {
        let configuration = HookyardConfiguration().serverConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"))
        XCTAssertEqual(configuration.eventLoopCount, max(1, ProcessInfo.processInfo.activeProcessorCount))
        XCTAssertEqual(configuration.limits, HTTPParserLimits())
        XCTAssertEqual(configuration.headerTimeout, .seconds(10))
        XCTAssertEqual(configuration.maxConnections, 1024)
    }

    func testWorkerAndAlertDefaults() {
        let configuration = HookyardConfiguration()
        let workers = configuration.workers
        XCTAssertEqual([workers.count, workers.maxAttempts, workers.leaseSeconds, workers.maxJobSeconds], [4, 10, 60, 300])
        XCTAssertEqual([workers.retryBaseMilliseconds, workers.retryCapMilliseconds], [2_000, 3_600_000])
        XCTAssertEqual(configuration.alerts.repeatIntervalMilliseconds, 3_600_000)
    }
}
