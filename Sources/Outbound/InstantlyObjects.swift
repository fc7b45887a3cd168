import Foundation

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
