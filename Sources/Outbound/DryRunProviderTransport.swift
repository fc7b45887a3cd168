import Foundation
import StrictJSON
import Synchronization

/// A transport for dry runs: sends nothing, records every request, and answers 200 with a synthesized JSON body so
/// the calling code runs its normal path:
///
/// - `GET /v1/customers?...`, `GET /v1/prices?...`, `GET /v1/products?...` and `GET /v1/payment_links?...` (lists):
///   `{"data":[],"has_more":false,"object":"list"}`: the account is taken to be empty, so find-or-create goes on to
///   create, and `hookyard catalog sync --dry-run` without an API key plans to create the whole catalog.
/// - `GET /v1/customers/search?...`: an empty `search_result`, likewise.
/// - Except, unless made with `catalogPrices: false`, `GET /v1/prices?lookup_keys[]=…`: one active price per lookup
///   key asked for (`dry_run_price_<12 hex>`, with that `lookup_key`), as if `hookyard catalog sync` had run, so a
///   payment link for a catalog tier (`tier:`) shows the request it would send.
/// - `POST /api/v2/leads/list`: one lead with the asked email (`contacts[0]`) in the asked campaign, `payload` `{}`,
///   `status` 1, and id `dry-run-lead-<12 hex>` derived from email and campaign: the lead is assumed to exist.
/// - `GET /api/v2/background-jobs/{id}`: `{"id":<id>,"status":"success","type":"move-leads"}`.
/// - `POST /api/v2/leads/update-interest-status`: `{"message":"dry run"}`.
/// - `GET /api/v2/campaigns/{id}`: `{"id":<id>,"name":"dry run","status":0}` (a draft: neither active nor paused, so
///   both pausing and resuming go on to show the request they would send).
/// - `POST /api/v2/campaigns/{id}/pause` and `/activate`: the campaign with status 2 (paused) or 1 (active).
/// - Any other `POST` or `PATCH`: `{"id":"dry_run_<12 hex>","metadata":{...},"object":"dry_run","status":"pending",
///   "url":"https://dry-run.invalid/<id>"}`, the id derived from method, path and body, `metadata` copied from
///   form fields `metadata[k]=v`, and `active` from a form field `active=true|false`. An update of a named object (any `PATCH`, or a `POST` to `/v1/<resource>/<id>`)
///   answers with that object's id instead, as the real API would.
/// - Any other `GET .../{id}`: `{"id":<last path component>,"metadata":{},"object":"dry_run","url":"https://dry-run.invalid/<id>"}`.
///
/// Deterministic: no randomness and no clock, so re-running a dry-run job gives identical output. Thread-safe.
public final class DryRunProviderTransport: ProviderTransport {
    public let provider: String
    /// Where the requests would have gone (the configured API base), for the job's record of them.
    public let baseURL: String
    private let recorded = Mutex<[ProviderRequest]>([])
    private let catalogPrices: Bool

    /// - Parameters:
    ///   - baseURL: the API base a live transport would use (`https://api.stripe.com`), recorded with each request.
    ///   - catalogPrices: whether prices asked for by lookup key exist (see above).
    public init(provider: String, baseURL: String = "", catalogPrices: Bool = true) {
        self.provider = provider
        self.baseURL = baseURL
        self.catalogPrices = catalogPrices
    }

    /// Every request sent so far, in the order `send` was called.
    public var requests: [ProviderRequest] { recorded.withLock { $0 } }

    /// Records the request and answers it; never throws.
    public func send(_ request: ProviderRequest) throws(ProviderFailure) -> HTTPClientResponse {
        recorded.withLock { $0.append(request) }
        let answer = catalogPrices ? Self.catalogPrices(request) ?? Self.answer(request) : Self.answer(request)
        return HTTPClientResponse(status: 200, headers: ["content-type": "application/json"], body: answer.bytes)
    }

    /// The made-up prices for `GET /v1/prices?lookup_keys[]=…`, or `nil` for any other request.
    static func catalogPrices(_ request: ProviderRequest) -> JSONValue? {
        guard request.method == "GET", request.endpoint == "/v1/prices", let query = request.path.split(separator: "?", maxSplits: 1).last,
              request.path.contains("?") else { return nil }
        let keys = query.split(separator: "&").compactMap { pair -> String? in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return parts.count == 2 && parts[0] == "lookup_keys[]" ? parts[1] : nil
        }
        guard !keys.isEmpty else { return nil }
        let prices = keys.map { key in
            JSONValue.object(["id": .string("dry_run_price_" + fingerprint("price\n\(key)")), "object": .string("price"), "active": .bool(true),
                              "lookup_key": .string(key), "metadata": .object([:])])
        }
        return .object(["object": .string("list"), "data": .array(prices), "has_more": .bool(false)])
    }

