import Foundation
import TestSupport
import XCTest

/// Issue 13, items 2 and 3 on the real daemon's admin listener (64 connections, 5 s header timeout): blank-line
/// tricklers neither outlive the header timeout nor lock out `/healthz` and `/metrics`.
final class ConnectionFloodTests: XCTestCase {
    /// Connects to the admin listener and sends one blank line.
    private func trickler(_ port: UInt16) throws -> TestHTTPClient {
        let client = try TestHTTPClient(port: port)
        try client.send("\r\n")
        return client
    }

    func testAdminListenerFullOfBlankLineTricklersStillAnswersAndCountsEvictions() throws {
        let daemon = try DaemonProcess()
        defer { daemon.terminate() }
        let port = try daemon.adminPort()
        let flood = try (0..<64).map { _ in try trickler(port) }
        // Before the fix the 65th connection got 503 too_many_connections while the tricklers kept sending.
        for client in flood { try? client.send("\r\n") }
        let response = try daemon.adminClient().roundTrip("GET", "/metrics")
        XCTAssertEqual(response.status, 200, response.bodyText)
        let metrics = try ExpositionParser(response.bodyText)
        XCTAssertGreaterThanOrEqual(metrics.value("hookyard_http_connections_evicted_total", ["listener": "admin"]) ?? 0, 1)
        XCTAssertEqual(try daemon.adminClient().roundTrip("GET", "/healthz").status, 200)
        let deadline = Date().addingTimeInterval(10)
        while !daemon.output.contains("connection table full"), Date() < deadline { usleep(20_000) }
        let warning = daemon.logLines().first { ($0["msg"] as? String)?.hasPrefix("connection table full") == true }
        XCTAssertEqual(warning?["level"] as? String, "warning", daemon.output)
    }

    func testAdminBlankLineTricklerIsCutOffAtTheHeaderTimeout() throws {
        let daemon = try DaemonProcess()
        defer { daemon.terminate() }
        let client = try trickler(try daemon.adminPort())
        let started = Date()
        var cutOff = false
        while !cutOff && Date().timeIntervalSince(started) < 30 {
            usleep(500_000)
            var byte: UInt8 = 0
            let peeked = recv(client.descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            cutOff = peeked >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || (try? client.send("\r\n")) == nil
        }
        XCTAssertTrue(cutOff, "a blank-line trickler on the admin listener was never cut off")
        // The admin header timeout is 5 s; generous bound for a loaded machine.
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }
}
