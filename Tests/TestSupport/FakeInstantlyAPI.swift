import Dispatch
import Foundation
import HTTPServer
import Synchronization

/// A fake Instantly API v2 for integration tests: a real HTTP server on loopback (a `FakeAPIServer`, whose request log
/// and fault injection it passes through) that keeps leads and background jobs the way Instantly does, so a daemon
/// pointed at `baseURL` (`INSTANTLY_API_BASE`) can be tested with its real libcurl client. Built from
/// `instantly-openapi-v2-extract.json`.
///
/// Contract:
/// - Every request needs `Authorization: Bearer <apiKey>`; otherwise 401 `{"statusCode":401,"error":"Unauthorized","message":...}`.
/// - Bodies are JSON objects. Like Instantly's server (Fastify): a body without `Content-Type: application/json` is
///   415, `Content-Type: application/json` with an empty body is 400, and validation failures are 400
///   `{"statusCode":400,"error":"Bad Request","message":"body/... must ..."}`. Campaign and lead ids must be UUIDs.
/// - `POST /api/v2/leads` creates a lead (`payload` holds `custom_variables`, which must be scalars); with
///   `skip_if_in_campaign` (or `skip_if_in_workspace`) it answers the existing lead instead when the email (compared
///   case-insensitively) is already there. Without such a flag a duplicate lead is created.
/// - `POST /api/v2/leads/list` filters by `campaign`, `list_id`, `contacts` (case-insensitive), `ids`, `excluded_ids`,
///   `search`; ordered by id (= creation order), `limit` 1...100 (default 100), cursor `starting_after`;
///   `next_starting_after` is the last id when more remain, otherwise null.
/// - `GET /api/v2/leads/{id}`; `PATCH /api/v2/leads/{id}` sets the given fields, and `custom_variables` **replaces**
///   the whole payload. Unknown id: 404.
/// - `POST /api/v2/leads/move` needs `to_campaign_id` or `to_list_id`, and `campaign` or `list_id` when `ids` is given;
///   it answers a `move-leads` background job with status `pending`. The leads move `moveJobDuration` later (checked
///   whenever the fake is read or called; with the default zero, before the next request): the job then reads
///   `success` with `data.moved_leads` and `data.moved_lead_emails`.
/// - `GET /api/v2/background-jobs/{id}`.
/// - `POST /api/v2/leads/update-interest-status` answers 202 and sets `lt_interest_status` of the leads with that
///   email (in `campaign_id` when given); no `lead_email` is 400 `{"error":"Invalid lead email"}`. An unknown email
///   still gets 202 and changes nothing, as a background job would.
/// - A lead's `payload` is `null` while it has no custom variables; `lt_interest_status` is absent until set.
/// - `DELETE /api/v2/leads/{id}` removes the lead and answers it (404 when unknown).
/// - Campaigns are added with `addCampaign`; `GET /api/v2/campaigns/{id}`, `POST /api/v2/campaigns/{id}/pause`
///   (status 2) and `POST /api/v2/campaigns/{id}/activate` (status 1) answer the campaign; unknown id: 404.
/// - A request without a body that carries `Content-Type: application/json` (a DELETE, pause or activate) is 400,
///   as Fastify answers it.
///
/// Thread-safe. The server stops when the instance is released.
public final class FakeInstantlyAPI: FakeProviderAPI {
    /// A lead as stored.
    public struct Lead: Sendable, Equatable {
        public var id: String
        public var campaign: String?
        public var listID: String?
        public var email: String?
        public var firstName: String?
        public var lastName: String?
        public var companyName: String?
        public var jobTitle: String?
        public var phone: String?
        public var website: String?
        public var personalization: String?
        public var plValueLead: String?
        public var assignedTo: String?
        /// The custom variables.
        public var payload: [String: TestJSON]
        /// 1 active (the only status the fake sets).
        public var status: Int
        /// `lt_interest_status`: nil until set (1 interested, -1 not interested, ...).
        public var interestStatus: Int?
        public var created: Date
        public var updated: Date
        public var interestChanged: Date?
    }

