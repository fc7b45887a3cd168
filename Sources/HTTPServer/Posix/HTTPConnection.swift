#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import SystemCalls

/// One accepted TCP connection: reads, parses, hands complete requests to the responder one at a time
/// (pipelined requests are answered in order), writes responses, enforces deadlines and closes.
///
/// Confined to its event loop's thread. Limits a client cannot get around (docs/security.md, "Connection limits"):
/// - the request head must be complete within `headerTimeout` of its first byte after the previous request (or of
///   the connection's start); blank lines before a request line count toward it;
/// - while a request is being answered, or an answer waits unsent, no further pipelined request is taken and at
///   most `maxBufferedInput` bytes are read, so a client that does not read its answers holds one answer and one
///   read of input; buffers are released when they drain and when the connection closes.
final class HTTPConnection: @unchecked Sendable {  // Safe: all mutable state is touched only on the loop thread.
    private enum Phase {
        /// Waiting for, or receiving, a request.
        case reading
        /// A request is with the responder.
        case processing
        /// The response is written and our side is shut; unread input is drained before closing so the
        /// client sees the response rather than a reset.
        case lingering(discarded: Int)
        case closed
    }

    private enum DeadlineKind { case header, body, idle, write, linger, none }

    /// The connection's socket, closed once by `close()`.
    private let socket: FileDescriptor
    /// The socket's number: the connection's key in its loop's table and in epoll.
    var descriptor: Int32 { socket.number }
    private unowned let loop: EventLoop
    private let server: HTTPServer
    private var parser: HTTPRequestParser
    private var phase = Phase.reading
    private var readSuspended = false
    private var waitingForWritable = false
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeWhenWritten = false
    /// Monotonic nanoseconds after which `deadlinePassed()` acts; read by the loop's sweep.
    private(set) var deadline: UInt64 = .max
    private var deadlineKind = DeadlineKind.none
    private var requestStart: UInt64 = 0
    /// Bytes of the next request (blank lines included) have arrived, or the connection just started: the header
    /// deadline runs and is not restarted by further bytes until the request is complete.
    private var headStarted = true
    /// Since when the connection has been idle between requests or receiving an incomplete one (monotonic ns).
    private var waitingSince: UInt64 = 0
    /// The client shut down its sending side; no further requests can come.
    private var peerClosedInput = false
    /// Input bytes past which the connection stops reading while a request is being answered or an answer waits
    /// unsent (pipelining); also the largest single read.
    static let maxBufferedInput = 16 * 1024
    /// Buffers with more spare capacity than this are released once they are empty.
    static let keptBufferCapacity = 4 * 1024

    /// - Parameter acceptedAt: when the connection was accepted (monotonic ns): its header deadline and its place
    ///   in the eviction order start there, not when its loop gets round to `start()`.
    init(socket: FileDescriptor, loop: EventLoop, server: HTTPServer, acceptedAt: UInt64) {
        self.socket = socket
        self.waitingSince = acceptedAt
        self.loop = loop
        self.server = server
        self.parser = HTTPRequestParser(limits: server.configuration.limits)
    }

    private var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func setDeadline(_ kind: DeadlineKind) {
        let configuration = server.configuration
        deadlineKind = kind
        switch kind {
        case .header: deadline = now + configuration.headerTimeout.nanoseconds
        case .body: deadline = now + configuration.bodyTimeout.nanoseconds
        case .idle: deadline = now + configuration.idleTimeout.nanoseconds
        case .write: deadline = now + configuration.idleTimeout.nanoseconds
        case .linger: deadline = now + 2_000_000_000
        case .none: deadline = .max
        }
    }

    /// Registers with the loop and starts reading. Runs on the loop thread.
    func start() {
        loop.add(self)
        setDeadline(.header)
        deadline = waitingSince &+ server.configuration.headerTimeout.nanoseconds
    }

    /// When the connection may be closed to make room for a new one (the table is full): since when it has been
    /// idle between requests or receiving an incomplete request; `0` for one already ending (lingering); `nil` while
    /// a request is with the responder or an answer is being written, which eviction never interrupts.
    var evictableSince: UInt64? {
        switch phase {
        case .reading: return output.isEmpty && !closeWhenWritten ? waitingSince : nil
        case .lingering: return 0
        case .processing, .closed: return nil
        }
    }

    private func updateInterest() {
        loop.setInterest(self, read: !readSuspended, write: waitingForWritable)
    }

    // MARK: Reading

