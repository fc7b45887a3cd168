import Foundation

/// Reads provider response bodies (Foundation `JSONSerialization`) and turns a 2xx answer that is not the expected
/// object into a non-retryable `ProviderFailure` naming the provider and endpoint. Stateless and thread-safe.
enum ProviderJSON {
    /// The response body as a JSON object.
    /// - Throws: a non-retryable `ProviderFailure` if it is not one.
    static func object(_ response: HTTPClientResponse, provider: String, request: ProviderRequest) throws(ProviderFailure) -> [String: Any] {
        guard let object = jsonObject(response.body) else {
            let excerpt = response.bodyText.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines)
            throw unexpected(response, provider: provider, request: request,
                             "with a body that is not a JSON object: \(excerpt.isEmpty ? "(empty)" : excerpt)")
        }
        return object
    }

    /// The bytes as a JSON object, or `nil`.
    static func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    }

    /// `<provider> answered <status> to <method> <endpoint> <problem>`: not retryable (retrying cannot change what a
    /// successful answer looked like, and the write it answered may already have happened).
    static func unexpected(_ response: HTTPClientResponse, provider: String, request: ProviderRequest, _ problem: String) -> ProviderFailure {
        ProviderFailure(message: "\(provider) answered \(response.status) to \(request.method) \(request.endpoint) \(problem)",
                        status: response.status, retryable: false, retryAfterMilliseconds: nil)
    }

    /// A non-empty string member.
    static func string(_ value: Any?) -> String? {
        guard let text = value as? String, !text.isEmpty else { return nil }
        return text
    }

    /// A number that is not a boolean, if it is integral.
    static func int(_ value: Any?) -> Int? {
        guard let number = number(value) else { return nil }
        return Int(exactly: number)
    }

    /// A number that is not a boolean.
    static func number(_ value: Any?) -> Double? {
        guard let number = value as? NSNumber, !isBool(number) else { return nil }
        return number.doubleValue
    }

    /// A JSON `true` or `false` (never a number).
    static func bool(_ value: Any?) -> Bool? {
        guard let number = value as? NSNumber, isBool(number) else { return nil }
        return number.boolValue
    }

    /// A string member, or the `id` of an expanded object in its place (Stripe's `expand[]`).
    static func idOrExpanded(_ value: Any?) -> String? {
        if let text = string(value) { return text }
        return string((value as? [String: Any])?["id"])
    }

    /// The string members of an object (Stripe `metadata`); other members are skipped.
    static func stringMap(_ value: Any?) -> [String: String] {
        guard let object = value as? [String: Any] else { return [:] }
        var map: [String: String] = [:]
        for (key, member) in object { if let text = member as? String { map[key] = text } }
        return map
    }

    /// `JSONSerialization` returns booleans as `NSNumber`s whose Objective-C type is `c` (char), on Linux and macOS.
    private static func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }
}