    /// A background job as stored.
    public struct BackgroundJob: Sendable {
        public var id: String
        public var type: String
        /// `pending` until it completes, then `success`.
        public var status: String
        public var entityID: String?
        public var entityType: String
        public var data: [String: TestJSON]
        public var created: Date
        public var updated: Date
        /// The request body that created it.
        public var request: [String: TestJSON]
        /// Monotonic nanoseconds after which it completes.
        var completesAt: UInt64
    }

    /// The workspace (organization) id every lead and job belongs to.
    public static let workspaceID = "3f1c2a9e-7b41-4d8e-9a60-5c2e8b7d1f04"

    /// The key requests must present as `Authorization: Bearer <apiKey>`.
    public let apiKey: String
    /// The HTTP server underneath: its request log and fault injection (also passed through below).
    public let server: FakeAPIServer
    let backend: FakeInstantlyBackend

    /// Starts on an ephemeral loopback port with no leads. `moveJobDuration` is how long a move job stays pending.
    public init(apiKey: String = "instantly-test-key", moveJobDuration: Duration = .zero) throws {
        let backend = FakeInstantlyBackend(apiKey: apiKey, moveJobDuration: moveJobDuration)
        self.apiKey = apiKey
        self.backend = backend
        server = try FakeAPIServer(route: { backend.handle($0) }, decorate: nil)
    }

    // MARK: Faults (the other passthroughs are in FakeProviderAPI)

    /// Answers every request under `pathPrefix` with `status` and `body` until `clearForcedStatus()`; nothing is
    /// processed. The default body has Instantly's error shape.
    public func forceStatus(pathPrefix: String, status: Int, body: String? = nil) {
        server.forceStatus(pathPrefix: pathPrefix, status: status,
                           body: body ?? FakeInstantlyBackend.error(status, "Forced failure (status \(status)) by the test").text)
    }

    // MARK: State for tests

    /// How long move jobs created from now on stay pending.
    public var moveJobDuration: Duration {
        get { backend.state.withLock { $0.moveJobDuration } }
        set { backend.state.withLock { $0.moveJobDuration = newValue } }
    }

    /// Accepts `key` too, as a workspace with several API keys does: clients given different keys (several daemons)
    /// can then be told apart in the request log by their `Authorization` header.
    public func acceptAPIKey(_ key: String) { backend.state.withLock { _ = $0.otherAPIKeys.insert(key) } }

    /// Adds a lead directly, as if imported earlier, and returns its id.
    @discardableResult
    public func addLead(email: String, campaign: String?, firstName: String? = nil, lastName: String? = nil,
                        companyName: String? = nil, variables: [String: TestJSON] = [:]) -> String {
        backend.state.withLock { state in
            let now = Date()
            let lead = Lead(id: state.nextLeadID(), campaign: campaign, email: email, firstName: firstName, lastName: lastName,
                            companyName: companyName, payload: variables, status: 1, created: now, updated: now)
            state.leads.append(lead)
            return lead.id
        }
    }

    /// Every lead, in creation order (move jobs that are due are applied first).
    public var leads: [Lead] { backend.withSettledState { $0.leads } }

    /// The first lead with this email (case-insensitive) in this campaign (`nil`: in any campaign).
    public func lead(email: String, campaign: String?) -> Lead? {
        backend.withSettledState { state in
            state.leads.first { $0.email?.lowercased() == email.lowercased() && (campaign == nil || $0.campaign == campaign) }
        }
    }

    /// The lead with this id.
    public func lead(id: String) -> Lead? { backend.withSettledState { $0.leads.first { $0.id == id } } }

    /// A campaign as stored.
    public struct Campaign: Sendable, Equatable {
        public var id: String
        public var name: String
        /// 0 draft, 1 active, 2 paused, 3 completed, 4 running subsequences, -1, -2, -99 (see the extract).
        public var status: Int
    }

    /// Adds a campaign (campaigns are not created through the API here). Replaces one with the same id.
    public func addCampaign(id: String, name: String = "Campaign", status: Int = 1) {
        backend.state.withLock { $0.campaigns[id] = Campaign(id: id, name: name, status: status) }
    }

