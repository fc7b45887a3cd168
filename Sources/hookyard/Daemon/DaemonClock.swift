import Foundation
import HookyardFoundation
import Logging

/// The time the daemon's workflows, workers and contact maintenance run on: the system clock, or, for end-to-end
/// tests of scheduled steps (a step `after: 3d` must not take three days to test), the system clock moved forward
/// by the milliseconds written in the file `HOOKYARD_TEST_CLOCK_OFFSET_FILE` names. The file is read on every call,
/// so a test moves time by rewriting it; a missing, empty or unreadable file counts as 0. Never set it in
/// production: the daemon logs a warning when it is set. Thread-safe.
enum DaemonClock {
    static let variable = "HOOKYARD_TEST_CLOCK_OFFSET_FILE"

    static func make(environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) -> MillisecondClock {
        guard let path = environment[variable], !path.isEmpty else {
            return WallClock.system
        }
        logger.warning("the workflow clock is moved by the offset in \(variable) (for tests only)", metadata: ["file": "\(path)"])
        return { WallClock.nowMilliseconds() + offset(path) }
    }

    /// The whole number of milliseconds in the file, or 0.
    static func offset(_ path: String) -> Int64 {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines) else { return 0 }
        return Int64(text) ?? 0
    }
}
