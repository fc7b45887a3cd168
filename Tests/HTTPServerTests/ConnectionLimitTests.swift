import Dispatch
import Foundation
import Logging
import Synchronization
import TestSupport
import XCTest
@testable import HTTPServer
import StrictJSON

/// Echoes the path; `/big…` answers carry 32 KiB more; `/hold` is answered only when the test calls `releaseHeld()`;
/// counts requests.
final class HoldingResponder: HTTPResponder {
    let served = Atomic<Int>(0)
    private let held = Mutex<[@Sendable () -> Void]>([])

    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        served.add(1, ordering: .relaxed)
        var response = HTTPResponse.json(status: 200, "{\"path\":\(JSONText.quote(request.target))}")
        if request.path.hasPrefix("/big") { response.body += [UInt8](repeating: 32, count: 32 * 1024) }
        let answer = response
        if request.path == "/hold" {
            held.withLock { $0.append { completion(answer) } }
        } else {
            completion(answer)
        }
    }

    var heldCount: Int { held.withLock { $0.count } }

    func releaseHeld() {
        for answer in held.withLock({ held in defer { held = [] }; return held }) { answer() }
    }
}

/// Issue 13, items 2 to 4: what a hostile or careless client can hold (time, connection slots, memory).
final class ConnectionLimitTests: XCTestCase {
    private func withServer(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
                            _ body: (HTTPServer, UInt16, HoldingResponder) throws -> Void) throws {
        var configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"))
        configure(&configuration)
        let responder = HoldingResponder()
        let server = HTTPServer(configuration: configuration, responder: responder, logger: TestLog.logger())
        let bound = try server.start()
        defer {
            responder.releaseHeld()
            server.shutdown(gracePeriod: .seconds(2))
        }
        try body(server, bound.port, responder)
    }

    /// Waits (up to 10 s) until `condition` holds; the assertion is on the condition, not on the time.
    private func waitUntil(_ what: String, _ condition: () -> Bool) {
        XCTAssertTrue(TestSupport.waitUntil(interval: .milliseconds(10), condition), "never became true: \(what)")
    }

