import ArgumentParser

/// The `hookyard` command: a webhook bridge between Instantly and Stripe.
@main
struct Hookyard: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "hookyard",
        abstract: "Receive, verify and durably queue Stripe and Instantly webhooks.",
        version: version,
        subcommands: [Serve.self, Stats.self, Events.self, Jobs.self, ContactsCommand.self, SegmentsCommand.self, Maintain.self, Backup.self,
                      CatalogCommand.self, CheckConfig.self, TriggerCommand.self, SendTestEvent.self,
                      ReportCommand.self, DemoCommand.self],
        defaultSubcommand: nil
    )
}

/// Options every command that reads configuration shares.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (default: /etc/hookyard/hookyard.yaml if present, else built-in defaults).")
    var config: String?

    @Option(name: .long, help: "SQLite database file; overrides the configuration and HOOKYARD_DATABASE.")
    var database: String?

    /// The loaded configuration, or an error that prints every problem with file, line and key.
    /// - Parameter rules: `false` for commands that only read the database (the rules are not read).
    func load(rules: Bool = true) throws -> HookyardConfiguration {
        do {
            var loaded = try ConfigurationLoader.load(path: config, environment: ProcessInfoEnvironment.current, readRules: rules)
            if let database { loaded.database = database }
            return loaded
        } catch {
            throw ValidationError("invalid configuration:\n\(error.description)")
        }
    }
}

import Foundation

enum ProcessInfoEnvironment {
    static var current: [String: String] { ProcessInfo.processInfo.environment }
}