    /// The campaign with this id.
    public func campaign(id: String) -> Campaign? { backend.state.withLock { $0.campaigns[id] } }

    /// Every background job, in creation order (due ones completed first).
    public var backgroundJobs: [BackgroundJob] { backend.withSettledState { $0.jobs } }
}

/// The fake's state and request handling, shared by the server's route closure (which must not capture the
/// `FakeInstantlyAPI` itself: that would keep it, and its server, alive forever).
final class FakeInstantlyBackend: Sendable {
    typealias Lead = FakeInstantlyAPI.Lead
    typealias Object = [String: TestJSON]

    struct State {
        var leadSerial = 0
        var jobSerial = 0
        var leads: [Lead] = []
        var jobs: [FakeInstantlyAPI.BackgroundJob] = []
        var campaigns: [String: FakeInstantlyAPI.Campaign] = [:]
        var moveJobDuration: Duration
        /// Webhooks and their delivery log (FakeInstantlyAPI+Webhooks.swift).
        var webhookSerial = 0
        var webhooks: [FakeInstantlyAPI.Webhook] = []
        var deliveries: [FakeInstantlyAPI.Delivery] = []
        /// Keys accepted besides `apiKey` (`acceptAPIKey`).
        var otherAPIKeys: Set<String> = []

        /// UUID-formatted (version 7 layout), increasing with creation order like Instantly's newer lead ids.
        mutating func nextLeadID() -> String {
            leadSerial += 1
            return "0198f3a2-5c1e-7000-8000-" + FakeInstantlyBackend.hex(leadSerial, width: 12)
        }

        /// 24 hex digits, like Instantly's background job ids.
        mutating func nextJobID() -> String {
            jobSerial += 1
            return "68a4c2e1" + FakeInstantlyBackend.hex(jobSerial, width: 16)
        }
    }

    let apiKey: String
    /// Guards all leads and jobs; each request is handled entirely under it.
    let state: Mutex<State>

    init(apiKey: String, moveJobDuration: Duration) {
        self.apiKey = apiKey
        state = Mutex(State(moveJobDuration: moveJobDuration))
    }

    static func hex(_ value: Int, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Runs `body` under the lock after completing the jobs that are due.
    func withSettledState<T>(_ body: (inout State) throws -> T) rethrows -> T {
        try state.withLock { state in
            Self.settle(&state)
            return try body(&state)
        }
    }

    // MARK: Routing

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard let authorization = request.headers["Authorization"] else {
            return Self.answer(401, Self.error(401, "Missing Authorization header"))
        }
        guard authorization == "Bearer \(apiKey)" || state.withLock({ $0.otherAPIKeys.contains(String(authorization.dropFirst("Bearer ".count))) })
        else { return Self.answer(401, Self.error(401, "Invalid API key")) }
        let path = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard path.count >= 3, path[0] == "api", path[1] == "v2" else { return notFound(request) }
        let route = Array(path.dropFirst(2))
        if route[0] == "webhooks" || route[0] == "webhook-events" { return handleWebhooks(request, route: route) }
        switch (request.method, route.count) {
        case ("POST", 1) where route[0] == "leads":
            return withBody(request) { state, body in createLead(&state, body) }
        case ("POST", 2) where route == ["leads", "list"]:
            return withBody(request) { state, body in listLeads(&state, body) }
        case ("POST", 2) where route == ["leads", "move"]:
            return withBody(request) { state, body in moveLeads(&state, body) }
        case ("POST", 2) where route == ["leads", "update-interest-status"]:
            return withBody(request) { state, body in updateInterestStatus(&state, body) }
        case ("GET", 2) where route[0] == "leads":
            guard Self.isUUID(route[1]) else { return Self.answer(400, Self.error(400, "params/id must match format \"uuid\"")) }
            return withSettledState { state in
                guard let lead = state.leads.first(where: { $0.id == route[1] }) else { return Self.answer(404, Self.error(404, "Lead not found")) }
                return Self.answer(200, Self.json(lead))
            }
        case ("PATCH", 2) where route[0] == "leads":
            guard Self.isUUID(route[1]) else { return Self.answer(400, Self.error(400, "params/id must match format \"uuid\"")) }
            return withBody(request) { state, body in updateLead(route[1], &state, body) }
        case ("DELETE", 2) where route[0] == "leads":
            guard Self.isUUID(route[1]) else { return Self.answer(400, Self.error(400, "params/id must match format \"uuid\"")) }
            if let rejection = Self.emptyJSONBody(request) { return rejection }
            return withSettledState { state in
                guard let index = state.leads.firstIndex(where: { $0.id == route[1] }) else {
                    return Self.answer(404, Self.error(404, "Lead not found"))
                }
                return Self.answer(200, Self.json(state.leads.remove(at: index)))
            }
        case ("GET", 2) where route[0] == "campaigns":
            return campaign(route[1], request) { _ in }
        case ("POST", 3) where route[0] == "campaigns" && route[2] == "pause":
            return campaign(route[1], request) { $0.status = 2 }
        case ("POST", 3) where route[0] == "campaigns" && route[2] == "activate":
            return campaign(route[1], request) { $0.status = 1 }
        case ("GET", 2) where route[0] == "background-jobs":
            return withSettledState { state in
                guard let job = state.jobs.first(where: { $0.id == route[1] }) else {
                    return Self.answer(404, Self.error(404, "Background job not found"))
                }
                return Self.answer(200, Self.json(job))
            }
        default:
            break
        }
        return notFound(request)
    }

