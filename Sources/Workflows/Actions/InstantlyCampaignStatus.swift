import Jobs
import Outbound
import StrictJSON

/// `instantly.pause_campaign` (`pause`) and `instantly.resume_campaign`: reads the campaign's status first and posts
/// pause (unless paused) or activate (unless active or running subsequences) only when needed, so a retry writes
/// nothing once the first attempt took effect. One type for the two actions: they differ only in the status wanted.
/// A value; thread-safe.
struct InstantlyCampaignStatus: Action {
    let pause: Bool

    static let pauseCampaign = InstantlyCampaignStatus(pause: true)
    static let resumeCampaign = InstantlyCampaignStatus(pause: false)

    var spec: ActionCatalog.Spec {
        pause
            ? ActionCatalog.Spec(name: "instantly.pause_campaign", provider: .instantly, required: ["campaign"], optional: [],
                                 outputs: ["campaign", "status", "changed"],
                                 summary: "Pauses a campaign (POST /api/v2/campaigns/{id}/pause) unless it is already paused.")
            : ActionCatalog.Spec(name: "instantly.resume_campaign", provider: .instantly, required: ["campaign"], optional: [],
                                 outputs: ["campaign", "status", "changed"],
                                 summary: "Activates or resumes a campaign (POST /api/v2/campaigns/{id}/activate) unless it is already active or running subsequences.")
    }

    func run(_ arguments: Arguments, in context: ActionContext, runner: ActionRunner) throws(JobFailure) -> JSONValue {
        let id = try arguments.string("campaign")
        return try provider { () throws(ProviderFailure) in
            let current = try context.instantly.campaign(id: id)
            let done = pause ? current.status == InstantlyCampaign.paused
                : [InstantlyCampaign.active, InstantlyCampaign.runningSubsequences].contains(current.status)
            guard !done else {
                return .object(["campaign": .string(current.id), "status": .string(current.statusName), "changed": .bool(false)])
            }
            let updated = pause ? try context.instantly.pauseCampaign(id: id) : try context.instantly.activateCampaign(id: id)
            return .object(["campaign": .string(updated.id), "status": .string(updated.statusName), "changed": .bool(true)])
        }
    }
}
