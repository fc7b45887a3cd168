/// Where an email address was found in the database: one column of one table, and how many rows hold it there.
/// A value type; thread-safe.
public struct AddressOccurrence: Sendable, Equatable, CustomStringConvertible {
    public var table: String
    public var column: String
    public var rows: Int

    public init(table: String, column: String, rows: Int) {
        self.table = table
        self.column = column
        self.rows = rows
    }

    public var description: String { "\(table).\(column) (\(rows) row\(rows == 1 ? "" : "s"))" }
}
