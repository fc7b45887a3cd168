import HookyardConfiguration
import ArgumentParser
import Foundation
import Store

/// The `hookyard` command: a webhook bridge between Instantly and Stripe.
@main
struct Hookyard: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "hookyard",
        abstract: "Receive, verify and durably queue Stripe and Instantly webhooks.",
        discussion: """
            Exit status: 0 on success; 1 when a command could not do its work (a missing database, no such job or \
            contact, an invalid configuration file, a refused change, a failed request): the message says what \
            failed and what to do; 64 when the command line itself is wrong (an unknown command or option, a missing \
            or malformed argument): then the usage is printed too.
            """,
        version: version,
        subcommands: [Serve.self, Stats.self, Events.self, Jobs.self, ContactsCommand.self, SegmentsCommand.self, Maintain.self, Backup.self,
                      CatalogCommand.self, CheckConfig.self, TriggerCommand.self, SendTestEvent.self, InstantlyCommand.self,
                      AlertsCommand.self, ReportCommand.self, DemoCommand.self, MCPCommand.self, ExplainCommand.self, DryRunCommand.self,
                      StoreCommand.self],
        defaultSubcommand: nil
    )

    /// Parses, then runs. What the command line got wrong (parsing and `validate()`) exits 64 with the usage; what
    /// goes wrong while a command runs is not a usage problem, so it is printed as `Error: …` alone and exits 1.
    static func main() {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            var command = command
            try command.run()
        } catch let error where error is ExitCode || error is CleanExit || exitCode(for: error) == .success {
            exit(withError: error)  // an exit the command chose, or help (`hookyard help …` runs as a command)
        } catch {
            let message = (error as? ValidationError)?.message ?? message(for: error)
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            exit(withError: ExitCode.failure)
        }
    }
}
