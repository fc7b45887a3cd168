import XCTest
@testable import HTTPServer

final class HTTPRequestParserTests: XCTestCase {
    /// Feeds `text` (optionally one byte at a time) and collects requests, or the error.
    private func parse(_ text: String, limits: HTTPParserLimits = HTTPParserLimits(), byteByByte: Bool = false)
        -> (requests: [HTTPRequest], heads: Int, error: HTTPParseError?) {
        parse(Array(text.utf8), limits: limits, byteByByte: byteByByte)
    }

    private func parse(_ bytes: [UInt8], limits: HTTPParserLimits = HTTPParserLimits(), byteByByte: Bool = false)
        -> (requests: [HTTPRequest], heads: Int, error: HTTPParseError?) {
        var parser = HTTPRequestParser(limits: limits)
        var requests: [HTTPRequest] = []
        var heads = 0
        let chunks: [[UInt8]] = byteByByte ? bytes.map { [$0] } : [bytes]
        do {
            for chunk in chunks {
                parser.append(chunk)
                while let event = try parser.next() {
                    switch event {
                    case .head: heads += 1
                    case .request(let request): requests.append(request)
                    }
                }
            }
        } catch {
            return (requests, heads, error)
        }
        return (requests, heads, nil)
    }

    private func assertError(_ text: String, status: Int, reason: String, limits: HTTPParserLimits = HTTPParserLimits(),
                             file: StaticString = #filePath, line: UInt = #line) {
        for byteByByte in [false, true] {
            let result = parse(text, limits: limits, byteByByte: byteByByte)
            XCTAssertEqual(result.error?.status, status, "byteByByte=\(byteByByte)", file: file, line: line)
            XCTAssertEqual(result.error?.reason, reason, "byteByByte=\(byteByByte)", file: file, line: line)
        }
    }

