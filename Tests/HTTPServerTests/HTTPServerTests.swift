import Dispatch
import Foundation
import Logging
import Synchronization
import TestSupport
import XCTest
@testable import HTTPServer
import StrictJSON

/// Echoes the request; `/slow` answers after 300 ms; counts requests.
final class EchoResponder: HTTPResponder {
    let served = Atomic<Int>(0)

    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        served.add(1, ordering: .relaxed)
        var response = HTTPResponse.json(status: 200, "{\"path\":\(JSONText.quote(request.target)),\"bytes\":\(request.body.count)}")
        if request.path.hasPrefix("/big") { response.body += [UInt8](repeating: 32, count: 32 * 1024) }  // 32 KiB answers
        let answer = response
        if request.path == "/slow" {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(300)) { completion(answer) }
        } else {
            completion(answer)
        }
    }
}

final class HTTPServerTests: XCTestCase {
    private func withServer(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }, address: String = "127.0.0.1:0",
                            _ body: (HTTPServer, UInt16, EchoResponder) throws -> Void) throws {
        var configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: address))
        configure(&configuration)
        let responder = EchoResponder()
        let server = HTTPServer(configuration: configuration, responder: responder, logger: TestLog.logger())
        let bound = try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        try body(server, bound.port, responder)
    }

    func testKeepAliveServesManyRequestsOnOneConnection() throws {
        try withServer { _, port, _ in
            let client = try TestHTTPClient(port: port)
            for index in 0..<500 {
                let response = try client.roundTrip("POST", "/r\(index)", body: Array("x".utf8))
                XCTAssertEqual(response.status, 200)
                XCTAssertEqual(response.bodyText, "{\"path\":\"/r\(index)\",\"bytes\":1}")
                XCTAssertFalse(response.closes)
            }
        }
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        try withServer { _, port, _ in
            let client = try TestHTTPClient(port: port)
            var bytes: [UInt8] = []
            for index in 0..<50 { bytes += TestHTTPClient.request("GET", index % 7 == 0 ? "/slow?\(index)" : "/p\(index)") }
            try client.send(bytes)
            for index in 0..<50 {
                let response = try client.readResponse()
                XCTAssertTrue(response.bodyText.contains(index % 7 == 0 ? "/slow?\(index)\"" : "/p\(index)\""), response.bodyText)
            }
        }
    }

    func testPipeliningClientThatReadsLateGetsEveryAnswerInOrder() throws {
        try withServer { _, port, _ in
            let client = try TestHTTPClient(port: port, timeoutSeconds: 20, receiveBufferBytes: 4096)
            // About 13 MB of answers: more than the kernel buffers, so the server's own output cap must engage.
            let count = 400
            let bytes = (0..<count).flatMap { TestHTTPClient.request("GET", "/big\($0)") }
            let descriptor = client.descriptor
            let sender = Thread {
                var offset = 0
                while offset < bytes.count {
                    let sent = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { return }
                    offset += sent
                }
            }
            sender.start()
            usleep(300_000)  // the server's pending output passes its cap; it must pause, not buffer without bound
            for index in 0..<count {
                let response = try client.readResponse()
                XCTAssertTrue(response.bodyText.hasPrefix("{\"path\":\"/big\(index)\""), String(response.bodyText.prefix(40)))
            }
        }
    }

    func testChunkedRequestAndExpectContinue() throws {
        try withServer { _, port, _ in
            let client = try TestHTTPClient(port: port)
            try client.send("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            XCTAssertEqual(try client.readResponse().bodyText, "{\"path\":\"/c\",\"bytes\":5}")
            try client.send("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            var interim = [UInt8](repeating: 0, count: 25)
            XCTAssertEqual(recv(client.descriptor, &interim, 25, Int32(MSG_WAITALL)), 25)
            XCTAssertEqual(String(decoding: interim, as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
            try client.send("body")
            XCTAssertEqual(try client.readResponse().bodyText, "{\"path\":\"/e\",\"bytes\":4}")
        }
    }

    func testMalformedRequestGets400AndClose() throws {
        try withServer { _, port, _ in
            let client = try TestHTTPClient(port: port)
            try client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 400)
            XCTAssertTrue(response.closes)
            XCTAssertTrue(response.bodyText.contains("\"reason\":\"conflicting_framing\""))
            XCTAssertTrue(client.isClosedByServer())
        }
    }

    func testOversizedBodyGets413EvenWhileTheClientKeepsSending() throws {
        try withServer({ $0.limits.bodyBytes = 1000 }) { _, port, _ in
            let client = try TestHTTPClient(port: port)
            try client.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            // The client streams more than the limit; the server must answer 413, not reset.
            try? client.send("800\r\n" + String(repeating: "z", count: 0x800) + "\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 413)
            XCTAssertTrue(response.closes)
        }
    }

    func testHeaderTimeoutAnswers408() throws {
        try withServer({ $0.headerTimeout = .seconds(1) }) { _, port, _ in
            let client = try TestHTTPClient(port: port)
            try client.send("POST /x HTTP/1.1\r\nHost: a\r\n")
            let started = Date()
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 408)
            XCTAssertTrue(response.bodyText.contains("header_timeout"))
            XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        }
    }

    func testBodyTimeoutAnswers408() throws {
        try withServer({ $0.bodyTimeout = .seconds(1) }) { _, port, _ in
            let client = try TestHTTPClient(port: port)
            try client.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 408)
            XCTAssertTrue(response.bodyText.contains("body_timeout"))
        }
    }

    func testIdleKeepAliveConnectionIsClosed() throws {
        try withServer({ $0.idleTimeout = .seconds(1) }) { server, port, _ in
            let client = try TestHTTPClient(port: port, timeoutSeconds: 5)
            XCTAssertEqual(try client.roundTrip("GET", "/").status, 200)
            XCTAssertTrue(client.isClosedByServer())
        }
    }

    func testIPv6Loopback() throws {
        try withServer(address: "[::1]:0") { server, port, _ in
            XCTAssertEqual(server.localAddress?.host, "::1")
            let client = try TestHTTPClient(host: "::1", port: port)
            XCTAssertEqual(try client.roundTrip("GET", "/v6").status, 200)
        }
    }

    func testShutdownFinishesInFlightRequests() throws {
        var configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"))
        configuration.eventLoopCount = 2
        let server = HTTPServer(configuration: configuration, responder: EchoResponder(), logger: TestLog.logger())
        let port = try server.start().port
        let busy = try TestHTTPClient(port: port)
        let idle = try TestHTTPClient(port: port)
        XCTAssertEqual(try idle.roundTrip("GET", "/").status, 200)
        try busy.send(TestHTTPClient.request("GET", "/slow"))
        usleep(50_000)
        let stopped = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            server.shutdown(gracePeriod: .seconds(5))
            stopped.signal()
        }
        let response = try busy.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.closes, "a response during shutdown closes its connection")
        XCTAssertTrue(idle.isClosedByServer())
        XCTAssertEqual(stopped.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(server.openConnections, 0)
        XCTAssertThrowsError(try TestHTTPClient(port: port).roundTrip("GET", "/"))
    }

    func testAddressParsing() throws {
        XCTAssertEqual(try SocketAddress(parsing: "127.0.0.1:8080").description, "127.0.0.1:8080")
        XCTAssertEqual(try SocketAddress(parsing: "[::1]:9").description, "[::1]:9")
        XCTAssertEqual(try SocketAddress(parsing: ":80").host, "0.0.0.0")
        for bad in ["localhost", "1.2.3.4:x", "[::1]", "::1:80", "1.2.3.4:70000", "no.such.host.invalid:80"] {
            XCTAssertThrowsError(try SocketAddress(parsing: bad), bad)
        }
    }

    func testBindFailureNamesTheAddress() throws {
        try withServer { _, port, _ in
            let second = HTTPServer(configuration: HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:\(port)")),
                                    responder: EchoResponder(), logger: TestLog.logger())
            XCTAssertThrowsError(try second.start()) { error in
                XCTAssertTrue("\(error)".contains("bind 127.0.0.1:\(port)"), "\(error)")
            }
        }
    }
}
