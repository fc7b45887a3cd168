/// The Stripe API calls Hookyard makes, built on a `ProviderTransport` (live, dry-run or recording).
///
/// Bodies are form-encoded in the order given, so the same call is byte-for-byte the same request and a retry with the
/// same `idempotencyKey` replays Stripe's stored answer instead of writing twice. A 2xx answer that is not the expected
/// object throws a non-retryable `ProviderFailure` naming the endpoint. Thread-safe if its transport is (all are).
public struct StripeClient: Sendable {
    let transport: any ProviderTransport

    public init(transport: any ProviderTransport) {
        self.transport = transport
    }

    /// `GET /v1/customers?email=<email>&limit=1`: the first customer with exactly this email (Stripe's email filter is
    /// case-sensitive), or `nil`.
    ///
    /// Uses the list endpoint on purpose: it reads its own writes, so a customer created a moment ago is found.
    /// `/v1/customers/search` is eventually consistent and could miss it, making find-or-create create a duplicate.
    public func findCustomer(email: String) throws(ProviderFailure) -> StripeCustomer? {
        let request = ProviderRequest(method: "GET", path: "/v1/customers?email=\(FormEncoder.percentEncode(email))&limit=1")
        let (response, json) = try send(request)
        guard let data = json["data"] as? [Any] else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without a data list")
        }
        guard let first = data.first else { return nil }
        guard let object = first as? [String: Any], let customer = StripeCustomer(json: object) else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "with a customer without an id")
        }
        return customer
    }

    /// `GET /v1/customers/{id}`: the customer (a subscription or invoice names only its customer's id).
    public func retrieveCustomer(id: String) throws(ProviderFailure) -> StripeCustomer {
        let request = ProviderRequest(method: "GET", path: "/v1/customers/\(FormEncoder.percentEncode(id))")
        let (response, json) = try send(request)
        guard let customer = StripeCustomer(json: json) else { throw withoutID(response, request) }
        return customer
    }

    /// `POST /v1/customers` with `email`, `name` (if non-nil) and `metadata[k]=v` in the given order.
    public func createCustomer(email: String, name: String?, metadata: [(String, String)], idempotencyKey: String) throws(ProviderFailure) -> StripeCustomer {
        var fields: [(String, FormValue)] = [("email", .string(email))]
        if let name { fields.append(("name", .string(name))) }
        fields.append(("metadata", Self.form(metadata)))
        let request = Self.post("/v1/customers", fields, idempotencyKey: idempotencyKey)
        let (response, json) = try send(request)
        guard let customer = StripeCustomer(json: json) else { throw withoutID(response, request) }
        return customer
    }

    /// `POST /v1/customers/{id}` with `metadata[k]=v`: sets these keys and leaves the others alone (an empty value
    /// deletes a key, as Stripe defines it).
    public func updateCustomerMetadata(id: String, metadata: [(String, String)], idempotencyKey: String) throws(ProviderFailure) -> StripeCustomer {
        let request = Self.post("/v1/customers/\(FormEncoder.percentEncode(id))", [("metadata", Self.form(metadata))],
                                idempotencyKey: idempotencyKey)
        let (response, json) = try send(request)
        guard let customer = StripeCustomer(json: json) else { throw withoutID(response, request) }
        return customer
    }

    /// `POST /v1/payment_links` with `line_items[0][price]`, `line_items[0][quantity]`, `metadata[k]=v` and, with a
    /// `seatLimit`, `restrictions[completed_sessions][limit]`: Stripe deactivates the link once that many Checkout
    /// Sessions have completed on it.
    public func createPaymentLink(price: String, quantity: Int, metadata: [(String, String)], seatLimit: Int? = nil,
                                  idempotencyKey: String) throws(ProviderFailure) -> StripePaymentLink {
        let lineItem: FormValue = .object([("price", .string(price)), ("quantity", .string(String(quantity)))])
        var fields: [(String, FormValue)] = [("line_items", .array([lineItem])), ("metadata", Self.form(metadata))]
        if let seatLimit {
            fields.append(("restrictions", .object([("completed_sessions", .object([("limit", .string(String(seatLimit)))]))])))
        }
        return try paymentLink(Self.post("/v1/payment_links", fields, idempotencyKey: idempotencyKey))
    }

    /// `POST /v1/payment_links/{id}` with `active=false`: the link stops accepting payments (its URL shows Stripe's
    /// inactive page). Deactivating an inactive link changes nothing.
    public func deactivatePaymentLink(id: String, idempotencyKey: String) throws(ProviderFailure) -> StripePaymentLink {
        try paymentLink(Self.post("/v1/payment_links/\(FormEncoder.percentEncode(id))", [("active", .string("false"))],
                                  idempotencyKey: idempotencyKey))
    }

    /// `GET /v1/payment_links/{id}`.
    public func retrievePaymentLink(id: String) throws(ProviderFailure) -> StripePaymentLink {
        try paymentLink(ProviderRequest(method: "GET", path: "/v1/payment_links/\(FormEncoder.percentEncode(id))"))
    }

    /// `GET /v1/checkout/sessions/{id}`.
    public func retrieveCheckoutSession(id: String) throws(ProviderFailure) -> StripeCheckoutSession {
        let request = ProviderRequest(method: "GET", path: "/v1/checkout/sessions/\(FormEncoder.percentEncode(id))")
        let (response, json) = try send(request)
        guard let session = StripeCheckoutSession(json: json) else { throw withoutID(response, request) }
        return session
    }

    /// `GET /v1/prices/{id}`.
    public func retrievePrice(id: String) throws(ProviderFailure) -> StripePrice {
        let request = ProviderRequest(method: "GET", path: "/v1/prices/\(FormEncoder.percentEncode(id))")
        let (response, json) = try send(request)
        guard let price = StripePrice(json: json) else { throw withoutID(response, request) }
        return price
    }

    private func paymentLink(_ request: ProviderRequest) throws(ProviderFailure) -> StripePaymentLink {
        let (response, json) = try send(request)
        guard let link = StripePaymentLink(json: json) else {
            let missing = ProviderJSON.string(json["id"]) == nil ? "without an id" : "without a url"
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, missing)
        }
        return link
    }

    private func send(_ request: ProviderRequest) throws(ProviderFailure) -> (HTTPClientResponse, [String: Any]) {
        let response = try transport.send(request)
        return (response, try ProviderJSON.object(response, provider: transport.provider, request: request))
    }

    private func withoutID(_ response: HTTPClientResponse, _ request: ProviderRequest) -> ProviderFailure {
        ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without an id")
    }

    private static func post(_ path: String, _ fields: [(String, FormValue)], idempotencyKey: String) -> ProviderRequest {
        ProviderRequest(method: "POST", path: path, contentType: "application/x-www-form-urlencoded",
                        body: Array(FormEncoder.encode(fields).utf8), idempotencyKey: idempotencyKey)
    }

    private static func form(_ pairs: [(String, String)]) -> FormValue {
        .object(pairs.map { ($0.0, FormValue.string($0.1)) })
    }
}
