/// What the fake provider APIs share: the `FakeAPIServer` underneath, with its request log and fault injection
/// passed through. Each fake adds its own state and its own `forceStatus` (with the provider's error shape).
public protocol FakeProviderAPI: Sendable {
    /// The HTTP server underneath.
    var server: FakeAPIServer { get }
}

extension FakeProviderAPI {
    /// `http://127.0.0.1:<port>`: the value for `STRIPE_API_BASE` or `INSTANTLY_API_BASE`.
    public var baseURL: String { server.baseURL }
    /// Every request received so far, in arrival order.
    public var requests: [FakeAPIServer.Recorded] { server.requests }
    /// See `FakeAPIServer.inject`.
    public func inject(_ faults: FakeAPIServer.Fault...) { for fault in faults { server.inject(fault) } }
    /// See `FakeAPIServer.failRandomly`.
    public func failRandomly(fraction: Double, seed: UInt64, faults: [FakeAPIServer.Fault]) {
        server.failRandomly(fraction: fraction, seed: seed, faults: faults)
    }
    /// See `FakeAPIServer.stopFailingRandomly`.
    public func stopFailingRandomly() { server.stopFailingRandomly() }
    /// Removes every forced status.
    public func clearForcedStatus() { server.clearForcedStatus() }
    /// See `FakeAPIServer.requestCount`.
    public func requestCount(path: String, method: String? = nil) -> Int { server.requestCount(path: path, method: method) }
    /// See `FakeAPIServer.maxRequestsInAnyWindow`.
    public func maxRequestsInAnyWindow(milliseconds: Double, excludingTransportResends: Bool = false) -> Int {
        server.maxRequestsInAnyWindow(milliseconds: milliseconds, excludingTransportResends: excludingTransportResends)
    }
}
