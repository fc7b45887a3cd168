import Foundation
import HTTPServer
import Synchronization

/// A fake Stripe API for integration tests: a real HTTP server on loopback (a `FakeAPIServer`, whose request log and
/// fault injection it passes through) that keeps customers, prices, payment links and checkout sessions the way
/// Stripe does, so a daemon pointed at `baseURL` (`STRIPE_API_BASE`) can be tested with its real libcurl client.
///
/// Contract, as Stripe:
/// - Every request needs `Authorization: Bearer <apiKey>`; otherwise 401 with a Stripe error body.
/// - Bodies are `application/x-www-form-urlencoded` with bracketed keys (`metadata[k]=v`, `line_items[0][price]=p`),
///   percent-decoded, `+` as space. Unknown top-level parameters are rejected (400, `Received unknown parameter`).
/// - Errors are `{"error": {"type", "code"?, "message", "param"?, "request_log_url"}}`; every response, fault answers
///   included, carries `Request-Id: req_<n>`.
/// - A POST with an `Idempotency-Key` already used for the same method, path and parameters (compared decoded and
///   order-insensitively) replays the stored status and body with `Idempotent-Replayed: true` and
///   `Original-Request: <first request id>`, changing nothing. The same key with other parameters is a 400
///   `idempotency_error`. As at Stripe, only requests that reached the endpoint are stored (successes and errors such
///   as `No such price`); authentication failures, parameter-validation errors and injected faults are not, so a retry
///   after them runs afresh.
///
/// Customers, as Stripe keeps them:
/// - `GET /v1/customers?email=` matches the email exactly, case-sensitively (Stripe's API reference: "A case-sensitive
///   filter on the list based on the customer's email field"), and reads its own writes.
/// - `GET /v1/customers/search?query=` takes clauses `metadata['key']:'value'` (single or double quotes, `\'`
///   escaped), joined by ` OR ` or ` AND ` (not both), and answers a `search_result`. Other fields are refused (400):
///   the fake does not model them. Like Stripe's, the search index lags: it sees customers as they were when last
///   indexed. A customer created or changed through the API is not seen (or seen as before) until
///   `indexCustomersForSearch()`; one added with `addCustomer` is indexed at once unless `searchable: false`.
///
/// Endpoints: `GET/POST /v1/customers`, `GET /v1/customers/search`, `GET/POST /v1/customers/{id}`, `GET/POST /v1/payment_links`,
/// `GET/POST /v1/payment_links/{id}`, `GET /v1/checkout/sessions/{id}`, `GET/POST /v1/products`,
/// `GET/POST /v1/products/{id}`, `GET/POST /v1/prices`, `GET /v1/prices/{id}`. Anything else is 404.
///
/// Products and prices, as Stripe keeps them:
/// - `GET /v1/products` lists newest first, active and archived unless `active=` is given, `limit` (1–100, default
///   10) at a time, continuing after `starting_after`, with `has_more`. `POST /v1/products` needs `name`;
///   `POST /v1/products/{id}` sets `name`, `active` and merges `metadata`.
/// - `GET /v1/prices` filters by `lookup_keys[]` (at most 10), `active`, `product` and `limit`, newest first.
///   `POST /v1/prices` needs `currency`, `product` (an existing one) and `unit_amount`; `recurring[interval]` is
///   `day`, `week`, `month` or `year`. A `lookup_key` belongs to at most one price: while another price holds it, a
///   create is refused (`A price (`price_1`) already uses that lookup key.`) unless `transfer_lookup_key=true`,
///   which moves the key to the new price. A price is never changed otherwise.
/// Payment links are answered with their `line_items` list included (Stripe needs `expand[]=line_items` for that).
/// `GET /v1/payment_links` lists them newest first, filtered by `active=` when given, `limit` (1–100, default 10) at a
/// time, continuing after `starting_after`, with `has_more`.
/// `POST /v1/payment_links/{id}` updates `active` (`true`/`false`), `metadata` (merged) and
/// `restrictions[completed_sessions][limit]`. A link created with `restrictions[completed_sessions][limit]` (a whole
/// number of at least 1) counts the sessions `addCheckoutSession` completes on it and, as Stripe does, turns inactive
/// when the count reaches the limit; an inactive link takes no more sessions.
///
/// Thread-safe. The server stops when the instance is released.
public final class FakeStripeAPI: FakeProviderAPI {
    /// A customer as stored.
    public struct Customer: Sendable, Equatable {
        public var id: String
        public var email: String?
        public var name: String?
        public var metadata: [String: String]
        public var created: Int
    }

    /// A price, registered with `addPrice` or created through `POST /v1/prices`.
    public struct Price: Sendable, Equatable {
        public var id: String
        public var unitAmount: Int
        public var currency: String
        /// `day`, `week`, `month` or `year` for a recurring price; `nil` for a one-time price.
        public var recurringInterval: String?
        public var product: String
        /// At most one price holds a lookup key; `transfer_lookup_key=true` on a create takes it from this one.
        public var lookupKey: String?
        public var active: Bool
        public var metadata: [String: String]
        /// Creation order (1, 2, ...): lists answer newest first.
        public var sequence: Int
    }

    /// A product, registered with `addProduct` or created through `POST /v1/products`.
    public struct Product: Sendable, Equatable {
        public var id: String
        public var name: String
        public var active: Bool
        public var metadata: [String: String]
        public var created: Int
        public var updated: Int
    }

    /// One line of a payment link.
    public struct LineItem: Sendable, Equatable {
        public var priceID: String
        public var quantity: Int

        public init(priceID: String, quantity: Int) {
            self.priceID = priceID
            self.quantity = quantity
        }
    }

    /// A payment link as created through the API.
    public struct PaymentLink: Sendable, Equatable {
        public var id: String
        public var url: String
        public var active: Bool
        public var lineItems: [LineItem]
        public var metadata: [String: String]
        /// Every form parameter of the creating request, decoded (`after_completion[type]` → `redirect`).
        public var parameters: [String: String]
        /// `restrictions[completed_sessions][limit]`: the link turns inactive once this many sessions completed.
        public var seatLimit: Int?
        /// Checkout sessions completed on the link (`restrictions.completed_sessions.count`).
        public var completedSessions: Int
    }

