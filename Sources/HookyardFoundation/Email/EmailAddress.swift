import Foundation

/// The one spelling of an email address that Hookyard keys people by.
///
/// `normalized(_:)` is applied once, where an address enters (webhook intake's dedup keys, contact observations,
/// workflow actions, CLI lookups, erase), and everything stored is in this form: contacts, purchases, Stripe customers
/// Hookyard creates and their `hookyard_email` metadata. Comparisons are then byte equality in SQL (never SQLite's
/// `lower()`, which folds ASCII only). A pure function of its input; thread-safe.
public enum EmailAddress {
    /// `text` trimmed of whitespace and newlines, in Unicode canonical composition (NFC), and lower-cased with
    /// Unicode's full case mapping (Swift's `lowercased()`, per scalar and independent of the locale), so
    /// `ZOË.ÄNGSTRÖM@EXAMPLE.COM`, `zoë.ängström@example.com` and the same written with combining diaereses are one
    /// address. Nothing else changes (no dot or `+tag` rules: those are the mailbox provider's business).
    public static func normalized(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
            .precomposedStringWithCanonicalMapping
            .lowercased()
            .precomposedStringWithCanonicalMapping
    }

    /// `normalized(text)`, or `nil` when `text` is `nil` or blank.
    public static func normalizedOrNil(_ text: String?) -> String? {
        guard let text else { return nil }
        let normalized = normalized(text)
        return normalized.isEmpty ? nil : normalized
    }
}
