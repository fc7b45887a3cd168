#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@preconcurrency import Dispatch
import Logging
import Synchronization
import SystemCalls

/// An HTTP/1.1 server on POSIX sockets and Dispatch.
///
/// A Dispatch source accepts connections and spreads them over `eventLoopCount` epoll threads, which never block:
/// slow or idle clients cost a descriptor and a few hundred bytes, and are closed at their deadline; when the table
/// (`maxConnections`) is full, the connections idle or incomplete the longest make room for new ones; a client that
/// does not read its answers holds one answer and at most 16 KiB of input (docs/security.md, "Connection limits").
/// Thread-safe: `start()` once, then `shutdown(gracePeriod:)` once from any thread.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    /// The responder, when it may also reset connections (test servers only; see `ConnectionResettingResponder`).
    let resettingResponder: (any ConnectionResettingResponder)?
    let logger: Logger
    /// Keeps the configured secrets out of logged paths (`HTTPServerConfiguration.secretsToRedact`).
    let pathRedactor: PathRedactor
    let date = HTTPDate()
    private let loops: [EventLoop]
    private let acceptQueue = DispatchQueue(label: "hookyard.http.accept", qos: .userInitiated)

    private struct State {
        var listener: FileDescriptor?
        var listenSource: DispatchSourceRead?
        var address: SocketAddress?
        var openConnections = 0
        var nextLoop = 0
        var draining = false
        var stopped = false
        /// Connections closed to make room for new ones since the start.
        var evicted = 0
        /// Warnings are rate-limited: the last one's time and what happened since (evictions, refusals).
        var lastSlotWarning: UInt64 = 0
        var evictedSinceWarning = 0
        var refusedSinceWarning = 0
    }

    /// At most one slot warning (eviction or refusal) per this many nanoseconds; the next one counts what it skipped.
    private static let slotWarningInterval: UInt64 = 10_000_000_000

    /// Guards everything in `State`.
    private let state = Mutex(State())

    /// The responsiveness check in progress: which round, and how many threads have answered it.
    private let liveness = Mutex<(round: Int, answered: Int, sent: Bool)>((0, 0, false))

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.resettingResponder = responder as? any ConnectionResettingResponder
        self.logger = logger
        self.pathRedactor = PathRedactor(secrets: configuration.secretsToRedact)
        self.loops = (0..<configuration.eventLoopCount).map { EventLoop(index: $0) }
    }

    /// The address actually listened on (the real port when configured with port 0).
    public var localAddress: SocketAddress? { state.withLock { $0.address } }

    /// Connections currently open.
    public var openConnections: Int { state.withLock { $0.openConnections } }

    var isDraining: Bool { state.withLock { $0.draining } }

    /// Connections closed to make room for a new one since the server started (the table was full). Thread-safe.
    public var evictedConnections: Int { state.withLock { $0.evicted } }

    /// The heap bytes each open connection holds for its buffers (input, body, unsent output). Asks every loop and
    /// waits for their answers; for tests and diagnostics.
    func heldBytesPerConnection() -> [Int] {
        let held = Mutex<[Int]>([])
        for loop in loops {
            loop.executeAndWait { loop.forEachConnection { connection in held.withLock { $0.append(connection.heldByteCount) } } }
        }
        return held.withLock { $0 }
    }

    /// Whether every event loop and the accept queue ran the no-op task sent at the previous call (the first call
    /// answers `true`); then sends a new one. Call it periodically (the systemd watchdog does): a loop stuck in a
    /// handler, or a wedged accept queue, makes the next call answer `false`. Thread-safe.
    public func checkResponsive() -> Bool {
        let expected = loops.count + 1
        let (round, responsive) = liveness.withLock { probe -> (Int, Bool) in
            let responsive = !probe.sent || probe.answered >= expected
            probe = (probe.round + 1, 0, true)
            return (probe.round, responsive)
        }
        let answer: @Sendable () -> Void = { [self] in
            liveness.withLock { probe in if probe.round == round { probe.answered += 1 } }
        }
        for loop in loops { loop.execute(answer) }
        acceptQueue.async(execute: answer)
        return responsive
    }

    /// Binds (or adopts the inherited socket), listens and starts accepting.
    /// - Throws: `SystemCallError` naming the failing call and address (e.g. "bind 127.0.0.1:8080: Address in use").
    @discardableResult
    public func start() throws(SystemCallError) -> SocketAddress {
        let listener: FileDescriptor
        if let inherited = configuration.inheritedListenerDescriptor {
            listener = FileDescriptor(taking: inherited)
            // Ignored, as before: fcntl does not fail on the open socket systemd passed.
            try? listener.withDescriptor { fd throws(SystemCallError) in try Posix.setNonBlocking(fd) }
        } else {
            let address = configuration.address
            listener = FileDescriptor(taking: try Posix.socket(domain: address.family, type: Int32(SOCK_STREAM.rawValue)))
            do {
                try listener.withDescriptor { fd throws(SystemCallError) in
                    try Posix.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
                    try address.withSockAddr { pointer, length throws(SystemCallError) in
                        try Posix.bind(fd, address: pointer, length: length, description: address.description)
                    }
                    try Posix.listen(fd, backlog: 4096)
                }
            } catch {
                listener.close()
                throw error
            }
        }
        let bound = SocketAddress(storage: try listener.withDescriptor { fd throws(SystemCallError) in try Posix.localAddress(fd) })
        for loop in loops { loop.start() }
        let source = DispatchSource.makeReadSource(fileDescriptor: listener.number, queue: acceptQueue)
        source.setEventHandler { [self] in acceptPending(listener: listener, source: source) }
        source.setCancelHandler { listener.close() }
        state.withLock {
            $0.listener = listener
            $0.listenSource = source
            $0.address = bound
        }
        source.resume()
        return bound
    }

    private func acceptPending(listener: FileDescriptor, source: DispatchSourceRead) {
        for _ in 0..<256 {
            let client: FileDescriptor
            do {
                guard let accepted = try listener.withDescriptor({ fd throws(SystemCallError) in try Posix.accept(fd) }) else { return }
                client = FileDescriptor(taking: accepted)
            } catch {
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                    // Out of descriptors: pause accepting briefly instead of spinning on a readable listener.
                    logger.error("accept failed, pausing for 100 ms", metadata: ["error": "\(error)"])
                    source.suspend()
                    acceptQueue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
                        state.withLock { $0.listenSource }?.resume()
                    }
                } else if error.errno != ECONNABORTED && error.errno != EPROTO {
                    logger.error("accept failed", metadata: ["error": "\(error)"])
                }
                return
            }
            let takeSlot = { [self] () -> EventLoop? in
                state.withLock { state in
                    guard !state.stopped, state.openConnections < configuration.maxConnections else { return nil }
                    state.openConnections += 1
                    state.nextLoop = (state.nextLoop + 1) % loops.count
                    return loops[state.nextLoop]
                }
            }
            // A full table makes room by closing the connection idle or incomplete the longest, if there is one.
            guard let loop = takeSlot() ?? (evictLongestWaiting() ? takeSlot() : nil) else {
                refuse(client)
                continue
            }
            try? client.withDescriptor { fd throws(SystemCallError) in
                try Posix.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
            }
            let acceptedAt = DispatchTime.now().uptimeNanoseconds
            loop.execute { [self] in
                HTTPConnection(socket: client, loop: loop, server: self, acceptedAt: acceptedAt).start()
            }
        }
    }

    /// How many connections one eviction round closes when the table is full: 1/64 of the table (at least one),
    /// so a flood of new connections costs one survey of the loops per that many accepts, not one per accept.
    private var evictionBatch: Int { max(1, configuration.maxConnections / 64) }

    /// Closes the connections that have been idle between requests, or receiving an incomplete request, the
    /// longest (over all loops; `evictionBatch` of them at most): never one whose request is with the responder or
    /// whose answer is being written. Runs on the accept queue; waits for the loops (which never block).
    /// - Returns: whether a slot was freed.
    private func evictLongestWaiting() -> Bool {
        guard !state.withLock({ $0.stopped }) else { return false }
        let batch = evictionBatch
        let group = DispatchGroup()
        // A candidate may start a request between the survey and the eviction; then survey again.
        for _ in 0..<3 {
            // Each loop's `batch` oldest candidates, surveyed in parallel.
            let candidates = Mutex<[(since: UInt64, connection: HTTPConnection, loop: Int)]>([])
            for (index, loop) in loops.enumerated() {
                group.enter()
                loop.execute {
                    var waiting: [(since: UInt64, connection: HTTPConnection)] = []
                    loop.forEachConnection { connection in
                        if let since = connection.evictableSince { waiting.append((since, connection)) }
                    }
                    waiting.sort { $0.since < $1.since }
                    let oldest = waiting.prefix(batch).map { (since: $0.since, connection: $0.connection, loop: index) }
                    candidates.withLock { $0 += oldest }
                    group.leave()
                }
            }
            group.wait()
            let chosen = candidates.withLock { $0 }.sorted { $0.since < $1.since }.prefix(batch)
            guard !chosen.isEmpty else { return false }
            // Each loop closes its chosen ones, if they are still waiting since the same moment.
            let closed = Atomic<Int>(0)
            for (index, loop) in loops.enumerated() {
                let mine = chosen.filter { $0.loop == index }
                guard !mine.isEmpty else { continue }
                group.enter()
                loop.execute {
                    for candidate in mine where candidate.connection.evictableSince == candidate.since {
                        candidate.connection.close()
                        closed.add(1, ordering: .relaxed)
                    }
                    group.leave()
                }
            }
            group.wait()
            let count = closed.load(ordering: .relaxed)
            guard count > 0 else { continue }
            for _ in 0..<count { responder.connectionEvicted() }
            let report = state.withLock { state in
                state.evicted += count
                state.evictedSinceWarning += count
                return takeSlotWarning(&state)
            }
            if let report { logSlotWarning("connection table full: evicted the connections idle or incomplete the longest", report) }
            return true
        }
        return false
    }

    /// Whether a slot warning may be logged now; if so, the evictions and refusals it reports (those since the
    /// last one, this one included), and the counts restart. Call under the state lock.
    private func takeSlotWarning(_ state: inout State) -> (evicted: Int, refused: Int)? {
        let now = DispatchTime.now().uptimeNanoseconds
        guard state.lastSlotWarning == 0 || now - state.lastSlotWarning >= Self.slotWarningInterval else { return nil }
        state.lastSlotWarning = now
        defer {
            state.evictedSinceWarning = 0
            state.refusedSinceWarning = 0
        }
        return (state.evictedSinceWarning, state.refusedSinceWarning)
    }

    /// Answers a connection over the cap with 503 and closes it, without reading from it.
    private func refuse(_ client: FileDescriptor) {
        let response = HTTPResponse.error(status: 503, reason: "too_many_connections",
                                          message: "server has \(configuration.maxConnections) open connections; retry later",
                                          closeConnection: true)
        var bytes = response.serialized(date: date.now, keepAlive: false, headOnly: false)
        client.withDescriptor { fd in
            bytes.withUnsafeMutableBytes { _ = try? Posix.write(fd, from: UnsafeRawBufferPointer($0)) }
            Posix.shutdownWrite(fd)
        }
        client.close()
        let report = state.withLock { state in
            state.refusedSinceWarning += 1
            return takeSlotWarning(&state)
        }
        if let report { logSlotWarning("connection refused: too many open connections, none idle or incomplete to evict", report) }
    }

    /// The slot warning `takeSlotWarning` allowed, with the evictions and refusals since the last one.
    private func logSlotWarning(_ message: Logger.Message, _ report: (evicted: Int, refused: Int)) {
        logger.warning(message, metadata: ["max_connections": "\(configuration.maxConnections)",
                                           "evicted_since_last_warning": "\(report.evicted)",
                                           "refused_since_last_warning": "\(report.refused)"])
    }

    func connectionClosed() {
        state.withLock { $0.openConnections -= 1 }
    }

    /// Stops accepting, lets in-flight requests finish for up to `gracePeriod`, then closes every connection.
    /// Blocks the caller until done. Idempotent.
    public func shutdown(gracePeriod: Duration = .seconds(10)) {
        let source: DispatchSourceRead? = state.withLock { state in
            defer { state.listenSource = nil }
            state.draining = true
            state.stopped = true
            return state.listenSource
        }
        if let source { acceptQueue.sync { source.cancel() } }
        guard source != nil else { return }  // already shut down
        for loop in loops { loop.executeAndWait { loop.forEachConnection { $0.drain() } } }
        let deadline = DispatchTime.now().uptimeNanoseconds + gracePeriod.nanoseconds
        while openConnections > 0 && DispatchTime.now().uptimeNanoseconds < deadline {
            usleep(10_000)
        }
        // Stopping a loop closes the connections it still has.
        for loop in loops { loop.stop() }
    }

    // MARK: Logging

    /// Logs one answered (or, with `aborted`, dropped) request and hands it to the responder's accounting.
    func logRequest(_ request: HTTPRequest, response: HTTPResponse, aborted: Bool = false, durationNanoseconds: UInt64) {
        responder.didRespond(to: request, with: response, durationNanoseconds: durationNanoseconds)
        var metadata: Logger.Metadata = [
            "method": "\(request.method)",
            // The one place a request's path is logged: redacted by value, whatever the route set.
            "path": "\(pathRedactor.redact(response.logPath ?? String(request.path)))",
            "status": .stringConvertible(response.status),
            "bytes": .stringConvertible(request.body.count),
            "duration_ms": .stringConvertible(Double(durationNanoseconds / 1000) / 1000),
        ]
        if let reason = response.errorReason { metadata["reason"] = .string(reason) }
        response.context?.addLogMetadata(to: &metadata)
        if aborted { metadata["aborted"] = .stringConvertible(true) }
        let level: Logger.Level = response.status >= 500 ? .error : (response.status >= 400 ? .warning : .info)
        logger.log(level: level, "request", metadata: metadata)
    }

    func logRejection(_ response: HTTPResponse) {
        var metadata: Logger.Metadata = ["status": .stringConvertible(response.status)]
        if let reason = response.errorReason { metadata["reason"] = .string(reason) }
        response.context?.addLogMetadata(to: &metadata)
        logger.warning("request rejected", metadata: metadata)
    }
}