    /// The socket has bytes (or EOF) to read. Called by the loop.
    func readable() {
        // At most `maxBufferedInput` per read; while a request is being answered, only up to that many in all.
        var limit = min(loop.readBuffer.count, Self.maxBufferedInput)
        if case .processing = phase { limit = max(1, limit - parser.bufferedByteCount) }
        let result: IOResult<Int>
        do {
            result = try socket.withDescriptor { fd throws(SystemCallError) in
                try Posix.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: loop.readBuffer[0..<limit]))
            }
        } catch {
            close()
            return
        }
        guard case .processed(let count) = result else { return }
        if count == 0 {
            if case .processing = phase {
                // The client half-closed after its request: answer it, then close.
                peerClosedInput = true
                suspendReading()
            } else {
                close()
            }
            return
        }
        switch phase {
        case .reading:
            // The first byte after the previous request starts the header deadline; later bytes (blank lines
            // included) do not move it.
            if !headStarted {
                headStarted = true
                setDeadline(.header)
            }
            parser.append(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count]))
            parseAndDispatch()
        case .processing:
            // Pipelined bytes are buffered (and parsed after the response); past the cap, stop reading until then.
            headStarted = true
            parser.append(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count]))
            if parser.bufferedByteCount >= Self.maxBufferedInput { suspendReading() }
        case .lingering(let discarded):
            let total = discarded + count
            if total > 1024 * 1024 { close() } else { phase = .lingering(discarded: total) }
        case .closed:
            break
        }
    }

    /// Parses buffered bytes; hands the next complete request to the responder. Then reads only if more input is
    /// wanted (`updateReading()`).
    private func parseAndDispatch() {
        defer { updateReading() }
        while case .reading = phase {
            if !output.isEmpty {
                // An answer waits unsent (the client is not reading fast enough): take no further request and read
                // nothing until it is written; `flush()` resumes. Meanwhile the write deadline applies.
                if deadlineKind == .header || deadlineKind == .idle { setDeadline(.write) }
                parser.releaseSpareCapacity()
                return
            }
            let event: HTTPRequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                reject(error)
                return
            }
            switch event {
            case nil:
                return
            case .head(let expectsContinue)?:
                setDeadline(.body)
                if expectsContinue && parser.bufferedByteCount == 0 {
                    enqueue(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                }
            case .request(let request)?:
                dispatch(request)
            }
        }
    }

    private func dispatch(_ request: HTTPRequest) {
        phase = .processing
        headStarted = false
        setDeadline(.none)
        requestStart = now
        if let resetting = server.resettingResponder {
            resetting.respond(to: request) { [self] answer in
                loop.execute { [self] in
                    switch answer {
                    case .response(let response): finish(request, with: response)
                    case .resetConnection: finishByResetting(request)
                    }
                }
            }
            return
        }
        server.responder.respond(to: request) { [self] response in
            loop.execute { [self] in
                finish(request, with: response)
            }
        }
    }

    /// Drops the connection instead of answering (`HTTPAnswer.resetConnection`, test servers only).
    private func finishByResetting(_ request: HTTPRequest) {
        guard case .processing = phase else { return }  // closed meanwhile (shutdown deadline)
        server.logRequest(request, response: HTTPResponse(status: 0, closeConnection: true), aborted: true,
                          durationNanoseconds: now - requestStart)
        reset()
    }

    private func finish(_ request: HTTPRequest, with response: HTTPResponse) {
        guard case .processing = phase else { return }  // closed meanwhile (shutdown deadline)
        let keepAlive = request.keepAlive && !response.closeConnection && !server.isDraining && !peerClosedInput
        let bytes = response.serialized(date: server.date.now, keepAlive: keepAlive, headOnly: request.method == "HEAD")
        server.logRequest(request, response: response,
                          durationNanoseconds: now - requestStart)
        enqueue(bytes)
        if case .closed = phase { return }
        if keepAlive {
            phase = .reading
            waitingSince = now
            // Bytes already buffered (or read while answering) belong to the next request: its header deadline
            // runs from now.
            if parser.bufferedByteCount > 0 { headStarted = true }
            setDeadline(headStarted ? .header : .idle)
            parseAndDispatch()
        } else {
            phase = .reading  // nothing more will be parsed: closeWhenWritten ends the connection
            closeAfterWriting()
        }
    }

    /// Answers a parse error and closes: the stream position is lost after any parse error.
    private func reject(_ error: HTTPParseError) {
        let response = HTTPResponse.error(status: error.status, reason: error.reason, message: error.message, closeConnection: true)
        server.logRejection(response)
        enqueue(response.serialized(date: server.date.now, keepAlive: false, headOnly: false))
        closeAfterWriting()
    }

    /// Called by the loop's sweep once `deadline` has passed.
    func deadlinePassed() {
        switch deadlineKind {
        case .header, .body:
            guard case .reading = phase, output.isEmpty else { close(); return }
            let headers = deadlineKind == .header
            let limit = headers ? server.configuration.headerTimeout : server.configuration.bodyTimeout
            let response = HTTPResponse.error(status: 408, reason: headers ? "header_timeout" : "body_timeout",
                                              message: "request \(headers ? "headers" : "body") not received within \(limit)",
                                              closeConnection: true)
            server.logRejection(response)
            enqueue(response.serialized(date: server.date.now, keepAlive: false, headOnly: false))
            closeAfterWriting()
        case .idle, .write, .linger:
            close()
        case .none:
            break
        }
    }

    /// Asks the connection to end for a server shutdown: idle connections close now, busy ones after their response.
    func drain() {
        switch phase {
        case .reading where !parser.hasPartialRequest && output.isEmpty:
            close()
        default:
            break
        }
    }

    /// Heap bytes this connection holds for buffered input, the body being received and unsent output.
    var heldByteCount: Int { parser.heldByteCount + output.capacity }

    // MARK: Writing

    private func enqueue(_ bytes: [UInt8]) {
        if output.isEmpty {
            output = bytes
            outputOffset = 0
        } else {
            output.append(contentsOf: bytes)
        }
        flush()
    }

    private func flush() {
        while outputOffset < output.count {
            let result: IOResult<Int>
            do {
                result = try socket.withDescriptor { fd in
                    try output.withUnsafeBytes { bytes in
                        try Posix.write(fd, from: UnsafeRawBufferPointer(rebasing: bytes[outputOffset...]))
                    }
                }
            } catch {
                close()
                return
            }
            switch result {
            case .processed(let written):
                outputOffset += written
            case .wouldBlock:
                waitForWritable()
                return
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= Self.keptBufferCapacity)
        outputOffset = 0
        if deadlineKind == .write { setDeadline(headStarted ? .header : .idle) }
        if waitingForWritable {
            waitingForWritable = false
            updateInterest()
        }
        if closeWhenWritten {
            beginLingeringClose()
        } else if case .reading = phase, readSuspended {
            parseAndDispatch()
        }
    }

    /// The socket accepts more output. Called by the loop.
    func writable() {
        guard !isClosed else { return }
        flush()
    }

    private func waitForWritable() {
        if deadlineKind == .idle || deadlineKind == .none { setDeadline(.write) }
        if !waitingForWritable {
            waitingForWritable = true
            updateInterest()
        }
    }

    private func closeAfterWriting() {
        if isClosed { return }
        closeWhenWritten = true
        suspendReading()
        if output.isEmpty { beginLingeringClose() }
    }

    private func beginLingeringClose() {
        guard case .reading = phase else { return }
        socket.withDescriptor { Posix.shutdownWrite($0) }
        phase = .lingering(discarded: 0)
        setDeadline(.linger)
        resumeReading()
    }

    // MARK: Closing

    private var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    private func suspendReading() {
        guard !isClosed, !readSuspended else { return }
        readSuspended = true
        updateInterest()
    }

    private func resumeReading() {
        guard !isClosed, readSuspended else { return }
        readSuspended = false
        updateInterest()
    }

    /// Reads only while more input is wanted: between requests when no answer waits unsent; while a request is
    /// being answered, until `maxBufferedInput` bytes of the next ones are buffered (never more, however often
    /// answers complete, so a pipelining client cannot grow the buffer).
    private func updateReading() {
        switch phase {
        case .reading:
            if output.isEmpty && !closeWhenWritten { resumeReading() } else { suspendReading() }
        case .processing:
            if output.isEmpty && !peerClosedInput && parser.bufferedByteCount < Self.maxBufferedInput {
                resumeReading()
            } else {
                suspendReading()
            }
        case .lingering:
            resumeReading()
        case .closed:
            break
        }
    }

    /// Closes abortively: `SO_LINGER` with a zero timeout makes `close` discard unsent output and send `RST`
    /// instead of `FIN`, so the client sees "connection reset" (a lost answer) rather than a clean end of stream.
    private func reset() {
        // Best effort: if this fails the peer sees FIN instead of RST, still without a response byte.
        try? socket.withDescriptor { fd throws(SystemCallError) in try Posix.setLinger(fd, seconds: 0) }
        close()
    }

    /// Closes at once: unregisters from the loop, closes the descriptor, frees the connection slot.
    func close() {
        if case .closed = phase { return }
        phase = .closed
        deadline = .max
        loop.remove(self)
        socket.close()
        // The object may live on until an in-flight answer arrives; its buffers need not.
        output = []
        outputOffset = 0
        parser = HTTPRequestParser(limits: server.configuration.limits)
        server.connectionClosed()
    }
}
