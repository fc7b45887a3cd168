import CSQLite

/// An error from SQLite, with its result code, SQLite's own message and the SQL that failed.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The extended result code (`SQLITE_FULL`, `SQLITE_BUSY`, ...).
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        let name = String(cString: sqlite3_errstr(code))
        var text = "SQLite error \(code) (\(name)): \(message)"
        if let sql { text += " [\(sql)]" }
        return text
    }

    /// Whether the database was locked by another connection for longer than the busy timeout.
    public var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }
}

/// One SQLite connection. Every `sqlite3_*` call in Hookyard goes through this file (and `SQLiteStatement`'s).
///
/// Not thread-safe: a connection is used by one thread at a time (the writer thread, a serial queue, or one CLI
/// command). It may move between threads (a serial Dispatch queue does that), but two threads must never use it at
/// the same moment: debug builds check that on every call and stop the process when two uses overlap
/// (`ExclusiveUseCheck`); release builds do not check.
/// `close()` (or deinit) finalizes the cached statements and closes the handle exactly once.
public final class SQLiteDatabase {
    private var handle: OpaquePointer?
    public let path: String
    /// Statements compiled once and kept for the connection's life, by SQL text (`cachedStatement(sql:)`).
    private var statementCache: [String: SQLiteStatement] = [:]
    /// How many statements the cache keeps before it starts over (a statement in use stays valid: its user holds it).
    static let statementCacheLimit = 512
    let exclusiveUse = ExclusiveUseCheck()

    /// Opens (creating if needed) the database at `path`.
    /// - Parameter readOnly: open without write access and without creating the file.
    public init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_close_v2(db)
            throw SQLiteError(code: status, message: "cannot open database '\(path)': \(message)", sql: nil)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    /// Closes the connection; later calls throw. Safe to call twice. Cached statements are finalized with it.
    public func close() {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        guard let db = handle else { return }
        statementCache.removeAll()
        handle = nil
        sqlite3_close_v2(db)
    }

    /// Runs `body` with the open handle, for the few C calls this wrapper's own files make elsewhere (WAL hook).
    /// - Throws: `SQLITE_MISUSE` when the connection is closed.
    func withHandle<R>(_ body: (OpaquePointer) -> R) throws(SQLiteError) -> R {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        return body(try checkedHandle(nil))
    }

