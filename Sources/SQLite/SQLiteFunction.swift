import CSQLite

/// The arguments of one call of an SQL function `SQLiteDatabase.withFunction` defined, valid only during that call.
/// Indexes start at 0. Not thread-safe (SQLite calls the function on the thread stepping the statement).
public struct SQLiteFunctionArguments {
    private let values: UnsafeMutablePointer<OpaquePointer?>?
    public let count: Int

    init(count: Int32, values: UnsafeMutablePointer<OpaquePointer?>?) {
        self.count = Int(count)
        self.values = values
    }

    private func value(_ index: Int) -> OpaquePointer? {
        guard index >= 0, index < count else { return nil }
        return values?[index]
    }

    /// Whether argument `index` is NULL (an index out of range reads as NULL).
    public func isNull(_ index: Int) -> Bool { value(index).map { sqlite3_value_type($0) == SQLITE_NULL } ?? true }

    /// Argument `index` as an integer (SQLite's conversion; 0 for NULL or an index out of range).
    public func int(_ index: Int) -> Int64 { value(index).map { sqlite3_value_int64($0) } ?? 0 }
}

/// What `sqlite3_user_data` points to while a function `withFunction` defined exists: the Swift closure it calls.
private final class SQLiteFunctionBox {
    let function: (SQLiteFunctionArguments) -> Void
    init(_ function: @escaping (SQLiteFunctionArguments) -> Void) { self.function = function }
}

/// SQLite's `xFunc` for every function `withFunction` defines: calls the box's closure; the SQL result is NULL.
private let callSQLiteFunctionBox: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = {
    context, count, values in
    guard let context, let box = sqlite3_user_data(context) else { return }
    // The box lives as long as the function (SQLite releases it through `xDestroy`): no retain per call.
    Unmanaged<SQLiteFunctionBox>.fromOpaque(box)._withUnsafeGuaranteedRef { $0.function(SQLiteFunctionArguments(count: count, values: values)) }
}

/// SQLite's `xDestroy`: releases the box when the function is deleted (or the connection closed).
private let releaseSQLiteFunctionBox: @convention(c) (UnsafeMutableRawPointer?) -> Void = { box in
    guard let box else { return }
    Unmanaged<SQLiteFunctionBox>.fromOpaque(box).release()
}

extension SQLiteDatabase {
    /// Defines the SQL function `name` with `argumentCount` arguments on this connection while `body` runs: each call
    /// runs `function` with the call's arguments, on the thread stepping the statement, and returns NULL to SQL. For
    /// a pass that consumes many rows inside one statement (`SELECT count(name(column)) FROM … WHERE …`) instead of
    /// one `step()` and column reads per row back in Swift: SQLite then calls the function from its own loop.
    ///
    /// The function is `SQLITE_DIRECTONLY` (not callable from triggers or views) and not deterministic (it is called
    /// for every row, never folded). It is deleted when `body` returns or throws. `function` must not use this
    /// connection.
    /// - Throws: SQLite's error if the function cannot be defined, or `body`'s error.
    public func withFunction<R>(_ name: String, argumentCount: Int32, _ function: @escaping (SQLiteFunctionArguments) -> Void,
                                body: () throws -> R) throws -> R {
        let box = Unmanaged.passRetained(SQLiteFunctionBox(function)).toOpaque()
        let flags = SQLITE_UTF8 | SQLITE_DIRECTONLY
        let status = try withHandle { handle in
            // On failure SQLite calls `xDestroy` itself, which releases the box.
            sqlite3_create_function_v2(handle, name, argumentCount, flags, box, callSQLiteFunctionBox, nil, nil,
                                       releaseSQLiteFunctionBox)
        }
        guard status == SQLITE_OK else { throw error(status, sql: nil) }
        defer {
            // Deleting it (no functions given) makes SQLite call `xDestroy` for the box.
            _ = try? withHandle { handle in sqlite3_create_function_v2(handle, name, argumentCount, flags, nil, nil, nil, nil, nil) }
        }
        return try body()
    }
}
