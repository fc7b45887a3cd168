import Alerts
import Logging
import Synchronization
import XCTest

/// `LoggingAlertSink`, the fallback `AlertRaising`: error line on raise (once per repeat interval), info line on clear.
final class LoggingAlertSinkTests: XCTestCase {
    /// Keeps every log line's level, message and metadata.
    struct CapturingLogHandler: LogHandler {
        struct Line: Equatable {
            var level: Logger.Level
            var message: String
            var metadata: [String: String]
        }

        let capture: Capture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.lines.withLock { $0.append(Line(level: event.level, message: "\(event.message)",
                                             metadata: (event.metadata ?? [:]).mapValues { "\($0)" })) }
        }
    }

    final class Capture: Sendable {
        let lines = Mutex<[CapturingLogHandler.Line]>([])
        var logger: Logger { Logger(label: "test") { _ in CapturingLogHandler(capture: self) } }
        var all: [CapturingLogHandler.Line] { lines.withLock { $0 } }
    }

    func testRaiseLogsAnErrorOncePerIntervalAndClearLogsOnlyWhatWasRaised() {
        let capture = Capture()
        let now = Mutex<Int64>(1_000)
        let sink = LoggingAlertSink(logger: capture.logger, repeatInterval: .seconds(60), clock: { now.withLock { $0 } })
        let condition = AlertCondition(.instantlyWebhookDisabled, subject: "w1")

        sink.clear(condition, message: "active")  // never raised: nothing
        sink.raise(condition, message: "Instantly disabled w1", context: ["webhook_id": "w1", "failures": "3"])
        now.withLock { $0 += 59_999 }
        sink.raise(condition, message: "Instantly disabled w1 again", context: [:])  // within the interval: quiet
        sink.raise(AlertCondition(.jobDead, subject: "rule/step"), message: "a job died", context: [:])
        now.withLock { $0 += 1 }
        sink.raise(condition, message: "still disabled", context: [:])  // the interval has passed
        sink.clear(condition, message: "Instantly webhook w1 is active again")
        sink.clear(condition, message: "again")  // already cleared: nothing

        XCTAssertEqual(capture.all, [
            .init(level: .error, message: "alert raised", metadata: ["alert": "instantly_webhook_disabled", "subject": "w1",
                                                                     "detail": "Instantly disabled w1", "webhook_id": "w1", "failures": "3"]),
            .init(level: .error, message: "alert raised", metadata: ["alert": "job_dead", "subject": "rule/step", "detail": "a job died"]),
            .init(level: .error, message: "alert raised", metadata: ["alert": "instantly_webhook_disabled", "subject": "w1", "detail": "still disabled"]),
            .init(level: .info, message: "alert cleared", metadata: ["alert": "instantly_webhook_disabled", "subject": "w1",
                                                                     "detail": "Instantly webhook w1 is active again"]),
        ])
    }
}