    func notFound(_ request: HTTPRequest) -> HTTPResponse {
        Self.answer(404, Self.error(404, "Route \(request.method):\(request.path) not found"))
    }

    /// A bodiless campaign endpoint: validates the id, applies `change` and answers the campaign.
    private func campaign(_ id: String, _ request: HTTPRequest, _ change: (inout FakeInstantlyAPI.Campaign) -> Void) -> HTTPResponse {
        guard Self.isUUID(id) else { return Self.answer(400, Self.error(400, "params/id must match format \"uuid\"")) }
        if let rejection = Self.emptyJSONBody(request) { return rejection }
        return state.withLock { state in
            guard var campaign = state.campaigns[id] else { return Self.answer(404, Self.error(404, "Campaign not found")) }
            change(&campaign)
            state.campaigns[id] = campaign
            return Self.answer(200, Self.json(campaign))
        }
    }

    /// Fastify's answer to `Content-Type: application/json` with an empty body, or `nil`.
    static func emptyJSONBody(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.body.isEmpty, request.headers["Content-Type"]?.lowercased().hasPrefix("application/json") ?? false else { return nil }
        return answer(400, ["statusCode": 400, "code": "FST_ERR_CTP_EMPTY_JSON_BODY", "error": "Bad Request",
                            "message": "Body cannot be empty when content-type is set to 'application/json'"])
    }

    /// Parses the JSON object body like Fastify, then runs `endpoint` under the lock with due jobs settled.
    func withBody(_ request: HTTPRequest, _ endpoint: (inout State, Object) -> HTTPResponse) -> HTTPResponse {
        let contentType = request.headers["Content-Type"]?.lowercased()
        let isJSON = contentType?.hasPrefix("application/json") ?? false
        if request.body.isEmpty {
            if isJSON {
                return Self.answer(400, ["statusCode": 400, "code": "FST_ERR_CTP_EMPTY_JSON_BODY", "error": "Bad Request",
                                         "message": "Body cannot be empty when content-type is set to 'application/json'"])
            }
            return Self.answer(400, Self.error(400, "body must be object"))
        }
        guard isJSON else {
            return Self.answer(415, ["statusCode": 415, "code": "FST_ERR_CTP_INVALID_MEDIA_TYPE", "error": "Unsupported Media Type",
                                     "message": .string("Unsupported Media Type: \(contentType ?? "")")])
        }
        guard let value = try? TestJSON(parsing: request.body) else {
            return Self.answer(400, ["statusCode": 400, "code": "FST_ERR_CTP_INVALID_JSON_BODY", "error": "Bad Request",
                                     "message": "Body is not valid JSON but content-type is set to 'application/json'"])
        }
        guard let body = value.objectValue else { return Self.answer(400, Self.error(400, "body must be object")) }
        return withSettledState { endpoint(&$0, body) }
    }

