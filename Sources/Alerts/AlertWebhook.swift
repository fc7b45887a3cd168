import Foundation
import Metrics
import Outbound
import Store
import StrictJSON

/// The alert webhook (`HOOKYARD_ALERT_WEBHOOK_URL`): runs `alert.notify` jobs by posting `{"text": "..."}` (JSON, the
/// shape Slack's incoming webhooks and most chat tools accept) to the URL.
///
/// The URL is a secret (a Slack webhook URL is its own credential): it is never logged nor written into a job;
/// failures name only its host (`host`). Answers other than 2xx are classified like a provider's: 408, 429 and 5xx
/// retry, other 4xx do not; transport failures retry. Posts are always sent, in dry-run too: alerts are about
/// Hookyard itself, not a workflow's side effects.
///
/// Thread-safe (its transport is).
public final class AlertWebhook: Sendable {
    /// Scheme, host and port of the URL (`https://hooks.slack.com`): what logs and errors may show.
    public let host: String
    private let url: String
    private let path: String
    private let transport: any ProviderTransport

    /// - Parameters:
    ///   - url: an absolute `http://` or `https://` URL.
    ///   - transport: a transport on `url`'s scheme and authority (see `live`), or a recording one in tests.
    /// - Returns: `nil` when `url` is not an http(s) URL with a host.
    public init?(url: String, transport: any ProviderTransport) {
        guard let parts = HTTPTarget.split(url: url) else { return nil }
        self.url = url
        self.host = parts.base
        self.path = parts.path
        self.transport = transport
    }

    /// The webhook over the network, rate-limited by a limiter of its own (posts `1 / requestsPerSecond` apart), so an
    /// alert storm is spread out instead of being refused by the chat tool.
    public static func live(url: String, userAgent: String, requestsPerSecond: Double = 1, connectTimeoutMilliseconds: Int = 5_000,
                            totalTimeoutMilliseconds: Int = 30_000, metrics: HookyardMetrics? = nil) -> AlertWebhook? {
        guard let base = HTTPTarget.split(url: url)?.base else { return nil }
        let transport = LiveProviderTransport(provider: "alert_webhook", baseURL: base, apiKey: nil,
                                              limiter: RateLimiter(requestsPerSecond: requestsPerSecond), userAgent: userAgent,
                                              connectTimeoutMilliseconds: connectTimeoutMilliseconds,
                                              totalTimeoutMilliseconds: totalTimeoutMilliseconds, metrics: metrics)
        return AlertWebhook(url: url, transport: transport)
    }

    /// The body posted for a notification text: `{"text":"..."}`.
    public static func body(text: String) -> [UInt8] {
        JSONValue.object(["text": .string(text)]).bytes
    }

    /// Posts the text of an `alert.notify` job (with the job's idempotency key, which chat tools ignore and other
    /// receivers may use to drop repeats). - Returns: the job's output (`{"host":..., "status":...}`).
    /// - Throws: `ProviderFailure` with the URL replaced by its host.
    public func deliver(_ job: Job) throws(ProviderFailure) -> String {
        guard let input = try? JSONValue.parse(job.input ?? ""), let text = input["text"]?.stringValue else {
            throw ProviderFailure(message: "alert job \(job.id) has no text in its input", status: nil, retryable: false,
                                  retryAfterMilliseconds: nil)
        }
        let request = ProviderRequest(method: "POST", path: path, contentType: "application/json", body: Self.body(text: text),
                                      idempotencyKey: job.idempotencyKey)
        let response: HTTPClientResponse
        do {
            response = try transport.send(request)
        } catch {
            var failure = error
            failure.message = redacted(failure.message)
            throw failure
        }
        return JSONValue.object(["host": .string(host), "status": .integer(Int64(response.status))]).serialized()
    }

    /// `text` with the URL (and its path) replaced by the host, so errors recorded in jobs and logs hold no secret.
    func redacted(_ text: String) -> String {
        var text = text.replacingOccurrences(of: url, with: "the alert webhook at \(host)")
        if path.count > 1 { text = text.replacingOccurrences(of: path, with: "/…") }
        return text
    }
}
