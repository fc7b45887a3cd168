/// How the server listens and what it tolerates from clients.
public struct HTTPServerConfiguration: Sendable {
    /// Where to listen. Port 0 picks a free port; `HTTPServer.localAddress` tells which.
    public var address: SocketAddress
    /// An already listening socket to use instead of binding `address` (systemd socket activation).
    public var inheritedListenerDescriptor: Int32?
    public var limits: HTTPParserLimits
    /// Time allowed from a request's first byte (or the connection's start) to the end of its header section.
    public var headerTimeout: Duration
    /// Time allowed from the end of the header section to the end of the body.
    public var bodyTimeout: Duration
    /// An idle keep-alive connection is closed after this long.
    public var idleTimeout: Duration
    /// The connection table's size. When it is full, a new connection closes the one idle between requests, or
    /// receiving an incomplete request, the longest; if every connection has a request being answered, the new one
    /// gets `503` and is closed at once.
    public var maxConnections: Int
    /// Number of serial Dispatch queues that connections are spread over.
    public var eventLoopCount: Int
    /// Secret values (webhook secrets, API keys, tokens) that must never appear in a logged request path: any path
    /// piece holding one, as sent or percent-decoded, is logged as `[redacted]` (see `PathRedactor`).
    public var secretsToRedact: [String] = []

    public init(address: SocketAddress,
                inheritedListenerDescriptor: Int32? = nil,
                limits: HTTPParserLimits = HTTPParserLimits(),
                headerTimeout: Duration = .seconds(10),
                bodyTimeout: Duration = .seconds(30),
                idleTimeout: Duration = .seconds(60),
                maxConnections: Int = 1024,
                eventLoopCount: Int = 2) {
        self.address = address
        self.inheritedListenerDescriptor = inheritedListenerDescriptor
        self.limits = limits
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.eventLoopCount = max(1, eventLoopCount)
    }
}

extension Duration {
    /// The duration in nanoseconds, saturating.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
