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
        try firstCustomer(ProviderRequest(method: "GET", path: "/v1/customers?email=\(FormEncoder.percentEncode(email))&limit=1"))
    }

    /// The first customer of a list or search answer (`{"data": [customer, …]}`), or `nil` when it is empty.
    private func firstCustomer(_ request: ProviderRequest) throws(ProviderFailure) -> StripeCustomer? {
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

    /// `GET /v1/customers/search?query=metadata['<key>']:'<value>'&limit=1`: the first customer whose metadata `key`
    /// is exactly `value`, or `nil`.
    ///
    /// Stripe's Search API is eventually consistent (a customer created or changed in the last minute or so may be
    /// missing), so this is a fallback after `findCustomer`, never a replacement. Quotes and backslashes in the value
    /// are escaped as the search query language requires.
    public func searchCustomer(metadataKey key: String, value: String) throws(ProviderFailure) -> StripeCustomer? {
        let query = "metadata['\(Self.searchEscaped(key))']:'\(Self.searchEscaped(value))'"
        return try firstCustomer(ProviderRequest(method: "GET", path: "/v1/customers/search?query=\(FormEncoder.percentEncode(query))&limit=1"))
    }

    /// `text` for a single-quoted string of Stripe's search query language (`\` and `'` escaped with a backslash).
    static func searchEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
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

    /// The most lookup keys Stripe accepts in one `GET /v1/prices` request.
    public static let lookupKeysPerRequest = 10

    /// `GET /v1/prices?lookup_keys[]=a&lookup_keys[]=b&limit=100`: the prices holding these lookup keys, in batches of
    /// `lookupKeysPerRequest` keys (Stripe's limit; the brackets are sent percent-encoded, `lookup_keys%5B%5D`, as
    /// `FormEncoder` encodes them), in the order Stripe answers each batch. Duplicate keys are asked for once; no keys
    /// sends nothing.
    ///
    /// Inactive (archived) prices are included on purpose (no `active=` filter): a lookup key belongs to at most one
    /// price at a time, active or not, so the answer has at most one price per key, and a caller that needs a price
    /// it can sell must check `active` itself. Catalog sync needs the inactive one too: it replaces it with a new
    /// price that takes the key over (`transfer_lookup_key`).
    /// - Throws: `ProviderFailure` for a failed request or an answer without a list of prices with ids.
    public func prices(lookupKeys: [String]) throws(ProviderFailure) -> [StripePrice] {
        var unique: [String] = []
        for key in lookupKeys where !unique.contains(key) { unique.append(key) }
        var prices: [StripePrice] = []
        var start = 0
        while start < unique.count {
            let batch = unique[start..<min(start + Self.lookupKeysPerRequest, unique.count)]
            start += batch.count
            let query = batch.map { FormEncoder.percentEncode("lookup_keys[]") + "=" + FormEncoder.percentEncode($0) }
            let request = ProviderRequest(method: "GET", path: "/v1/prices?" + query.joined(separator: "&") + "&limit=100")
            let (response, objects, _) = try list(request, noun: "price")
            for object in objects {
                guard let price = StripePrice(json: object) else {
                    throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "with a price without an id")
                }
                prices.append(price)
            }
        }
        return prices
    }

    /// `GET /v1/products?limit=100[&starting_after=<last id>]`, page after page: every product, active or archived,
    /// whose metadata has `metadataKey` (with any value), newest first as Stripe lists them.
    ///
    /// Uses the list endpoint and filters client-side on purpose: `/v1/products/search` (which can filter on
    /// metadata) is eventually consistent, so a product created a moment ago, by a sync whose answer was lost, could
    /// be missing from it and a second sync would create it again. The list reads its own writes. Archived products
    /// are included so that catalog sync reactivates one rather than creating a duplicate.
    /// - Complexity: one request per 100 products in the account.
    /// - Throws: `ProviderFailure` for a failed request or an answer without a list of products with ids.
    public func products(metadataKey: String) throws(ProviderFailure) -> [StripeProduct] {
        var found: [StripeProduct] = []
        var startingAfter: String?
        while true {
            var path = "/v1/products?limit=100"
            if let startingAfter { path += "&starting_after=\(FormEncoder.percentEncode(startingAfter))" }
            let request = ProviderRequest(method: "GET", path: path)
            let (response, objects, hasMore) = try list(request, noun: "product")
            var lastID: String?
            for object in objects {
                guard let product = StripeProduct(json: object) else {
                    throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "with a product without an id")
                }
                lastID = product.id
                if product.metadata[metadataKey] != nil { found.append(product) }
            }
            guard hasMore, let lastID else { return found }
            startingAfter = lastID
        }
    }

    /// `POST /v1/products` with `name` and `metadata[k]=v` in the given order.
    public func createProduct(name: String, metadata: [(String, String)], idempotencyKey: String) throws(ProviderFailure) -> StripeProduct {
        try product(Self.post("/v1/products", [("name", .string(name)), ("metadata", Self.form(metadata))], idempotencyKey: idempotencyKey))
    }

    /// `POST /v1/products/{id}` with `name` and `active` when given (`active=true` reactivates an archived product).
    /// Fields left `nil` are not sent and stay as they are.
    public func updateProduct(id: String, name: String? = nil, active: Bool? = nil, idempotencyKey: String) throws(ProviderFailure) -> StripeProduct {
        var fields: [(String, FormValue)] = []
        if let name { fields.append(("name", .string(name))) }
        if let active { fields.append(("active", .string(active ? "true" : "false"))) }
        return try product(Self.post("/v1/products/\(FormEncoder.percentEncode(id))", fields, idempotencyKey: idempotencyKey))
    }

    /// `POST /v1/prices` with `product`, `unit_amount`, `currency`, `recurring[interval]` (only for a recurring
    /// price: `interval` `nil` makes a one-off price), `lookup_key`, `transfer_lookup_key=true` (when asked: the key
    /// moves from the price holding it to the new one; without it Stripe refuses a key that is taken) and
    /// `metadata[k]=v`, in that order.
    public func createPrice(product: String, unitAmount: Int64, currency: String, interval: String?, lookupKey: String,
                            transferLookupKey: Bool = true, metadata: [(String, String)], idempotencyKey: String) throws(ProviderFailure) -> StripePrice {
        var fields: [(String, FormValue)] = [("product", .string(product)), ("unit_amount", .string(String(unitAmount))),
                                             ("currency", .string(currency))]
        if let interval { fields.append(("recurring", .object([("interval", .string(interval))]))) }
        fields.append(("lookup_key", .string(lookupKey)))
        if transferLookupKey { fields.append(("transfer_lookup_key", .string("true"))) }
        fields.append(("metadata", Self.form(metadata)))
        let request = Self.post("/v1/prices", fields, idempotencyKey: idempotencyKey)
        let (response, json) = try send(request)
        guard let price = StripePrice(json: json) else { throw withoutID(response, request) }
        return price
    }

    private func product(_ request: ProviderRequest) throws(ProviderFailure) -> StripeProduct {
        let (response, json) = try send(request)
        guard let product = StripeProduct(json: json) else { throw withoutID(response, request) }
        return product
    }

    /// The `data` objects of a list answer, and whether Stripe has more after them (`has_more`).
    private func list(_ request: ProviderRequest, noun: String) throws(ProviderFailure) -> (HTTPClientResponse, [[String: Any]], hasMore: Bool) {
        let (response, json) = try send(request)
        guard let data = json["data"] as? [Any] else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without a data list")
        }
        var objects: [[String: Any]] = []
        for item in data {
            guard let object = item as? [String: Any] else {
                throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "with a \(noun) that is not an object")
            }
            objects.append(object)
        }
        return (response, objects, ProviderJSON.bool(json["has_more"]) == true)
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
