/// A segment compiled to SQL: a boolean expression over the `contacts` table (aliased `c`), with `?` placeholders
/// bound in order from `parameters`. Built by the `Contacts` module from the configuration; never from user input
/// at run time, and values are always bound, never spliced.
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
    public var sql: String
    public var parameters: [Parameter]

    public init(name: String, sql: String, parameters: [Parameter]) {
        self.name = name
        self.sql = sql
        self.parameters = parameters
    }
}
