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
        let reader = try openReader(settings.database)
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
                "database": ["path": settings.database, "bytes": statistics.databaseBytes],
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
            print("database  \(settings.database) (\(statistics.databaseBytes) bytes)")
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

/// `hookyard events list|show`.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inspect stored webhook events.",
                                                    subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the most recent events.")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Only events from this source (stripe or instantly).") var source: EventSource?
        @Option(help: "How many events to show.") var limit = 20
        @Flag(help: "Print JSON lines.") var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let settings = try options.load(rules: false)
            let events = try openReader(settings.database).events(source: source, limit: limit)
            if json {
                for event in events { print(try jsonLine(summary(event))) }
                return
            }
            print(column("ID", 8) + column("SOURCE", 10) + column("RECEIVED", 25) + column("TYPE", 36) + column("JOB", 10) + "EVENT")
            for event in events {
                print(column(String(event.id), 8) + column(event.source.rawValue, 10) + column(isoTime(event.receivedAt), 25)
                      + column(event.type, 36) + column(event.jobStates.joined(separator: ","), 10) + (event.eventID ?? event.dedupKey))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one event with its raw body.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Row id, Stripe event id (evt_...) or dedup key.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let settings = try options.load(rules: false)
            guard let event = try openReader(settings.database).event(id) else {
                throw ValidationError("no event '\(id)' in \(settings.database)")
            }
            var object = summary(event)
            object["jobs"] = try JobQueue(path: settings.database).jobs(forEvent: event.id).map { job -> [String: Any] in
                var entry: [String: Any] = ["id": job.id, "kind": job.kind, "state": job.state.rawValue, "attempts": job.attempts]
                if let step = stepName(job) { entry["step"] = step }
                if let error = job.lastError { entry["last_error"] = error }
                if let reason = JobQueue.skipReason(of: job) { entry["skipped_because"] = reason }
                return entry
            }
            object["headers"] = (try? JSONSerialization.jsonObject(with: Data(event.headersJSON.utf8))) ?? [:]
            let body = String(decoding: event.body, as: UTF8.self)
            if json {
                object["body"] = (try? JSONSerialization.jsonObject(with: Data(event.body))) ?? body
                print(try jsonLine(object, pretty: true))
            } else {
                print(try jsonLine(object, pretty: true))
                print("body:")
                print(body)
            }
        }
    }
}

extension EventSource: ExpressibleByArgument {}

private func openReader(_ path: String) throws -> StoreReader { try openStore { try StoreReader(path: path) } }

/// Opens one of the store's connections for a command; its failure (no database file, a newer schema) becomes the
/// command's error message.
func openStore<Connection>(_ open: () throws -> Connection) throws -> Connection {
    do {
        return try open()
    } catch {
        throw ValidationError("\(error)")
    }
}

private func summary(_ event: StoredEvent) -> [String: Any] {
    var object: [String: Any] = [
        "id": event.id, "source": event.source.rawValue, "type": event.type, "dedup_key": event.dedupKey,
        "received_at": isoTime(event.receivedAt), "jobs": event.jobStates, "bytes": event.bodyBytes,
    ]
    if let eventID = event.eventID { object["event_id"] = eventID }
    return object
}

func jsonLine(_ object: [String: Any], pretty: Bool = false) throws -> String {
    var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
    if pretty { options.insert(.prettyPrinted) }
    return String(decoding: try JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self)
}

/// `text` left-aligned in a column of `width` characters (at least one space after it).
func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func isoTime(_ milliseconds: Int64) -> String { ContactJSON.isoTime(milliseconds) }

/// `USD 147.00` from Stripe's smallest-unit amount (`JPY 500` for a zero-decimal currency).
func formatAmount(_ amount: Int64, currency: String) -> String { ReportFormat.amount(amount, currency: currency) }

/// A total that does not fit 64 bits (amounts are stored as received), said as such rather than summed.
func overflowedAmount(_ currency: String) -> String { "\(currency.uppercased()) overflowed (total beyond ±9.2e18 smallest units)" }
