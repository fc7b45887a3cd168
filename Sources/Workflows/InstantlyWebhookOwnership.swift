import Foundation
import Outbound

/// Which of a workspace's Instantly webhooks deliver to this Hookyard, and how their URLs may be shown.
///
/// A webhook is Hookyard's when any of these holds:
/// 1. its `target_hook_url` is `publicURL` (`instantly.public_url`; scheme and host compared case-insensitively, a
///    trailing `/` ignored);
/// 2. one of its headers carries a configured Instantly secret: the secret header (`instantly.secret_header`, name
///    compared case-insensitively) or `Authorization: Bearer <secret>`;
/// 3. a path segment of its URL is a configured secret (`/webhooks/instantly/<secret>`).
///
/// Rules 2 and 3 hold wherever Hookyard is reachable (proxy prefixes, several host names) and never for another
/// tool's webhook, since only Hookyard's deliveries carry its secret; rule 1 covers a webhook whose headers Instantly
/// does not show. A value; thread-safe. Holds the secrets: never log it.
public struct InstantlyWebhookOwnership: Sendable {
    /// The full intake URL (`https://hooks.example.com/webhooks/instantly`), or `nil` when not configured.
    public let publicURL: String?
    public let secretHeader: String
    private let secrets: Set<String>

    public init(publicURL: String?, secretHeader: String, secrets: [String]) {
        self.publicURL = publicURL
        self.secretHeader = secretHeader
        self.secrets = Set(secrets.filter { !$0.isEmpty })
    }

    /// Whether ownership can be told at all: a public URL or a secret is configured.
    public var canIdentify: Bool { publicURL != nil || !secrets.isEmpty }

    /// Whether `webhook` delivers to this Hookyard (see the type's rules).
    public func owns(_ webhook: InstantlyWebhook) -> Bool {
        if let publicURL, Self.sameURL(webhook.targetURL, publicURL) { return true }
        for (name, value) in webhook.headers {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if name.lowercased() == secretHeader.lowercased(), secrets.contains(trimmed) { return true }
            if name.lowercased() == "authorization" {
                let parts = trimmed.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "bearer", secrets.contains(parts[1].trimmingCharacters(in: .whitespaces)) { return true }
            }
        }
        return Self.pathSegments(webhook.targetURL).contains { secrets.contains($0) }
    }

    /// `url` with every path segment that is a configured secret replaced by `[redacted]`: safe to print and log.
    public func redacted(_ url: String) -> String {
        guard !secrets.isEmpty, let (origin, rest) = Self.split(url) else { return url }
        let path = rest.prefix { $0 != "?" && $0 != "#" }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            let decoded = String(segment).removingPercentEncodingIfValid
            return secrets.contains(decoded) ? "[redacted]" : String(segment)
        }
        return origin + segments.joined(separator: "/") + rest.dropFirst(path.count)
    }

    /// Whether two URLs name the same endpoint: scheme and host case-insensitively, the rest exactly, a trailing `/`
    /// of the path ignored.
    public static func sameURL(_ first: String, _ second: String) -> Bool {
        func normalized(_ url: String) -> String {
            var text = url.trimmingCharacters(in: .whitespaces)
            guard let (origin, path) = split(text) else { return text }
            text = origin.lowercased() + path
            while text.hasSuffix("/") { text.removeLast() }
            return text
        }
        return normalized(first) == normalized(second)
    }

    /// `(scheme://authority, /path?query)`, or `nil` when `url` has no `://`.
    private static func split(_ url: String) -> (String, String)? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        return (String(url[..<pathStart]), String(url[pathStart...]))
    }

    /// The percent-decoded segments of the URL's path (without query or fragment).
    private static func pathSegments(_ url: String) -> [String] {
        guard let (_, rest) = split(url) else { return [] }
        let path = rest.prefix { $0 != "?" && $0 != "#" }
        return path.split(separator: "/").map { String($0).removingPercentEncodingIfValid }
    }
}

extension String {
    /// Percent-decoded, or unchanged when it is not valid percent-encoding.
    fileprivate var removingPercentEncodingIfValid: String { removingPercentEncoding ?? self }
}