    /// Whether the server has closed the connection or sent something (its 408) without waiting: a non-blocking peek.
    private func serverAnswered(_ client: TestHTTPClient) -> Bool {
        var byte: UInt8 = 0
        let count = recv(client.descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return count >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
    }

    // MARK: Item 2: the header deadline

    /// A client sending only CRLF every 300 ms, with a 1 s header timeout, is closed about 1 s after its connection
    /// started (or after its previous response): blank lines count toward the request head. Before the fix each blank
    /// line restarted the deadline and the connection lived for as long as the client trickled.
    func testBlankLinesTrickledDoNotExtendTheHeaderDeadline() throws {
        try withServer({ $0.headerTimeout = .seconds(1); $0.idleTimeout = .seconds(60) }) { _, port, _ in
            for afterARequest in [false, true] {
                let client = try TestHTTPClient(port: port)
                if afterARequest { XCTAssertEqual(try client.roundTrip("GET", "/first").status, 200) }
                let started = Date()
                var cutOff = false
                while !cutOff && Date().timeIntervalSince(started) < 12 {
                    usleep(300_000)
                    cutOff = serverAnswered(client) || (try? client.send("\r\n")) == nil
                }
                XCTAssertTrue(cutOff, "a blank-line trickler was never cut off (after a request: \(afterARequest))")
                // Generous: the deadline is 1 s and the loop sweeps every 0.5 s; 8 s leaves room for a loaded machine.
                XCTAssertLessThan(Date().timeIntervalSince(started), 8)
                if let response = try? client.readResponse() {
                    XCTAssertEqual(response.status, 408)
                    XCTAssertTrue(response.bodyText.contains("header_timeout"), response.bodyText)
                }
            }
        }
    }

    /// A head trickled byte by byte is cut off at the header deadline as before, and a request whose head took
    /// less than the deadline (blank lines included) is served.
    func testPromptRequestAfterBlankLinesIsServed() throws {
        try withServer({ $0.headerTimeout = .seconds(5) }) { _, port, _ in
            let client = try TestHTTPClient(port: port)
            try client.send("\r\n\r\n")
            usleep(100_000)
            XCTAssertEqual(try client.roundTrip("GET", "/after-blank-lines").status, 200)
            try client.send("\r\n")
            XCTAssertEqual(try client.roundTrip("GET", "/again").status, 200)
        }
    }

    // MARK: Item 3: connection slots

    /// With the table full of connections that are idle or have not completed a request, a new connection is
    /// served: the one idle or incomplete the longest is closed to make room.
    func testFullTableEvictsTheLongestIdleOrIncompleteConnection() throws {
        try withServer({ $0.maxConnections = 3 }) { server, port, _ in
            let silent = try TestHTTPClient(port: port)  // connects and never sends: the oldest
            waitUntil("1 open") { server.openConnections == 1 }
            let partial = try TestHTTPClient(port: port)
            try partial.send("POST /x HTTP/1.1\r\nHost: a\r\n")  // an incomplete head
            waitUntil("2 open") { server.openConnections == 2 }
            let idle = try TestHTTPClient(port: port)
            XCTAssertEqual(try idle.roundTrip("GET", "/idle").status, 200)  // now idle between requests

            let genuine = try TestHTTPClient(port: port)
            XCTAssertEqual(try genuine.roundTrip("GET", "/genuine").status, 200)
            XCTAssertTrue(silent.isClosedByServer(), "the connection idle the longest is evicted")

            let second = try TestHTTPClient(port: port)
            XCTAssertEqual(try second.roundTrip("GET", "/second").status, 200)
            XCTAssertTrue(partial.isClosedByServer(), "then the next oldest, an incomplete head")
            // The idle keep-alive connection is still served.
            XCTAssertEqual(try idle.roundTrip("GET", "/idle-again").status, 200)
            XCTAssertLessThanOrEqual(server.openConnections, 3)
            XCTAssertEqual(server.evictedConnections, 2)
        }
    }

    /// A connection whose request is with the responder is never evicted, even when it is the oldest; when every
    /// connection has a request in flight, a new one gets 503 `too_many_connections`, and is served once a slot frees.
    func testConnectionsWithARequestInFlightAreNeverEvicted() throws {
        try withServer({ $0.maxConnections = 2 }) { server, port, responder in
            let busy = try TestHTTPClient(port: port)
            try busy.send(TestHTTPClient.request("GET", "/hold"))
            waitUntil("the first request is held") { responder.heldCount == 1 }
            let idle = try TestHTTPClient(port: port)
            XCTAssertEqual(try idle.roundTrip("GET", "/idle").status, 200)

            let newcomer = try TestHTTPClient(port: port)
            try newcomer.send(TestHTTPClient.request("GET", "/hold"))
            waitUntil("the newcomer's request is held") { responder.heldCount == 2 }
            XCTAssertTrue(idle.isClosedByServer(), "the idle connection made room, not the older busy one")

            let refused = try TestHTTPClient(port: port)
            let response = try refused.readResponse()
            XCTAssertEqual(response.status, 503)
            XCTAssertTrue(response.bodyText.contains("too_many_connections"))

            responder.releaseHeld()
            XCTAssertEqual(try busy.readResponse().bodyText, "{\"path\":\"/hold\"}")
            XCTAssertEqual(try newcomer.readResponse().bodyText, "{\"path\":\"/hold\"}")
            let later = try TestHTTPClient(port: port)
            XCTAssertEqual(try later.roundTrip("GET", "/later").status, 200)
        }
    }

    // MARK: Item 4: unsent output

    /// A client that pipelines thousands of requests (for 32 KiB answers, 64 MB in all: far more than the kernel's
    /// socket buffers) and reads no answer costs the server one answer and one read of input: it stops taking
    /// requests from the connection while an answer waits unsent. Before the fix it kept taking them until 64 KiB
    /// of answers waited, and its input buffer kept the capacity of its largest burst (20 MB measured here). Then
    /// the client reads, gets every answer in order, and the connection's buffers shrink back.
    func testNonReadingPipeliningClientHoldsLittleServerMemory() throws {
        try withServer { server, port, responder in
            let client = try TestHTTPClient(port: port, timeoutSeconds: 20, receiveBufferBytes: 4096)
            let count = 2000
            let bytes = (0..<count).flatMap { TestHTTPClient.request("GET", "/big\($0)") }
            let flags = fcntl(client.descriptor, F_GETFL)
            _ = fcntl(client.descriptor, F_SETFL, flags | O_NONBLOCK)
            var offset = 0
            var stalls = 0
            // Send until everything is sent or the server has stopped reading (no progress for 300 ms).
            while offset < bytes.count && stalls < 3 {
                let sent = bytes[offset...].withUnsafeBytes { send(client.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent > 0 {
                    offset += sent
                    stalls = 0
                } else {
                    stalls += 1
                    usleep(100_000)
                }
            }
            // Let the server settle: the count of requests it took stops moving.
            var previous = -1
            while previous != responder.served.load(ordering: .relaxed) {
                previous = responder.served.load(ordering: .relaxed)
                usleep(300_000)
            }
            XCTAssertLessThan(previous, count, "the server stopped taking requests from a client that reads nothing")
            let held = server.heldBytesPerConnection()
            XCTAssertEqual(held.count, 1)
            // One 32 KiB answer, at most 16 KiB of input; before the fix, more than 64 KiB of answers alone.
            XCTAssertLessThan(held.reduce(0, +), 56 * 1024, "bytes held for one non-reading client: \(held)")

            _ = fcntl(client.descriptor, F_SETFL, flags)
            let descriptor = client.descriptor
            let start = offset
            let sender = Thread {
                var position = start
                while position < bytes.count {
                    let sent = bytes[position...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { return }
                    position += sent
                }
            }
            sender.start()
            for index in 0..<count {
                let response = try client.readResponse()
                let expected = "{\"path\":\"/big\(index)\"}"
                XCTAssertTrue(response.bodyText.hasPrefix(expected), String(response.bodyText.prefix(40)))
                if !response.bodyText.hasPrefix(expected) { break }
            }
            // Drained: the connection's buffers shrink back.
            waitUntil("buffers released after draining") { server.heldBytesPerConnection().reduce(0, +) <= 8 * 1024 }
        }
    }
}
