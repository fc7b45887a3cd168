/// Sends provider requests. Returns only 2xx responses; any other status is thrown as
/// `ProviderFailure.classify(_:provider:)`, transport errors as `ProviderFailure.transport(_:)`.
///
/// Implementations are thread-safe: one transport is shared by every worker calling that provider.
public protocol ProviderTransport: Sendable {
    /// `Stripe` or `Instantly`: names the provider in failure messages.
    var provider: String { get }

    /// Scheme and host the requests go to (`https://api.stripe.com`), for describing them; empty when unknown.
    var baseURL: String { get }

    /// Sends one request and waits for its answer.
    /// - Throws: `ProviderFailure` for non-2xx answers and transport failures.
    func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse
}

extension ProviderTransport {
    public var baseURL: String { "" }
}