    static func answer(_ request: ProviderRequest) -> JSONValue {
        let path = request.endpoint
        let lastComponent = String(path.split(separator: "/").last ?? "")
        switch (request.method, path) {
        case ("GET", "/v1/customers"), ("GET", "/v1/prices"), ("GET", "/v1/products"), ("GET", "/v1/payment_links"):
            return .object(["object": .string("list"), "data": .array([]), "has_more": .bool(false)])
        case ("GET", "/v1/customers/search"):
            return .object(["object": .string("search_result"), "data": .array([]), "has_more": .bool(false), "next_page": .null])
        case ("POST", "/api/v2/leads/list"):
            let query = ProviderJSON.jsonObject(request.body)
            let email = (query?["contacts"] as? [Any])?.first as? String ?? ""
            let campaign = query?["campaign"] as? String
            let id = "dry-run-lead-" + fingerprint("\(email)\n\(campaign ?? "")")
            let lead: JSONValue = .object(["id": .string(id), "email": .string(email), "campaign": campaign.map(JSONValue.string) ?? .null,
                                           "payload": .object([:]), "status": .number(1)])
            return .object(["items": .array([lead])])
        case ("GET", _) where path.hasPrefix("/api/v2/background-jobs/"):
            return .object(["id": .string(lastComponent), "status": .string("success"), "type": .string("move-leads")])
        case ("POST", "/api/v2/leads/update-interest-status"):
            return .object(["message": .string("dry run")])
        case ("GET", _) where path.hasPrefix("/api/v2/campaigns/"):
            return .object(["id": .string(lastComponent), "name": .string("dry run"), "status": .integer(0)])
        case ("POST", _) where path.hasPrefix("/api/v2/campaigns/") && (lastComponent == "pause" || lastComponent == "activate"):
            let components = path.split(separator: "/")
            return .object(["id": .string(String(components[components.count - 2])), "name": .string("dry run"),
                            "status": .integer(lastComponent == "pause" ? 2 : 1)])
        case ("POST", _), ("PATCH", _):
            let id = isUpdate(request.method, path) ? lastComponent
                : "dry_run_" + fingerprint("\(request.method)\n\(request.path)\n\(request.bodyText)")
            var object: [String: JSONValue] = [
                "id": .string(id), "object": .string("dry_run"), "url": .string("https://dry-run.invalid/\(id)"),
                "status": .string("pending"), "metadata": .object(formMetadata(request).mapValues(JSONValue.string)),
            ]
            if let active = formField("active", request) { object["active"] = .bool(active == "true") }
            return .object(object)
        default:
            return .object(["id": .string(lastComponent), "object": .string("dry_run"), "metadata": .object([:]),
                            "url": .string("https://dry-run.invalid/\(lastComponent)")])
        }
    }

    /// Whether the request updates an object it names: any `PATCH` (`/api/v2/leads/{id}`), or a `POST` to
    /// `/v1/<resource>/<id>` whose id has Stripe's `prefix_` form (`/v1/customers/cus_123`; not `/v1/checkout/sessions`).
    private static func isUpdate(_ method: String, _ path: String) -> Bool {
        if method == "PATCH" { return true }
        let components = path.split(separator: "/")
        return components.count == 3 && components[0] == "v1" && components[2].contains("_")
    }

    /// The value of the top-level form field `name` (`active=false`), or `nil`.
    private static func formField(_ name: String, _ request: ProviderRequest) -> String? {
        guard request.contentType == "application/x-www-form-urlencoded" else { return nil }
        for pair in request.bodyText.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0] == name { return String(parts[1]).removingPercentEncoding }
        }
        return nil
    }

    /// `metadata[k]=v` fields of a form-encoded body.
    private static func formMetadata(_ request: ProviderRequest) -> [String: String] {
        guard request.contentType == "application/x-www-form-urlencoded" else { return [:] }
        var metadata: [String: String] = [:]
        for pair in request.bodyText.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = String(parts[0]).removingPercentEncoding, key.hasPrefix("metadata["), key.hasSuffix("]") else { continue }
            let name = key.dropFirst("metadata[".count).dropLast()
            guard !name.contains("[") else { continue }
            metadata[String(name)] = parts.count > 1 ? String(parts[1]).removingPercentEncoding ?? "" : ""
        }
        return metadata
    }

    /// 12 hex digits of the 64-bit FNV-1a hash of `text`: stable across runs, processes and machines
    /// (unlike `Hasher`, which is seeded per process).
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String((String(repeating: "0", count: 16 - hex.count) + hex).prefix(12))
    }
}