    private func checkedHandle(_ sql: String?) throws(SQLiteError) -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "database is closed", sql: sql) }
        return handle
    }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        return SQLiteError(code: code, message: message, sql: sql)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        let db = try checkedHandle(sql)
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        if status != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: status, message: message, sql: sql)
        }
    }

    /// Compiles `sql` into a new statement that the caller owns (it keeps the connection alive).
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try compile(sql, cached: false)
    }

    /// The statement for `sql` compiled once per connection (as GRDB's `Database.cachedStatement(sql:)`): the first
    /// call prepares it, later calls return the same statement, reset and with its bindings cleared.
    ///
    /// - Important: the connection owns a cached statement. Use it before the next `cachedStatement(sql:)` call for
    ///   the same SQL (a nested use of the same text would share one cursor), and never after `close()`: a cached
    ///   statement used after its connection was deallocated stops the process.
    /// - Complexity: one dictionary lookup by SQL text after the first call.
    public func cachedStatement(sql: String) throws(SQLiteError) -> SQLiteStatement {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        if let statement = statementCache[sql] {
            statement.reset()
            return statement
        }
        // Statements built from configured segments are bounded in number, but never let the cache grow without end.
        if statementCache.count >= Self.statementCacheLimit { statementCache.removeAll() }
        let statement = try compile(sql, cached: true)
        statementCache[sql] = statement
        return statement
    }

    private func compile(_ sql: String, cached: Bool) throws(SQLiteError) -> SQLiteStatement {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        let db = try checkedHandle(sql)
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status, sql: sql) }
        return SQLiteStatement(statement: statement, database: self, sql: sql, ownedByDatabase: cached)
    }

    /// The integer a single-value query returns (e.g. a PRAGMA).
    public func scalarInt(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int(0)
    }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE.
    public var changes: Int {
        handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    public var lastInsertRowID: Int64 {
        handle.map { sqlite3_last_insert_rowid($0) } ?? 0
    }

    /// Sets how long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
    public func setBusyTimeout(milliseconds: Int32) throws(SQLiteError) {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        let db = try checkedHandle(nil)
        let status = sqlite3_busy_timeout(db, milliseconds)
        if status != SQLITE_OK { throw error(status, sql: nil) }
    }

    /// Runs `body` in a transaction (`BEGIN IMMEDIATE`), committing if it returns, rolling back if it throws.
    /// Debug builds check that no other thread uses the connection until the transaction ends.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        return try WriteLock.withLock { try inTransaction(begin: "BEGIN IMMEDIATE", body) }
    }

    /// Runs `body` in one read transaction: `BEGIN DEFERRED` and a first read, so the snapshot is taken at once and
    /// every statement in `body` reads it, whatever other connections commit meanwhile (a WAL reader never waits for
    /// the writer). Ends with `COMMIT`, or `ROLLBACK` if `body` throws. Takes no `WriteLock`: for reads only.
    /// Debug builds check that no other thread uses the connection until it ends.
    public func readTransaction<R>(_ body: () throws -> R) throws -> R {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        return try inTransaction(begin: "BEGIN DEFERRED; SELECT count(*) FROM sqlite_schema;", body)
    }

    /// Runs `begin`, then `body`, then `COMMIT`; `ROLLBACK` instead if `body` throws (or `COMMIT` fails), and rethrows.
    private func inTransaction<R>(begin: String, _ body: () throws -> R) throws -> R {
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// How `checkpoint(mode:)` treats concurrent writers (SQLite's `SQLITE_CHECKPOINT_*`).
    public enum CheckpointMode {
        /// Copy what can be copied without waiting for anyone.
        case passive
        /// Wait for the writer, copy everything, and make the next writer start the WAL from its beginning.
        case restart
        /// As `restart`, and truncate the WAL file to zero bytes.
        case truncate
    }

    /// Checkpoints the WAL. - Returns: the number of frames in the WAL when it ran.
    @discardableResult
    public func checkpoint(mode: CheckpointMode) throws(SQLiteError) -> Int64 {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        let db = try checkedHandle(nil)
        let code: Int32 = switch mode {
        case .passive: SQLITE_CHECKPOINT_PASSIVE
        case .restart: SQLITE_CHECKPOINT_RESTART
        case .truncate: SQLITE_CHECKPOINT_TRUNCATE
        }
        var logFrames: Int32 = 0
        var copied: Int32 = 0
        let status = sqlite3_wal_checkpoint_v2(db, nil, code, &logFrames, &copied)
        if status != SQLITE_OK && status != SQLITE_BUSY { throw error(status, sql: "wal_checkpoint") }
        return Int64(logFrames)
    }

    /// Copies this database into `destination` page by page with SQLite's online backup API.
    public func backup(to destination: SQLiteDatabase) throws(SQLiteError) {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        let source = try checkedHandle(nil)
        let target = try destination.checkedHandle(nil)
        guard let backup = sqlite3_backup_init(target, "main", source, "main") else {
            throw destination.error(sqlite3_errcode(target), sql: nil)
        }
        var status: Int32
        repeat {
            status = sqlite3_backup_step(backup, 256)
            if status == SQLITE_BUSY || status == SQLITE_LOCKED { sqlite3_sleep(50) }
        } while status == SQLITE_OK || status == SQLITE_BUSY || status == SQLITE_LOCKED
        sqlite3_backup_finish(backup)
        if status != SQLITE_DONE { throw destination.error(status, sql: nil) }
    }
}

