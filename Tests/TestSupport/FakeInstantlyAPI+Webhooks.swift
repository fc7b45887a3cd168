import Foundation
import HTTPServer

/// The fake Instantly API's webhooks and delivery log, built from `instantly-openapi-v2-extract.json`:
///
/// - `GET /api/v2/webhooks` lists them in creation order (ids increase with it), filtered by `campaign` and
///   `event_type`; `limit` 1...100 (default 100), cursor `starting_after`; `next_starting_after` is the last id when
///   more remain, otherwise absent.
/// - `POST /api/v2/webhooks` creates one (status 1). The body may hold only `campaign` (UUID or null), `name`,
///   `target_hook_url` (required, `http(s)://`), `event_type` (the extract's enum, or null), `custom_interest_value`
///   and `headers` (an object of strings, or null); anything else is 400 with Fastify's message.
/// - `GET`, `PATCH` (at least one member, same rules) and `DELETE /api/v2/webhooks/{id}`; unknown id: 404.
/// - `POST /api/v2/webhooks/{id}/resume` (no body) sets status 1 and clears `timestamp_error`.
/// - `GET /api/v2/webhook-events`: the delivery log, newest first, filtered by `success` (`true`/`false`), `from` and
///   `to` (inclusive UTC days, `YYYY-MM-DD`), `search` (exact `webhook_url` or `lead_email`); paged like webhooks.
///
/// Tests disable a webhook as Instantly would (`disableWebhook`) and add log entries (`addDelivery`).
extension FakeInstantlyAPI {
    /// A webhook as stored.
    public struct Webhook: Sendable, Equatable {
        public var id: String
        public var name: String?
        public var targetURL: String
        public var eventType: String?
        public var campaign: String?
        public var headers: [String: String]?
        /// 1 active, -1 disabled after failed deliveries.
        public var status: Int
        public var created: Date
        /// When it was disabled; `nil` while active.
        public var disabledAt: Date?
    }

    /// One delivery attempt in the log.
    public struct Delivery: Sendable, Equatable {
        public var id: String
        public var created: Date
        public var success: Bool
        public var webhookURL: String
        public var statusCode: Int?
        public var errorMessage: String?
        public var retryCount: Int
        public var willRetry: Bool
        public var leadEmail: String?
    }

    /// Adds a webhook directly, as if made in Instantly's app, and returns its id.
    @discardableResult
    public func addWebhook(targetURL: String, name: String? = nil, eventType: String? = "all_events", campaign: String? = nil,
                           headers: [String: String]? = nil, status: Int = 1) -> String {
        backend.state.withLock { state in
            let webhook = Webhook(id: state.nextWebhookID(), name: name, targetURL: targetURL, eventType: eventType, campaign: campaign,
                                  headers: headers, status: status, created: Date(), disabledAt: status == -1 ? Date() : nil)
            state.webhooks.append(webhook)
            return webhook.id
        }
    }

    /// Every webhook, in creation order.
    public var webhooks: [Webhook] { backend.state.withLock { $0.webhooks } }

    /// The webhook with this id.
    public func webhook(id: String) -> Webhook? { backend.state.withLock { $0.webhooks.first { $0.id == id } } }

    /// Disables a webhook as Instantly does after repeated failed deliveries: status -1, `timestamp_error` set.
    public func disableWebhook(id: String, at time: Date = Date()) {
        backend.state.withLock { state in
            guard let index = state.webhooks.firstIndex(where: { $0.id == id }) else { return }
            state.webhooks[index].status = -1
            state.webhooks[index].disabledAt = time
        }
    }

    /// Adds a delivery attempt to the log and returns its id.
    @discardableResult
    public func addDelivery(webhookURL: String, success: Bool, statusCode: Int?, errorMessage: String? = nil, at time: Date,
                            retryCount: Int = 0, willRetry: Bool = false, leadEmail: String? = nil) -> String {
        backend.state.withLock { state in
            let delivery = Delivery(id: state.nextWebhookID(), created: time, success: success, webhookURL: webhookURL,
                                    statusCode: statusCode, errorMessage: errorMessage, retryCount: retryCount, willRetry: willRetry,
                                    leadEmail: leadEmail)
            state.deliveries.append(delivery)
            return delivery.id
        }
    }

    /// Every delivery attempt, in the order added.
    public var deliveries: [Delivery] { backend.state.withLock { $0.deliveries } }
}

extension FakeInstantlyBackend.State {
    /// UUID-formatted, increasing with creation order; webhooks and deliveries share the sequence.
    mutating func nextWebhookID() -> String {
        webhookSerial += 1
        return "0198f3a3-0b0c-7000-8000-" + FakeInstantlyBackend.hex(webhookSerial, width: 12)
    }
}

extension FakeInstantlyBackend {
    typealias Webhook = FakeInstantlyAPI.Webhook
    typealias Query = [(key: String, value: String)]

    private static let eventTypes: Set<String> = [
        "all_events", "email_sent", "email_opened", "email_link_clicked", "reply_received", "email_bounced", "lead_unsubscribed",
        "campaign_completed", "account_error", "lead_neutral", "lead_interested", "lead_not_interested", "lead_meeting_booked",
        "lead_meeting_completed", "lead_closed", "lead_out_of_office", "lead_wrong_person", "lead_no_show",
        "supersearch_enrichment_completed",
    ]

