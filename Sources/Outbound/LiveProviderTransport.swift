import Dispatch
import Metrics
import Synchronization

/// Sends provider requests over the network: `baseURL + path`, `Authorization: Bearer <key>` (when there is a key),
/// the fixed extra headers (`Stripe-Version`), `Content-Type` and `Idempotency-Key` when the request has them, and
/// the request's own headers.
///
/// Before every request it takes a token from the provider's shared `RateLimiter`; when the provider answers 429 it
/// pauses that limiter for `Retry-After` (1 s when absent, 60 s at most) so every worker slows down, then throws the
/// classified failure. Requests run on a pool of `HTTPClient`s: each in-flight request checks one out and returns it afterwards,
/// so keep-alive connections are reused and the pool grows to the number of threads sending at once.
///
/// With `metrics`, each request is counted by status (`error` when no answer came) and timed, and the time spent
/// waiting for a token is added to `hookyard_rate_limiter_wait_seconds_total`; the provider label is `provider`
/// in lower case.
///
/// Thread-safe: share one instance per provider among all workers.
public final class LiveProviderTransport: ProviderTransport {
    public let provider: String
    public let baseURL: String
    private let apiKey: String?
    private let extraHeaders: [(String, String)]
    private let limiter: any RequestRateLimiting
    private let userAgent: String
    private let connectTimeoutMilliseconds: Int
    private let totalTimeoutMilliseconds: Int
    private let metrics: HookyardMetrics?
    /// `provider` in lower case, the metrics' label value.
    private let providerLabel: String
    /// Idle clients; a checked-out client is in no one's hands but its one caller's.
    private let idle = Mutex<[PooledClient]>([])

    /// - Parameters:
    ///   - provider: `Stripe`, `Instantly` or `http:<target>`, for failure messages and the metrics' label.
    ///   - baseURL: scheme and host, e.g. `https://api.stripe.com` (a trailing `/` is dropped).
    ///   - apiKey: sent as `Authorization: Bearer <apiKey>`; `nil` sends no `Authorization` (`http.post` targets).
    ///   - extraHeaders: sent with every request, e.g. `[("Stripe-Version", "2025-10-29.clover")]`.
    ///   - limiter: shared by everything calling this provider (and paused on 429).
    public init(provider: String, baseURL: String, apiKey: String?, extraHeaders: [(String, String)] = [],
                limiter: any RequestRateLimiting, userAgent: String, connectTimeoutMilliseconds: Int = 5_000,
                totalTimeoutMilliseconds: Int = 30_000, metrics: HookyardMetrics? = nil) {
        self.provider = provider
        self.metrics = metrics
        self.providerLabel = provider.lowercased()
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.apiKey = apiKey
        self.extraHeaders = extraHeaders
        self.limiter = limiter
        self.userAgent = userAgent
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
    }

    /// Blocks for a rate-limit token, then sends the request.
    /// - Throws: `ProviderFailure.classify` for non-2xx answers (after pausing the limiter on 429),
    ///   `ProviderFailure.transport` for refused, reset, timed-out or TLS-failed connections.
    public func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse {
        var headers: [(String, String)] = apiKey.map { [("Authorization", "Bearer \($0)")] } ?? []
        headers += extraHeaders
        // Without a body, "Content-Type:" removes the form type libcurl would otherwise add to a bodiless POST.
        headers.append(("Content-Type", request.body.isEmpty ? "" : request.contentType ?? ""))
        if let key = request.idempotencyKey { headers.append(("Idempotency-Key", key)) }
        for name in request.headers.keys.sorted() { headers.append((name, request.headers[name]!)) }

        let waitStarted = DispatchTime.now().uptimeNanoseconds
        limiter.acquireGrant()
        let sendStarted = DispatchTime.now().uptimeNanoseconds
        metrics?.rateLimiterWait.increment(by: Double(sendStarted - waitStarted) / 1e9, labels: [providerLabel])
        let response: HTTPClientResponse
        do {
            response = try withClient { client in
                try client.send(method: request.method, url: baseURL + request.path, headers: headers, body: request.body)
            }
        } catch let error as HTTPClientError {
            record(status: "error", since: sendStarted)
            throw ProviderFailure.transport(error)
        } catch {
            record(status: "error", since: sendStarted)
            throw ProviderFailure(message: "\(provider): \(error)", status: nil, retryable: true, retryAfterMilliseconds: nil)
        }
        record(status: String(response.status), since: sendStarted)
        guard (200..<300).contains(response.status) else {
            let failure = ProviderFailure.classify(response, provider: provider)
            // The whole provider waits out the 429, at most a minute (a wild Retry-After must not stall every worker
            // for hours; the job itself still waits the full Retry-After before its retry).
            if response.status == 429 { limiter.pause(forMilliseconds: Double(min(failure.retryAfterMilliseconds ?? 1000, 60_000))) }
            throw failure
        }
        return response
    }

    private func record(status: String, since started: UInt64) {
        guard let metrics else { return }
        metrics.outboundRequests.increment(labels: [providerLabel, status])
        metrics.outboundDuration.observe(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, labels: [providerLabel])
    }

    /// Lends the caller an idle client (or a new one) for one request and takes it back afterwards.
    private func withClient<Result>(_ body: (HTTPClient) throws -> Result) rethrows -> Result {
        let pooled = idle.withLock { $0.popLast() } ?? PooledClient(newClient())
        defer { idle.withLock { $0.append(pooled) } }
        return try body(pooled.client)
    }

    private func newClient() -> HTTPClient {
        let client = HTTPClient(userAgent: userAgent)
        client.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        client.totalTimeoutMilliseconds = totalTimeoutMilliseconds
        return client
    }
}

/// An `HTTPClient` kept in the pool. `@unchecked Sendable` is safe because the pool hands each client to one caller
/// at a time: it is either idle inside the pool's lock or checked out by exactly one thread, never both.
private final class PooledClient: @unchecked Sendable {
    let client: HTTPClient
    init(_ client: HTTPClient) { self.client = client }
}
