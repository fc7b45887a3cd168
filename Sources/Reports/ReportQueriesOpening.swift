import Store

/// Opens the `ReportQueries` for a database location: `SQLiteReportQueries` (a `query_only` reader) for a file,
/// `PostgreSQLReportQueries` (a read-only session) for a PostgreSQL URI. Stateless; each call opens a new connection
/// that the returned queries own (`close()`), e.g. `ReportBuilder(queries: try ReportQueriesOpening.open(location))`.
public enum ReportQueriesOpening {
    /// - Throws: `StoreError.missingDatabase` (SQLite: no file), `StoreError.newerSchema`, or the engine's error.
    public static func open(_ location: DatabaseLocation) throws -> any ReportQueries {
        switch location {
        case .sqlite(let path): try SQLiteReportQueries(path: path)
        case .postgresql(let url, let password): try PostgreSQLReportQueries(url: url, password: password)
        }
    }
}
