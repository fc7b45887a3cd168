/// A segment compiled to SQL for each storage engine: a boolean expression over the `contacts` table (aliased `c`),
/// with `?` placeholders bound in order from `parameters`. Built by the `Contacts` module from the configuration
/// (`SegmentCompiler` writes both dialects from one parsed condition, with the same placeholders in the same order);
/// never from user input at run time, and values are always bound, never spliced.
///
/// Each store picks its dialect: `SQLiteContactStore` uses `sql`, `PostgreSQLContactStore` uses `postgreSQL` (and
/// numbers the placeholders `$1`, `$2`, … itself). A query written by hand for SQLite only (`postgreSQL == nil`) is
/// refused by the PostgreSQL store with `ContactStorageError.segmentQuery`.
/// A value type; thread-safe.
public struct SegmentQuery: Sendable, Equatable {
    public enum Parameter: Sendable, Equatable {
        case text(String)
        case integer(Int64)
        case real(Double)
        /// The evaluation time, Unix milliseconds.
        case now
    }

    public var name: String
    /// The SQLite dialect (0/1 integers for truth values, `IS` for null-safe equality, `TOTAL()`).
    public var sql: String
    /// The PostgreSQL dialect (booleans, `IS NOT DISTINCT FROM`, `coalesce(sum())`), or `nil` when the query was
    /// written for SQLite only.
    public var postgreSQL: String?
    public var parameters: [Parameter]

    /// A query with SQLite SQL only (hand-written, as tests do); the PostgreSQL store refuses it.
    public init(name: String, sql: String, parameters: [Parameter]) {
        self.init(name: name, sql: sql, postgreSQL: nil, parameters: parameters)
    }

    /// A query in both dialects; both use the same `?` placeholders in the same order.
    public init(name: String, sql: String, postgreSQL: String?, parameters: [Parameter]) {
        self.name = name
        self.sql = sql
        self.postgreSQL = postgreSQL
        self.parameters = parameters
    }
}