/// A prepared statement of one `SQLiteDatabase`; same thread rules as its database (debug builds check `step()`,
/// `bind` and `reset` for overlapping use like the connection's own calls).
/// Column and parameter indexes: parameters start at 1 (SQLite's convention), columns at 0.
///
/// A statement from `prepare(_:)` keeps its connection alive; one from `cachedStatement(sql:)` belongs to the
/// connection and must not outlive it (using it afterwards stops the process).
public final class SQLiteStatement {
    let statement: OpaquePointer
    /// Set for statements from `prepare(_:)`, which keep their connection alive; `nil` for cached statements, which
    /// the connection owns (a strong reference both ways would never be freed).
    private let retainedDatabase: SQLiteDatabase?
    unowned let database: SQLiteDatabase
    /// The connection's check, held here so the calls made per row (`step()`) do not reach the connection through
    /// the unowned reference (a strong retain and release of it each time: a tenth of a row's cost in a long scan).
    private let exclusiveUse: ExclusiveUseCheck
    public let sql: String

    init(statement: OpaquePointer, database: SQLiteDatabase, sql: String, ownedByDatabase: Bool) {
        self.statement = statement
        self.database = database
        exclusiveUse = database.exclusiveUse
        self.retainedDatabase = ownedByDatabase ? nil : database
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    private func check(_ status: Int32) throws(SQLiteError) {
        if status != SQLITE_OK { throw database.error(status, sql: sql) }
    }

    /// Resets the statement and clears its bindings, ready for new parameters.
    public func reset() {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    public func bind(_ index: Int32, _ value: Int64) throws(SQLiteError) {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        try check(sqlite3_bind_int64(statement, index, value))
    }

    /// Binds an integer, or NULL for `nil`.
    public func bind(_ index: Int32, _ value: Int64?) throws(SQLiteError) {
        guard let value else { try bind(index, nil as String?); return }
        try bind(index, value)
    }

    /// Binds text by its UTF-8 bytes and their count, never as a C string: a NUL inside the text is stored too.
    public func bind(_ index: Int32, _ value: String?) throws(SQLiteError) {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        guard var value else { try check(sqlite3_bind_null(statement, index)); return }
        let status = value.withUTF8 { utf8 in
            // An empty text still needs a non-null pointer, or SQLite stores NULL.
            let start = utf8.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(bitPattern: 1)!
            return sqlite3_bind_text64(statement, index, start.assumingMemoryBound(to: CChar.self), sqlite3_uint64(utf8.count),
                                       csqlite_transient(), UInt8(SQLITE_UTF8))
        }
        try check(status)
    }

    public func bind(_ index: Int32, blob: [UInt8]) throws(SQLiteError) {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        let status = blob.withUnsafeBytes { bytes in
            // A zero-length blob still needs a non-null pointer, or SQLite stores NULL.
            sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count),
                              csqlite_transient())
        }
        try check(status)
    }

    /// Advances to the next row. - Returns: `true` when a row is available, `false` when done.
    public func step() throws(SQLiteError) -> Bool {
        exclusiveUse.enter()
        defer { exclusiveUse.leave() }
        let status = sqlite3_step(statement)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            sqlite3_reset(statement)
            throw database.error(status, sql: sql)
        }
    }

    /// Runs a statement that returns no rows, then resets it.
    public func run() throws(SQLiteError) {
        defer { reset() }
        while try step() {}
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    /// The column as text, read by its byte count (`sqlite3_column_bytes`), so a NUL inside it is kept.
    public func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// Lends the column's text to `body` as its UTF-8 bytes, read as `string(_:)` reads them (by byte count, a NUL
    /// kept; `nil` for NULL) but without making a `String` of them: for a loop that only compares them.
    /// - Important: the buffer is SQLite's, valid only inside `body`.
    public func withTextBytes<Result>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>?) throws -> Result) rethrows -> Result {
        guard let text = sqlite3_column_text(statement, column) else { return try body(nil) }
        return try body(UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column))))
    }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
