/// Money as people read it: Stripe's smallest-unit amounts in major units with the currency's own number of
/// decimals (`USD 1,234.50`, `JPY 12,000`, `KWD 1.250`), never converted. Locale-independent (comma thousands,
/// point decimals) so output is the same on every machine; zero-decimal currencies are `ReportFormat`'s list.
/// Stateless and thread-safe.
public enum CurrencyFormat {
    /// Stripe's three-decimal currencies (amounts in thousandths).
    static let threeDecimal: Set<String> = ["bhd", "jod", "kwd", "omr", "tnd"]

    /// How many decimals the currency's major unit has: 0, 2 or 3.
    public static func decimals(_ currency: String) -> Int {
        let code = currency.lowercased()
        return ReportFormat.zeroDecimalCurrencies.contains(code) ? 0 : threeDecimal.contains(code) ? 3 : 2
    }

    /// `amount` (smallest unit) in major units: 1234 `usd` is 12.34.
    public static func major(_ amount: Double, currency: String) -> Double {
        var value = amount
        for _ in 0..<decimals(currency) { value /= 10 }
        return value
    }

    /// `USD 1,234.50`; negative amounts (refunds) as `USD -3.00`. Exact for every `Int64` (integer arithmetic, no
    /// Double): `USD 92,233,720,368,547,758.07` for the largest.
    public static func text(_ money: Money) -> String {
        "\(money.currency.uppercased()) \(majorText(money.amount, decimals: decimals(money.currency)))"
    }

    /// `amount` smallest units as major units with `decimals` decimals and comma thousands ("-1,234.50").
    static func majorText(_ amount: Int64, decimals: Int) -> String {
        var divisor: UInt64 = 1
        for _ in 0..<decimals { divisor *= 10 }
        let (whole, fraction) = amount.magnitude.quotientAndRemainder(dividingBy: divisor)
        var text = (amount < 0 ? "-" : "") + SVGChart.grouped(whole)
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }

    /// A rate such as revenue per email, one decimal finer than the currency (`USD 0.045`, `JPY 4.5`).
    public static func text(_ rate: MoneyRate) -> String {
        "\(rate.currency.uppercased()) \(SVGChart.fixed(major(rate.amount, currency: rate.currency), decimals: decimals(rate.currency) + 1))"
    }
}
