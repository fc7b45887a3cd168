import Outbound

/// Makes the workspace's Instantly webhooks deliver to Hookyard (`hookyard instantly register`): one webhook per
/// event type (Instantly takes one `event_type` per webhook; `all_events` covers every type, custom labels included),
/// each pointing at `targetURL` with exactly one header, `secretHeader: secret`.
///
/// Existing webhooks are reused, so running it again changes nothing: for each wanted event type, a webhook with
/// Hookyard's target URL (else one with `name`) and that event type is updated where it differs; then a remaining
/// such webhook whose event type is not wanted is changed to a missing type; only then is a webhook created. A
/// webhook Instantly disabled is resumed. Others with the same target or name are left alone and reported. A value;
/// thread-safe. Holds the secret: never log it (`InstantlyWebhookFields.json(maskingHeaders:)` prints it masked).
public struct InstantlyWebhookRegistration: Sendable {
    public var targetURL: String
    public var name: String
    public var eventTypes: [String]
    /// `nil`: every campaign of the workspace.
    public var campaign: String?
    public var secretHeader: String
    public var secret: String

    public init(targetURL: String, name: String, eventTypes: [String], campaign: String?, secretHeader: String, secret: String) {
        self.targetURL = targetURL
        self.name = name
        self.eventTypes = eventTypes
        self.campaign = campaign
        self.secretHeader = secretHeader
        self.secret = secret
    }

    /// One webhook's part of the plan.
    public enum Step: Sendable, Equatable {
        /// No webhook of Hookyard's has this event type: create one with these fields.
        case create(InstantlyWebhookFields)
        /// Send these changes (none when only resuming), then resume it if Instantly disabled it.
        case update(InstantlyWebhook, InstantlyWebhookFields, resume: Bool)
        /// Already as wanted.
        case upToDate(InstantlyWebhook)

        /// Whether applying it sends a write.
        public var writes: Bool {
            if case .upToDate = self { return false }
            return true
        }
    }

    /// What `apply` will do, decided from the listed webhooks alone.
    public struct Plan: Sendable, Equatable {
        /// One step per wanted event type, in `eventTypes` order.
        public var steps: [Step]
        /// Webhooks with Hookyard's target URL or name that no wanted event type needs: not changed.
        public var leftAlone: [InstantlyWebhook]

        /// Whether applying it sends nothing.
        public var isUpToDate: Bool { !steps.contains(where: \.writes) }
    }

    /// Everything a wanted webhook of `eventType` is made of.
    public func fields(eventType: String) -> InstantlyWebhookFields {
        InstantlyWebhookFields(targetURL: targetURL, name: name, eventType: eventType, campaign: .some(campaign), headers: [secretHeader: secret])
    }

    /// Matches the wanted webhooks to `existing` (see the type's rules).
    public func plan(existing: [InstantlyWebhook]) -> Plan {
        // Target matches first, so they win over name matches.
        let byTarget = existing.filter { InstantlyWebhookOwnership.sameURL($0.targetURL, targetURL) }
        let byName = existing.filter { !InstantlyWebhookOwnership.sameURL($0.targetURL, targetURL) && $0.name == name }
        let candidates = byTarget + byName
        var used: Set<String> = []
        var matched: [String: InstantlyWebhook] = [:]
        for eventType in eventTypes {
            if let webhook = candidates.first(where: { !used.contains($0.id) && $0.eventType == eventType }) {
                used.insert(webhook.id)
                matched[eventType] = webhook
            }
        }
        for eventType in eventTypes where matched[eventType] == nil {
            if let webhook = candidates.first(where: { !used.contains($0.id) && !eventTypes.contains($0.eventType ?? "") }) {
                used.insert(webhook.id)
                matched[eventType] = webhook
            }
        }
        let steps = eventTypes.map { eventType -> Step in
            guard let webhook = matched[eventType] else { return .create(fields(eventType: eventType)) }
            let changes = changes(to: webhook, eventType: eventType)
            return changes.isEmpty && !webhook.isDisabled ? .upToDate(webhook) : .update(webhook, changes, resume: webhook.isDisabled)
        }
        return Plan(steps: steps, leftAlone: candidates.filter { !used.contains($0.id) })
    }

    /// The fields of `webhook` that differ from the wanted ones.
    private func changes(to webhook: InstantlyWebhook, eventType: String) -> InstantlyWebhookFields {
        var changes = InstantlyWebhookFields()
        if webhook.targetURL != targetURL { changes.targetURL = targetURL }
        if webhook.name != name { changes.name = name }
        if webhook.eventType != eventType { changes.eventType = eventType }
        if webhook.campaign != campaign { changes.campaign = .some(campaign) }
        if webhook.headers != [secretHeader: secret] { changes.headers = [secretHeader: secret] }
        return changes
    }

    /// What applying one step did.
    public enum Outcome: Sendable, Equatable {
        case created(InstantlyWebhook)
        /// `changed` names the fields sent (`InstantlyWebhookFields.names`); `resumed`: it had been disabled.
        case updated(InstantlyWebhook, changed: [String], resumed: Bool)
        case upToDate(InstantlyWebhook)
    }

    /// Applies the plan's steps in order, reporting each as it completes.
    /// - Throws: the first `ProviderFailure`; the steps before it stay done (running again continues from there).
    public func apply(_ plan: Plan, client: InstantlyClient,
                      completed: (Outcome) -> Void = { _ in }) throws(ProviderFailure) -> [Outcome] {
        var outcomes: [Outcome] = []
        for step in plan.steps {
            let outcome: Outcome
            switch step {
            case .create(let fields):
                outcome = .created(try client.createWebhook(fields))
            case .update(let webhook, let changes, let resume):
                var current = webhook
                if !changes.isEmpty { current = try client.updateWebhook(id: webhook.id, changes) }
                if resume { current = try client.resumeWebhook(id: webhook.id) }
                outcome = .updated(current, changed: changes.names, resumed: resume)
            case .upToDate(let webhook):
                outcome = .upToDate(webhook)
            }
            completed(outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }
}
