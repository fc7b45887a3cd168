/// Sums of money in SQLite's SQL. SQLite-specific: `sum()` that fails on 64-bit overflow (PostgreSQL's `sum(bigint)`
/// returns `numeric` and needs none of this).
extension MoneySum {
    /// SQLite's `sum()` raises "integer overflow" (an error, failing the whole statement) when a total leaves the
    /// 64-bit range. `sqlParts(of:)` sums the high and the low 32 bits apart instead, which cannot overflow below
    /// two billion rows; `combine` puts them back together, checked.
    /// - Parameter column: an integer SQL expression.
    /// - Returns: two aggregate expressions, `high, low`, for a SELECT list.
    public static func sqlParts(of column: String) -> String {
        "coalesce(sum((\(column)) / 4294967296), 0), coalesce(sum((\(column)) % 4294967296), 0)"
    }

    /// The exact total of the two parts `sqlParts` selected, or `nil` when it cannot be represented in `Int64`.
    public static func combine(high: Int64, low: Int64) -> Int64? {
        Int64(exactly: Int128(high) * 4_294_967_296 + Int128(low))
    }
}