    /// Routes `/api/v2/webhooks...` and `/api/v2/webhook-events...` (`route` is the path after `/api/v2`).
    func handleWebhooks(_ request: HTTPRequest, route: [String]) -> HTTPResponse {
        let query = request.target.firstIndex(of: "?").map { FakeStripeAPI.decodeForm(String(request.target[request.target.index(after: $0)...])) } ?? []
        switch (request.method, route.count, route[0]) {
        case ("GET", 1, "webhooks"):
            return state.withLock { listWebhooks($0, query) }
        case ("POST", 1, "webhooks"):
            return withBody(request) { state, body in createWebhook(&state, body) }
        case ("GET", 1, "webhook-events"):
            return state.withLock { listDeliveries($0, query) }
        case (_, 2, "webhooks"), (_, 3, "webhooks"):
            guard Self.isUUID(route[1]) else { return Self.answer(400, Self.error(400, "params/id must match format \"uuid\"")) }
            let id = route[1]
            switch request.method {
            case "GET" where route.count == 2:
                return state.withLock { state in webhook(id, &state) { _ in } }
            case "PATCH" where route.count == 2:
                return withBody(request) { state, body in updateWebhook(id, &state, body) }
            case "DELETE" where route.count == 2:
                if let rejection = Self.emptyJSONBody(request) { return rejection }
                return state.withLock { state in
                    guard let index = state.webhooks.firstIndex(where: { $0.id == id }) else { return Self.webhookNotFound }
                    return Self.answer(200, Self.json(state.webhooks.remove(at: index)))
                }
            case "POST" where route[2] == "resume":
                if let rejection = Self.emptyJSONBody(request) { return rejection }
                return state.withLock { state in
                    webhook(id, &state) { webhook in
                        webhook.status = 1
                        webhook.disabledAt = nil
                    }
                }
            default:
                return notFound(request)
            }
        default:
            return notFound(request)
        }
    }

    private static var webhookNotFound: HTTPResponse { answer(404, error(404, "Webhook not found")) }

    /// Applies `change` to the webhook and answers it; 404 when unknown.
    private func webhook(_ id: String, _ state: inout State, _ change: (inout Webhook) -> Void) -> HTTPResponse {
        guard let index = state.webhooks.firstIndex(where: { $0.id == id }) else { return Self.webhookNotFound }
        change(&state.webhooks[index])
        return Self.answer(200, Self.json(state.webhooks[index]))
    }

    private func listWebhooks(_ state: State, _ query: Query) -> HTTPResponse {
        let campaign = query.last { $0.key == "campaign" }?.value
        let eventType = query.last { $0.key == "event_type" }?.value
        if let eventType, !Self.eventTypes.contains(eventType) {
            return Self.answer(400, Self.error(400, "querystring/event_type must be equal to one of the allowed values"))
        }
        let matching = state.webhooks.filter { (campaign == nil || $0.campaign == campaign) && (eventType == nil || $0.eventType == eventType) }
        return Self.page(matching, query, id: \.id, json: Self.json)
    }

    private func listDeliveries(_ state: State, _ query: Query) -> HTTPResponse {
        func value(_ name: String) -> String? { query.last { $0.key == name }?.value }
        var success: Bool?
        if let text = value("success") {
            guard text == "true" || text == "false" else { return Self.answer(400, Self.error(400, "querystring/success must be boolean")) }
            success = text == "true"
        }
        var days: [String: String] = [:]
        for name in ["from", "to"] {
            guard let text = value(name) else { continue }
            guard Self.isDay(text) else { return Self.answer(400, Self.error(400, "querystring/\(name) must match format \"date\"")) }
            days[name] = text
        }
        let search = value("search")
        let matching = state.deliveries.filter { delivery in
            let day = Self.day(delivery.created)
            return (success == nil || delivery.success == success) && (days["from"].map { day >= $0 } ?? true)
                && (days["to"].map { day <= $0 } ?? true)
                && (search == nil || delivery.webhookURL == search || delivery.leadEmail == search)
        }.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
        return Self.page(matching, query, id: \.id, json: Self.json)
    }

    /// `limit` (1...100, default 100) items after `starting_after`, with `next_starting_after` when more remain.
    private static func page<Item>(_ items: [Item], _ query: Query, id: (Item) -> String, json: (Item) -> TestJSON) -> HTTPResponse {
        var limit = 100
        if let text = query.last(where: { $0.key == "limit" })?.value {
            guard let number = Int(text) else { return answer(400, error(400, "querystring/limit must be integer")) }
            guard number >= 1 else { return answer(400, error(400, "querystring/limit must be >= 1")) }
            guard number <= 100 else { return answer(400, error(400, "querystring/limit must be <= 100")) }
            limit = number
        }
        var remaining = items[...]
        if let cursor = query.last(where: { $0.key == "starting_after" })?.value,
           let position = items.firstIndex(where: { id($0) == cursor }) {
            remaining = items[(position + 1)...]
        }
        let page = Array(remaining.prefix(limit))
        var body: [String: TestJSON] = ["items": .array(page.map(json))]
        if remaining.count > limit, let last = page.last { body["next_starting_after"] = .string(id(last)) }
        return answer(200, .object(body))
    }