    /// A completed checkout session for a payment link (see `addCheckoutSession`).
    public struct CheckoutSession: Sendable {
        public var id: String
        public var paymentLinkID: String
        /// `payment`, or `subscription` when a price recurs.
        public var mode: String
        public var amountTotal: Int
        public var currency: String
        public var email: String
        public var customerID: String?
        public var clientReferenceID: String?
        public var subscriptionID: String?
        public var metadata: [String: String]
        /// The `checkout.session` object as Stripe would send it.
        public var object: TestJSON

        /// The object as JSON text.
        public var json: String { object.text }

        /// A `checkout.session.completed` event carrying this session, as JSON text ready to be signed with
        /// `StripeSignatureVerifier.header(for:secret:timestamp:)` and delivered to the daemon.
        public func completedEvent(id: String? = nil, created: Int = Int(Date().timeIntervalSince1970)) -> String {
            let event: TestJSON = [
                "id": .string(id ?? "evt_" + self.id.replacingOccurrences(of: "cs_", with: "")),
                "object": "event", "api_version": "2024-06-20", "created": TestJSON(created),
                "data": ["object": object], "livemode": false, "pending_webhooks": 1,
                "request": ["id": nil, "idempotency_key": nil], "type": "checkout.session.completed",
            ]
            return event.text
        }
    }

    /// The key requests must present as `Authorization: Bearer <apiKey>`.
    public let apiKey: String
    /// The HTTP server underneath: its request log and fault injection (also passed through below).
    public let server: FakeAPIServer
    private let backend: Backend

    /// Starts on an ephemeral loopback port with no customers, prices or links.
    public init(apiKey: String = "sk_test_hookyard_fake") throws {
        let backend = Backend(apiKey: apiKey)
        self.apiKey = apiKey
        self.backend = backend
        server = try FakeAPIServer(route: { backend.handle($0) },
                                   decorate: { request, response in backend.addCommonHeaders(request, &response) })
    }

    // MARK: Faults (the other passthroughs are in FakeProviderAPI)

    /// Answers every request under `pathPrefix` with `status` and `body` until `clearForcedStatus()`; nothing is
    /// processed or stored for idempotency. The default body is a Stripe `api_error`.
    public func forceStatus(pathPrefix: String, status: Int, body: String? = nil) {
        let body = body ?? Backend.error(type: status >= 500 ? "api_error" : "invalid_request_error",
                                         message: "Forced failure (status \(status)) by the test.").text
        server.forceStatus(pathPrefix: pathPrefix, status: status, body: body)
    }

    // MARK: State for tests

    /// Registers a price, as if created earlier. Replaces a price with the same id. Without `product`, the price
    /// names a fresh product id that no product has (enough for payment links). A `lookupKey` is taken from any
    /// other price that holds it, as `transfer_lookup_key` would.
    @discardableResult
    public func addPrice(id: String, unitAmount: Int, currency: String = "usd", recurringInterval: String? = nil,
                         product: String? = nil, lookupKey: String? = nil, active: Bool = true, metadata: [String: String] = [:]) -> Price {
        backend.state.withLock { state in
            if let lookupKey {
                for (other, price) in state.prices where price.lookupKey == lookupKey { state.prices[other]?.lookupKey = nil }
            }
            let price = Price(id: id, unitAmount: unitAmount, currency: currency, recurringInterval: recurringInterval,
                              product: product ?? state.nextID("prod_"), lookupKey: lookupKey, active: active, metadata: metadata,
                              sequence: state.nextSequence())
            state.prices[id] = price
            return price
        }
    }

    /// Registers a product, as if created earlier (by hand, or by an earlier sync).
    @discardableResult
    public func addProduct(name: String, active: Bool = true, metadata: [String: String] = [:]) -> Product {
        backend.state.withLock { state in
            let now = Int(Date().timeIntervalSince1970)
            let product = Product(id: state.nextID("prod_"), name: name, active: active, metadata: metadata, created: now, updated: now)
            state.products.append(product)
            return product
        }
    }

    /// Adds a customer directly, as if created earlier (e.g. by another system); the search index sees it at once
    /// unless `searchable` is `false`.
    @discardableResult
    public func addCustomer(email: String?, name: String? = nil, metadata: [String: String] = [:], searchable: Bool = true) -> Customer {
        backend.state.withLock { state in
            let customer = Customer(id: state.nextID("cus_"), email: email, name: name, metadata: metadata,
                                    created: Int(Date().timeIntervalSince1970))
            state.customers.append(customer)
            if searchable { state.searchIndex[customer.id] = customer }
            return customer
        }
    }

    /// Brings the search index up to date with every customer as it is now (what Stripe does within about a minute).
    public func indexCustomersForSearch() {
        backend.state.withLock { state in
            for customer in state.customers { state.searchIndex[customer.id] = customer }
        }
    }

    /// Records a paid, complete checkout session for a payment link, as if `email` had paid it, and returns it
    /// (its `object` is what `GET /v1/checkout/sessions/{id}` answers and `completedEvent()` embeds). Amount and
    /// currency come from the link's prices, `metadata` from the link (Stripe copies it), `mode` is `subscription`
    /// when a price recurs (then `subscription` is set). The session counts towards the link's seat limit, and the
    /// link turns inactive when it reaches it.
    /// - Throws: `TestClientError` when no payment link has that id, or when the link is inactive (deactivated, or
    ///   its seat limit reached): Stripe would not let anyone pay it.
    @discardableResult
    public func addCheckoutSession(paymentLinkID: String, email: String, clientReferenceID: String? = nil,
                                   customerID: String? = nil) throws -> CheckoutSession {
        try backend.state.withLock { state in
            guard let index = state.paymentLinks.firstIndex(where: { $0.id == paymentLinkID }) else {
                throw TestClientError("no payment link \(paymentLinkID)")
            }
            guard state.paymentLinks[index].active else { throw TestClientError("payment link \(paymentLinkID) is inactive") }
            state.paymentLinks[index].completedSessions += 1
            if let limit = state.paymentLinks[index].seatLimit, state.paymentLinks[index].completedSessions >= limit {
                state.paymentLinks[index].active = false
            }
            let link = state.paymentLinks[index]
            let prices = link.lineItems.compactMap { state.prices[$0.priceID] }
            let recurring = prices.contains { $0.recurringInterval != nil }
            let amount = zip(link.lineItems, prices).reduce(0) { $0 + $1.0.quantity * $1.1.unitAmount }
            let currency = prices.first?.currency ?? "usd"
            let id = state.nextID("cs_test_")
            let subscription = recurring ? state.nextID("sub_") : nil
            let paymentIntent = recurring ? nil : state.nextID("pi_")
            let created = Int(Date().timeIntervalSince1970)
            let object: TestJSON = [
                "id": .string(id), "object": "checkout.session", "amount_subtotal": TestJSON(amount),
                "amount_total": TestJSON(amount), "client_reference_id": TestJSON(clientReferenceID),
                "created": TestJSON(created), "currency": .string(currency), "customer": TestJSON(customerID),
                "customer_creation": recurring ? "always" : "if_required",
                "customer_details": ["email": .string(email), "name": nil, "phone": nil, "address": nil,
                                     "tax_exempt": "none", "tax_ids": []],
                "customer_email": nil, "expires_at": TestJSON(created + 86_400), "livemode": false,
                "metadata": Backend.json(link.metadata), "mode": recurring ? "subscription" : "payment",
                "payment_intent": TestJSON(paymentIntent), "payment_link": .string(link.id),
                // A session that costs nothing (a free tier, a 100 % coupon) completes without a payment.
                "payment_status": amount == 0 ? "no_payment_required" : "paid", "status": "complete", "subscription": TestJSON(subscription),
                "success_url": nil, "url": nil,
            ]
            let session = CheckoutSession(id: id, paymentLinkID: link.id, mode: recurring ? "subscription" : "payment",
                                          amountTotal: amount, currency: currency, email: email, customerID: customerID,
                                          clientReferenceID: clientReferenceID, subscriptionID: subscription,
                                          metadata: link.metadata, object: object)
            state.sessions[id] = session
            return session
        }
    }

