import Foundation
import Intake
import Workflows

/// The URL Instantly delivers to, and the watcher's interval, as the configuration and `register` read them. Stateless.
public enum InstantlyIntakeURL {
    /// Why a URL cannot be the webhook's target.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
    }

    /// `text` as a webhook target: an `http://` or `https://` URL with a host; a bare origin (no path, or `/`) gets
    /// Hookyard's Instantly intake path, `/webhooks/instantly`. Any other path is kept (a proxy may map it).
    public static func resolve(_ text: String) throws(Problem) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            throw Problem(description: "'\(trimmed)' must be an http:// or https:// URL (Instantly accepts no other)")
        }
        guard !trimmed.contains(where: \.isWhitespace) else { throw Problem(description: "'\(trimmed)' must not contain spaces") }
        let rest = trimmed[trimmed.index(trimmed.startIndex, offsetBy: lower.hasPrefix("https://") ? 8 : 7)...]
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard pathStart > rest.startIndex else { throw Problem(description: "'\(trimmed)' has no host") }
        let path = rest[pathStart...]
        if path.isEmpty || path == "/" { return String(trimmed[..<pathStart]) + IntakeRouter.instantlyPath }
        return trimmed
    }

    /// `instantly.webhook_watch_interval`: `0` (off) or a duration of at least one second (`30s`, `10m`, `1h`), in
    /// milliseconds; `nil` for anything else.
    public static func watchInterval(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "0" { return 0 }
        guard let milliseconds = StepSchedule.duration(trimmed), milliseconds >= 1_000 else { return nil }
        return milliseconds
    }
}