    // MARK: Endpoints

    private static let leadStringFields = ["personalization", "website", "last_name", "first_name", "company_name",
                                           "job_title", "phone", "pl_value_lead", "assigned_to"]

    private func createLead(_ state: inout State, _ body: Object) -> HTTPResponse {
        let allowed = Set(Self.leadStringFields + ["campaign", "email", "list_id", "lt_interest_status", "skip_if_in_workspace",
                                                   "skip_if_in_campaign", "skip_if_in_list", "blocklist_id",
                                                   "verify_leads_for_lead_finder", "verify_leads_on_import", "custom_variables"])
        if let rejection = Self.validate(body, allowed: allowed, strings: Self.leadStringFields + ["campaign", "email", "list_id"],
                                         uuids: ["campaign", "list_id"]) {
            return rejection
        }
        let email = body["email"]?.stringValue
        let campaign = body["campaign"]?.stringValue
        let listID = body["list_id"]?.stringValue
        if campaign != nil, email == nil { return Self.answer(400, Self.error(400, "body must have required property 'email'")) }
        let variables: Object
        switch Self.customVariables(body) {
        case .success(let value): variables = value ?? [:]
        case .failure(let rejection): return rejection.response
        }
        if let email {
            let sameEmail = state.leads.filter { $0.email?.lowercased() == email.lowercased() }
            if body["skip_if_in_workspace"]?.boolValue == true, let existing = sameEmail.first { return Self.answer(200, Self.json(existing)) }
            if body["skip_if_in_campaign"]?.boolValue == true, let campaign,
               let existing = sameEmail.first(where: { $0.campaign == campaign }) {
                return Self.answer(200, Self.json(existing))
            }
            if body["skip_if_in_list"]?.boolValue == true, let listID,
               let existing = sameEmail.first(where: { $0.listID == listID }) {
                return Self.answer(200, Self.json(existing))
            }
        }
        let now = Date()
        var lead = Lead(id: state.nextLeadID(), campaign: campaign, listID: listID, email: email, payload: variables,
                        status: 1, created: now, updated: now)
        Self.applyFields(body, to: &lead)
        state.leads.append(lead)
        return Self.answer(200, Self.json(lead))
    }

    private func updateLead(_ id: String, _ state: inout State, _ body: Object) -> HTTPResponse {
        if let rejection = Self.validate(body, allowed: Set(Self.leadStringFields + ["lt_interest_status", "custom_variables"]),
                                         strings: Self.leadStringFields, uuids: []) {
            return rejection
        }
        guard let index = state.leads.firstIndex(where: { $0.id == id }) else { return Self.answer(404, Self.error(404, "Lead not found")) }
        var lead = state.leads[index]
        switch Self.customVariables(body) {
        case .success(let variables?): lead.payload = variables  // replaces, as Instantly does
        case .success(nil): break
        case .failure(let rejection): return rejection.response
        }
        Self.applyFields(body, to: &lead)
        lead.updated = Date()
        state.leads[index] = lead
        return Self.answer(200, Self.json(lead))
    }

    private func listLeads(_ state: inout State, _ body: Object) -> HTTPResponse {
        if let rejection = Self.validate(body, allowed: nil, strings: ["campaign", "list_id", "search", "starting_after"],
                                         uuids: ["campaign", "list_id"]) {
            return rejection
        }
        var limit = 100
        if let value = body["limit"] {
            guard let number = value.intValue else { return Self.answer(400, Self.error(400, "body/limit must be integer")) }
            guard number >= 1 else { return Self.answer(400, Self.error(400, "body/limit must be >= 1")) }
            guard number <= 100 else { return Self.answer(400, Self.error(400, "body/limit must be <= 100")) }
            limit = number
        }
        let matching: [Lead]
        switch Self.select(state.leads, body) {
        case .success(let leads): matching = leads
        case .failure(let rejection): return rejection.response
        }
        var remaining = matching.sorted { $0.id < $1.id }
        if let cursor = body["starting_after"]?.stringValue { remaining = remaining.filter { $0.id > cursor } }
        let page = Array(remaining.prefix(limit))
        let next: TestJSON = remaining.count > limit ? TestJSON(page.last?.id) : .null
        return Self.answer(200, ["items": .array(page.map(Self.json)), "next_starting_after": next])
    }

