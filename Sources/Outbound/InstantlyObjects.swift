import Foundation
import HookyardFoundation
import StrictJSON

/// An Instantly custom-variable value: the API allows only JSON scalars (no objects or arrays). Encodes as the natural
/// JSON scalar, integers without `.0` (`3`, not `3.0`). A value; thread-safe.
public enum InstantlyValue: Sendable, Equatable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    var json: JSONValue {
        switch self {
        case .string(let text): .string(text)
        case .number(let number): .number(number)
        case .bool(let flag): .bool(flag)
        case .null: .null
        }
    }

    /// A JSON scalar from `JSONSerialization`; `nil` for objects and arrays.
    init?(json value: Any) {
        if let text = value as? String {
            self = .string(text)
        } else if let flag = ProviderJSON.bool(value) {
            self = .bool(flag)
        } else if let number = ProviderJSON.number(value) {
            self = .number(number)
        } else if value is NSNull {
            self = .null
        } else {
            return nil
        }
    }
}

/// The parts of an Instantly lead Hookyard uses. A value; thread-safe.
public struct InstantlyLead: Sendable, Equatable {
    public var id: String
    public var email: String
    /// The campaign id (UUID); `nil` for a lead in a list or in no campaign.
    public var campaign: String?
    /// 1 active, 2 paused, 3 completed, -1 bounced, -2 unsubscribed, -3 skipped.
    public var status: Int?
    /// `lt_interest_status`: 1 interested, 2 meeting booked, 3 meeting completed, 4 won, 0 out of office,
    /// -1 not interested, -2 wrong person, -3 lost, -4 no show; `nil` for a plain lead.
    public var interestStatus: Int?
    /// The custom variables, read back from the lead's `payload`; non-scalar members are ignored.
    public var variables: [String: InstantlyValue]

    public init(id: String, email: String, campaign: String? = nil, status: Int? = nil, interestStatus: Int? = nil,
                variables: [String: InstantlyValue] = [:]) {
        self.id = id
        self.email = email
        self.campaign = campaign
        self.status = status
        self.interestStatus = interestStatus
        self.variables = variables
    }

    /// - Parameter fallbackEmail: used when the lead has no `email` (Instantly allows that for list leads).
    /// - Returns: `nil` without an `id`.
    init?(json: [String: Any], fallbackEmail: String) {
        guard let id = ProviderJSON.string(json["id"]) else { return nil }
        var variables: [String: InstantlyValue] = [:]
        for (key, value) in json["payload"] as? [String: Any] ?? [:] {
            if let scalar = InstantlyValue(json: value) { variables[key] = scalar }
        }
        self.init(id: id, email: json["email"] as? String ?? fallbackEmail, campaign: json["campaign"] as? String,
                  status: ProviderJSON.int(json["status"]), interestStatus: ProviderJSON.int(json["lt_interest_status"]),
                  variables: variables)
    }
}

/// An Instantly background job (`POST /api/v2/leads/move` answers with one). A value; thread-safe.
public struct InstantlyBackgroundJob: Sendable, Equatable {
    public var id: String
    /// `pending`, `in-progress`, `success`, `failed`, `draining`, `paused` or `cancelled`.
    public var status: String

    public init(id: String, status: String) {
        self.id = id
        self.status = status
    }

    /// Whether the job will not change any more: `success`, `failed` or `cancelled`.
    public var isFinished: Bool { ["success", "failed", "cancelled"].contains(status) }

    /// Whether the job finished successfully.
    public var succeeded: Bool { status == "success" }

    /// - Returns: `nil` without an `id` or a `status`.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]), let status = ProviderJSON.string(json["status"]) else { return nil }
        self.init(id: id, status: status)
    }
}

/// The parts of an Instantly campaign Hookyard uses. A value; thread-safe.
public struct InstantlyCampaign: Sendable, Equatable {
    public var id: String
    public var name: String?
    /// 0 draft, 1 active, 2 paused, 3 completed, 4 running subsequences, -1 accounts unhealthy, -2 bounce protect,
    /// -99 account suspended.
    public var status: Int

    public init(id: String, name: String? = nil, status: Int) {
        self.id = id
        self.name = name
        self.status = status
    }

