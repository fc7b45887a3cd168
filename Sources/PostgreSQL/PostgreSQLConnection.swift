import CPostgreSQL
import Glibc
import SystemCalls

/// One PostgreSQL connection through libpq. Every `PQ*` call in Hookyard goes through this file and
/// `PostgreSQLResult`'s.
///
/// Statements with parameters are prepared once per connection and kept by their SQL text (up to
/// `preparedStatementLimit`, then the cache starts over with `DEALLOCATE ALL`), so a statement the workers run
/// thousands of times is parsed and planned once. Results come back in text form; parameters go as described by
/// `PostgreSQLValue`.
///
/// Not thread-safe: a connection is used by one thread at a time (it may move between threads, as on a serial
/// Dispatch queue). `close()` (or deinit) ends the session exactly once. A lost connection makes every later call
/// throw a `PostgreSQLError` whose `isConnectionFailure` is true; `reconnect()` opens it again.
public final class PostgreSQLConnection {
    private var handle: OpaquePointer?
    /// Prepared statement names by SQL text and parameter types.
    private var prepared: [String: String] = [:]
    private var preparedCount = 0
    /// How many statements a connection keeps prepared before it deallocates them all and starts over.
    public static let preparedStatementLimit = 512

    /// Where the connection goes, for messages and logs: `user@host:port/database`, never the password.
    public private(set) var target: String = ""

    /// Run after every `reconnect()` (session settings such as `synchronous_commit`, which a new session loses).
    public var sessionSetup: ((PostgreSQLConnection) throws -> Void)?

    /// When true, a call made while the connection is lost (and outside `transaction`) first opens it again, so a
    /// storage type survives a server restart or a failover: the call that met the lost connection threw; the next
    /// one reconnects. Off by default: a session whose state matters (LISTEN, advisory locks) reconnects on its own
    /// terms. Never inside a transaction: its statements must not land in a new session.
    public var reconnectsAutomatically = false

    /// How deeply `transaction` calls are nested now (a lost connection is not reopened while one runs).
    private var transactionDepth = 0

    /// Opens a connection.
    /// - Parameters:
    ///   - url: a libpq connection URI (`postgresql://user@host:5432/db?sslmode=require`) or `key=value` string.
    ///   - password: overrides the URI's password (read from a file or a systemd credential by the caller).
    ///   - applicationName: shown in `pg_stat_activity` unless the URI names one.
    ///   - connectTimeoutSeconds: how long to wait for the server unless the URI says (`connect_timeout`).
    /// - Throws: `PostgreSQLError` with libpq's message (`isConnectionFailure`) when the server cannot be reached or
    ///   refuses the login.
    public init(url: String, password: String? = nil, applicationName: String = "hookyard",
                connectTimeoutSeconds: Int = 10) throws(PostgreSQLError) {
        // Earlier keywords are defaults the URI (expanded from `dbname`) overrides; `password` comes last so a
        // password from a file wins over one written in the URI.
        var parameters: [(String, String)] = [
            ("fallback_application_name", applicationName),
            ("connect_timeout", String(connectTimeoutSeconds)),
            ("client_encoding", "UTF8"),
            ("dbname", url),
        ]
        if let password { parameters.append(("password", password)) }
        let connection = Self.connect(parameters)
        guard let connection else {
            throw PostgreSQLError(sqlState: nil, message: "libpq could not allocate a connection", sql: nil,
                                  isConnectionFailure: true)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgreSQLError(sqlState: nil, message: "cannot connect to PostgreSQL: \(message)", sql: nil,
                                  isConnectionFailure: true)
        }
        handle = connection
        cpostgresql_silence_notices(connection)
        target = describe(connection)
    }

    deinit { close() }

    /// Ends the session; later calls throw. Safe to call twice.
    public func close() {
        guard let connection = handle else { return }
        handle = nil
        prepared.removeAll()
        PQfinish(connection)
    }

