import Foundation
import Store

/// How `hookyard stats` and `hookyard check-config` show the Stripe API versions of the stored events against
/// `stripe.api_version` (docs/operations.md#stripe-events-in-another-api-version). Stateless.
enum StripeAPIVersionsText {
    /// One line per version, most recently seen first: `2024-06-20: 3 events, last 2026-12-04T20:35:54.120Z;
    /// differs from stripe.api_version 2025-12-15.clover`.
    static func lines(_ counts: [StripeAPIVersionCount], configured: String) -> [String] {
        counts.map { count in
            let name = count.version.map(printable) ?? "unknown (payload pruned or without api_version)"
            var line = "\(name): \(count.events) event\(count.events == 1 ? "" : "s"), last \(isoTime(count.lastSeen))"
            if let version = count.version, version != configured {
                line += "; differs from stripe.api_version \(configured): rules may not read its shapes (docs/operations.md)"
            }
            return line
        }
    }

    /// The versions as `stats --json` lists them.
    static func json(_ counts: [StripeAPIVersionCount], configured: String) -> [[String: Any]] {
        counts.map { count in
            ["version": count.version.map { $0 as Any } ?? NSNull(), "events": count.events, "last_seen": isoTime(count.lastSeen),
             "differs": count.version.map { $0 != configured } ?? false]
        }
    }

    /// `lines` under a label in the first column of `width` characters, the following lines indented to match.
    static func labelled(_ label: String, width: Int, _ counts: [StripeAPIVersionCount], configured: String) -> [String] {
        let lines = lines(counts, configured: configured)
        guard !lines.isEmpty else { return [column(label, width) + "no Stripe events stored"] }
        return lines.enumerated().map { index, line in column(index == 0 ? label : "", width) + line }
    }

    /// A version as received, with control characters shown as `?` (it came from outside).
    private static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(100).map { $0.properties.generalCategory == .control ? "?" : $0 }))
    }
}
