#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPServer
import HookyardFoundation
import Logging
import Metrics
import Store
import StrictJSON

/// The secrets and options intake needs. An empty secret list means that source is not configured.
public struct IntakeConfiguration: Sendable {
    public var stripeSecrets: [String]
    public var stripeToleranceSeconds: Int64
    public var instantlySecrets: [String]
    public var instantlySecretHeader: String
    /// Where the admin routes (`/metrics`, `/report`) are served (`host:port`), or nil when the admin listener is
    /// off: a request for one of them here is told where to go.
    public var adminListener: String?

    public init(stripeSecrets: [String] = [], stripeToleranceSeconds: Int64 = 300,
                instantlySecrets: [String] = [], instantlySecretHeader: String = "X-Webhook-Secret",
                adminListener: String? = nil) {
        self.stripeSecrets = stripeSecrets
        self.stripeToleranceSeconds = stripeToleranceSeconds
        self.instantlySecrets = instantlySecrets
        self.instantlySecretHeader = instantlySecretHeader
        self.adminListener = adminListener
    }
}

/// Routes webhook deliveries and health checks.
///
/// | route | answer |
/// |---|---|
/// | `POST /webhooks/stripe` | verify `Stripe-Signature`, store, 200 after commit |
/// | `POST /webhooks/instantly[/<secret>]` | check the shared secret, store, 200 after commit |
/// | `GET /healthz` | 200 while the process runs |
/// | `GET /readyz` | 200 if the store takes events, else 503 |
/// | `/metrics`, `/report` | 404 naming the admin listener they are served on |
///
/// A delivery is answered 2xx only after its batch committed; 503 if the store could not commit (the sender
/// retries). With `metrics`, every answer to a `/webhooks/` request is counted by source, type and status and timed
/// (`hookyard_webhooks_received_total`, `hookyard_intake_duration_seconds`), as are signature failures and
/// duplicates; requests that name no known source (an unknown path, a wrong method) are not counted. Thread-safe.
public final class IntakeRouter: HTTPResponder {
    private let stripe: StripeSignatureVerifier?
    private let instantly: InstantlySecretVerifier?
    private let writer: any EventSink
    private let logger: Logger
    private let metrics: HookyardMetrics?
    /// Where `/metrics` and `/report` are served instead, for the 404 that says so.
    private let adminListener: String?
    /// Current time in milliseconds since 1970.
    private let clock: MillisecondClock

    /// Where Instantly deliveries with the secret in a header go (`hookyard instantly register` appends it to a bare origin).
    public static let instantlyPath = "/webhooks/instantly"
    static let instantlyPrefix = instantlyPath + "/"

    public init(configuration: IntakeConfiguration, writer: any EventSink, logger: Logger, metrics: HookyardMetrics? = nil,
                clock: @escaping MillisecondClock = WallClock.system) {
        self.stripe = configuration.stripeSecrets.isEmpty ? nil
            : StripeSignatureVerifier(secrets: configuration.stripeSecrets, toleranceSeconds: configuration.stripeToleranceSeconds)
        self.instantly = configuration.instantlySecrets.isEmpty ? nil
            : InstantlySecretVerifier(secrets: configuration.instantlySecrets, headerName: configuration.instantlySecretHeader)
        self.writer = writer
        self.logger = logger
        self.metrics = metrics
        self.adminListener = configuration.adminListener
        self.clock = clock
    }

    public func respond(to request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        route(request, completion: completion)
    }

    /// Counts and times each answer to a webhook delivery, on the connection's event loop (not on the store's
    /// writer thread, which completes the requests and must stay free for the next commit).
    public func didRespond(to request: HTTPRequest, with response: HTTPResponse, durationNanoseconds: UInt64) {
        guard let metrics, request.path.hasPrefix("/webhooks/") else { return }
        Self.record(response, seconds: Double(durationNanoseconds) / 1e9, metrics: metrics)
    }

    /// Counts connections the public listener closed to make room for new ones.
    public func connectionEvicted() {
        metrics?.connectionsEvicted.increment(labels: ["public"])
    }

