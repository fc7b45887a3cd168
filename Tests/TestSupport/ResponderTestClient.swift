import Dispatch
import HTTPServer
import Logging
import Synchronization

/// Where a `ResponderTestClient` sends its requests (hummingbird's `.router` / `.live`).
public enum ResponderTestMode: String, CaseIterable, Sendable {
    /// In process: the request value goes straight to the responder, no socket, no parser.
    case router
    /// Over a real socket: an `HTTPServer` on `127.0.0.1:0` serves the responder; requests go through the parser.
    case live
}

/// Drives an `HTTPResponder` with requests built as values, so one test body runs in process or over a live
/// socket. In `.router` mode the responder's `didRespond` runs after each answer, as the server runs it, so its
/// metrics count the same. Not thread-safe (one test thread); `shutdown()` (or `withClient`) stops the live server.
public final class ResponderTestClient {
    public let mode: ResponderTestMode
    private let responder: any HTTPResponder
    private let server: HTTPServer?
    private let connection: TestHTTPClient?

    /// - Parameter logger: the live server's logger (its request lines); unused in `.router` mode.
    public init(_ responder: any HTTPResponder, mode: ResponderTestMode, logger: Logger = TestLog.logger()) throws {
        self.mode = mode
        self.responder = responder
        switch mode {
        case .router:
            server = nil
            connection = nil
        case .live:
            let server = HTTPServer(configuration: HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0")),
                                    responder: responder, logger: logger)
            let bound = try server.start()
            self.server = server
            do {
                connection = try TestHTTPClient(port: bound.port)
            } catch {
                server.shutdown(gracePeriod: .seconds(1))
                throw error
            }
        }
    }

    /// Runs `body` with a client in `mode` and always shuts it down, even when `body` throws.
    public static func withClient<Result>(_ responder: any HTTPResponder, mode: ResponderTestMode, logger: Logger = TestLog.logger(),
                                          _ body: (ResponderTestClient) throws -> Result) throws -> Result {
        let client = try ResponderTestClient(responder, mode: mode, logger: logger)
        defer { client.shutdown() }
        return try body(client)
    }

    /// Sends one request and returns the answer (header names in lower case, as `TestHTTPClient` gives them).
    /// Not for `HEAD` in `.live` mode: `TestHTTPClient` would wait for the body `Content-Length` announces.
    /// - Throws: `TestClientError` when the responder does not answer within 10 s, or the live exchange fails.
    public func execute(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> TestResponse {
        if let connection { return try connection.roundTrip(method, target, headers: headers, body: body) }
        let request = HTTPRequest(method: method, target: target, headers: HTTPHeaders(headers), body: body)
        let answered = Mutex<HTTPResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        let start = DispatchTime.now().uptimeNanoseconds
        responder.respond(to: request) { response in
            answered.withLock { $0 = response }
            done.signal()
        }
        guard done.wait(timeout: .now() + .seconds(10)) == .success, let response = answered.withLock({ $0 }) else {
            throw TestClientError("\(method) \(target): no answer within 10 s")
        }
        responder.didRespond(to: request, with: response, durationNanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        var fields: [String: String] = [:]
        for (name, value) in response.headers.fields { fields[name.lowercased()] = value }
        fields["content-length"] = String(response.body.count)
        return TestResponse(status: response.status, headers: fields, body: method == "HEAD" ? [] : response.body)
    }

    /// Stops the live server (no-op in process). Idempotent.
    public func shutdown() {
        server?.shutdown(gracePeriod: .seconds(2))
    }
}