    /// Whether the connection is open and usable as far as libpq knows (a dead server shows only on the next call).
    public var isOpen: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Opens the connection again with the same parameters (after a lost connection, a server restart or a
    /// failover). Prepared statements are gone with the old session and are prepared again when next used.
    public func reconnect() throws(PostgreSQLError) {
        guard let connection = handle else { throw Self.closedError(sql: nil) }
        prepared.removeAll()
        preparedCount = 0
        PQreset(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            throw PostgreSQLError(sqlState: nil, message: "cannot reconnect to PostgreSQL: \(Self.trimmed(PQerrorMessage(connection)))",
                                  sql: nil, isConnectionFailure: true)
        }
        do {
            try sessionSetup?(self)
        } catch let error as PostgreSQLError {
            throw error
        } catch {
            throw PostgreSQLError(sqlState: nil, message: "setting up the new session: \(error)", sql: nil, isConnectionFailure: true)
        }
    }

    /// The server's version as a number (`150018` for 15.18).
    public var serverVersion: Int { handle.map { Int(PQserverVersion($0)) } ?? 0 }

    /// Runs one or more statements without parameters (the simple query protocol: DDL, `BEGIN`, `LISTEN`).
    /// - Returns: the result of the last statement.
    @discardableResult
    public func execute(_ sql: String) throws(PostgreSQLError) -> PostgreSQLResult {
        let connection = try open(sql: sql)
        return try checked(PQexec(connection, sql), connection, sql: sql)
    }

    /// Runs one statement with parameters `$1`, `$2`, … bound to `parameters`, preparing it on first use.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgreSQLEncodable] = []) throws(PostgreSQLError) -> PostgreSQLResult {
        let connection = try open(sql: sql)
        let values = parameters.map(\.postgreSQLValue)
        let types = values.map(\.typeOID)
        let name = try preparedName(sql: sql, types: types, connection)
        return try withWireParameters(values) { pointers, lengths, formats throws(PostgreSQLError) in
            try checked(PQexecPrepared(connection, name, Int32(values.count), pointers, lengths, formats, 0), connection, sql: sql)
        }
    }

    /// Runs one statement with parameters without preparing it (a statement whose text varies, such as a multi-row
    /// `INSERT` of a varying number of rows, would otherwise fill the prepared-statement cache).
    @discardableResult
    public func queryOnce(_ sql: String, _ parameters: [any PostgreSQLEncodable] = []) throws(PostgreSQLError) -> PostgreSQLResult {
        let connection = try open(sql: sql)
        let values = parameters.map(\.postgreSQLValue)
        let types = values.map(\.typeOID)
        return try withWireParameters(values) { pointers, lengths, formats throws(PostgreSQLError) in
            try types.withUnsafeBufferPointer { types throws(PostgreSQLError) in
                try checked(PQexecParams(connection, sql, Int32(values.count), types.baseAddress, pointers, lengths, formats, 0),
                            connection, sql: sql)
            }
        }
    }