    public static let draft = 0, active = 1, paused = 2, completed = 3, runningSubsequences = 4

    /// The status by name (`draft`, `active`, `paused`, `completed`, `running_subsequences`, `accounts_unhealthy`,
    /// `bounce_protect`, `account_suspended`), or its number as text when Instantly adds one.
    public var statusName: String { Self.statusNames[status] ?? String(status) }

    public static let statusNames: [Int: String] = [
        0: "draft", 1: "active", 2: "paused", 3: "completed", 4: "running_subsequences", -1: "accounts_unhealthy",
        -2: "bounce_protect", -99: "account_suspended",
    ]

    /// - Returns: `nil` without an `id` or a numeric `status`.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]), let status = ProviderJSON.int(json["status"]) else { return nil }
        self.init(id: id, name: json["name"] as? String, status: status)
    }
}

/// An Instantly webhook subscription (`Webhook` in the API): where Instantly posts which events, with which static
/// headers, and whether it still does. A value; thread-safe.
public struct InstantlyWebhook: Sendable, Equatable {
    public var id: String
    public var name: String?
    /// `target_hook_url`.
    public var targetURL: String
    /// One event type, `all_events`, or `nil` for a custom-label webhook.
    public var eventType: String?
    /// The campaign id; `nil`: every campaign of the workspace.
    public var campaign: String?
    /// The static headers Instantly adds to every delivery (the only way to authenticate them). Secrets: never log.
    public var headers: [String: String]
    /// 1 active, -1 disabled by Instantly after repeated delivery failures; `nil` when Instantly sends none.
    public var status: Int?
    /// `timestamp_created` (ISO 8601), as sent.
    public var created: String?
    /// `timestamp_error` (ISO 8601): when Instantly disabled it; `nil` while active.
    public var disabledAt: String?

    public static let active = 1, disabled = -1

    public init(id: String, name: String? = nil, targetURL: String, eventType: String? = nil, campaign: String? = nil,
                headers: [String: String] = [:], status: Int? = InstantlyWebhook.active, created: String? = nil,
                disabledAt: String? = nil) {
        self.id = id
        self.name = name
        self.targetURL = targetURL
        self.eventType = eventType
        self.campaign = campaign
        self.headers = headers
        self.status = status
        self.created = created
        self.disabledAt = disabledAt
    }

    /// Whether Instantly disabled it after failed deliveries (`status` -1): `resumeWebhook(id:)` turns it on again.
    public var isDisabled: Bool { status == Self.disabled }

    /// `active`, `disabled` or the status number as text (`unknown` without one).
    public var statusName: String {
        switch status {
        case Self.active?: "active"
        case Self.disabled?: "disabled"
        case let other?: String(other)
        case nil: "unknown"
        }
    }

    /// The `event_type` values `POST /api/v2/webhooks` accepts (the API v2 extract's enum). One per webhook;
    /// `all_events` covers every type, custom labels included.
    public static let subscribableEventTypes: [String] = InstantlyEventType.subscribable

    /// - Returns: `nil` without an `id` or a `target_hook_url`.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]), let target = ProviderJSON.string(json["target_hook_url"]) else { return nil }
        self.init(id: id, name: json["name"] as? String, targetURL: target, eventType: json["event_type"] as? String,
                  campaign: json["campaign"] as? String, headers: ProviderJSON.stringMap(json["headers"]),
                  status: ProviderJSON.int(json["status"]), created: json["timestamp_created"] as? String,
                  disabledAt: json["timestamp_error"] as? String)
    }
}

/// What `POST /api/v2/webhooks` creates, and what `PATCH /api/v2/webhooks/{id}` sets: each non-`nil` member is sent.
/// For `campaign`, `.some(nil)` sends `null` (every campaign of the workspace), `nil` leaves it out. A value;
/// thread-safe. Holds the secret header's value: never log it.
public struct InstantlyWebhookFields: Sendable, Equatable {
    public var targetURL: String?
    public var name: String?
    public var eventType: String?
    public var campaign: String??
    public var headers: [String: String]?

    public init(targetURL: String? = nil, name: String? = nil, eventType: String? = nil, campaign: String?? = nil,
                headers: [String: String]? = nil) {
        self.targetURL = targetURL
        self.name = name
        self.eventType = eventType
        self.campaign = campaign
        self.headers = headers
    }

