#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import TestSupport
import XCTest
@testable import HTTPServer
import StrictJSON

/// Resets the connection for `/abort` (`HTTPAnswer.resetConnection`) and answers everything else with 200.
private final class AbortingResponder: ConnectionResettingResponder {
    func respond(to request: HTTPRequest, answer: @escaping @Sendable (HTTPAnswer) -> Void) {
        if request.path == "/abort" {
            answer(.resetConnection)
        } else if request.path == "/abort-later" {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { answer(.resetConnection) }
        } else {
            answer(.response(.json(status: 200, "{\"path\":\(JSONText.quote(request.target))}")))
        }
    }
}

final class AbortResponseTests: XCTestCase {
    private func withServer(_ body: (HTTPServer, UInt16) throws -> Void) throws {
        let configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"))
        let server = HTTPServer(configuration: configuration, responder: AbortingResponder(), logger: TestLog.logger())
        let bound = try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        try body(server, bound.port)
    }

    /// Reads until EOF or an error: the bytes received and the `errno` that ended it (0 for a clean EOF).
    private func readToEnd(_ client: TestHTTPClient) -> (bytes: Int, errno: Int32) {
        var total = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(client.descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 { total += count; continue }
            if count == 0 { return (total, 0) }
            if errno == EINTR { continue }
            return (total, errno)
        }
    }

    private func waitForNoConnections(_ server: HTTPServer) {
        waitUntil(timeout: .seconds(2), interval: .milliseconds(5)) { server.openConnections == 0 }
    }

    func testAbortResetsTheConnectionWithoutWritingAnything() throws {
        try withServer { server, port in
            let client = try TestHTTPClient(port: port, timeoutSeconds: 2)
            try client.send(TestHTTPClient.request("POST", "/abort", body: Array("x".utf8)))
            let (bytes, error) = readToEnd(client)
            XCTAssertEqual(bytes, 0)
            XCTAssertEqual(error, ECONNRESET, "expected a reset, got \(error == 0 ? "EOF" : String(cString: strerror(error)))")
            waitForNoConnections(server)
            XCTAssertEqual(server.openConnections, 0)
        }
    }

    func testAbortFromAnotherThreadAfterADelay() throws {
        try withServer { server, port in
            let client = try TestHTTPClient(port: port, timeoutSeconds: 2)
            try client.send(TestHTTPClient.request("GET", "/abort-later"))
            let (bytes, error) = readToEnd(client)
            XCTAssertEqual(bytes, 0)
            XCTAssertEqual(error, ECONNRESET)
            waitForNoConnections(server)
            XCTAssertEqual(server.openConnections, 0)
        }
    }

    func testEarlierAnswersOnTheConnectionArriveAndPipelinedOnesAfterTheAbortDoNot() throws {
        try withServer { _, port in
            let client = try TestHTTPClient(port: port, timeoutSeconds: 2)
            XCTAssertEqual(try client.roundTrip("GET", "/first").status, 200)
            try client.send(TestHTTPClient.request("GET", "/abort") + TestHTTPClient.request("GET", "/after"))
            let (bytes, error) = readToEnd(client)
            XCTAssertEqual(bytes, 0, "nothing may follow the first answer")
            XCTAssertEqual(error, ECONNRESET)
        }
    }

    func testServerKeepsServingOtherConnections() throws {
        try withServer { _, port in
            for _ in 0..<3 {
                let aborted = try TestHTTPClient(port: port, timeoutSeconds: 2)
                try aborted.send(TestHTTPClient.request("GET", "/abort"))
                XCTAssertTrue(aborted.isClosedByServer())
            }
            let client = try TestHTTPClient(port: port, timeoutSeconds: 2)
            let response = try client.roundTrip("GET", "/ok")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.bodyText, "{\"path\":\"/ok\"}")
            XCTAssertFalse(response.closes)
        }
    }
}
