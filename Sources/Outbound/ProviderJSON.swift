import Foundation

/// A JSON value to send: encoded with sorted object keys and integral numbers without `.0`, so the same logical
/// request is byte-for-byte the same body every time. Stateless and thread-safe.
enum JSONValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    /// Compact JSON text, object keys sorted.
    var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    var bytes: [UInt8] { Array(text.utf8) }

    private func write(into out: inout String) {
        switch self {
        case .string(let value): Self.quote(value, into: &out)
        case .number(let value): out += Self.format(value)
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                Self.quote(key, into: &out)
                out += ":"
                members[key]!.write(into: &out)
            }
            out += "}"
        }
    }

    /// Integral values within ±2^53 print as integers (`3`, not `3.0`); others use Swift's shortest round-trip form.
    /// NaN and infinities have no JSON form and become `null`.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) <= 9_007_199_254_740_992 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

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