    private func moveLeads(_ state: inout State, _ body: Object) -> HTTPResponse {
        if let rejection = Self.validate(body, allowed: nil, strings: ["campaign", "list_id", "to_campaign_id", "to_list_id", "search"],
                                         uuids: ["campaign", "list_id", "to_campaign_id", "to_list_id"]) {
            return rejection
        }
        if body["ids"] != nil, body["campaign"] == nil, body["list_id"] == nil {
            return Self.answer(400, Self.error(400, "When using ids, you must provide either campaign or list_id"))
        }
        let toCampaign = body["to_campaign_id"]?.stringValue
        let toList = body["to_list_id"]?.stringValue
        if toCampaign == nil, toList == nil {
            return Self.answer(400, Self.error(400, "body must have required property 'to_campaign_id' or 'to_list_id'"))
        }
        if case .failure(let rejection) = Self.select(state.leads, body) { return rejection.response }
        let now = Date()
        let job = FakeInstantlyAPI.BackgroundJob(
            id: state.nextJobID(), type: "move-leads", status: "pending", entityID: toCampaign ?? toList,
            entityType: toCampaign != nil ? "campaign" : "list", data: [:], created: now, updated: now, request: body,
            completesAt: DispatchTime.now().uptimeNanoseconds + UInt64(max(0, state.moveJobDuration / .nanoseconds(1))))
        state.jobs.append(job)
        let answer = Self.answer(200, Self.json(job))  // pending, even when it completes at once
        Self.settle(&state)
        return answer
    }

    private func updateInterestStatus(_ state: inout State, _ body: Object) -> HTTPResponse {
        guard let email = body["lead_email"]?.stringValue, email.contains("@") else {
            return Self.answer(400, ["error": "Invalid lead email"])
        }
        guard let value = body["interest_value"] else {
            return Self.answer(400, Self.error(400, "body must have required property 'interest_value'"))
        }
        guard value.isNull || value.intValue != nil else {
            return Self.answer(400, Self.error(400, "body/interest_value must be number,null"))
        }
        if let rejection = Self.validate(body, allowed: nil, strings: ["campaign_id", "list_id"], uuids: ["campaign_id", "list_id"]) {
            return rejection
        }
        let campaign = body["campaign_id"]?.stringValue
        let listID = body["list_id"]?.stringValue
        let now = Date()
        for index in state.leads.indices where state.leads[index].email?.lowercased() == email.lowercased()
            && (campaign == nil || state.leads[index].campaign == campaign) && (listID == nil || state.leads[index].listID == listID) {
            state.leads[index].interestStatus = value.intValue
            state.leads[index].interestChanged = now
            state.leads[index].updated = now
        }
        return Self.answer(202, ["message": "Lead interest status update background job submitted"])
    }

    // MARK: Jobs

    /// Completes every pending job whose time has come.
    private static func settle(_ state: inout State) {
        let now = DispatchTime.now().uptimeNanoseconds
        for index in state.jobs.indices where state.jobs[index].status == "pending" && state.jobs[index].completesAt <= now {
            let request = state.jobs[index].request
            let selected = (try? select(state.leads, request).get()) ?? []
            let toCampaign = request["to_campaign_id"]?.stringValue
            let toList = request["to_list_id"]?.stringValue
            let copy = request["copy_leads"]?.boolValue == true
            let checkDuplicates = request["check_duplicates_in_campaigns"]?.boolValue == true || request["check_duplicates"]?.boolValue == true
            let limit = request["limit"]?.intValue ?? .max
            var moved: [String] = []
            for lead in selected.prefix(limit) {
                let email = lead.email?.lowercased()
                if checkDuplicates, email != nil, state.leads.contains(where: {
                    $0.email?.lowercased() == email && (toCampaign != nil ? $0.campaign == toCampaign : $0.listID == toList)
                }) {
                    continue
                }
                var target = lead
                target.campaign = toCampaign
                target.listID = toCampaign == nil ? toList : nil
                target.updated = Date()
                if request["reset_interest_status"]?.boolValue == true { target.interestStatus = nil }
                if copy {
                    target.id = state.nextLeadID()
                    target.created = target.updated
                    state.leads.append(target)
                } else if let position = state.leads.firstIndex(where: { $0.id == lead.id }) {
                    state.leads[position] = target
                }
                if let email = lead.email { moved.append(email) }
            }
            state.jobs[index].status = "success"
            state.jobs[index].updated = Date()
            state.jobs[index].data = ["moved_leads": TestJSON(moved.count), "moved_lead_emails": .array(moved.map(TestJSON.string)),
                                      "success_count": TestJSON(moved.count), "failed_count": 0,
                                      "total_to_process": TestJSON(moved.count)]
        }
    }

