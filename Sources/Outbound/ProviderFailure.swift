import Foundation

/// What a failed provider call means for its job: the message to record, whether to retry, and how long the
/// provider asked us to wait. One place decides this for both providers.
public struct ProviderFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    /// The HTTP status, if the provider answered.
    public var status: Int?
    public var retryable: Bool
    /// From `Retry-After` (seconds or an HTTP date), in milliseconds.
    public var retryAfterMilliseconds: Int64?

    public var description: String { message }

    public init(message: String, status: Int?, retryable: Bool, retryAfterMilliseconds: Int64?) {
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    /// A transport failure (refused, reset, timeout, TLS): always retryable, with curl's own words.
    public static func transport(_ error: HTTPClientError) -> ProviderFailure {
        ProviderFailure(message: error.description, status: nil, retryable: true, retryAfterMilliseconds: nil)
    }

    /// Classifies a non-2xx answer. Retry: 429, 5xx, 408, Stripe's 409 idempotency conflict and `lock_timeout`.
    /// Do not retry: other 4xx. Stripe's `Stripe-Should-Retry: true|false` overrides both ways.
    /// - Parameter provider: `Stripe` or `Instantly`, for the message.
    public static func classify(_ response: HTTPClientResponse, provider: String, now: Date = Date()) -> ProviderFailure {
        let status = response.status
        var retryable = status == 429 || status == 408 || status >= 500
        var detail = response.bodyText.prefix(300).trimmingCharacters(in: .whitespacesAndNewlines)
        if let stripe = StripeError(response) {
            detail = stripe.description
            if status == 409 || stripe.code == "lock_timeout" { retryable = true }
        } else if let message = instantlyMessage(response.body) {
            detail = message
        }
        switch response.headers["stripe-should-retry"]?.lowercased() {
        case "true": retryable = true
        case "false": retryable = false
        default: break
        }
        return ProviderFailure(message: "\(provider) answered \(status): \(detail)", status: status, retryable: retryable,
                               retryAfterMilliseconds: retryAfter(response.headers["retry-after"], now: now))
    }

    /// The longest `Retry-After` taken as given: a day. A provider's header is outside data; a larger (or infinite)
    /// value is clamped to it rather than converted blindly.
    public static let maximumRetryAfterMilliseconds: Int64 = 86_400_000

    /// `Retry-After` as delay-seconds or an HTTP date, in milliseconds (never negative, at most
    /// `maximumRetryAfterMilliseconds`; NaN is no value).
    public static func retryAfter(_ value: String?, now: Date = Date()) -> Int64? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        func clamped(_ seconds: Double) -> Int64? {
            guard !seconds.isNaN else { return nil }
            let milliseconds = min(max(0, seconds * 1000), Double(maximumRetryAfterMilliseconds))
            return Int64(milliseconds)
        }
        if let seconds = Double(value) { return clamped(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return clamped(date.timeIntervalSince(now))
    }

    /// Instantly's `{"statusCode", "error", "message"}` or `{"error": "..."}`.
    private static func instantlyMessage(_ body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        if let message = object["message"] as? String { return message }
        return object["error"] as? String
    }
}

/// A Stripe API error: `{"error": {"type", "code", "message", "param"}}` plus the `Request-Id` header.
public struct StripeError: Equatable, Sendable, CustomStringConvertible {
    public var type: String
    public var code: String?
    public var message: String?
    public var param: String?
    public var requestID: String?

    /// Parses a response body; `nil` if it is not a Stripe error object.
    public init?(_ response: HTTPClientResponse) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let error = object["error"] as? [String: Any], let type = error["type"] as? String else { return nil }
        self.type = type
        code = error["code"] as? String
        message = error["message"] as? String
        param = error["param"] as? String
        requestID = response.headers["request-id"]
    }

    /// `invalid_request_error (resource_missing): No such price: 'price_x' [param price] (request req_123)`.
    public var description: String {
        var text = type
        if let code { text += " (\(code))" }
        if let message { text += ": \(message)" }
        if let param { text += " [param \(param)]" }
        if let requestID { text += " (request \(requestID))" }
        return text
    }
}
