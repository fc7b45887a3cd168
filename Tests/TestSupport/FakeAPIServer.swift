import Dispatch
import Foundation
import HTTPServer
import Logging
import Synchronization

/// A fake provider API for tests: a real HTTP server on loopback (Hookyard's own `HTTPServer`) that records every
/// request and answers from a script, then from the route handler.
///
/// Each request is recorded, then answered by the first of these that applies:
/// 1. the next queued fault (`inject`), in order;
/// 2. a forced status whose path prefix matches (`forceStatus`), until cleared;
/// 3. a random fault (`failRandomly`), drawn from a seeded generator;
/// 4. the route handler.
///
/// Faults act before the route runs (the request has no effect), except `.delay` and `.dropAfterProcessing`, which
/// run the route first. Thread-safe. The server stops when the instance is released.
public final class FakeAPIServer: ConnectionResettingResponder, @unchecked Sendable {
    // Safe: mutable state is inside `state`; `server` and `port` are set once in init, before any other thread sees self.

    /// A scripted answer for one request.
    public enum Fault: Sendable {
        /// Answer with this status, headers and (JSON) body without running the route.
        case status(Int, headers: [(String, String)], body: String)
        /// Run the route now, answer after this long (to trip client timeouts).
        case delay(Duration)
        /// Reset the connection without running the route: the request had no effect.
        ///
        /// - Important: libcurl sends a request again, once, on a fresh connection when a *reused* (kept-alive)
        ///   connection dies before any answer byte. A client reusing its connection therefore never sees a single
        ///   drop (queue two to make it fail), and a single `.dropAfterProcessing` makes the route run twice.
        case drop
        /// Run the route (its state changes happen), then reset the connection instead of answering: the lost
        /// response, after which a client cannot know whether its request took effect.
        case dropAfterProcessing
    }

    /// One request as received.
    public struct Recorded: Sendable {
        public var method: String
        /// The request target as sent (`/path?query`).
        public var target: String
        public var headers: HTTPHeaders
        public var body: String
        /// When the request was fully received, in monotonic milliseconds (`DispatchTime` uptime; only differences
        /// are meaningful).
        public var receivedAtMilliseconds: Double
        /// The fault that answered this request (queued, forced or random), `nil` when the route answered normally.
        public var fault: Fault?
        /// When the answer (or the reset) was handed to the server to send, in the same monotonic milliseconds; `nil`
        /// while it is still pending (`.delay`, `delayAnswers`).
        public var answeredAtMilliseconds: Double?

        /// The target without its query string.
        public var path: String {
            if let question = target.firstIndex(of: "?") { return String(target[..<question]) }
            return target
        }
    }

    private struct ForcedStatus {
        var pathPrefix: String
        var status: Int
        var headers: [(String, String)]
        var body: String
    }

    private struct RandomFaults {
        var fraction: Double
        var generator: SplitMix64
        var faults: [Fault]
    }

    private struct SlowAnswer {
        var method: String
        var path: String
        var duration: Duration
    }

    private struct State {
        var faults: [Fault] = []
        var forced: [ForcedStatus] = []
        var random: RandomFaults?
        var requests: [Recorded] = []
        var slow: [SlowAnswer] = []
    }

    /// Guards every mutable field; held only for bookkeeping, never while the route runs.
    private let state = Mutex(State())
    private let route: @Sendable (HTTPRequest) -> HTTPResponse
    private let decorate: (@Sendable (HTTPRequest, inout HTTPResponse) -> Void)?
    private var server: HTTPServer!
    public private(set) var port: UInt16 = 0

    /// Starts on an ephemeral loopback port. `route` answers requests that no fault intercepts.
    public convenience init(route: @escaping @Sendable (HTTPRequest) -> HTTPResponse = { _ in .json(status: 200, "{}") }) throws {
        try self.init(route: route, decorate: nil)
    }

    /// Starts on an ephemeral loopback port. `route` answers requests that no fault intercepts; `decorate` then
    /// sees every response that is sent, fault answers included (e.g. to add a request id header), but not drops.
    public init(route: @escaping @Sendable (HTTPRequest) -> HTTPResponse,
                decorate: (@Sendable (HTTPRequest, inout HTTPResponse) -> Void)?) throws {
        self.route = route
        self.decorate = decorate
        let configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"), eventLoopCount: 1)
        server = HTTPServer(configuration: configuration, responder: self, logger: TestLog.logger("fake-api"))
        port = try server.start().port
    }

    deinit { server.shutdown(gracePeriod: .milliseconds(100)) }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Queues faults answered, in order, to the next requests.
    public func inject(_ faults: Fault...) { state.withLock { $0.faults += faults } }

    /// Answers every request whose path starts with `pathPrefix` with `status` and `body` (JSON) until
    /// `clearForcedStatus()`; the route does not run. The first matching prefix, in the order forced, wins.
    public func forceStatus(pathPrefix: String, status: Int, body: String, headers: [(String, String)] = []) {
        state.withLock { $0.forced.append(ForcedStatus(pathPrefix: pathPrefix, status: status, headers: headers, body: body)) }
    }

    /// Removes every forced status.
    public func clearForcedStatus() { state.withLock { $0.forced.removeAll() } }

    /// From now on each request that no queued fault or forced status answers gets, with probability `fraction`,
    /// one of `faults` (chosen uniformly). The draws come from a generator seeded with `seed`, so a sequence of
    /// requests sent one after another fails the same way on every run (concurrent requests draw in arrival order).
    /// `fraction` 0 or an empty `faults` turns random faults off.
    public func failRandomly(fraction: Double, seed: UInt64, faults: [Fault]) {
        precondition((0...1).contains(fraction), "fraction must be within 0...1")
        state.withLock {
            $0.random = fraction > 0 && !faults.isEmpty
                ? RandomFaults(fraction: fraction, generator: SplitMix64(seed: seed), faults: faults) : nil
        }
    }

