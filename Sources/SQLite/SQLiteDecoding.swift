import CSQLite

/// A value read back from the database that its Swift type cannot hold: a text no enum case has, or NULL where a
/// value is required. Hookyard never writes such values, so reading one means the file was changed by hand or is
/// corrupt; it is an error, never a silent default.
public struct SQLiteDecodingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The table the column comes from, when SQLite knows it (an expression column has none).
    public let table: String?
    public let column: String
    /// The value as stored (`nil`: NULL).
    public let value: String?
    /// The Swift type it was read as.
    public let type: String
    public let sql: String

    public var description: String {
        let place = table.map { "\($0).\(column)" } ?? column
        let shown = value.map { "'\($0)'" } ?? "NULL"
        return "impossible value in the database: \(place) is \(shown), which is not a \(type) [\(sql)]"
    }
}

extension SQLiteStatement {
    /// The name SQLite gives to result column `column` (its alias, or the column's name).
    public func columnName(_ column: Int32) -> String {
        sqlite3_column_name(statement, column).map { String(cString: $0) } ?? "column \(column)"
    }

    /// The table result column `column` is read from, or `nil` for an expression.
    public func columnTable(_ column: Int32) -> String? {
        sqlite3_column_table_name(statement, column).map { String(cString: $0) }
    }

    /// The error for the value in `column` that cannot be read as `type`.
    public func decodingError<T>(_ type: T.Type, column: Int32) -> SQLiteDecodingError {
        let value: String? = isNull(column) ? nil : string(column)
        return SQLiteDecodingError(table: columnTable(column), column: columnName(column), value: value,
                                   type: String(describing: type), sql: sql)
    }

    /// The text in `column` as a `T` (an enum stored by its raw value).
    /// - Throws: `SQLiteDecodingError` when the column is NULL or holds a text no `T` has.
    public func decode<T: RawRepresentable>(_ type: T.Type, column: Int32) throws(SQLiteDecodingError) -> T
    where T.RawValue == String {
        guard let text = string(column), let value = T(rawValue: text) else { throw decodingError(type, column: column) }
        return value
    }

    /// The text in `column` as a `T`, or `nil` when the column is NULL.
    /// - Throws: `SQLiteDecodingError` when it holds a text no `T` has.
    public func decodeIfPresent<T: RawRepresentable>(_ type: T.Type, column: Int32) throws(SQLiteDecodingError) -> T?
    where T.RawValue == String {
        if isNull(column) { return nil }
        return try decode(type, column: column)
    }

    /// The text in `column`. - Throws: `SQLiteDecodingError` when it is NULL.
    public func requiredString(_ column: Int32) throws(SQLiteDecodingError) -> String {
        guard let text = string(column) else { throw decodingError(String.self, column: column) }
        return text
    }

    /// The integer in `column`, or `nil` when it is NULL.
    public func optionalInt(_ column: Int32) -> Int64? {
        isNull(column) ? nil : int(column)
    }
}
