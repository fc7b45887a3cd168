import Dispatch
import Foundation
import HTTPServer
import Logging
import Synchronization

/// A fake provider API for tests: a real HTTP server on loopback (Hookyard's own `HTTPServer`) that records every
/// request and answers from a script: queued faults first (429 with `Retry-After`, 500, slow answers), then the
/// route handler. Thread-safe.
public final class FakeAPIServer: HTTPResponder, @unchecked Sendable {  // Safe: mutable state is inside `state`.
    /// A scripted answer for the next request.
    public enum Fault: Sendable {
        case status(Int, headers: [(String, String)], body: String)
        /// Wait this long before answering normally (to trip client timeouts).
        case delay(Duration)
    }

    public struct Recorded: Sendable {
        public var method: String
        public var target: String
        public var headers: HTTPHeaders
        public var body: String
    }

    private struct State {
        var faults: [Fault] = []
        var requests: [Recorded] = []
    }

    private let state = Mutex(State())
    private let route: @Sendable (HTTPRequest) -> HTTPResponse
    private var server: HTTPServer!
    public private(set) var port: UInt16 = 0

    /// Starts on an ephemeral loopback port. `route` answers requests that no fault intercepts.
    public init(route: @escaping @Sendable (HTTPRequest) -> HTTPResponse = { _ in .json(status: 200, "{}") }) throws {
        self.route = route
        let configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"), eventLoopCount: 1)
        server = HTTPServer(configuration: configuration, responder: self, logger: Logger(label: "fake-api"))
        port = try server.start().port
    }

    deinit { server.shutdown(gracePeriod: .milliseconds(100)) }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Queues faults answered, in order, to the next requests.
    public func inject(_ faults: Fault...) { state.withLock { $0.faults += faults } }

    public var requests: [Recorded] { state.withLock { $0.requests } }

    public func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let fault: Fault? = state.withLock { state in
            state.requests.append(Recorded(method: request.method, target: request.target, headers: request.headers,
                                           body: String(decoding: request.body, as: UTF8.self)))
            return state.faults.isEmpty ? nil : state.faults.removeFirst()
        }
        switch fault {
        case .status(let status, let headers, let body)?:
            var response = HTTPResponse.json(status: status, body)
            for (name, value) in headers { response.headers.add(name: name, value: value) }
            completion(response)
        case .delay(let duration)?:
            let response = route(request)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(duration / .nanoseconds(1)))) { completion(response) }
        case nil:
            completion(route(request))
        }
    }
}
