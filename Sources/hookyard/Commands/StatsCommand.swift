import HookyardConfiguration
import ArgumentParser
import Contacts
import Foundation
import Reports
import Store

/// `hookyard stats`: counts of events per source and jobs per state, purchases, the mode, and the Stripe API versions
/// of the stored events.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show counts of stored events and queued jobs.")

    @OptionGroup var options: ConfigurationOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let settings = try options.load(rules: false)
        let reader = try openReader(settings.databaseLocation)
        let statistics = try reader.statistics()
        let daemon = try reader.daemonStatus()
        let backup = try reader.backupOrigin()
        let apiVersions = try reader.stripeAPIVersions()
        // The daemon's own record wins: this command's environment may lack the service's credentials.
        let stripeLive = daemon?.stripeLive ?? !settings.stripe.apiKey.isEmpty
        let instantlyLive = daemon?.instantlyLive ?? !settings.instantly.apiKey.isEmpty
        if json {
            let object: [String: Any] = [
                "events": Dictionary(uniqueKeysWithValues: statistics.events.map { ($0.key.rawValue, $0.value) }),
                "jobs": statistics.jobs,
                "purchases": statistics.purchases.mapValues { ["count": $0.count, "amount": $0.amount.map { $0 as Any } ?? "overflow"] },
                "payments": statistics.payments.mapValues { ["payments": $0.payments, "refunds": $0.refunds, "net": $0.net.map { $0 as Any } ?? "overflow"] },
                "database": ["path": settings.databaseLocation.description, "bytes": statistics.databaseBytes],
                "dry_run": ["stripe": !stripeLive, "instantly": !instantlyLive],
                "mode_from": daemon == nil ? "environment" : "daemon",
                "stripe_api_version": settings.stripe.apiVersion,
                "stripe_api_versions": StripeAPIVersionsText.json(apiVersions, configured: settings.stripe.apiVersion),
                "daemon": daemon.map { status -> [String: Any] in
                    ["pid": Int(status.pid), "version": status.version, "started_at": status.startedAt,
                     "stopped_at": status.stoppedAt.map { $0 as Any } ?? NSNull(),
                     "running": backup == nil && Self.isRunning(status),
                     "config_file": status.configFile.map { $0 as Any } ?? NSNull()]
                } ?? NSNull(),
                "backup": backup.map { ["taken_at": $0.takenAt, "of": $0.sourcePath] as [String: Any] } ?? NSNull(),
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            let events = EventSource.allCases.map { "\($0.rawValue) \(statistics.events[$0] ?? 0)" }.joined(separator: "  ")
            let jobs = JobState.allCases.map { "\($0.rawValue) \(statistics.jobs[$0.rawValue] ?? 0)" }
                .joined(separator: "  ")
            let purchases = statistics.purchases.keys.sorted().map { currency in
                let total = statistics.purchases[currency]!
                return "\(total.count) for \(total.amount.map { formatAmount($0, currency: currency) } ?? overflowedAmount(currency))"
            }
            print("events    \(events)")
            print("jobs      \(jobs)")
            print("purchases \(purchases.isEmpty ? "none" : purchases.joined(separator: "  ")) (recorded by rules' record_purchase steps)")
            let payments = statistics.payments.keys.sorted().map { currency in
                let total = statistics.payments[currency]!
                let net = total.net.map { formatAmount($0, currency: currency) } ?? overflowedAmount(currency)
                return "\(total.payments) for \(net) net\(total.refunds == 0 ? "" : " (\(total.refunds) refund\(total.refunds == 1 ? "" : "s"))")"
            }
            print("payments  \(payments.isEmpty ? "none" : payments.joined(separator: "  ")) (seen in Stripe events: what contacts and the report count)")
            let dryRun = [stripeLive ? nil : "Stripe", instantlyLive ? nil : "Instantly"].compactMap { $0 }
            let mode = dryRun.isEmpty ? "live" : "dry-run for \(dryRun.joined(separator: " and ")) (requests are recorded, none sent)"
            if let daemon {
                // A copy is served by no daemon, whatever its record says; the daemon that wrote it may still run
                // on the original, which is not this file.
                let state = backup != nil ? "not serving this file (a backup copy)"
                    : Self.isRunning(daemon) ? "running"
                    : daemon.stoppedAt == nil ? "gone without a clean stop" : "stopped \(isoTime(daemon.stoppedAt!))"
                print("mode      \(mode), as the daemon recorded it")
                print("daemon    pid \(daemon.pid), version \(daemon.version), started \(isoTime(daemon.startedAt)), \(state)")
                print("config    \(daemon.configFile ?? "built-in defaults"), as the daemon recorded it")
            } else {
                // No daemon has run on this database yet: all there is to go on is this command's own environment.
                print("mode      \(mode), judged from this command's environment (no daemon has run on this database yet)")
            }
            print("database  \(settings.databaseLocation) (\(statistics.databaseBytes) bytes)")
            if let backup {
                print("backup    taken at \(isoTime(backup.takenAt)), of \(backup.sourcePath); no daemon serves this copy")
            }
            for line in StripeAPIVersionsText.labelled("stripe api", width: 11, apiVersions, configured: settings.stripe.apiVersion) {
                print(line)
            }
        }
    }
}

extension Stats {
    /// Whether the daemon that recorded `status` is still running: it has not recorded a stop, and its process is
    /// alive: the pid exists and that process started no later than the recorded start (a reused pid is not it).
    static func isRunning(_ status: DaemonStatus) -> Bool {
        status.stoppedAt == nil && status.processIsAlive
    }
}