    /// Whether nothing would be sent.
    public var isEmpty: Bool { self == InstantlyWebhookFields() }

    /// The API's names of the members that are set, in name order (`campaign`, `event_type`, `headers`, `name`,
    /// `target_hook_url`): what a change can be reported as without showing a value.
    public var names: [String] { json(maskingHeaders: true).keys.sorted() }

    /// The body members; with `maskingHeaders`, every header value is `********`.
    public func json(maskingHeaders: Bool = false) -> [String: JSONValue] {
        var body: [String: JSONValue] = [:]
        if let targetURL { body["target_hook_url"] = .string(targetURL) }
        if let name { body["name"] = .string(name) }
        if let eventType { body["event_type"] = .string(eventType) }
        if let campaign { body["campaign"] = campaign.map(JSONValue.string) ?? .null }
        if let headers { body["headers"] = .object(headers.mapValues { .string(maskingHeaders ? "********" : $0) }) }
        return body
    }
}

/// One delivery attempt in Instantly's webhook log (`WebhookEvent` in the API). A value; thread-safe.
public struct InstantlyWebhookDelivery: Sendable, Equatable {
    public var id: String
    /// `timestamp_created` (ISO 8601), as sent.
    public var created: String
    public var success: Bool
    /// `webhook_url`: where it was sent.
    public var webhookURL: String
    /// The HTTP status the target answered; `nil` when none came (connection refused, timeout).
    public var statusCode: Int?
    /// Instantly's description of the failure (`Connection timeout`), if any.
    public var errorMessage: String?
    public var retryCount: Int
    public var willRetry: Bool
    public var leadEmail: String?

    public init(id: String, created: String, success: Bool, webhookURL: String, statusCode: Int? = nil, errorMessage: String? = nil,
                retryCount: Int = 0, willRetry: Bool = false, leadEmail: String? = nil) {
        self.id = id
        self.created = created
        self.success = success
        self.webhookURL = webhookURL
        self.statusCode = statusCode
        self.errorMessage = errorMessage
        self.retryCount = retryCount
        self.willRetry = willRetry
        self.leadEmail = leadEmail
    }

    /// - Returns: `nil` without an `id`, a `timestamp_created` or a boolean `success`.
    init?(json: [String: Any]) {
        guard let id = ProviderJSON.string(json["id"]), let created = ProviderJSON.string(json["timestamp_created"]),
              let success = ProviderJSON.bool(json["success"]) else { return nil }
        self.init(id: id, created: created, success: success, webhookURL: json["webhook_url"] as? String ?? "",
                  statusCode: ProviderJSON.int(json["status_code"]), errorMessage: json["error_message"] as? String,
                  retryCount: ProviderJSON.int(json["retry_count"]) ?? 0, willRetry: ProviderJSON.bool(json["will_retry"]) ?? false,
                  leadEmail: json["lead_email"] as? String)
    }
}

/// The filters of `GET /api/v2/webhook-events` (all optional; the API has no filter by webhook id, so one webhook's
/// log is asked for by its URL through `search`). A value; thread-safe.
public struct InstantlyDeliveryQuery: Sendable, Equatable {
    /// `search`: an exact webhook URL (or a lead email).
    public var search: String?
    /// `success`: only successful (`true`) or failed (`false`) deliveries.
    public var success: Bool?
    /// `from` and `to`: inclusive UTC days, `YYYY-MM-DD`.
    public var from: String?
    public var to: String?

    public init(search: String? = nil, success: Bool? = nil, from: String? = nil, to: String? = nil) {
        self.search = search
        self.success = success
        self.from = from
        self.to = to
    }
}

/// One page of an Instantly list (`items`, `next_starting_after`). A value; thread-safe if `Item` is.
public struct InstantlyPage<Item: Sendable & Equatable>: Sendable, Equatable {
    public var items: [Item]
    /// The cursor for the next page (`starting_after`); `nil` on the last page.
    public var nextStartingAfter: String?

    public init(items: [Item], nextStartingAfter: String?) {
        self.items = items
        self.nextStartingAfter = nextStartingAfter
    }
}
