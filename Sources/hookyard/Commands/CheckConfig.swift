import Alerts
import ArgumentParser
import Contacts
import Foundation
import HookyardConfiguration
import Reports
import Store
import Workflows

/// `hookyard check-config`: validate the configuration and say what would be used.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration file and environment; print every problem with file, line and key.")

    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        let settings: HookyardConfiguration
        do {
            settings = try options.load()
        } catch let error as ValidationError {
            print(error.message)
            throw ExitCode(1)
        }
        print("configuration OK (\(settings.file ?? "built-in defaults"))")
        print("  listen                    \(settings.listen)")
        print("  database                  \(settings.databaseLocation)")
        print("  log_level                 \(settings.logLevel)")
        print("  admin_listen              \(settings.adminAddress ?? "off")")
        print("  HOOKYARD_ADMIN_TOKEN      \(settings.adminTokens.isEmpty ? "not set: whoever reaches admin_listen can read /metrics and /report" : HookyardConfiguration.describe(secrets: settings.adminTokens))")
        print("  STRIPE_WEBHOOK_SECRET     \(HookyardConfiguration.describe(secrets: settings.stripe.webhookSecrets))")
        print("  INSTANTLY_WEBHOOK_SECRET  \(HookyardConfiguration.describe(secrets: settings.instantly.webhookSecrets))")
        print("  STRIPE_API_KEY            \(settings.stripe.apiKey.isEmpty ? "not set: Stripe calls run in dry-run" : settings.stripe.isTestKey ? "set (test mode)" : "set (live mode)")")
        print("  INSTANTLY_API_KEY         \(settings.instantly.apiKey.isEmpty ? "not set: Instantly calls run in dry-run" : "set")")
        print("  stripe api                \(settings.stripe.apiBase), version \(settings.stripe.apiVersion), at most \(ConfigurationLoader.format(settings.stripe.effectiveRequestsPerSecond)) requests/s")
        printStripeAPIVersionsSeen(settings)
        print("  instantly api             \(settings.instantly.apiBase), at most \(ConfigurationLoader.format(settings.instantly.maxRequestsPerSecond)) requests/s")
        print("  instantly webhook watch   \(settings.instantly.watchDescription)")
        print("  workers                   \(settings.workers.count); retry base \(settings.workers.retryBaseMilliseconds) ms, cap \(settings.workers.retryCapMilliseconds) ms, \(settings.workers.maxAttempts) attempts")
        print("  rules                     \(settings.rules.isEmpty ? "none (events are stored, no workflow runs)" : String(settings.rules.count))")
        for rule in settings.rules {
            let trigger = rule.trigger.segmentChange.map(\.description)
                ?? "\(rule.trigger.source.rawValue) \(rule.trigger.eventTypes.joined(separator: "|"))"
            print("    \(rule.name): on \(trigger)\(rule.trigger.conditions.isEmpty ? "" : " where " + rule.trigger.conditions.map(\.description).joined(separator: " and "))\(rule.contactFilter == nil ? "" : " if the contact passes its if:")")
            var limits: [String] = []
            if let percent = rule.rolloutPercent { limits.append("rollout \(Rollout.describe(percent))") }
            if let cap = rule.maxPerDay { limits.append("at most \(cap) flows a day") }
            if !limits.isEmpty { print("      (\(limits.joined(separator: ", ")))") }
            for step in rule.steps {
                let schedule = step.schedule.map { " \($0)" } ?? ""
                let only = step.conditions.isEmpty ? "" : " if " + step.conditions.map(\.description).joined(separator: " and ")
                let when = step.skipConditions.isEmpty ? "" : " when " + step.skipConditions.map(\.description).joined(separator: " and ")
                print("      \(step.name): \(step.action)\(schedule)\(only)\(when)\(step.unless == nil ? "" : " unless the contact matches its guard")")
            }
        }
        print("  segments                  \(settings.segments.isEmpty ? "none" : settings.segments.map(\.name).joined(separator: ", "))")
        let engagement = settings.contacts.engagement
        print("  engagement                high >= \(ConfigurationLoader.format(engagement.high)), medium >= \(ConfigurationLoader.format(engagement.medium)) over \(engagement.windowDays) days; opens alone \(engagement.opensCanMakeHigh ? "can" : "never") make high")
        print("  loop guard                \(settings.contacts.loopGuardSeconds) s; at most \(settings.contacts.maxRuleRunsPerDay) runs of a rule per contact per day")
        print("  payload retention         \(settings.retentionPayloadDays == 0 ? "forever" : "\(settings.retentionPayloadDays) days")")
        print("  maintenance pass          every \(StepSchedule.format(settings.contacts.maintenanceIntervalMilliseconds))")
        print("  alerts                    repeated every \(AlertText.duration(settings.alerts.repeatIntervalMilliseconds)) while they hold; \(alertWebhookVariable) \(settings.alertWebhookDescription)")
        let watch = settings.deliverability
        let thresholds = [watch.maxBounceRate.map { "bounces > \(DeliverabilityWatch.percent($0))" }, watch.maxUnsubscribeRate.map { "unsubscribes > \(DeliverabilityWatch.percent($0))" },
                          watch.minReplyRate.map { "replies < \(DeliverabilityWatch.percent($0))" }].compactMap { $0 }
        print("  deliverability            \(thresholds.isEmpty ? "no threshold" : thresholds.joined(separator: ", ")) over \(AlertText.duration(watch.windowMilliseconds)), at least \(watch.minimumSent) sent; campaigns \(watch.pauseCampaigns ? "paused" : "not paused") when they cross")
        print("  report lookback           \(ReportTime.lookback(settings.reportLookbackMilliseconds)) (last touch)")
        let warnings = settings.startWarnings
        if !warnings.isEmpty {
            print("\(warnings.count) warning\(warnings.count == 1 ? "" : "s") (the daemon starts, but):")
            for warning in warnings { print("  warning: \(warning)") }
        }
    }

    /// The API versions of the Stripe events stored in the configured database, against `stripe.api_version`; a
    /// line saying why when there is no database to read (yet).
    private func printStripeAPIVersionsSeen(_ settings: HookyardConfiguration) {
        let label = "  stripe events"
        guard StorageOpening.exists(settings.databaseLocation) else {
            print(column(label, 28) + "no database at \(settings.databaseLocation) yet: API versions seen are shown once events are stored")
            return
        }
        do {
            let reader = try StorageOpening.reader(settings.databaseLocation)
            for line in StripeAPIVersionsText.labelled(label, width: 28, try reader.stripeAPIVersions(), configured: settings.stripe.apiVersion) {
                print(line)
            }
        } catch {
            print(column(label, 28) + "cannot read \(settings.databaseLocation): \(error)")
        }
    }
}
