import Foundation
import Logging

/// The daemon's logger: JSON lines through `JSONLogHandler`, with syslog priorities when stdout is the journal.
enum Logging {
    static func makeLogger(level: String) -> Logger {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        // systemd sets JOURNAL_STREAM when stdout goes to the journal: then lines carry their syslog priority.
        let journal = !(ProcessInfo.processInfo.environment["JOURNAL_STREAM"] ?? "").isEmpty
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: logLevel, priorityPrefix: journal) }
        return Logger(label: "hookyard")
    }
}
