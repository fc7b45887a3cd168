extension StripeClient {
    /// TEMPORARY until the catalog-sync branch lands: the lead's stand-in with the same signature.
    public func prices(lookupKeys: [String]) throws(ProviderFailure) -> [StripePrice] {
        let query = lookupKeys.map { "lookup_keys%5B%5D=" + FormEncoder.percentEncode($0) }.joined(separator: "&")
        let response = try transport.send(ProviderRequest(method: "GET", path: "/v1/prices?\(query)&limit=100"))
        let json = try ProviderJSON.object(response, provider: transport.provider, request: ProviderRequest(method: "GET", path: "/v1/prices"))
        return ((json["data"] as? [Any]) ?? []).compactMap { ($0 as? [String: Any]).flatMap(StripePrice.init(json:)) }
    }
}