    /// Customers, oldest first.
    public var customers: [Customer] { backend.state.withLock { $0.customers } }
    /// Payment links, oldest first.
    public var paymentLinks: [PaymentLink] { backend.state.withLock { $0.paymentLinks } }
    /// Prices by id, registered or created.
    public var prices: [String: Price] { backend.state.withLock { $0.prices } }
    /// Products, oldest first.
    public var products: [Product] { backend.state.withLock { $0.products } }
    /// Checkout sessions added with `addCheckoutSession`, by id.
    public var checkoutSessions: [String: CheckoutSession] { backend.state.withLock { $0.sessions } }

    /// Decodes an `application/x-www-form-urlencoded` body (or query string) into its pairs, in order: keys and values
    /// percent-decoded, `+` as a space, brackets kept in the key (`metadata[lead_email]`).
    public static func decodeForm(_ text: String) -> [(key: String, value: String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}

/// The fake's state and request handling, shared by the server's route closure (which must not capture the
/// `FakeStripeAPI` itself: that would keep it, and its server, alive forever).
private final class Backend: Sendable {
    struct StoredResult {
        var fingerprint: String
        var status: Int
        var body: String
        var requestID: String
    }

    struct State {
        var serials: [String: Int] = [:]
        var customers: [FakeStripeAPI.Customer] = []
        var prices: [String: FakeStripeAPI.Price] = [:]
        var products: [FakeStripeAPI.Product] = []
        var sequence = 0
        var paymentLinks: [FakeStripeAPI.PaymentLink] = []
        var sessions: [String: FakeStripeAPI.CheckoutSession] = [:]
        /// Idempotency keys → the first result.
        var idempotent: [String: StoredResult] = [:]
        /// What customer search sees: each customer as it was when last indexed, by id.
        var searchIndex: [String: FakeStripeAPI.Customer] = [:]

        /// `prefix` followed by the next number for that prefix (`cus_1`, `cus_2`, ...).
        mutating func nextID(_ prefix: String) -> String {
            let next = serials[prefix, default: 0] + 1
            serials[prefix] = next
            return prefix + String(next)
        }

        /// The next number in the order prices were created.
        mutating func nextSequence() -> Int {
            sequence += 1
            return sequence
        }
    }

    /// What an endpoint did: `executed` results are stored for idempotency, `rejected` ones (parameter validation)
    /// are not.
    enum Outcome {
        case executed(Int, TestJSON)
        case rejected(Int, TestJSON)
    }

    let apiKey: String
    /// Guards all objects and idempotency records; each request is handled entirely under it.
    let state = Mutex(State())
    private let requestSerial = Atomic<Int>(0)

    init(apiKey: String) { self.apiKey = apiKey }

    private func newRequestID() -> String { "req_\(requestSerial.wrappingAdd(1, ordering: .relaxed).newValue)" }

    /// Adds `Request-Id` to answers the route did not make (injected faults, forced statuses).
    func addCommonHeaders(_ request: HTTPRequest, _ response: inout HTTPResponse) {
        if response.headers["Request-Id"] == nil { response.headers.add(name: "Request-Id", value: newRequestID()) }
    }

    // MARK: Routing

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let requestID = newRequestID()
        var response = route(request, requestID: requestID)
        response.headers.add(name: "Request-Id", value: requestID)
        if let version = request.headers["Stripe-Version"] { response.headers.add(name: "Stripe-Version", value: version) }
        return response
    }

    private func route(_ request: HTTPRequest, requestID: String) -> HTTPResponse {
        guard let authorization = request.headers["Authorization"], authorization.hasPrefix("Bearer ") else {
            var response = answer(401, Self.error(type: "invalid_request_error", message:
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth "
                + "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                + "or we can help at https://support.stripe.com/."), requestID: requestID)
            response.headers.add(name: "WWW-Authenticate", value: "Bearer realm=\"Stripe\"")
            return response
        }
        let key = String(authorization.dropFirst("Bearer ".count))
        guard key == apiKey else {
            let masked = key.count > 12 ? String(key.prefix(8)) + String(repeating: "*", count: key.count - 12) + String(key.suffix(4)) : "****"
            return answer(401, Self.error(type: "invalid_request_error", message: "Invalid API Key provided: \(masked)"),
                          requestID: requestID)
        }
        let path = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let query = request.target.firstIndex(of: "?").map { FakeStripeAPI.decodeForm(String(request.target[request.target.index(after: $0)...])) } ?? []
        func matches(_ pattern: [String]) -> [String]? {
            guard path.count == pattern.count else { return nil }
            var captured: [String] = []
            for (segment, expected) in zip(path, pattern) {
                if expected == "*" { captured.append(segment) } else if segment != expected { return nil }
            }
            return captured
        }
        switch request.method {
        case "GET":
            if matches(["v1", "customers"]) != nil { return answer(listCustomers(query), requestID: requestID) }
            if matches(["v1", "customers", "search"]) != nil { return answer(searchCustomers(query), requestID: requestID) }
            if let id = matches(["v1", "customers", "*"])?.first {
                return answer(state.withLock { retrieve("customer", id, $0.customers.first { $0.id == id }.map(Self.json)) },
                              requestID: requestID)
            }
            if matches(["v1", "payment_links"]) != nil { return answer(listPaymentLinks(query), requestID: requestID) }
            if let id = matches(["v1", "payment_links", "*"])?.first {
                return answer(state.withLock { state in
                    retrieve("payment_link", id, state.paymentLinks.first { $0.id == id }.map { Self.json($0, prices: state.prices) })
                }, requestID: requestID)
            }
            if let id = matches(["v1", "checkout", "sessions", "*"])?.first {
                return answer(state.withLock { retrieve("checkout.session", id, $0.sessions[id]?.object) }, requestID: requestID)
            }
            if let id = matches(["v1", "prices", "*"])?.first {
                return answer(state.withLock { retrieve("price", id, $0.prices[id].map(Self.json)) }, requestID: requestID)
            }
            if matches(["v1", "prices"]) != nil { return answer(listPrices(query), requestID: requestID) }
            if matches(["v1", "products"]) != nil { return answer(listProducts(query), requestID: requestID) }
            if let id = matches(["v1", "products", "*"])?.first {
                return answer(state.withLock { retrieve("product", id, $0.products.first { $0.id == id }.map(Self.json)) },
                              requestID: requestID)
            }
        case "POST":
            if matches(["v1", "customers"]) != nil { return post(request, requestID: requestID, createCustomer) }
            if let id = matches(["v1", "customers", "*"])?.first {
                return post(request, requestID: requestID) { state, parameters in updateCustomer(id, &state, parameters) }
            }
            if matches(["v1", "payment_links"]) != nil { return post(request, requestID: requestID, createPaymentLink) }
            if let id = matches(["v1", "payment_links", "*"])?.first {
                return post(request, requestID: requestID) { state, parameters in updatePaymentLink(id, &state, parameters) }
            }
            if matches(["v1", "products"]) != nil { return post(request, requestID: requestID, createProduct) }
            if let id = matches(["v1", "products", "*"])?.first {
                return post(request, requestID: requestID) { state, parameters in updateProduct(id, &state, parameters) }
            }
            if matches(["v1", "prices"]) != nil { return post(request, requestID: requestID, createPrice) }
        default:
            break
        }
        return answer(404, Self.error(type: "invalid_request_error", message:
            "Unrecognized request URL (\(request.method): \(request.path)). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."),
            requestID: requestID)
    }

    /// Runs a POST endpoint under the lock, with Stripe's idempotency rules.
    private func post(_ request: HTTPRequest, requestID: String,
                      _ endpoint: (inout State, [(key: String, value: String)]) -> Outcome) -> HTTPResponse {
        let parameters = FakeStripeAPI.decodeForm(String(decoding: request.body, as: UTF8.self))
        let key = request.headers["Idempotency-Key"]
        let fingerprint = "POST \(request.path)\n" + parameters.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "&")
        var response: HTTPResponse = state.withLock { state in
            if let key, let stored = state.idempotent[key] {
                guard stored.fingerprint == fingerprint else {
                    return answer(400, Self.error(type: "idempotency_error", message:
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                        + "Try using a key other than '\(key)' if you meant to execute a different request."), requestID: requestID)
                }
                var replay = HTTPResponse.json(status: stored.status, stored.body)
                replay.headers.add(name: "Idempotent-Replayed", value: "true")
                replay.headers.add(name: "Original-Request", value: stored.requestID)
                return replay
            }
            let outcome = endpoint(&state, parameters)
            let response = answer(outcome, requestID: requestID)
            if let key, case .executed = outcome {
                state.idempotent[key] = StoredResult(fingerprint: fingerprint, status: response.status,
                                                     body: String(decoding: response.body, as: UTF8.self), requestID: requestID)
            }
            return response
        }
        if let key { response.headers.add(name: "Idempotency-Key", value: key) }
        return response
    }

    private func answer(_ outcome: Outcome, requestID: String) -> HTTPResponse {
        switch outcome {
        case .executed(let status, let body), .rejected(let status, let body): answer(status, body, requestID: requestID)
        }
    }

    /// Serialises `body`, adding `request_log_url` to an error.
    private func answer(_ status: Int, _ body: TestJSON, requestID: String) -> HTTPResponse {
        var body = body
        if case .object(var members) = body, case .object(var error)? = members["error"] {
            error["request_log_url"] = .string("https://dashboard.stripe.com/test/logs/\(requestID)")
            members["error"] = .object(error)
            body = .object(members)
        }
        return .json(status: status, body.text)
    }

    private func retrieve(_ noun: String, _ id: String, _ object: TestJSON?) -> Outcome {
        if let object { return .executed(200, object) }
        return .executed(404, Self.error(type: "invalid_request_error", message: "No such \(noun): '\(id)'",
                                         code: "resource_missing", param: "id"))
    }

    // MARK: Endpoints

    private static let customerParameters: Set<String> = [
        "email", "name", "description", "phone", "metadata", "address", "shipping", "preferred_locales",
        "invoice_settings", "tax_exempt", "payment_method", "source", "balance", "coupon", "promotion_code",
        "test_clock", "tax", "tax_id_data", "invoice_prefix", "next_invoice_sequence", "expand", "default_source",
    ]

    private static let paymentLinkParameters: Set<String> = [
        "line_items", "metadata", "after_completion", "restrictions", "subscription_data", "allow_promotion_codes",
        "automatic_tax", "billing_address_collection", "currency", "customer_creation", "payment_method_types",
        "phone_number_collection", "submit_type", "tax_id_collection", "custom_fields", "custom_text",
        "consent_collection", "invoice_creation", "payment_intent_data", "shipping_address_collection",
        "on_behalf_of", "transfer_data", "application_fee_amount", "application_fee_percent", "inactive_message",
        "optional_items", "name_collection", "payment_method_collection", "shipping_options", "expand",
    ]

    private func listCustomers(_ query: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(query, allowed: ["email", "limit", "starting_after", "ending_before", "created", "test_clock", "expand"]) {
            return unknown
        }
        let limit: Int
        switch Self.limit(query) {
        case .success(let value): limit = value
        case .failure(let rejection): return rejection.outcome
        }
        let email = query.last(where: { $0.key == "email" })?.value
        let matching = state.withLock { state in
            state.customers.reversed().filter { email == nil || $0.email == email }  // newest first; exact match
        }
        return .executed(200, ["object": "list", "data": .array(matching.prefix(limit).map(Self.json)),
                               "has_more": .bool(matching.count > limit), "url": "/v1/customers"])
    }

    private func searchCustomers(_ query: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(query, allowed: ["query", "limit", "page", "expand"]) { return unknown }
        let limit: Int
        switch Self.limit(query) {
        case .success(let value): limit = value
        case .failure(let rejection): return rejection.outcome
        }
        guard let text = query.last(where: { $0.key == "query" })?.value, !text.isEmpty else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: query.", param: "query"))
        }
        guard let search = Self.parseSearch(text) else {
            return .rejected(400, Self.error(type: "invalid_request_error", message:
                "The fake Stripe API only searches customers by metadata['key']:'value' clauses; could not read '\(text)'.",
                param: "query"))
        }
        let matching = state.withLock { state in
            state.customers.reversed().compactMap { state.searchIndex[$0.id] }.filter { customer in
                let results = search.clauses.map { customer.metadata[$0.key] == $0.value }
                return search.all ? results.allSatisfy { $0 } : results.contains(true)
            }
        }
        return .executed(200, ["object": "search_result", "data": .array(matching.prefix(limit).map(Self.json)),
                               "has_more": .bool(matching.count > limit), "next_page": nil, "url": "/v1/customers/search"])
    }

    /// `metadata['k']:'v'` clauses joined by ` OR ` or ` AND `; `nil` for anything else.
    static func parseSearch(_ text: String) -> (clauses: [(key: String, value: String)], all: Bool)? {
        var clauses: [(key: String, value: String)] = []
        var joiner: String?
        var rest = Substring(text)
        func quoted(_ input: inout Substring) -> String? {
            guard let quote = input.first, quote == "'" || quote == "\"" else { return nil }
            input = input.dropFirst()
            var value = ""
            while let character = input.first {
                input = input.dropFirst()
                if character == "\\", let next = input.first { value.append(next); input = input.dropFirst(); continue }
                if character == quote { return value }
                value.append(character)
            }
            return nil
        }
        while true {
            guard rest.hasPrefix("metadata[") else { return nil }
            rest = rest.dropFirst("metadata[".count)
            guard let key = quoted(&rest), rest.hasPrefix("]:") else { return nil }
            rest = rest.dropFirst(2)
            guard let value = quoted(&rest) else { return nil }
            clauses.append((key, value))
            if rest.isEmpty { break }
            let next = rest.hasPrefix(" OR ") ? "OR" : rest.hasPrefix(" AND ") ? "AND" : nil
            guard let next, joiner == nil || joiner == next, clauses.count < 10 else { return nil }
            joiner = next
            rest = rest.dropFirst(next.count + 2)
        }
        return (clauses, joiner == "AND")
    }

    private func createCustomer(_ state: inout State, _ parameters: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(parameters, allowed: Self.customerParameters) { return unknown }
        var metadata: [String: String] = [:]
        if let rejection = Self.applyMetadata(parameters, to: &metadata) { return rejection }
        let customer = FakeStripeAPI.Customer(id: state.nextID("cus_"), email: Self.value("email", parameters),
                                              name: Self.value("name", parameters), metadata: metadata,
                                              created: Int(Date().timeIntervalSince1970))
        state.customers.append(customer)
        return .executed(200, Self.json(customer))
    }

    private func updateCustomer(_ id: String, _ state: inout State, _ parameters: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(parameters, allowed: Self.customerParameters) { return unknown }
        guard let index = state.customers.firstIndex(where: { $0.id == id }) else {
            return .executed(404, Self.error(type: "invalid_request_error", message: "No such customer: '\(id)'",
                                             code: "resource_missing", param: "id"))
        }
        var customer = state.customers[index]
        if let rejection = Self.applyMetadata(parameters, to: &customer.metadata) { return rejection }
        if let email = Self.value("email", parameters) { customer.email = email.isEmpty ? nil : email }
        if let name = Self.value("name", parameters) { customer.name = name.isEmpty ? nil : name }
        state.customers[index] = customer
        return .executed(200, Self.json(customer))
    }

    private func createPaymentLink(_ state: inout State, _ parameters: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(parameters, allowed: Self.paymentLinkParameters) { return unknown }
        // line_items[<i>][<field>]
        var fields: [Int: [String: String]] = [:]
        for (key, value) in parameters where key.hasPrefix("line_items[") {
            let parts = key.dropFirst("line_items".count).split(separator: "]").map { $0.dropFirst() }  // "[0][price]" → 0, price
            guard parts.count == 2, let index = Int(parts[0]) else {
                return .rejected(400, Self.error(type: "invalid_request_error", message: "Invalid array", param: "line_items"))
            }
            fields[index, default: [:]][String(parts[1])] = value
        }
        guard !fields.isEmpty else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: line_items.", param: "line_items"))
        }
        var items: [FakeStripeAPI.LineItem] = []
        for index in fields.keys.sorted() {
            let item = fields[index]!
            guard let price = item["price"] else {
                return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: line_items[\(index)][price].",
                                                 param: "line_items[\(index)][price]"))
            }
            guard let quantityText = item["quantity"] else {
                return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: line_items[\(index)][quantity].",
                                                 param: "line_items[\(index)][quantity]"))
            }
            guard let quantity = Int(quantityText), quantity > 0 else {
                return .rejected(400, Self.error(type: "invalid_request_error", message: "Invalid positive integer",
                                                 param: "line_items[\(index)][quantity]"))
            }
            guard state.prices[price] != nil else {
                return .executed(400, Self.error(type: "invalid_request_error", message: "No such price: '\(price)'",
                                                 code: "resource_missing", param: "line_items[\(index)][price]"))
            }
            items.append(FakeStripeAPI.LineItem(priceID: price, quantity: quantity))
        }
        var metadata: [String: String] = [:]
        if let rejection = Self.applyMetadata(parameters, to: &metadata) { return rejection }
        let seatLimit: Int?
        switch Self.seatLimit(parameters) {
        case .success(let limit): seatLimit = limit
        case .failure(let rejection): return rejection.outcome
        }
        let id = state.nextID("plink_")
        let link = FakeStripeAPI.PaymentLink(id: id, url: "https://buy.stripe.com/test_\(id.dropFirst("plink_".count))",
                                             active: true, lineItems: items, metadata: metadata,
                                             parameters: Dictionary(parameters.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }),
                                             seatLimit: seatLimit, completedSessions: 0)
        state.paymentLinks.append(link)
        return .executed(200, Self.json(link, prices: state.prices))
    }

    private func listPaymentLinks(_ query: [(key: String, value: String)]) -> Outcome {
        listPage(query, allowed: ["active", "ending_before", "expand", "limit", "starting_after"], noun: "payment_link",
                 url: "/v1/payment_links", items: { $0.paymentLinks }, id: \.id, active: \.active) { link, state in
            Self.json(link, prices: state.prices)
        }
    }

    private func updatePaymentLink(_ id: String, _ state: inout State, _ parameters: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(parameters, allowed: Self.paymentLinkParameters.union(["active"]).subtracting(["currency", "on_behalf_of"])) {
            return unknown
        }
        guard let index = state.paymentLinks.firstIndex(where: { $0.id == id }) else {
            return .executed(404, Self.error(type: "invalid_request_error", message: "No such payment_link: '\(id)'",
                                             code: "resource_missing", param: "id"))
        }
        var link = state.paymentLinks[index]
        if let active = Self.value("active", parameters) {
            guard active == "true" || active == "false" else {
                return .rejected(400, Self.error(type: "invalid_request_error", message: "Invalid boolean: \(active)", param: "active"))
            }
            link.active = active == "true"
        }
        if let rejection = Self.applyMetadata(parameters, to: &link.metadata) { return rejection }
        switch Self.seatLimit(parameters) {
        case .success(let limit?): link.seatLimit = limit
        case .success(nil): break
        case .failure(let rejection): return rejection.outcome
        }
        state.paymentLinks[index] = link
        return .executed(200, Self.json(link, prices: state.prices))
    }

    struct Rejection: Error {
        var outcome: Outcome
    }

    /// A list's `limit`: 10 when absent; rejected unless a whole number from 1 to 100.
    private static func limit(_ query: [(key: String, value: String)]) -> Result<Int, Rejection> {
        guard let text = value("limit", query) else { return .success(10) }
        guard let limit = Int(text) else {
            return .failure(Rejection(outcome: .rejected(400, error(type: "invalid_request_error", message: "Invalid integer: \(text)", param: "limit"))))
        }
        guard (1...100).contains(limit) else {
            return .failure(Rejection(outcome: .rejected(400, error(type: "invalid_request_error", message:
                "This value must be \(limit < 1 ? "greater than or equal to 1" : "less than or equal to 100").", param: "limit"))))
        }
        return .success(limit)
    }

    /// An optional boolean parameter: `nil` when absent; rejected unless `true` or `false`.
    private static func boolean(_ name: String, _ parameters: [(key: String, value: String)]) -> Result<Bool?, Rejection> {
        guard let text = value(name, parameters) else { return .success(nil) }
        guard text == "true" || text == "false" else {
            return .failure(Rejection(outcome: .rejected(400, error(type: "invalid_request_error", message: "Invalid boolean: \(text)", param: name))))
        }
        return .success(text == "true")
    }

    // MARK: Products and prices

    private static let productParameters: Set<String> = [
        "id", "name", "active", "description", "metadata", "default_price_data", "images", "marketing_features",
        "package_dimensions", "shippable", "statement_descriptor", "tax_code", "unit_label", "url", "expand",
    ]

    private static let priceParameters: Set<String> = [
        "currency", "product", "unit_amount", "recurring", "lookup_key", "transfer_lookup_key", "metadata", "active",
        "nickname", "product_data", "tax_behavior", "billing_scheme", "unit_amount_decimal", "tiers", "tiers_mode",
        "transform_quantity", "custom_unit_amount", "currency_options", "expand",
    ]

    private func listProducts(_ query: [(key: String, value: String)]) -> Outcome {
        listPage(query, allowed: ["active", "created", "ending_before", "expand", "ids", "limit", "shippable", "starting_after", "url"],
                 noun: "product", url: "/v1/products", items: { $0.products }, id: \.id, active: \.active) { product, _ in Self.json(product) }
    }

    /// One page of a list endpoint, newest first, as Stripe pages them: unknown parameters and a bad `limit`,
    /// `active` or `starting_after` are rejected; `has_more` says whether another page follows.
    private func listPage<Item>(_ query: [(key: String, value: String)], allowed: Set<String>, noun: String, url: String,
                                items: (State) -> [Item], id: KeyPath<Item, String>, active: KeyPath<Item, Bool>,
                                json: (Item, State) -> TestJSON) -> Outcome {
        if let unknown = Self.unknownParameter(query, allowed: allowed) { return unknown }
        let limit: Int
        let wanted: Bool?
        switch (Self.limit(query), Self.boolean("active", query)) {
        case (.failure(let rejection), _), (_, .failure(let rejection)): return rejection.outcome
        case (.success(let value), .success(let flag)): (limit, wanted) = (value, flag)
        }
        return state.withLock { state in
            var page = Array(items(state).reversed())  // newest first
            if let after = Self.value("starting_after", query) {
                guard let index = page.firstIndex(where: { $0[keyPath: id] == after }) else {
                    return .rejected(400, Self.error(type: "invalid_request_error", message: "No such \(noun): '\(after)'",
                                                     code: "resource_missing", param: "starting_after"))
                }
                page = Array(page[(index + 1)...])
            }
            if let wanted { page = page.filter { $0[keyPath: active] == wanted } }
            return .executed(200, ["object": "list", "data": .array(page.prefix(limit).map { json($0, state) }),
                                   "has_more": .bool(page.count > limit), "url": .string(url)])
        }
    }

    private func createProduct(_ state: inout State, _ parameters: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(parameters, allowed: Self.productParameters) { return unknown }
        guard let name = Self.value("name", parameters), !name.isEmpty else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: name.", param: "name"))
        }
        let active: Bool?
        switch Self.boolean("active", parameters) {
        case .success(let flag): active = flag
        case .failure(let rejection): return rejection.outcome
        }
        var metadata: [String: String] = [:]
        if let rejection = Self.applyMetadata(parameters, to: &metadata) { return rejection }
        let now = Int(Date().timeIntervalSince1970)
        let product = FakeStripeAPI.Product(id: state.nextID("prod_"), name: name, active: active ?? true, metadata: metadata,
                                            created: now, updated: now)
        state.products.append(product)
        return .executed(200, Self.json(product))
    }

    private func updateProduct(_ id: String, _ state: inout State, _ parameters: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(parameters, allowed: Self.productParameters.subtracting(["id"]).union(["default_price"])) {
            return unknown
        }
        guard let index = state.products.firstIndex(where: { $0.id == id }) else {
            return .executed(404, Self.error(type: "invalid_request_error", message: "No such product: '\(id)'",
                                             code: "resource_missing", param: "id"))
        }
        var product = state.products[index]
        switch Self.boolean("active", parameters) {
        case .success(let flag?): product.active = flag
        case .success(nil): break
        case .failure(let rejection): return rejection.outcome
        }
        if let name = Self.value("name", parameters) {
            guard !name.isEmpty else {
                return .rejected(400, Self.error(type: "invalid_request_error", message: "You passed an empty string for 'name'. "
                    + "We assume empty values are an attempt to unset a parameter; however 'name' cannot be unset.", param: "name"))
            }
            product.name = name
        }
        if let rejection = Self.applyMetadata(parameters, to: &product.metadata) { return rejection }
        product.updated = Int(Date().timeIntervalSince1970)
        state.products[index] = product
        return .executed(200, Self.json(product))
    }

    private func listPrices(_ query: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(query, allowed: ["active", "created", "currency", "ending_before", "expand", "limit",
                                                                 "lookup_keys", "product", "recurring", "starting_after", "type"]) {
            return unknown
        }
        let limit: Int
        let active: Bool?
        switch (Self.limit(query), Self.boolean("active", query)) {
        case (.failure(let rejection), _), (_, .failure(let rejection)): return rejection.outcome
        case (.success(let value), .success(let flag)): (limit, active) = (value, flag)
        }
        let lookupKeys = query.filter { $0.key.hasPrefix("lookup_keys[") }.map(\.value)
        if lookupKeys.count > 10 {
            return .rejected(400, Self.error(type: "invalid_request_error", message:
                "Invalid array: lookup_keys can have at most 10 items, but you passed \(lookupKeys.count).", param: "lookup_keys"))
        }
        let product = Self.value("product", query)
        return state.withLock { state in
            let prices = state.prices.values.sorted { $0.sequence > $1.sequence }.filter { price in
                (lookupKeys.isEmpty || price.lookupKey.map(lookupKeys.contains) == true)
                    && (active == nil || price.active == active) && (product == nil || price.product == product)
            }
            return .executed(200, ["object": "list", "data": .array(prices.prefix(limit).map(Self.json)),
                                   "has_more": .bool(prices.count > limit), "url": "/v1/prices"])
        }
    }

    private func createPrice(_ state: inout State, _ parameters: [(key: String, value: String)]) -> Outcome {
        if let unknown = Self.unknownParameter(parameters, allowed: Self.priceParameters) { return unknown }
        guard let currency = Self.value("currency", parameters), !currency.isEmpty else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: currency.", param: "currency"))
        }
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isLowercase }) else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Invalid currency: \(currency)", param: "currency"))
        }
        guard let productID = Self.value("product", parameters) else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: product.", param: "product"))
        }
        guard let text = Self.value("unit_amount", parameters) else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Missing required param: unit_amount.", param: "unit_amount"))
        }
        guard let unitAmount = Int(text), unitAmount >= 0 else {
            return .rejected(400, Self.error(type: "invalid_request_error", message: "Invalid non-negative integer", param: "unit_amount"))
        }
        var interval: String?
        for (key, value) in parameters where key.hasPrefix("recurring") {
            guard key == "recurring[interval]" else {
                return .rejected(400, Self.error(type: "invalid_request_error", message: "Received unknown parameter: \(key)", param: key))
            }
            guard ["day", "week", "month", "year"].contains(value) else {
                return .rejected(400, Self.error(type: "invalid_request_error", message:
                    "Invalid recurring[interval]: must be one of day, month, week, or year", param: "recurring[interval]"))
            }
            interval = value
        }
        let transfer: Bool
        switch Self.boolean("transfer_lookup_key", parameters) {
        case .success(let flag): transfer = flag ?? false
        case .failure(let rejection): return rejection.outcome
        }
        var metadata: [String: String] = [:]
        if let rejection = Self.applyMetadata(parameters, to: &metadata) { return rejection }
        guard state.products.contains(where: { $0.id == productID }) else {
            return .executed(400, Self.error(type: "invalid_request_error", message: "No such product: '\(productID)'",
                                             code: "resource_missing", param: "product"))
        }
        let lookupKey = Self.value("lookup_key", parameters).flatMap { $0.isEmpty ? nil : $0 }
        if let lookupKey, let holder = state.prices.values.first(where: { $0.lookupKey == lookupKey }) {
            guard transfer else {
                return .executed(400, Self.error(type: "invalid_request_error", message:
                    "A price (`\(holder.id)`) already uses that lookup key.", param: "lookup_key"))
            }
            state.prices[holder.id]?.lookupKey = nil
        }
        let price = FakeStripeAPI.Price(id: state.nextID("price_"), unitAmount: unitAmount, currency: currency,
                                        recurringInterval: interval, product: productID, lookupKey: lookupKey, active: true,
                                        metadata: metadata, sequence: state.nextSequence())
        state.prices[price.id] = price
        return .executed(200, Self.json(price))
    }

    /// `restrictions[completed_sessions][limit]`: `nil` when absent; rejected unless a whole number of at least 1.
    private static func seatLimit(_ parameters: [(key: String, value: String)]) -> Result<Int?, Rejection> {
        let name = "restrictions[completed_sessions][limit]"
        guard let text = value(name, parameters) else { return .success(nil) }
        guard let limit = Int(text) else {
            return .failure(Rejection(outcome: .rejected(400, error(type: "invalid_request_error", message: "Invalid integer: \(text)", param: name))))
        }
        guard limit >= 1 else {
            return .failure(Rejection(outcome: .rejected(400, error(type: "invalid_request_error", message:
                "This value must be greater than or equal to 1.", param: name))))
        }
        return .success(limit)
    }

    // MARK: Parameters

    private static func value(_ name: String, _ parameters: [(key: String, value: String)]) -> String? {
        parameters.last(where: { $0.key == name })?.value
    }

    private static func unknownParameter(_ parameters: [(key: String, value: String)], allowed: Set<String>) -> Outcome? {
        for (key, _) in parameters {
            let name = String(key.prefix(while: { $0 != "[" }))
            if !allowed.contains(name) {
                return .rejected(400, error(type: "invalid_request_error", message: "Received unknown parameter: \(name)", param: name))
            }
        }
        return nil
    }

    /// Applies `metadata[k]=v` pairs like Stripe: an empty value deletes the key, `metadata=` (empty) clears all.
    /// Returns a rejection when Stripe's limits (50 keys, 40-character keys, 500-character values) are broken.
    private static func applyMetadata(_ parameters: [(key: String, value: String)], to metadata: inout [String: String]) -> Outcome? {
        for (key, value) in parameters {
            if key == "metadata" {
                guard value.isEmpty else {
                    return .rejected(400, error(type: "invalid_request_error", message: "Invalid object", param: "metadata"))
                }
                metadata = [:]
                continue
            }
            guard key.hasPrefix("metadata["), key.hasSuffix("]") else { continue }
            let name = String(key.dropFirst("metadata[".count).dropLast())
            if name.count > 40 {
                return .rejected(400, error(type: "invalid_request_error", message:
                    "Invalid metadata: keys can be a maximum of 40 characters.", param: "metadata[\(name)]"))
            }
            if value.count > 500 {
                return .rejected(400, error(type: "invalid_request_error", message:
                    "Invalid metadata: values can be a maximum of 500 characters.", param: "metadata[\(name)]"))
            }
            metadata[name] = value.isEmpty ? nil : value
        }
        if metadata.count > 50 {
            return .rejected(400, error(type: "invalid_request_error", message:
                "Invalid metadata: metadata can have up to 50 keys, but you passed in \(metadata.count) keys.", param: "metadata"))
        }
        return nil
    }

    // MARK: Objects

    static func error(type: String, message: String, code: String? = nil, param: String? = nil) -> TestJSON {
        var error: [String: TestJSON] = ["type": .string(type), "message": .string(message)]
        if let code { error["code"] = .string(code) }
        if let param { error["param"] = .string(param) }
        return ["error": .object(error)]
    }

    static func json(_ metadata: [String: String]) -> TestJSON { .object(metadata.mapValues(TestJSON.string)) }

    static func json(_ customer: FakeStripeAPI.Customer) -> TestJSON {
        ["id": .string(customer.id), "object": "customer", "address": nil, "balance": 0, "created": TestJSON(customer.created),
         "currency": nil, "default_source": nil, "delinquent": false, "description": nil, "email": TestJSON(customer.email),
         "livemode": false, "metadata": json(customer.metadata), "name": TestJSON(customer.name), "phone": nil,
         "preferred_locales": [], "tax_exempt": "none"]
    }

    static func json(_ product: FakeStripeAPI.Product) -> TestJSON {
        ["id": .string(product.id), "object": "product", "active": .bool(product.active), "created": TestJSON(product.created),
         "default_price": nil, "description": nil, "images": [], "livemode": false, "marketing_features": [],
         "metadata": json(product.metadata), "name": .string(product.name), "package_dimensions": nil, "shippable": nil,
         "statement_descriptor": nil, "tax_code": nil, "type": "service", "unit_label": nil, "updated": TestJSON(product.updated),
         "url": nil]
    }

    static func json(_ price: FakeStripeAPI.Price) -> TestJSON {
        ["id": .string(price.id), "object": "price", "active": .bool(price.active), "billing_scheme": "per_unit",
         "currency": .string(price.currency), "livemode": false, "lookup_key": TestJSON(price.lookupKey),
         "metadata": json(price.metadata), "nickname": nil, "product": .string(price.product),
         "recurring": price.recurringInterval.map { ["interval": .string($0), "interval_count": 1, "usage_type": "licensed"] } ?? nil,
         "tax_behavior": "unspecified", "type": price.recurringInterval == nil ? "one_time" : "recurring",
         "unit_amount": TestJSON(price.unitAmount), "unit_amount_decimal": .string(String(price.unitAmount))]
    }

    static func json(_ link: FakeStripeAPI.PaymentLink, prices: [String: FakeStripeAPI.Price]) -> TestJSON {
        let items: [TestJSON] = link.lineItems.enumerated().map { index, item in
            let price = prices[item.priceID]
            let amount = (price?.unitAmount ?? 0) * item.quantity
            return ["id": .string("li_\(link.id.dropFirst("plink_".count))_\(index)"), "object": "item",
                    "amount_subtotal": TestJSON(amount), "amount_total": TestJSON(amount),
                    "currency": TestJSON(price?.currency), "price": price.map(json) ?? nil, "quantity": TestJSON(item.quantity)]
        }
        let afterCompletion: TestJSON = link.parameters["after_completion[type]"] == "redirect"
            ? ["type": "redirect", "redirect": ["url": TestJSON(link.parameters["after_completion[redirect][url]"])]]
            : ["type": "hosted_confirmation", "hosted_confirmation": ["custom_message": nil]]
        let restrictions: TestJSON = link.seatLimit
            .map { ["completed_sessions": ["count": TestJSON(link.completedSessions), "limit": TestJSON($0)]] } ?? nil
        let recurring = link.lineItems.contains { prices[$0.priceID]?.recurringInterval != nil }
        var subscriptionMetadata: [String: String] = [:]
        for (key, value) in link.parameters where key.hasPrefix("subscription_data[metadata][") && key.hasSuffix("]") {
            subscriptionMetadata[String(key.dropFirst("subscription_data[metadata][".count).dropLast())] = value
        }
        return ["id": .string(link.id), "object": "payment_link", "active": .bool(link.active), "after_completion": afterCompletion,
                "allow_promotion_codes": false, "currency": TestJSON(link.lineItems.first.flatMap { prices[$0.priceID]?.currency }),
                "line_items": ["object": "list", "data": .array(items), "has_more": false, "url": .string("/v1/payment_links/\(link.id)/line_items")],
                "livemode": false, "metadata": json(link.metadata), "restrictions": restrictions,
                "subscription_data": recurring ? ["description": nil, "metadata": json(subscriptionMetadata), "trial_period_days": nil] : nil,
                "url": .string(link.url)]
    }
}