    /// Turns random faults off.
    public func stopFailingRandomly() { state.withLock { $0.random = nil } }

    /// From now on, requests with this method and exactly this path (query ignored) that the route answers run the
    /// route at once and get its answer `duration` later, without holding up other requests (a slow API call, timed
    /// by `Recorded.answeredAtMilliseconds`). `.zero` answers them at once again.
    public func delayAnswers(method: String, path: String, by duration: Duration) {
        state.withLock { state in
            state.slow.removeAll { $0.method == method && $0.path == path }
            if duration > .zero { state.slow.append(SlowAnswer(method: method, path: path, duration: duration)) }
        }
    }

    /// Every request received so far, in arrival order.
    public var requests: [Recorded] { state.withLock { $0.requests } }

    /// How many requests had exactly this path (query ignored), optionally only with this method.
    public func requestCount(path: String, method: String? = nil) -> Int {
        state.withLock { state in
            state.requests.count { $0.path == path && (method == nil || $0.method == method) }
        }
    }

    /// The most requests received within any window of `milliseconds` (a request at `t` and one at `t + milliseconds`
    /// are not in the same window), so a test can assert a client never exceeded a rate limit.
    /// - Complexity: O(n) in the number of recorded requests.
    /// - Parameter excludingTransportResends: leave out the request libcurl sends again by itself, on a fresh
    ///   connection, after a reused connection died before any answer byte (`.drop`, `.dropAfterProcessing`): that
    ///   resend happens inside one transfer, after the client's rate limiter granted it once.
    public func maxRequestsInAnyWindow(milliseconds: Double, excludingTransportResends: Bool = false) -> Int {
        var recorded = state.withLock { $0.requests }  // ascending: recorded under the lock
        if excludingTransportResends {
            var kept: [Recorded] = []
            var dropped: [Recorded] = []
            for request in recorded {
                let isResend = dropped.contains { earlier in
                    earlier.method == request.method && earlier.target == request.target && earlier.body == request.body
                        && request.receivedAtMilliseconds - earlier.receivedAtMilliseconds < 1_000
                }
                if isResend {
                    dropped.removeAll { $0.method == request.method && $0.target == request.target && $0.body == request.body }
                } else {
                    kept.append(request)
                }
                switch request.fault {
                case .drop?, .dropAfterProcessing?: dropped.append(request)
                default: break
                }
            }
            recorded = kept
        }
        let times = recorded.map(\.receivedAtMilliseconds)
        var best = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= milliseconds { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    public func respond(to request: HTTPRequest, answer: @escaping @Sendable (HTTPAnswer) -> Void) {
        let (fault, index, slow): (Fault?, Int, Duration?) = state.withLock { state in
            let fault = Self.nextFault(for: request, in: &state)
            state.requests.append(Recorded(method: request.method, target: request.target, headers: request.headers,
                                           body: String(decoding: request.body, as: UTF8.self),
                                           receivedAtMilliseconds: Self.nowMilliseconds(),
                                           fault: fault))
            let slow = state.slow.first { $0.method == request.method && $0.path == request.path }?.duration
            return (fault, state.requests.count - 1, slow)
        }
        // Records when the answer leaves, then hands it to the server (the request log only grows, so `index` holds).
        let answer: @Sendable (HTTPAnswer) -> Void = { [self] result in
            state.withLock { $0.requests[index].answeredAtMilliseconds = Self.nowMilliseconds() }
            answer(result)
        }
        switch fault {
        case .status(let status, let headers, let body)?:
            var response = HTTPResponse.json(status: status, body)
            for (name, value) in headers { response.headers.add(name: name, value: value) }
            answer(.response(decorated(response, for: request)))
        case .delay(let duration)?:
            let response = decorated(route(request), for: request)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(duration / .nanoseconds(1)))) { answer(.response(response)) }
        case .drop?:
            answer(.resetConnection)
        case .dropAfterProcessing?:
            _ = route(request)
            answer(.resetConnection)
        case nil:
            let response = decorated(route(request), for: request)
            if let slow {
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(slow / .nanoseconds(1)))) { answer(.response(response)) }
            } else {
                answer(.response(response))
            }
        }
    }

    /// Monotonic milliseconds (`DispatchTime` uptime), as `Recorded` keeps times.
    private static func nowMilliseconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1_000_000 }

    private func decorated(_ response: HTTPResponse, for request: HTTPRequest) -> HTTPResponse {
        guard let decorate else { return response }
        var response = response
        decorate(request, &response)
        return response
    }

    private static func nextFault(for request: HTTPRequest, in state: inout State) -> Fault? {
        if !state.faults.isEmpty { return state.faults.removeFirst() }
        if let forced = state.forced.first(where: { request.path.hasPrefix($0.pathPrefix) }) {
            return .status(forced.status, headers: forced.headers, body: forced.body)
        }
        guard var random = state.random else { return nil }
        defer { state.random = random }
        guard random.generator.nextUnitInterval() < random.fraction else { return nil }
        return random.faults[Int(random.generator.next() % UInt64(random.faults.count))]
    }
}

/// SplitMix64 (Steele, Lea and Flood): a small, fast, seedable generator; the same seed gives the same sequence on
/// every platform. Not cryptographic. A value type: share it only under a lock.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `0..<1` (53 random bits).
    mutating func nextUnitInterval() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
