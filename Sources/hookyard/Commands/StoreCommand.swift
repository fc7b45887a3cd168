import ArgumentParser
import Foundation
import HookyardConfiguration
import Store

/// `hookyard store copy --to postgresql://…`: moves an install's SQLite database into an empty PostgreSQL database.
/// Wiring only: the copy itself (snapshot, order, batches, checks) is `StoreCopy`, in the Store module.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Move the database between storage engines.",
        subcommands: [Copy.self])

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the SQLite database into an empty PostgreSQL database.",
            discussion: """
                Copies every table (events, jobs, contacts, alerts, payments, rule runs, segments, daemon status…) \
                with its ids into the PostgreSQL database --to, in one transaction: all or nothing. The target must be \
                empty (a new database; it is migrated first); a target with rows is refused. The source is read as one \
                consistent snapshot: what the daemon stores after that instant is not copied, so stop the daemon first. \
                The row counts of every table are compared before the commit. The password comes from the URI or \
                HOOKYARD_DATABASE_PASSWORD (_FILE, or the systemd credential). See docs/operations.md, "Moving an \
                install to PostgreSQL".
                """)

        @OptionGroup var options: ConfigurationOptions
        @Option(help: "The empty PostgreSQL database to copy into (postgresql://user@host/db).") var to: String

        func validate() throws {
            guard DatabaseLocation.isPostgreSQLURI(to) else {
                throw ValidationError("--to must be a PostgreSQL URI (postgresql://user@host/database), not '\(to)'")
            }
        }

        func run() throws {
            let settings = try options.load(rules: false)
            guard case .sqlite(let path) = settings.databaseLocation else {
                throw StoreCopy.Failure("""
                    hookyard store copy copies a SQLite database; the configured one, \(settings.databaseLocation), is \
                    PostgreSQL already: give the SQLite file with --database FILE (or use pg_dump to move between \
                    PostgreSQL servers)
                    """)
            }
            let password: String?
            do {
                password = try SecretResolver.resolveWhole("HOOKYARD_DATABASE_PASSWORD", environment: ProcessInfo.processInfo.environment)
            } catch {
                throw ValidationError("the target's password: \(error.description)")
            }
            let target = DatabaseLocation.postgresql(url: to, password: password)
            let summary = try StoreCopy.copy(sqlitePath: path, to: to, password: password)
            let width = max(5, summary.tables.map(\.table.count).max() ?? 0)
            print("table".padding(toLength: width, withPad: " ", startingAt: 0) + "  rows")
            for count in summary.tables {
                print(count.table.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(count.rows)")
            }
            print("copied \(summary.rows) rows in \(String(format: "%.1f", summary.seconds)) s "
                  + "(\(summary.statements) INSERT statements) from \(path) into \(target)")
        }
    }
}
