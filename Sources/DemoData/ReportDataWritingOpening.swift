import Store

/// Opens the `ReportDataWriting` for a database location: `SQLiteReportDataWriter` on a `LoadingConnection` (the
/// file created and migrated if missing) or `PostgreSQLReportDataWriter` on a connection of its own (migrated,
/// `synchronous_commit = off`). Generated data only. Stateless; the returned writer owns its connection (`close()`).
public enum ReportDataWritingOpening {
    /// - Parameter keyPrefix: the start of every event's dedup key (`demo:` marks the demo dataset).
    /// - Throws: `StoreError.newerSchema`, or the engine's error.
    public static func open(_ location: DatabaseLocation, keyPrefix: String = "demo:") throws -> any ReportDataWriting {
        switch location {
        case .sqlite(let path): try SQLiteReportDataWriter(path: path, keyPrefix: keyPrefix)
        case .postgresql(let url, let password): try PostgreSQLReportDataWriter(url: url, password: password, keyPrefix: keyPrefix)
        }
    }
}
