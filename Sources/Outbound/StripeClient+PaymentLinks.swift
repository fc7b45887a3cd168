extension StripeClient {
    /// `GET /v1/payment_links?active=true&limit=100`, following `starting_after` through every page: the active
    /// payment links of the account, newest first. The list endpoint reads its own writes (unlike search).
    /// - Parameter maxPages: a bound on pages read (100 links each), so a runaway account cannot stall a worker.
    public func activePaymentLinks(maxPages: Int = 100) throws(ProviderFailure) -> [StripePaymentLink] {
        var links: [StripePaymentLink] = []
        var after: String?
        for _ in 0..<maxPages {
            let cursor = after.map { "&starting_after=\(FormEncoder.percentEncode($0))" } ?? ""
            let request = ProviderRequest(method: "GET", path: "/v1/payment_links?active=true&limit=100\(cursor)")
            let response = try transport.send(request)
            let json = try ProviderJSON.object(response, provider: transport.provider, request: request)
            guard let data = json["data"] as? [Any] else {
                throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without a data list")
            }
            let page = data.compactMap { ($0 as? [String: Any]).flatMap(StripePaymentLink.init(json:)) }
            links += page
            guard ProviderJSON.bool(json["has_more"]) == true, let last = page.last else { return links }
            after = last.id
        }
        return links
    }
}
