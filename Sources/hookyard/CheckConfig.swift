import ArgumentParser

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
        print("  database                  \(settings.database)")
        print("  log_level                 \(settings.logLevel)")
        print("  STRIPE_WEBHOOK_SECRET     \(Serve.describe(settings.stripe.webhookSecrets))")
        print("  INSTANTLY_WEBHOOK_SECRET  \(Serve.describe(settings.instantly.webhookSecrets))")
    }
}
