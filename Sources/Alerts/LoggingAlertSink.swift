import Dispatch
import Logging
import Synchronization

/// The fallback `AlertRaising` when no alert center is configured: a raise is one log line at error level
/// (`msg` `alert raised`, with `alert` = the kind, `subject`, `detail` = the message, and the context fields), at most
/// once per condition per `repeatInterval`; a clear of a condition it had raised is one line at info level
/// (`alert cleared`). Nothing is sent anywhere and nothing is stored: after a restart a condition that still holds
/// is logged again, and one that cleared meanwhile is not said to have cleared.
///
/// Thread-safe; both calls only take a lock and may log.
public final class LoggingAlertSink: AlertRaising {
    private let logger: Logger
    private let repeatMilliseconds: Int64
    private let clock: @Sendable () -> Int64
    /// Each raised, not yet cleared condition, with when it was last logged (clock milliseconds).
    private let raised = Mutex<[AlertCondition: Int64]>([:])

    /// - Parameters:
    ///   - repeatInterval: how long a condition that holds stays quiet after it was logged (default one hour).
    ///   - clock: monotonic milliseconds; injectable for tests.
    public init(logger: Logger, repeatInterval: Duration = .seconds(3600),
                clock: @escaping @Sendable () -> Int64 = { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }) {
        self.logger = logger
        let (seconds, attoseconds) = repeatInterval.components
        self.repeatMilliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        self.clock = clock
    }

    public func raise(_ condition: AlertCondition, message: String, context: [String: String]) {
        let now = clock()
        let due = raised.withLock { raised -> Bool in
            if let last = raised[condition], now - last < repeatMilliseconds { return false }
            raised[condition] = now
            return true
        }
        guard due else { return }
        var metadata: Logger.Metadata = context.mapValues { .string($0) }
        metadata["alert"] = .string(condition.kind.rawValue)
        metadata["subject"] = .string(condition.subject)
        metadata["detail"] = .string(message)
        logger.error("alert raised", metadata: metadata)
    }

    public func clear(_ condition: AlertCondition, message: String) {
        guard raised.withLock({ $0.removeValue(forKey: condition) }) != nil else { return }
        logger.info("alert cleared", metadata: ["alert": .string(condition.kind.rawValue), "subject": .string(condition.subject),
                                                "detail": .string(message)])
    }
}
