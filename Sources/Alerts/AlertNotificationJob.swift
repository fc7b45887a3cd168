import Jobs
import Outbound
import Store
import StrictJSON

/// Runs the `alert.notify` jobs (`AlertCenter.notificationKind`): posts each job's text to the alert webhook. Without
/// a webhook (the job was queued by a CLI command, which cannot know whether the daemon has the URL) there is
/// nothing to post: the job succeeds as skipped.
///
/// A value; thread-safe (the webhook is).
public struct AlertNotificationJob: JobHandler {
    public let webhook: AlertWebhook?

    public init(webhook: AlertWebhook?) {
        self.webhook = webhook
    }

    /// Registers `alert.notify` in `kinds`.
    public static func register(in kinds: inout JobKinds, webhook: AlertWebhook?) {
        kinds.register(AlertCenter.notificationKind, handler: AlertNotificationJob(webhook: webhook))
    }

    public func run(_ job: Job, context: WorkerContext) -> JobOutcome {
        guard let webhook else {
            return .succeeded(output: JSONValue.object(["skipped": .string("no alert webhook is configured (HOOKYARD_ALERT_WEBHOOK_URL)")]).serialized(),
                              followUps: [])
        }
        do {
            return .succeeded(output: try webhook.deliver(job), followUps: [])
        } catch {
            return .failed(JobFailure(provider: error))
        }
    }
}

extension JobFailure {
    /// A provider call's failure as the job's: message, status, retryability and `Retry-After` kept, cause `provider`.
    public init(provider failure: ProviderFailure) {
        self.init(message: failure.message, status: failure.status, retryable: failure.retryable,
                  retryAfterMilliseconds: failure.retryAfterMilliseconds, cause: .provider)
    }
}
