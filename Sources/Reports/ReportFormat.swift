import Foundation

/// How report figures are written for people (the table, the page): money with its currency code, rates as
/// percentages, durations in days and hours. Stateless.
public enum ReportFormat {
    /// Stripe's zero-decimal currencies: amounts are whole units, not hundredths.
    static let zeroDecimalCurrencies: Set<String> = ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                                                     "vnd", "vuv", "xaf", "xof", "xpf"]

    /// `USD 1,147.00` (`JPY 500`, `KWD 1.250`) from Stripe's smallest-unit amount: `CurrencyFormat`, the one money
    /// format of the table, the page and `stats`.
    public static func amount(_ amount: Int64, currency: String) -> String {
        CurrencyFormat.text(Money(currency: currency, amount: amount))
    }

    /// Each currency's amount, joined by two spaces; `-` for none.
    public static func money(_ amounts: [Money]) -> String {
        amounts.isEmpty ? "-" : amounts.map(CurrencyFormat.text).joined(separator: "  ")
    }

    /// A fractional amount of minor units with one more decimal than the currency has: `USD 0.045`.
    public static func money(_ rates: [MoneyRate]) -> String {
        rates.isEmpty ? "-" : rates.map(CurrencyFormat.text).joined(separator: "  ")
    }

    /// `41.2%`; `-` when the rate is undefined.
    public static func percent(_ rate: Double?) -> String {
        rate.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
    }

    /// `+16.7 pp`; `-` when undefined.
    public static func points(_ points: Double?) -> String {
        points.map { String(format: "%+.1f pp", $0) } ?? "-"
    }

    /// `3d 4h` and the like (see `ReportTime.duration`); `-` when undefined.
    public static func duration(_ milliseconds: Int64?) -> String {
        milliseconds.map(ReportTime.duration) ?? "-"
    }

    /// A count, or `-` when the figure does not apply.
    public static func count(_ value: Int?) -> String { value.map(String.init) ?? "-" }
}
