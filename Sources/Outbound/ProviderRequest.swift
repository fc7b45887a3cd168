/// One request to a provider, as a client builds it: method, path with query, body and the headers that belong to
/// this request alone. Never contains the API key or any other credential: the transport adds those, so a
/// `ProviderRequest` can be written into a job's output as it is. A value; thread-safe.
public struct ProviderRequest: Sendable, Equatable {
    /// `GET`, `POST` or `PATCH`.
    public var method: String
    /// Path and query, already percent-encoded, e.g. `/v1/customers?email=ann%40example.com&limit=1`.
    public var path: String
    /// `application/x-www-form-urlencoded` (Stripe) or `application/json` (Instantly); `nil` without a body.
    public var contentType: String?
    public var body: [UInt8]
    /// Sent as `Idempotency-Key` (Stripe and `http.post`): the same logical call must send the same key on every retry.
    public var idempotencyKey: String?
    /// Further headers of this request alone (`Hookyard-Signature`), sent in name order.
    public var headers: [String: String]

    public init(method: String, path: String, contentType: String? = nil, body: [UInt8] = [], idempotencyKey: String? = nil,
                headers: [String: String] = [:]) {
        self.method = method
        self.path = path
        self.contentType = contentType
        self.body = body
        self.idempotencyKey = idempotencyKey
        self.headers = headers
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The path without its query: what error messages name, so they never repeat an email address from a query.
    var endpoint: String {
        guard let question = path.firstIndex(of: "?") else { return path }
        return String(path[..<question])
    }
}