    func testSimpleGet() {
        let result = parse("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n")
        XCTAssertNil(result.error)
        XCTAssertEqual(result.requests.count, 1)
        let request = result.requests[0]
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.target, "/healthz?x=1")
        XCTAssertEqual(request.path, "/healthz")
        XCTAssertEqual(request.headers["user-agent"], "t")
        XCTAssertTrue(request.keepAlive)
    }

    func testContentLengthBodyByteByByte() {
        let result = parse("POST /w HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", byteByByte: true)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.requests.map { String(decoding: $0.body, as: UTF8.self) }, ["hello world"])
        XCTAssertEqual(result.heads, 1)
    }

    func testPipelinedRequestsInOrder() {
        var text = ""
        for index in 0..<5 { text += "POST /\(index) HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n\(index)" }
        text += "GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let result = parse(text)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.requests.map(\.target), ["/0", "/1", "/2", "/3", "/4", "/last"])
        XCTAssertEqual(result.requests.prefix(5).map { String(decoding: $0.body, as: UTF8.self) }, ["0", "1", "2", "3", "4"])
        XCTAssertFalse(result.requests[5].keepAlive)
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        let text = "POST /w HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1 ; x\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n"
        for byteByByte in [false, true] {
            let result = parse(text, byteByByte: byteByByte)
            XCTAssertNil(result.error)
            XCTAssertEqual(result.requests.map { String(decoding: $0.body, as: UTF8.self) }, ["hello 0123456789"])
        }
    }

    func testChunkedUpperCaseTokenAndHexDigits() {
        let result = parse("POST /w HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\nF\r\n0123456789abcde\r\n0\r\n\r\n")
        XCTAssertNil(result.error)
        XCTAssertEqual(result.requests.first?.body.count, 15)
    }

    func testHTTP10DefaultsToClose() {
        let result = parse("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertNil(result.error)
        XCTAssertEqual(result.requests.map(\.keepAlive), [false, true])
    }

    func testLeadingEmptyLinesAreIgnored() {
        XCTAssertEqual(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").requests.count, 1)
    }

    func testAbsoluteFormTargetKeepsPathAndQuery() {
        let result = parse("GET http://example.com/webhooks/stripe?a=b HTTP/1.1\r\nHost: example.com\r\n\r\n")
        XCTAssertEqual(result.requests.first?.target, "/webhooks/stripe?a=b")
    }

    func testExpectContinueIsReported() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        guard case .head(let expectsContinue)? = try parser.next() else { return XCTFail("expected head") }
        XCTAssertTrue(expectsContinue)
        XCTAssertNil(try parser.next())
        parser.append(Array("ok".utf8))
        guard case .request(let request)? = try parser.next() else { return XCTFail("expected request") }
        XCTAssertEqual(request.body, Array("ok".utf8))
    }

    func testDuplicateIdenticalContentLengthIsAccepted() {
        let result = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertNil(result.error)
        XCTAssertEqual(result.requests.count, 1)
    }

    // MARK: Limits

    func testRequestLineTooLong() {
        let limits = HTTPParserLimits(requestLineBytes: 64)
        assertError("GET /\(String(repeating: "a", count: 100)) HTTP/1.1\r\nHost: a\r\n\r\n", status: 431,
                    reason: "request_line_too_long", limits: limits)
        // Without a line end at all the parser rejects as soon as the limit is passed.
        let result = parse("GET /" + String(repeating: "a", count: 100), limits: limits)
        XCTAssertEqual(result.error?.status, 431)
        // Exactly at the limit is fine.
        let exact = "GET /" + String(repeating: "a", count: 64 - 14) + " HTTP/1.1"
        XCTAssertEqual(exact.utf8.count, 64)
        XCTAssertNil(parse(exact + "\r\nHost: a\r\n\r\n", limits: limits).error)
    }

    func testDefaultRequestLineLimitIs8KiB() {
        let target = "/" + String(repeating: "a", count: 8 * 1024)
        XCTAssertEqual(parse("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n").error?.status, 431)
    }

    func testHeaderSectionTooLarge() {
        let limits = HTTPParserLimits(headerBytes: 256)
        assertError("GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "b", count: 300))\r\n\r\n", status: 431,
                    reason: "headers_too_large", limits: limits)
        let defaultLimit = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-Fill: \(String(repeating: "f", count: 1000))\r\n", count: 33) + "\r\n"
        XCTAssertEqual(parse(defaultLimit).error?.status, 431)
    }

    func testTooManyHeaderFields() {
        let fields = (0..<101).map { "X-\($0): v\r\n" }.joined()
        assertError("GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n", status: 431, reason: "too_many_headers")
        let ninetyNine = (0..<99).map { "X-\($0): v\r\n" }.joined()
        XCTAssertNil(parse("GET / HTTP/1.1\r\nHost: a\r\n\(ninetyNine)\r\n").error)
    }

    func testContentLengthOverLimitIsRejectedBeforeTheBody() {
        let result = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n")
        XCTAssertEqual(result.error?.status, 413)
        XCTAssertEqual(result.error?.reason, "body_too_large")
        XCTAssertEqual(result.heads, 0)
    }

    func testChunkedBodyOverLimit() {
        let limits = HTTPParserLimits(bodyBytes: 16)
        assertError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n",
                    status: 413, reason: "body_too_large", limits: limits)
        assertError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n", status: 413,
                    reason: "body_too_large")
    }

    func testManyTinyChunksDoNotPileUpMemory() throws {
        // 1-byte chunks with long extensions: the buffer must be compacted as it goes.
        var parser = HTTPRequestParser(limits: HTTPParserLimits(bodyBytes: 1024 * 1024))
        parser.append(Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        guard case .head? = try parser.next() else { return XCTFail("expected head") }
        let chunk = Array("1;\(String(repeating: "e", count: 4000))\r\nx\r\n".utf8)
        var peak = 0
        for _ in 0..<2000 {
            parser.append(chunk)
            XCTAssertNil(try parser.next())
            peak = max(peak, parser.bufferedByteCount)
        }
        XCTAssertLessThan(peak, 128 * 1024)
    }

    // MARK: Smuggling and malformed input

    func testContentLengthAndTransferEncodingTogether() {
        assertError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    status: 400, reason: "conflicting_framing")
    }

    func testDifferingContentLengths() {
        assertError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", status: 400,
                    reason: "conflicting_content_length")
        assertError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!", status: 400,
                    reason: "conflicting_content_length")
    }

    func testInvalidContentLength() {
        for value in ["-1", "+5", "0x10", "5 5", "", "99999999999999999999"] {
            let result = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(value)\r\n\r\n")
            XCTAssertEqual(result.error?.status, 400, value)
        }
    }

    func testObsFoldIsRejected() {
        assertError("GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n", status: 400, reason: "obs_fold")
        assertError("GET / HTTP/1.1\r\n Host: a\r\n\r\n", status: 400, reason: "obs_fold")
    }

    func testBadChunkSizes() {
        for size in ["zz", "-1", "", "123456789", "5 x", "0x5"] {
            let result = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n")
            XCTAssertEqual(result.error?.status, 400, "chunk size '\(size)'")
        }
        assertError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", status: 400,
                    reason: "bad_chunk")
    }

    func testTransferEncodingOtherThanChunked() {
        assertError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400, reason: "bad_transfer_encoding")
        assertError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 501,
                    reason: "unsupported_transfer_encoding")
        assertError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", status: 501,
                    reason: "unsupported_transfer_encoding")
        assertError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400, reason: "bad_transfer_encoding")
    }

    func testBareLineFeedIsRejected() {
        assertError("GET / HTTP/1.1\nHost: a\n\n", status: 400, reason: "bare_lf")
        assertError("GET / HTTP/1.1\r\nHost: a\n\r\n", status: 400, reason: "bare_lf")
    }

    func testMalformedRequestLines() {
        for line in ["GET", "GET /", "GET  / HTTP/1.1", "GET / HTTP/1.1 extra", "G(T / HTTP/1.1", "GET nopath HTTP/1.1",
                     "GET / HTTQ/1.1", "GET /\u{7f} HTTP/1.1", "GET / http/1.1"] {
            let result = parse(line + "\r\nHost: a\r\n\r\n")
            XCTAssertEqual(result.error?.status, 400, line)
        }
        XCTAssertEqual(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n").error?.status, 505)
        XCTAssertEqual(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n").error?.status, 505)
    }

    func testMalformedHeaders() {
        for header in ["NoColon", ": empty-name", "Bad Name: v", "Name : v", "X: a\u{01}b", "X\u{00}: v"] {
            let result = parse("GET / HTTP/1.1\r\nHost: a\r\n\(header)\r\n\r\n")
            XCTAssertEqual(result.error?.status, 400, header)
        }
    }

    func testHostHeaderRequiredOnceInHTTP11() {
        XCTAssertEqual(parse("GET / HTTP/1.1\r\n\r\n").error?.reason, "bad_host")
        XCTAssertEqual(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").error?.reason, "bad_host")
        XCTAssertNil(parse("GET / HTTP/1.0\r\n\r\n").error)
    }

    func testUnsupportedExpectation() {
        XCTAssertEqual(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx").error?.status, 417)
    }

    func testRandomBytesNeverCrashAndStayBounded() {
        var generator = SystemRandomNumberGenerator()
        let limits = HTTPParserLimits(requestLineBytes: 1024, headerBytes: 4096, headerFields: 20, bodyBytes: 8192)
        let alphabet = Array("GET POST / HTTP/1.1\r\n:;0123456789abcdefABCDEF Host Content-Length Transfer-Encoding chunked\t".utf8)
        for round in 0..<3000 {
            var parser = HTTPRequestParser(limits: limits)
            let count = Int.random(in: 0..<3000, using: &generator)
            let bytes: [UInt8] = (0..<count).map { _ in
                round % 2 == 0 ? UInt8.random(in: 0...255, using: &generator) : alphabet.randomElement(using: &generator)!
            }
            var offset = 0
            while offset < bytes.count {
                let step = Int.random(in: 1...64, using: &generator)
                parser.append(Array(bytes[offset..<min(offset + step, bytes.count)]))
                offset += step
                do {
                    while try parser.next() != nil {}
                } catch {
                    break
                }
                XCTAssertLessThanOrEqual(parser.bufferedByteCount, 3000 + 64)
            }
        }
    }
}
