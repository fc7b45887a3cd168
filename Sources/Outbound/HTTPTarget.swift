import Cryptography

/// One `http_targets` entry, ready for `http.post`: a URL that receives signed JSON posts (a fulfilment system, an
/// LMS, a ticketing tool).
///
/// Each post is `POST <url>` with `Content-Type: application/json`, the body as given, `Idempotency-Key: <key>` (the
/// same on every attempt of a job, so the receiver can drop repeats) and
/// `Hookyard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`: the
/// construction of Stripe's `Stripe-Signature`, so a receiver verifies it the same way. Answers other than 2xx are
/// classified like a provider's (`ProviderFailure.classify`): 408, 429 and 5xx retry, other 4xx do not; transport
/// failures retry.
///
/// A value; thread-safe if its transport is (all are).
public struct HTTPTarget: Sendable {
    /// The name rules use (`target: fulfilment`).
    public let name: String
    /// The URL as configured, e.g. `https://fulfil.example.com/hooks/hookyard?src=1`.
    public let url: String
    private let secret: String
    private let transport: any ProviderTransport
    /// Path and query of `url`: what is sent after the transport's base URL.
    private let path: String

    /// - Parameters:
    ///   - url: an absolute `http://` or `https://` URL (see `split(url:)`).
    ///   - transport: a `LiveProviderTransport` on `split(url:).base` without an API key, or a dry-run transport.
    public init(name: String, url: String, secret: String, transport: any ProviderTransport) {
        self.name = name
        self.url = url
        self.secret = secret
        self.transport = transport
        path = Self.split(url: url)?.path ?? "/"
    }

    /// Whether posts are only recorded, not sent (the target's transport is a `DryRunProviderTransport`).
    public var isDryRun: Bool { transport is DryRunProviderTransport }

    /// `url` cut into scheme-and-authority (`https://fulfil.example.com:8443`) and path-and-query (`/hooks?x=1`, `/`
    /// when the URL has no path), so a trailing `/` in the configured URL is kept.
    /// - Returns: `nil` unless `url` starts with `http://` or `https://` and names a host.
    public static func split(url: String) -> (base: String, path: String)? {
        let scheme: String
        if url.hasPrefix("https://") { scheme = "https://" } else if url.hasPrefix("http://") { scheme = "http://" } else { return nil }
        let rest = url.dropFirst(scheme.count)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<end]
        guard !authority.isEmpty, !authority.contains(where: { $0 == " " || $0 == "@" }) else { return nil }
        var path = String(rest[end...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if !path.hasPrefix("/") { path = "/" + path }
        return (scheme + authority, path)
    }

    /// Posts `body` signed at `timestamp`.
    /// - Parameters:
    ///   - body: the exact bytes to send and sign (compact JSON).
    ///   - idempotencyKey: stable across every attempt of the job.
    ///   - timestamp: unix seconds of this attempt: the signature's `t`.
    /// - Returns: the 2xx response.
    /// - Throws: `ProviderFailure`, classified as for the providers.
    public func post(body: [UInt8], idempotencyKey: String, timestamp: Int64) throws(ProviderFailure) -> HTTPClientResponse {
        try transport.send(request(body: body, idempotencyKey: idempotencyKey, timestamp: timestamp))
    }

    /// The request `post` sends.
    public func request(body: [UInt8], idempotencyKey: String, timestamp: Int64) -> ProviderRequest {
        ProviderRequest(method: "POST", path: path, contentType: "application/json", body: body, idempotencyKey: idempotencyKey,
                        headers: [Self.signatureHeader: TimestampedSignature.header(for: body, secret: secret, timestamp: timestamp)])
    }

    /// `Hookyard-Signature`.
    public static let signatureHeader = "Hookyard-Signature"
}
