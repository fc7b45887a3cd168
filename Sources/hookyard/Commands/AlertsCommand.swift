import HookyardConfiguration
import Alerts
import ArgumentParser
import Foundation
import Logging
import Store

/// `hookyard alerts [--all] [--json]`: the alert conditions raised now (with `--all`, cleared ones too).
struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "List the alerts raised now: dead jobs, a store that cannot commit, deliverability, Instantly account errors.",
        discussion: """
            Each alert is one condition (kind and subject): notified when raised, again every alerts.repeat_interval \
            while it holds, and once when it clears. See docs/alerts.md for what each kind means and what to do.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Flag(help: "Also list cleared alerts.") var all = false
    @Flag(help: "Print JSON lines.") var json = false

    func run() throws {
        let settings = try options.load(rules: false)
        let store = try openStore { try StorageOpening.alerts(settings.databaseLocation) }
        defer { store.close() }
        let alerts = try store.alerts(includeCleared: all)
        if json {
            for alert in alerts { print(try jsonLine(Self.summary(alert))) }
            return
        }
        guard !alerts.isEmpty else {
            print(all ? "no alerts recorded" : "no alert raised")
            return
        }
        print(column("STATE", 9) + column("KIND", 28) + column("SUBJECT", 44) + column("SINCE", 26) + column("LAST NOTIFIED", 26)
              + column("COUNT", 7) + "MESSAGE")
        for alert in alerts {
            let since = alert.state == .raised ? alert.firstRaisedAt : alert.clearedAt ?? alert.lastRaisedAt
            print(column(alert.state.rawValue, 9) + column(alert.kind, 28) + column(alert.subject, 44) + column(isoTime(since), 26)
                  + column(alert.lastNotifiedAt.map(isoTime) ?? "-", 26) + column(String(alert.timesNotified), 7) + alert.message)
        }
    }

    static func summary(_ alert: AlertRecord) -> [String: Any] {
        var object: [String: Any] = [
            "kind": alert.kind, "subject": alert.subject, "state": alert.state.rawValue, "first_raised_at": isoTime(alert.firstRaisedAt),
            "last_raised_at": isoTime(alert.lastRaisedAt), "times_notified": alert.timesNotified, "message": alert.message,
            "context": alert.context,
        ]
        if let notified = alert.lastNotifiedAt { object["last_notified_at"] = isoTime(notified) }
        if let cleared = alert.clearedAt { object["cleared_at"] = isoTime(cleared) }
        return object
    }
}

/// After `jobs retry` or `jobs discard`: clears the dead-job alerts no dead job is left for, and says which.
func clearResolvedDeadJobAlerts(_ options: ConfigurationOptions, queue: any JobQueueStorage) throws {
    let settings = try options.load(rules: false)
    // The clear is recorded (and its notification queued for the daemon's workers); this command prints it, and only
    // problems (warnings and errors) are logged, on standard error.
    var logger = Logger(label: "hookyard.cli", factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = .warning
    let alerts = AlertComponents(settings, logger: logger)
    defer { alerts.center.close() }
    for subject in alerts.deadJobs.clearResolved(queue: queue) {
        print("alert job_dead (\(subject)) cleared: no dead job of it remains")
    }
}
