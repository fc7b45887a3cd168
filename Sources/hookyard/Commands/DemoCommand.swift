import ArgumentParser
import DemoData
import Foundation
import HookyardConfiguration
import HookyardFoundation
import Store

/// `hookyard demo seed`: a database of clearly labelled synthetic data to try the report and its page on.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Synthetic demo data for trying the report.",
        subcommands: [Seed.self])

    struct Seed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fill a new database with a realistic synthetic dataset (90 days of outreach, payments, subscriptions).",
            discussion: """
                Campaign names start with "Demo:", addresses are @example.com and @example.org, and the report marks the \
                database as synthetic demo data. A database holding any real event or contact is refused (demo data is \
                never mixed into real data); an earlier demo database is replaced only with --force.
                """)

        @Option(help: "The database file to create, or an empty PostgreSQL database's URI (postgresql://…; the password from HOOKYARD_DATABASE_PASSWORD).")
        var database = "./hookyard-demo.db"
        @Option(help: "How many leads.") var contacts = 5_000
        @Option(help: "Seed of the generator: the same seed gives the same data (relative to now).") var seed: UInt64 = 1
        @Flag(help: "Replace an existing demo database.") var force = false

        func validate() throws {
            guard (1...5_000_000).contains(contacts) else { throw ValidationError("--contacts must be between 1 and 5000000") }
        }

        func run() throws {
            let now = WallClock.nowMilliseconds()
            let started = Date()
            let summary: DemoDataset.Summary
            let location: DatabaseLocation = DatabaseLocation.isPostgreSQLURI(database)
                ? .postgresql(url: database, password: try SecretResolver.resolveWhole("HOOKYARD_DATABASE_PASSWORD",
                                                                                     environment: ProcessInfo.processInfo.environment))
                : .sqlite(path: database)
            do {
                summary = try DemoDataset(contacts: contacts, seed: seed, now: now).create(location, force: force)
            } catch let refusal as DemoDataset.Refusal {
                throw ValidationError(refusal.description)
            }
            print("""
                \(location): synthetic demo data, seed \(seed): \(summary.contacts) contacts, \(summary.events) events, \
                \(summary.payments) payments, \(summary.links) payment links (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)
                try: hookyard report --database \(database)
                """)
        }
    }
}