    private func createWebhook(_ state: inout State, _ body: Object) -> HTTPResponse {
        if let rejection = Self.validateWebhook(body) { return rejection }
        guard let target = body["target_hook_url"]?.stringValue else {
            return Self.answer(400, Self.error(400, "body must have required property 'target_hook_url'"))
        }
        var webhook = Webhook(id: state.nextWebhookID(), targetURL: target, status: 1, created: Date())
        Self.apply(body, to: &webhook)
        state.webhooks.append(webhook)
        return Self.answer(200, Self.json(webhook))
    }

    private func updateWebhook(_ id: String, _ state: inout State, _ body: Object) -> HTTPResponse {
        if let rejection = Self.validateWebhook(body) { return rejection }
        if body.isEmpty { return Self.answer(400, Self.error(400, "body must NOT have fewer than 1 properties")) }
        return webhook(id, &state) { Self.apply(body, to: &$0) }
    }

    /// The create and patch schema: known members only, with their types.
    private static func validateWebhook(_ body: Object) -> HTTPResponse? {
        let allowed: Set<String> = ["campaign", "name", "target_hook_url", "event_type", "custom_interest_value", "headers"]
        if let extra = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            return answer(400, error(400, "body must NOT have additional properties ('\(extra)')"))
        }
        if let target = body["target_hook_url"] {
            guard let text = target.stringValue else { return answer(400, error(400, "body/target_hook_url must be string")) }
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                return answer(400, error(400, "body/target_hook_url must match pattern \"^https?://\""))
            }
        }
        for name in ["campaign", "name", "event_type"] {
            if let value = body[name], !value.isNull, value.stringValue == nil { return answer(400, error(400, "body/\(name) must be string,null")) }
        }
        if let campaign = body["campaign"]?.stringValue, !isUUID(campaign) {
            return answer(400, error(400, "body/campaign must match format \"uuid\""))
        }
        if let eventType = body["event_type"]?.stringValue, !eventTypes.contains(eventType) {
            return answer(400, error(400, "body/event_type must be equal to one of the allowed values"))
        }
        if let headers = body["headers"], !headers.isNull {
            guard let members = headers.objectValue else { return answer(400, error(400, "body/headers must be object,null")) }
            if let key = members.keys.sorted().first(where: { members[$0]?.stringValue == nil }) {
                return answer(400, error(400, "body/headers/\(key) must be string"))
            }
        }
        return nil
    }

    private static func apply(_ body: Object, to webhook: inout Webhook) {
        if let target = body["target_hook_url"]?.stringValue { webhook.targetURL = target }
        if let name = body["name"] { webhook.name = name.stringValue }
        if let eventType = body["event_type"] { webhook.eventType = eventType.stringValue }
        if let campaign = body["campaign"] { webhook.campaign = campaign.stringValue }
        if let headers = body["headers"] { webhook.headers = headers.objectValue?.compactMapValues(\.stringValue) }
    }

    /// `YYYY-MM-DD`.
    private static func isDay(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 10 && bytes.enumerated().allSatisfy { index, byte in
            index == 4 || index == 7 ? byte == UInt8(ascii: "-") : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
    }

    /// The UTC day of `date`, `YYYY-MM-DD`.
    private static func day(_ date: Date) -> String { String(date.formatted(Date.ISO8601FormatStyle()).prefix(10)) }

    static func json(_ webhook: Webhook) -> TestJSON {
        ["id": .string(webhook.id), "organization": .string(FakeInstantlyAPI.workspaceID), "campaign": TestJSON(webhook.campaign),
         "name": TestJSON(webhook.name), "target_hook_url": .string(webhook.targetURL), "event_type": TestJSON(webhook.eventType),
         "custom_interest_value": nil, "headers": webhook.headers.map { .object($0.mapValues(TestJSON.string)) } ?? .null,
         "timestamp_created": timestamp(webhook.created), "status": TestJSON(webhook.status),
         "timestamp_error": timestamp(webhook.disabledAt)]
    }

    static func json(_ delivery: FakeInstantlyAPI.Delivery) -> TestJSON {
        ["id": .string(delivery.id), "timestamp_created": timestamp(delivery.created), "timestamp_created_date": .string(day(delivery.created)),
         "organization_id": .string(FakeInstantlyAPI.workspaceID), "payload": ["event_type": "email_sent"], "success": .bool(delivery.success),
         "retry_count": TestJSON(delivery.retryCount), "will_retry": .bool(delivery.willRetry), "webhook_url": .string(delivery.webhookURL),
         "status_code": TestJSON(delivery.statusCode), "error_message": TestJSON(delivery.errorMessage), "timestamp_next_retry": nil,
         "retry_group_id": nil, "retry_successful": nil, "lead_email": TestJSON(delivery.leadEmail),
         "response_time_ms": delivery.statusCode == nil ? nil : 120]
    }
}
