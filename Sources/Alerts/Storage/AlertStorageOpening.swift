import Store

/// Opens the `AlertStorage` for a database location: `SQLiteAlertStore` for a file, `PostgreSQLAlertStore` for a
/// PostgreSQL URI. Stateless; each call opens a new connection that the returned storage owns (`close()`).
public enum AlertStorageOpening {
    /// - Parameter durableCommits: `false` (the daemon) lets the last few alert changes be lost to a crash of the
    ///   machine (SQLite) or the server (PostgreSQL), which at worst notifies a condition once more.
    /// - Throws: `StoreError.missingDatabase` (SQLite: no file), `StoreError.newerSchema`, or the engine's error.
    public static func open(_ location: DatabaseLocation, durableCommits: Bool = true) throws -> any AlertStorage {
        switch location {
        case .sqlite(let path): try SQLiteAlertStore(path: path, durableCommits: durableCommits)
        case .postgresql(let url, let password): try PostgreSQLAlertStore(url: url, password: password, durableCommits: durableCommits)
        }
    }
}

/// Opens the `DeliverabilityRatesReading` for a database location: `SQLiteDeliverabilityReader` for a file,
/// `PostgreSQLDeliverabilityReader` for a PostgreSQL URI. Stateless; each call opens a new connection that the
/// returned reader owns (`close()`).
public enum DeliverabilityRatesReadingOpening {
    /// - Throws: `StoreError.missingDatabase` (SQLite: no file), `StoreError.newerSchema`, or the engine's error.
    public static func open(_ location: DatabaseLocation) throws -> any DeliverabilityRatesReading {
        switch location {
        case .sqlite(let path): try SQLiteDeliverabilityReader(path: path)
        case .postgresql(let url, let password): try PostgreSQLDeliverabilityReader(url: url, password: password)
        }
    }
}
