import HookyardConfiguration
import ArgumentParser
import Contacts
import Cryptography
import Foundation
import Intake
import Logging
import Outbound
import Store
import Workflows

/// `hookyard maintain`: one pass of the upkeep `serve` runs every ten minutes, now.
struct Maintain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one maintenance pass now: prune payloads past retention, re-score engagement, re-evaluate segments.",
        discussion: """
            `serve` runs this every ten minutes. Run it by hand after changing segments or retention, or to see what \
            it does. Rules on segment changes it finds are queued for the daemon's workers; nothing is sent by this \
            command itself.
            """)
    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        // Against the daemon's database: its segments and rules, from the file it recorded, unless --config is given.
        let settings = try options.load(recorded: true)
        let logger = Logging.makeLogger(level: settings.logLevel)
        let engine = WorkflowEngine(rules: settings.rules, contacts: settings.contactPolicy, catalog: settings.catalog,
                                    providers: Serve.providers(settings, limiters: Limiters(settings)), logger: logger)
        let alerts = AlertComponents(settings, logger: logger)
        defer { alerts.center.close() }
        let maintenance = ContactMaintenance(
            configuration: .init(location: settings.databaseLocation, retentionMilliseconds: settings.retentionMilliseconds),
            engine: engine, logger: logger, deliverability: alerts.deliverability, deadJobs: alerts.deadJobs)
        let report: ContactMaintenance.Report
        do {
            report = try maintenance.runOnce()
        } catch {
            throw ValidationError("maintenance failed: \(error)")
        }
        LogOutput.standard.flush()
        print("payloads pruned  \(report.payloadsPruned)\(settings.retentionMilliseconds == nil ? " (retention.payload_days is 0: kept forever)" : "")")
        print("segment changes  \(report.transitions)")
        print("flows queued     \(report.flowsStarted)")
        print("campaign pauses  \(report.campaignPausesQueued)\(settings.deliverability.pauseCampaigns ? "" : " (deliverability.pause_campaigns is off)")")
        print("alerts cleared   \(report.alertsCleared)")
    }
}