    /// Counts and times one answer to a webhook delivery, from the delivery's context (`WebhookDeliveryContext`).
    private static func record(_ response: HTTPResponse, seconds: Double, metrics: HookyardMetrics) {
        guard let delivery = response.context as? WebhookDeliveryContext else { return }
        let source = delivery.source.rawValue
        var type = delivery.type ?? "unknown"
        if type != "unknown", !(delivery.source == .instantly ? InstantlyEvent.knownTypes.contains(type) : isEventTypeName(type)) {
            type = "other"
        }
        metrics.webhooksReceived.increment(labels: [source, type, statusLabel(response.status)])
        metrics.intakeDuration.observe(seconds, labels: [source])
    }

    /// Whether `type` looks like a provider event type (`checkout.session.completed`): keeps a forged or broken
    /// type from adding label values.
    private static func isEventTypeName(_ type: String) -> Bool {
        type.utf8.count <= 64 && type.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
        }
    }

    /// The status as a label value, without building a string for the common ones.
    private static func statusLabel(_ status: Int) -> String {
        switch status {
        case 200: "200"
        case 400: "400"
        case 401: "401"
        case 404: "404"
        case 405: "405"
        case 503: "503"
        default: String(status)
        }
    }

    private func route(_ request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let path = request.path
        switch path {
        case "/webhooks/stripe":
            guard request.method == "POST" else { return completion(Self.methodNotAllowed("POST")) }
            receiveStripe(request, completion: completion)
        case "/webhooks/instantly":
            guard request.method == "POST" else { return completion(Self.methodNotAllowed("POST")) }
            receiveInstantly(request, pathSecret: nil, completion: completion)
        case _ where path.hasPrefix(Self.instantlyPrefix):
            var response: HTTPResponse? = nil
            let segment = path.dropFirst(Self.instantlyPrefix.count)
            if request.method != "POST" {
                response = Self.methodNotAllowed("POST")
            } else if segment.isEmpty || segment.contains("/") {
                response = .error(status: 404, reason: "not_found", message: "no route; use /webhooks/instantly or /webhooks/instantly/<secret>")
            }
            if var response {
                response.logPath = "/webhooks/instantly/[redacted]"
                return completion(response)
            }
            receiveInstantly(request, pathSecret: Self.percentDecoded(segment), completion: completion)
        case "/healthz":
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed("GET, HEAD")) }
            completion(.json(status: 200, "{\"status\":\"ok\"}"))
        case "/readyz":
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed("GET, HEAD")) }
            writer.probe { result in
                switch result {
                case .success:
                    completion(.json(status: 200, "{\"status\":\"ready\"}"))
                case .failure(let error):
                    completion(.json(status: 503, "{\"status\":\"not_ready\",\"reason\":\"store_not_writable\",\"error\":\(JSONText.quote("\(error)"))}"))
                }
            }
        case "/metrics", "/report":
            let message = adminListener.map {
                "\(path) is served on the admin listener, not on this one: http://\($0)\(path) (set by admin_listen or HOOKYARD_ADMIN_LISTEN)"
            } ?? "\(path) is served on the admin listener, which is off (admin_listen: off); set admin_listen or HOOKYARD_ADMIN_LISTEN (default 127.0.0.1:9090) to serve it"
            completion(.error(status: 404, reason: "admin_route", message: message))
        default:
            var response = HTTPResponse.error(status: 404, reason: "not_found", message: "no route for \(path)")
            // A mistyped webhook URL may still end in a secret: keep it out of the log.
            if path.lowercased().hasPrefix("/webhooks/") { response.logPath = "/webhooks/[redacted]" }
            completion(response)
        }
    }

    private static func methodNotAllowed(_ allow: String) -> HTTPResponse {
        var response = HTTPResponse.error(status: 405, reason: "method_not_allowed", message: "method not allowed; use \(allow)")
        response.headers.add(name: "Allow", value: allow)
        return response
    }

    private static func notConfigured(_ source: EventSource, name: String, variable: String) -> HTTPResponse {
        var response = HTTPResponse.error(
            status: 503, reason: "source_not_configured",
            message: "\(name) webhooks are not configured: set \(variable) (or \(variable)_FILE, or the systemd credential \(variable))")
        response.context = WebhookDeliveryContext(source: source)
        return response
    }

    private func receiveStripe(_ request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let stripe else { return completion(Self.notConfigured(.stripe, name: "Stripe", variable: "STRIPE_WEBHOOK_SECRET")) }
        let now = clock()
        if case .failure(let failure) = stripe.verify(header: request.headers["Stripe-Signature"], body: request.body, now: now / 1000) {
            metrics?.signatureFailures.increment(labels: ["stripe", failure.reason])
            var response = HTTPResponse.error(status: 400, reason: failure.reason, message: failure.message)
            response.context = WebhookDeliveryContext(source: .stripe)
            return completion(response)
        }
        let kept = Self.keptHeaders(request, names: ["Stripe-Signature", "Content-Type", "User-Agent"])
        let event: IncomingEvent
        do {
            event = try StripeEvent.normalize(body: request.body, receivedAt: now, headers: kept)
        } catch {
            var response = HTTPResponse.error(status: 400, reason: error.reason, message: error.message)
            response.context = WebhookDeliveryContext(source: .stripe)
            return completion(response)
        }
        store(event, completion: completion)
    }

    private func receiveInstantly(_ request: HTTPRequest, pathSecret: String?, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let logPath = pathSecret == nil ? nil : "/webhooks/instantly/[redacted]"
        func answer(_ response: HTTPResponse) {
            var response = response
            response.logPath = logPath
            response.context = WebhookDeliveryContext(source: .instantly)
            completion(response)
        }
        guard let instantly else {
            var response = Self.notConfigured(.instantly, name: "Instantly", variable: "INSTANTLY_WEBHOOK_SECRET")
            response.logPath = logPath
            return completion(response)
        }
        guard instantly.isAuthentic(authorization: request.headers["Authorization"],
                                    secretHeader: request.headers[instantly.headerName], pathSecret: pathSecret) else {
            let presented = request.headers["Authorization"] != nil || request.headers[instantly.headerName] != nil || pathSecret != nil
            metrics?.signatureFailures.increment(labels: ["instantly", presented ? "wrong_secret" : "missing_secret"])
            return answer(.error(status: 401, reason: presented ? "wrong_secret" : "missing_secret",
                                 message: presented ? "webhook secret does not match INSTANTLY_WEBHOOK_SECRET"
                                     : "no webhook secret: send 'Authorization: Bearer <secret>', '\(instantly.headerName): <secret>' or POST to /webhooks/instantly/<secret>"))
        }
        let event: IncomingEvent
        do {
            event = try InstantlyEvent.normalize(body: request.body, receivedAt: clock(),
                                                 headers: Self.keptHeaders(request, names: ["Content-Type", "User-Agent"]))
        } catch {
            return answer(.error(status: 400, reason: error.reason, message: error.message))
        }
        if !InstantlyEvent.knownTypes.contains(event.type) {
            logger.warning("unknown Instantly event type stored", metadata: ["source": "instantly", "type": "\(event.type)"])
        }
        store(event, logPath: logPath, completion: completion)
    }

    private func store(_ event: IncomingEvent, logPath: String? = nil, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let reference = event.eventID ?? event.dedupKey
        writer.append(event) { [metrics] result in
            var response: HTTPResponse
            var delivery = WebhookDeliveryContext(source: event.source, eventID: reference, type: event.type)
            switch result {
            case .success(let outcome):
                let duplicate = outcome == .duplicate
                if duplicate { metrics?.webhookDuplicates.increment(labels: [event.source.rawValue]) }
                response = .json(status: 200, "{\"received\":true,\"duplicate\":\(duplicate),\"event_id\":\(JSONText.quote(reference))}")
                delivery.duplicate = duplicate
            case .failure:
                response = .error(status: 503, reason: "store_unavailable",
                                  message: "the event could not be stored durably; retry later")
                response.headers.add(name: "Retry-After", value: "5")
            }
            response.logPath = logPath
            response.context = delivery
            completion(response)
        }
    }

    /// The request headers worth keeping with the event; never the Instantly secret or `Authorization`.
    private static func keptHeaders(_ request: HTTPRequest, names: [String]) -> [(name: String, value: String)] {
        names.compactMap { name in request.headers[name].map { (name, $0) } }
    }

    /// A path piece percent-decoded as `PathRedactor` decodes it (`PercentDecoding`).
    static func percentDecoded(_ text: Substring) -> String {
        String(decoding: PercentDecoding.decode(Array(text.utf8)), as: UTF8.self)
    }
}