    /// Runs `body` in a transaction (`BEGIN` … `COMMIT`), rolling back if it throws. The commit is checked: a
    /// transaction the server ended with `ROLLBACK` (a statement in it failed and the error was caught) throws, so
    /// a caller never takes an undone transaction for a committed one. When `COMMIT` fails with a connection error
    /// the outcome is unknown to the client; the caller must treat it as not committed.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN")
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        let result: R
        do {
            result = try body()
        } catch {
            if isOpen { _ = try? execute("ROLLBACK") }
            throw error
        }
        let commit = try execute("COMMIT")
        if commit.commandStatus == "ROLLBACK" {
            throw PostgreSQLError(sqlState: "25P02", message: "the transaction was rolled back by the server: a statement in it failed",
                                  sql: "COMMIT", isConnectionFailure: false)
        }
        return result
    }

    /// Takes the session-level advisory lock `key` if no other session holds it (`pg_try_advisory_lock`).
    /// - Returns: whether this session now holds it. It is held until `advisoryUnlock(_:)` or the session ends.
    public func tryAdvisoryLock(_ key: Int64) throws -> Bool {
        try query("SELECT pg_try_advisory_lock($1)", [key]).first?.bool(0) ?? false
    }

    /// Waits for and takes the session-level advisory lock `key` (`pg_advisory_lock`).
    public func advisoryLock(_ key: Int64) throws(PostgreSQLError) {
        try query("SELECT pg_advisory_lock($1)", [key])
    }

    /// Releases the session-level advisory lock `key`. - Returns: whether this session held it.
    @discardableResult
    public func advisoryUnlock(_ key: Int64) throws -> Bool {
        try query("SELECT pg_advisory_unlock($1)", [key]).first?.bool(0) ?? false
    }

    /// Subscribes this session to notifications on `channel` (`LISTEN`).
    public func listen(_ channel: String) throws(PostgreSQLError) {
        try execute("LISTEN \(Self.quoteIdentifier(channel))")
    }

    /// Sends a notification on `channel` (`pg_notify`); delivered to listeners when the current transaction commits.
    public func notify(_ channel: String, payload: String = "") throws(PostgreSQLError) {
        try query("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// The notifications that have arrived, waiting up to `timeoutMilliseconds` for the first one when none has
    /// (0: do not wait). - Returns: the notifications in arrival order, possibly none.
    public func notifications(waitingUpTo timeoutMilliseconds: Int32) throws(PostgreSQLError) -> [PostgreSQLNotification] {
        let connection = try open(sql: nil)
        var received = try drainNotifications(connection)
        if received.isEmpty && timeoutMilliseconds > 0 {
            let socket = PQsocket(connection)
            guard socket >= 0 else { throw lostConnection(connection, sql: nil) }
            do {
                _ = try Posix.waitUntilReadable(socket, timeoutMilliseconds: timeoutMilliseconds)
            } catch {
                throw PostgreSQLError(sqlState: nil, message: "waiting for notifications: \(error)", sql: nil, isConnectionFailure: true)
            }
            received = try drainNotifications(connection)
        }
        return received
    }

    /// `name` as a quoted SQL identifier (`"name"`, with `"` doubled).
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingAll("\"", with: "\"\"") + "\""
    }

    // MARK: - libpq plumbing

    private static func connect(_ parameters: [(String, String)]) -> OpaquePointer? {
        var storage: [UnsafeMutablePointer<CChar>?] = []
        defer { storage.forEach { free($0) } }
        var keywords: [UnsafePointer<CChar>?] = []
        var values: [UnsafePointer<CChar>?] = []
        for (keyword, value) in parameters {
            let k = strdup(keyword), v = strdup(value)
            storage += [k, v]
            keywords.append(UnsafePointer(k))
            values.append(UnsafePointer(v))
        }
        keywords.append(nil)
        values.append(nil)
        return PQconnectdbParams(keywords, values, 1)
    }

    private func describe(_ connection: OpaquePointer) -> String {
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        let host = text(PQhost(connection))
        let shownHost = host.hasPrefix("/") ? "[\(host)]" : host
        return "\(text(PQuser(connection)))@\(shownHost):\(text(PQport(connection)))/\(text(PQdb(connection)))"
    }

    private func open(sql: String?) throws(PostgreSQLError) -> OpaquePointer {
        guard let connection = handle else { throw Self.closedError(sql: sql) }
        if reconnectsAutomatically, transactionDepth == 0, PQstatus(connection) != CONNECTION_OK {
            try reconnect()
        }
        return connection
    }

    private static func closedError(sql: String?) -> PostgreSQLError {
        PostgreSQLError(sqlState: nil, message: "the connection is closed", sql: sql, isConnectionFailure: true)
    }

    private func preparedName(sql: String, types: [UInt32], _ connection: OpaquePointer) throws(PostgreSQLError) -> String {
        let key = types.isEmpty ? sql : sql + "\u{0}" + types.map(String.init).joined(separator: ",")
        if let name = prepared[key] { return name }
        if prepared.count >= Self.preparedStatementLimit {
            try execute("DEALLOCATE ALL")
            prepared.removeAll()
        }
        preparedCount += 1
        let name = "hookyard_\(preparedCount)"
        _ = try types.withUnsafeBufferPointer { types throws(PostgreSQLError) in
            try checked(PQprepare(connection, name, sql, Int32(types.count), types.baseAddress), connection, sql: sql)
        }
        prepared[key] = name
        return name
    }

    /// Lays the parameters out in one buffer and hands libpq pointers into it.
    private func withWireParameters<R>(_ values: [PostgreSQLValue],
                                       _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws(PostgreSQLError) -> R) throws(PostgreSQLError) -> R {
        if values.isEmpty { return try body(nil, nil, nil) }
        var buffer: [UInt8] = []
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        for value in values {
            if let bytes = value.wireBytes {
                offsets.append(buffer.count)
                buffer += bytes
                lengths.append(Int32(bytes.count))
            } else {
                offsets.append(nil)
                lengths.append(0)
            }
        }
        buffer.append(0) // a non-empty buffer, so a zero-length last value still has an address
        let formats = values.map(\.format)
        return try buffer.withUnsafeBufferPointer { bytes throws(PostgreSQLError) in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { $0.map { base + $0 } }
            return try pointers.withUnsafeBufferPointer { pointers throws(PostgreSQLError) in
                try lengths.withUnsafeBufferPointer { lengths throws(PostgreSQLError) in
                    try formats.withUnsafeBufferPointer { formats throws(PostgreSQLError) in
                        try body(pointers.baseAddress, lengths.baseAddress, formats.baseAddress)
                    }
                }
            }
        }
    }

    /// Wraps a libpq result, or throws the server's error (SQLSTATE and message) for a failed statement.
    private func checked(_ result: OpaquePointer?, _ connection: OpaquePointer, sql: String) throws(PostgreSQLError) -> PostgreSQLResult {
        guard let result else { throw lostConnection(connection, sql: sql) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN, PGRES_COPY_OUT:
            return PostgreSQLResult(taking: result, sql: sql)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = Self.trimmed(PQresultErrorMessage(result))
            PQclear(result)
            let connectionFailed = PQstatus(connection) != CONNECTION_OK || PostgreSQLError.meansConnectionFailure(state)
            throw PostgreSQLError(sqlState: state, message: message.isEmpty ? Self.trimmed(PQerrorMessage(connection)) : message,
                                  sql: sql, isConnectionFailure: connectionFailed)
        }
    }

    private func lostConnection(_ connection: OpaquePointer, sql: String?) -> PostgreSQLError {
        PostgreSQLError(sqlState: nil, message: Self.trimmed(PQerrorMessage(connection)), sql: sql, isConnectionFailure: true)
    }

    private func drainNotifications(_ connection: OpaquePointer) throws(PostgreSQLError) -> [PostgreSQLNotification] {
        guard PQconsumeInput(connection) == 1 else { throw lostConnection(connection, sql: nil) }
        var received: [PostgreSQLNotification] = []
        while let notice = PQnotifies(connection) {
            received.append(PostgreSQLNotification(channel: String(cString: notice.pointee.relname),
                                                   payload: String(cString: notice.pointee.extra),
                                                   senderProcessID: notice.pointee.be_pid))
            PQfreemem(notice)
        }
        return received
    }

    static func trimmed(_ message: UnsafeMutablePointer<CChar>?) -> String {
        guard let message else { return "" }
        var text = String(cString: message)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}

/// A notification received on a channel this session listens to.
public struct PostgreSQLNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The server process of the session that sent it.
    public let senderProcessID: Int32
}

private extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
