import Logging
import Synchronization

/// Keeps every line logged through its `logger`, for tests that check what was logged (level, message, fields).
/// Thread-safe.
public final class LogRecorder: Sendable {
    public struct Entry: Sendable, Equatable {
        public var level: Logger.Level
        public var message: String
        /// Metadata values as text.
        public var fields: [String: String]
    }

    private let recorded = Mutex<[Entry]>([])

    public init() {}

    /// A logger (level `trace`) whose lines this recorder keeps.
    public var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Every line so far, in order.
    public var entries: [Entry] { recorded.withLock { $0 } }

    /// The lines with this message.
    public func entries(_ message: String) -> [Entry] { entries.filter { $0.message == message } }

    fileprivate func append(_ entry: Entry) { recorded.withLock { $0.append(entry) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = (event.metadata ?? [:]).merging(metadata) { event, _ in event }
            recorder.append(Entry(level: event.level, message: "\(event.message)", fields: merged.mapValues { "\($0)" }))
        }
    }
}
