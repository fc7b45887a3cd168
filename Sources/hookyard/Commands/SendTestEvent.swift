import HookyardConfiguration
import ArgumentParser

/// `hookyard send-test-event`: the first form of `trigger`, kept for scripts and habits. `send-test-event stripe` is
/// `trigger stripe checkout.session.completed`; `send-test-event instantly` is `trigger instantly lead_interested`.
struct SendTestEvent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test-event",
        abstract: "Send a correctly signed test webhook to a running hookyard (see 'trigger' for any event type).")

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "stripe or instantly") var source: TriggerSource = .stripe
    @Option(help: "Base URL of the daemon (default: http://<listen address>).") var to: String?

    func run() throws {
        let type = source == .stripe ? "checkout.session.completed" : "lead_interested"
        let event = try TriggeredEvent(source: source, type: type, email: nil, assignments: [])
        try event.deliver(settings: options.load(), to: to, printOnly: false)
    }
}