    // MARK: Validation

    struct Rejection: Error {
        var response: HTTPResponse
    }

    /// The leads a list or move request selects, in creation order.
    private static func select(_ leads: [Lead], _ body: Object) -> Result<[Lead], Rejection> {
        func strings(_ name: String) -> Result<Set<String>?, Rejection> {
            guard let value = body[name] else { return .success(nil) }
            guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                return .failure(Rejection(response: answer(400, error(400, "body/\(name) must be array of strings"))))
            }
            return .success(Set(items.compactMap(\.stringValue)))
        }
        let ids: Set<String>?, excluded: Set<String>?, contacts: Set<String>?
        switch (strings("ids"), strings("excluded_ids"), strings("contacts")) {
        case (.success(let a), .success(let b), .success(let c)): (ids, excluded, contacts) = (a, b, c.map { Set($0.map { $0.lowercased() }) })
        case (.failure(let rejection), _, _), (_, .failure(let rejection), _), (_, _, .failure(let rejection)): return .failure(rejection)
        }
        if let invalid = (ids ?? []).union(excluded ?? []).first(where: { !isUUID($0) }) {
            return .failure(Rejection(response: answer(400, error(400, "body/ids must match format \"uuid\" (\(invalid))"))))
        }
        let campaign = body["campaign"]?.stringValue
        let listID = body["list_id"]?.stringValue
        let search = body["search"]?.stringValue?.lowercased()
        return .success(leads.filter { lead in
            (campaign == nil || lead.campaign == campaign) && (listID == nil || lead.listID == listID)
                && (ids == nil || ids!.contains(lead.id)) && !(excluded?.contains(lead.id) ?? false)
                && (contacts == nil || contacts!.contains(lead.email?.lowercased() ?? ""))
                && (search == nil || [lead.email, lead.firstName, lead.lastName].contains { $0?.lowercased().contains(search!) ?? false })
        })
    }

    /// Checks unknown members (when `allowed` is given), string-or-null members and UUID members, with Fastify's messages.
    private static func validate(_ body: Object, allowed: Set<String>?, strings: [String], uuids: [String]) -> HTTPResponse? {
        if let allowed, let extra = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            return answer(400, error(400, "body must NOT have additional properties ('\(extra)')"))
        }
        for name in strings {
            if let value = body[name], !value.isNull, value.stringValue == nil {
                return answer(400, error(400, "body/\(name) must be string,null"))
            }
        }
        for name in uuids {
            if let value = body[name]?.stringValue, !isUUID(value) {
                return answer(400, error(400, "body/\(name) must match format \"uuid\""))
            }
        }
        if let value = body["lt_interest_status"], value.intValue == nil {
            return answer(400, error(400, "body/lt_interest_status must be number"))
        }
        return nil
    }

    /// `custom_variables`: `nil` when absent; rejected unless an object of scalars.
    private static func customVariables(_ body: Object) -> Result<Object?, Rejection> {
        guard let value = body["custom_variables"] else { return .success(nil) }
        guard let variables = value.objectValue else {
            return .failure(Rejection(response: answer(400, error(400, "body/custom_variables must be object"))))
        }
        if let key = variables.keys.sorted().first(where: { !variables[$0]!.isScalar }) {
            return .failure(Rejection(response: answer(400, error(400, "body/custom_variables/\(key) must be string,number,boolean,null"))))
        }
        return .success(variables)
    }

    private static func applyFields(_ body: Object, to lead: inout Lead) {
        func apply(_ name: String, _ keyPath: WritableKeyPath<Lead, String?>) {
            if let value = body[name] { lead[keyPath: keyPath] = value.stringValue }
        }
        apply("first_name", \.firstName)
        apply("last_name", \.lastName)
        apply("company_name", \.companyName)
        apply("job_title", \.jobTitle)
        apply("phone", \.phone)
        apply("website", \.website)
        apply("personalization", \.personalization)
        apply("pl_value_lead", \.plValueLead)
        apply("assigned_to", \.assignedTo)
        if let value = body["lt_interest_status"]?.intValue {
            lead.interestStatus = value
            lead.interestChanged = Date()
        }
    }

    static func isUUID(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return false }
        for (index, byte) in utf8.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                if byte != UInt8(ascii: "-") { return false }
            } else if !(byte >= 48 && byte <= 57 || byte >= 97 && byte <= 102 || byte >= 65 && byte <= 70) {
                return false
            }
        }
        return true
    }

    // MARK: Objects

    static func error(_ status: Int, _ message: String) -> TestJSON {
        ["statusCode": TestJSON(status), "error": .string(HTTPResponse.reasonPhrase(status)), "message": .string(message)]
    }

    static func answer(_ status: Int, _ body: TestJSON) -> HTTPResponse { .json(status: status, body.text) }

    static func timestamp(_ date: Date?) -> TestJSON {
        TestJSON(date.map { $0.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) })
    }

    static func json(_ lead: Lead) -> TestJSON {
        var object: [String: TestJSON] = [
            "id": .string(lead.id), "timestamp_created": timestamp(lead.created), "timestamp_updated": timestamp(lead.updated),
            "organization": .string(FakeInstantlyAPI.workspaceID), "campaign": TestJSON(lead.campaign),
            "list_id": TestJSON(lead.listID), "status": TestJSON(lead.status), "email": TestJSON(lead.email),
            "first_name": TestJSON(lead.firstName), "last_name": TestJSON(lead.lastName),
            "company_name": TestJSON(lead.companyName), "job_title": TestJSON(lead.jobTitle), "phone": TestJSON(lead.phone),
            "website": TestJSON(lead.website), "personalization": TestJSON(lead.personalization),
            "pl_value_lead": TestJSON(lead.plValueLead), "assigned_to": TestJSON(lead.assignedTo),
            "email_open_count": 0, "email_reply_count": 0, "email_click_count": 0,
            "company_domain": .string(lead.email.flatMap { $0.split(separator: "@").last.map(String.init) } ?? ""),
            "status_summary": [:], "payload": lead.payload.isEmpty ? .null : .object(lead.payload),
            "verification_status": 1, "enrichment_status": 1, "upload_method": "api",
            "timestamp_last_interest_change": timestamp(lead.interestChanged),
        ]
        if let interest = lead.interestStatus { object["lt_interest_status"] = TestJSON(interest) }
        return .object(object)
    }

    static func json(_ campaign: FakeInstantlyAPI.Campaign) -> TestJSON {
        ["id": .string(campaign.id), "name": .string(campaign.name), "status": TestJSON(campaign.status),
         "organization": .string(FakeInstantlyAPI.workspaceID), "campaign_schedule": ["schedules": []],
         "timestamp_created": "2026-11-01T09:00:00.000Z", "timestamp_updated": "2026-11-20T09:00:00.000Z"]
    }

    static func json(_ job: FakeInstantlyAPI.BackgroundJob) -> TestJSON {
        ["id": .string(job.id), "workspace_id": .string(FakeInstantlyAPI.workspaceID), "user_id": nil, "type": .string(job.type),
         "entity_id": TestJSON(job.entityID), "entity_type": .string(job.entityType), "data": .object(job.data),
         "progress": job.status == "success" ? 100 : 0, "status": .string(job.status),
         "created_at": timestamp(job.created), "updated_at": timestamp(job.updated)]
    }
}
