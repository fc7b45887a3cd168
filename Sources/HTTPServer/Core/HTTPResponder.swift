/// Answers requests. Called on a server queue; it may answer later from any thread by calling `completion`
/// exactly once. It must not block for long: slow work (a store commit) completes asynchronously.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void)

    /// Called on the connection's event-loop thread once the response is queued for sending, with the time from
    /// the complete request to then: the place for per-request accounting (metrics), off the thread that
    /// produced the response. The default does nothing.
    func didRespond(to request: HTTPRequest, with response: HTTPResponse, durationNanoseconds: UInt64)

    /// Called on the server's accept queue each time a connection is closed to make room for a new one (the
    /// connection table was full): the place to count evictions. The default does nothing.
    func connectionEvicted()
}

extension HTTPResponder {
    public func didRespond(to request: HTTPRequest, with response: HTTPResponse, durationNanoseconds: UInt64) {}

    public func connectionEvicted() {}
}

/// What a `ConnectionResettingResponder` does with a request: answer it, or reset the connection.
public enum HTTPAnswer: Sendable {
    /// Send this response, as an `HTTPResponder` does.
    case response(HTTPResponse)
    /// Send nothing at all: the connection is reset (closed with `SO_LINGER` 0, so the peer sees `RST`);
    /// pipelined requests behind this one, and earlier answers not yet written, are discarded. The request is still
    /// logged, with status 0 and `aborted: true`.
    case resetConnection
}

/// A responder that may also drop a connection without answering: for test servers that simulate a lost
/// connection (a peer that died mid-request). Not for production routes, which always answer `HTTPResponse`s
/// through `HTTPResponder`. The server calls `respond(to:answer:)` instead of `respond(to:completion:)`; the same threading
/// rules apply (`answer` exactly once, from any thread).
public protocol ConnectionResettingResponder: HTTPResponder {
    func respond(to request: HTTPRequest, answer: @escaping @Sendable (HTTPAnswer) -> Void)
}

extension ConnectionResettingResponder {
    /// Answers as `respond(to:answer:)` does; a reset has no response to give here, so it is a programming error
    /// to reach one through this entry point (the server never does).
    public func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        respond(to: request) { answer in
            switch answer {
            case .response(let response): completion(response)
            case .resetConnection: preconditionFailure("a connection reset cannot be delivered as an HTTPResponse")
            }
        }
    }
}
