import StrictJSON
/// The Instantly API v2 calls Hookyard makes, built on a `ProviderTransport` (live, dry-run or recording).
///
/// Bodies are JSON with sorted keys, so the same logical request is byte-for-byte the same. Instantly has no
/// idempotency keys: callers check state before each write (find before create). A 2xx answer that is not the
/// expected object throws a non-retryable `ProviderFailure` naming the endpoint. Thread-safe if its transport is
/// (all are).
public struct InstantlyClient: Sendable {
    private let transport: any ProviderTransport

    public init(transport: any ProviderTransport) {
        self.transport = transport
    }

    /// `POST /api/v2/leads/list` with `{"campaign": campaign, "contacts": [email], "limit": 1}`: the first lead whose
    /// email equals `email` case-insensitively, or `nil`.
    /// - Parameter campaign: the campaign id, or `nil` for the whole workspace (the key is then omitted).
    public func findLead(email: String, campaign: String?) throws(ProviderFailure) -> InstantlyLead? {
        var query: [String: JSONValue] = ["contacts": .array([.string(email)]), "limit": .number(1)]
        if let campaign { query["campaign"] = .string(campaign) }
        let request = Self.json("POST", "/api/v2/leads/list", query)
        let (response, json) = try send(request)
        guard let items = json["items"] as? [Any] else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without an items list")
        }
        let wanted = email.lowercased()
        for item in items {
            guard let object = item as? [String: Any], let lead = InstantlyLead(json: object, fallbackEmail: "") else {
                throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "with a lead without an id")
            }
            if lead.email.lowercased() == wanted { return lead }
        }
        return nil
    }

    /// `POST /api/v2/leads` with `campaign`, `email`, the names that are non-nil, `custom_variables` (if any) and
    /// `skip_if_in_campaign: true`, so a lead already in the campaign is not added twice.
    public func createLead(campaign: String, email: String, firstName: String?, lastName: String?, companyName: String?,
                           variables: [String: InstantlyValue]) throws(ProviderFailure) -> InstantlyLead {
        var lead: [String: JSONValue] = ["campaign": .string(campaign), "email": .string(email), "skip_if_in_campaign": .bool(true)]
        if let firstName { lead["first_name"] = .string(firstName) }
        if let lastName { lead["last_name"] = .string(lastName) }
        if let companyName { lead["company_name"] = .string(companyName) }
        if !variables.isEmpty { lead["custom_variables"] = .object(variables.mapValues(\.json)) }
        return try self.lead(Self.json("POST", "/api/v2/leads", lead), fallbackEmail: email)
    }

    /// `PATCH /api/v2/leads/{id}` with `{"custom_variables": variables}`.
    /// - Important: Instantly replaces the whole `custom_variables` object, so pass the complete set (read the lead,
    ///   merge, write back), not only the changed keys.
    public func replaceLeadVariables(id: String, variables: [String: InstantlyValue]) throws(ProviderFailure) -> InstantlyLead {
        let request = Self.json("PATCH", "/api/v2/leads/\(FormEncoder.percentEncode(id))",
                                ["custom_variables": .object(variables.mapValues(\.json))])
        return try lead(request, fallbackEmail: "")
    }

    /// `POST /api/v2/leads/move` with `{"campaign": fromCampaign, "ids": [id], "to_campaign_id": toCampaign}` (selecting
    /// by `ids` needs the source campaign). The move runs in the background: poll `backgroundJob(id:)`.
    public func moveLead(id: String, fromCampaign: String, toCampaign: String) throws(ProviderFailure) -> InstantlyBackgroundJob {
        try backgroundJob(Self.json("POST", "/api/v2/leads/move",
                                    ["ids": .array([.string(id)]), "campaign": .string(fromCampaign), "to_campaign_id": .string(toCampaign)]))
    }

    /// `GET /api/v2/background-jobs/{id}`.
    public func backgroundJob(id: String) throws(ProviderFailure) -> InstantlyBackgroundJob {
        try backgroundJob(ProviderRequest(method: "GET", path: "/api/v2/background-jobs/\(FormEncoder.percentEncode(id))"))
    }

    /// `POST /api/v2/leads/update-interest-status` with `{"campaign_id", "interest_value", "lead_email"}`. Instantly
    /// answers 202 and applies it in the background; a status other than the default stops the lead's sequence, and
    /// the change may fire webhooks back at Hookyard.
    /// - Parameter value: 1 interested, 2 meeting booked, 3 meeting completed, 4 won, 0 out of office,
    ///   -1 not interested, -2 wrong person, -3 lost, -4 no show.
    public func updateInterestStatus(email: String, campaign: String, value: Int) throws(ProviderFailure) {
        _ = try transport.send(Self.json("POST", "/api/v2/leads/update-interest-status",
                                         ["lead_email": .string(email), "interest_value": .number(Double(value)), "campaign_id": .string(campaign)]))
    }

    /// `DELETE /api/v2/leads/{id}`, without a body (Instantly answers 400 to `Content-Type: application/json` with an
    /// empty body). Answers the deleted lead; an unknown id is a 404 `ProviderFailure`.
    public func deleteLead(id: String) throws(ProviderFailure) -> InstantlyLead {
        try lead(ProviderRequest(method: "DELETE", path: "/api/v2/leads/\(FormEncoder.percentEncode(id))"), fallbackEmail: "")
    }

    /// `GET /api/v2/campaigns/{id}`.
    public func campaign(id: String) throws(ProviderFailure) -> InstantlyCampaign {
        try campaign(ProviderRequest(method: "GET", path: "/api/v2/campaigns/\(FormEncoder.percentEncode(id))"))
    }

    /// `POST /api/v2/campaigns/{id}/pause` (no body): the campaign stops sending. Answers the campaign.
    public func pauseCampaign(id: String) throws(ProviderFailure) -> InstantlyCampaign {
        try campaign(ProviderRequest(method: "POST", path: "/api/v2/campaigns/\(FormEncoder.percentEncode(id))/pause"))
    }

    /// `POST /api/v2/campaigns/{id}/activate` (no body): starts or resumes the campaign. Answers the campaign.
    public func activateCampaign(id: String) throws(ProviderFailure) -> InstantlyCampaign {
        try campaign(ProviderRequest(method: "POST", path: "/api/v2/campaigns/\(FormEncoder.percentEncode(id))/activate"))
    }

    // MARK: Webhooks

    /// `GET /api/v2/webhooks?limit=&starting_after=`: one page of the workspace's webhooks.
    /// - Parameter limit: 1...100 (the API's bounds).
    public func webhooksPage(limit: Int = 100, startingAfter: String? = nil) throws(ProviderFailure) -> InstantlyPage<InstantlyWebhook> {
        let request = ProviderRequest(method: "GET", path: "/api/v2/webhooks" + Self.query(["limit": String(limit), "starting_after": startingAfter]))
        return try page(request, what: "webhook without an id or target_hook_url", InstantlyWebhook.init(json:))
    }

    /// Every webhook of the workspace, page after page (100 a page, at most 100 pages).
    public func webhooks() throws(ProviderFailure) -> [InstantlyWebhook] {
        try Self.collect(maxPages: 100) { (cursor: String?) throws(ProviderFailure) in try webhooksPage(startingAfter: cursor) }.items
    }

    /// `POST /api/v2/webhooks` with the fields that are set (`campaign` `nil`: every campaign of the workspace,
    /// sent as `null`). Instantly checks nothing for duplicates: list first. Webhooks need a paid plan (402 otherwise).
    public func createWebhook(_ fields: InstantlyWebhookFields) throws(ProviderFailure) -> InstantlyWebhook {
        var body = fields.json()
        if body["campaign"] == nil { body["campaign"] = .null }
        return try webhook(Self.json("POST", "/api/v2/webhooks", body))
    }

    /// `PATCH /api/v2/webhooks/{id}` with the fields that are set (at least one: the API requires it).
    public func updateWebhook(id: String, _ fields: InstantlyWebhookFields) throws(ProviderFailure) -> InstantlyWebhook {
        try webhook(Self.json("PATCH", "/api/v2/webhooks/\(FormEncoder.percentEncode(id))", fields.json()))
    }

    /// `POST /api/v2/webhooks/{id}/resume` (no body): turns on a webhook Instantly disabled after failed deliveries.
    /// Answers the webhook.
    public func resumeWebhook(id: String) throws(ProviderFailure) -> InstantlyWebhook {
        try webhook(ProviderRequest(method: "POST", path: "/api/v2/webhooks/\(FormEncoder.percentEncode(id))/resume"))
    }

    /// `GET /api/v2/webhook-events` with `query`'s filters: one page of Instantly's delivery log.
    /// - Parameter limit: 1...100 (the API's bounds).
    public func webhookDeliveriesPage(_ query: InstantlyDeliveryQuery, limit: Int = 100,
                                      startingAfter: String? = nil) throws(ProviderFailure) -> InstantlyPage<InstantlyWebhookDelivery> {
        let parameters: [String: String?] = ["limit": String(limit), "starting_after": startingAfter, "search": query.search,
                                             "success": query.success.map { $0 ? "true" : "false" }, "from": query.from, "to": query.to]
        let request = ProviderRequest(method: "GET", path: "/api/v2/webhook-events" + Self.query(parameters))
        return try page(request, what: "webhook event without an id, timestamp_created or success", InstantlyWebhookDelivery.init(json:))
    }

    /// The delivery log matching `query`, page after page, up to `maxPages` pages of 100.
    /// - Returns: the deliveries in the API's order, and whether they are all (`false` when `maxPages` ran out first).
    public func webhookDeliveries(_ query: InstantlyDeliveryQuery,
                                  maxPages: Int) throws(ProviderFailure) -> (deliveries: [InstantlyWebhookDelivery], complete: Bool) {
        let collected = try Self.collect(maxPages: maxPages) { (cursor: String?) throws(ProviderFailure) in
            try webhookDeliveriesPage(query, startingAfter: cursor)
        }
        return (collected.items, collected.complete)
    }

    private func webhook(_ request: ProviderRequest) throws(ProviderFailure) -> InstantlyWebhook {
        let (response, json) = try send(request)
        guard let webhook = InstantlyWebhook(json: json) else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without a webhook id and target_hook_url")
        }
        return webhook
    }

    /// Reads `{"items": [...], "next_starting_after": ...}`.
    private func page<Item>(_ request: ProviderRequest, what: String,
                            _ parse: ([String: Any]) -> Item?) throws(ProviderFailure) -> InstantlyPage<Item> {
        let (response, json) = try send(request)
        guard let items = json["items"] as? [Any] else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without an items list")
        }
        var parsed: [Item] = []
        for item in items {
            guard let object = item as? [String: Any], let value = parse(object) else {
                throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "with a \(what)")
            }
            parsed.append(value)
        }
        return InstantlyPage(items: parsed, nextStartingAfter: ProviderJSON.string(json["next_starting_after"]))
    }

    /// Follows `next_starting_after` until a page has no cursor or no items, the cursor repeats, or `maxPages` pages
    /// were read. - Returns: the items, and whether the list ended (`false`: `maxPages` ran out first).
    private static func collect<Item>(maxPages: Int, _ fetch: (String?) throws(ProviderFailure) -> InstantlyPage<Item>)
        throws(ProviderFailure) -> (items: [Item], complete: Bool) {
        var items: [Item] = []
        var cursor: String?
        for _ in 0..<max(1, maxPages) {
            let page = try fetch(cursor)
            items += page.items
            guard let next = page.nextStartingAfter, !page.items.isEmpty, next != cursor else { return (items, true) }
            cursor = next
        }
        return (items, false)
    }

    /// `?name=value&...` of the non-`nil` parameters in name order, percent-encoded; empty without any.
    private static func query(_ parameters: [String: String?]) -> String {
        let pairs = parameters.keys.sorted().compactMap { name in
            parameters[name].flatMap { $0 }.map { "\(name)=\(FormEncoder.percentEncode($0))" }
        }
        return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
    }

    private func campaign(_ request: ProviderRequest) throws(ProviderFailure) -> InstantlyCampaign {
        let (response, json) = try send(request)
        guard let campaign = InstantlyCampaign(json: json) else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without a campaign id and status")
        }
        return campaign
    }

    private func lead(_ request: ProviderRequest, fallbackEmail: String) throws(ProviderFailure) -> InstantlyLead {
        let (response, json) = try send(request)
        guard let lead = InstantlyLead(json: json, fallbackEmail: fallbackEmail) else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without a lead id")
        }
        return lead
    }

    private func backgroundJob(_ request: ProviderRequest) throws(ProviderFailure) -> InstantlyBackgroundJob {
        let (response, json) = try send(request)
        guard let job = InstantlyBackgroundJob(json: json) else {
            throw ProviderJSON.unexpected(response, provider: transport.provider, request: request, "without a background job id and status")
        }
        return job
    }

    private func send(_ request: ProviderRequest) throws(ProviderFailure) -> (HTTPClientResponse, [String: Any]) {
        let response = try transport.send(request)
        return (response, try ProviderJSON.object(response, provider: transport.provider, request: request))
    }

    private static func json(_ method: String, _ path: String, _ body: [String: JSONValue]) -> ProviderRequest {
        ProviderRequest(method: method, path: path, contentType: "application/json", body: JSONValue.object(body).bytes)
    }
}
