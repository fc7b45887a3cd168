import PostgreSQL
import TestSupport
import XCTest

/// The libpq wrapper against a real PostgreSQL server (`PostgreSQLTestServer`): values both ways, the server's errors,
/// transactions, the prepared-statement cache, advisory locks, LISTEN/NOTIFY and a lost connection.
final class PostgreSQLConnectionTests: XCTestCase {
    private var url = ""
    private var connection: PostgreSQLConnection!

    override func setUpWithError() throws {
        url = try PostgreSQLTestServer.start().makeDatabase()
        connection = try PostgreSQLConnection(url: url)
    }

    override func tearDown() {
        connection?.close()
    }

    func testValuesGoAndComeBackUnchanged() throws {
        try connection.execute("CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, b BOOLEAN, s TEXT, y BYTEA)")
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff, 0x5c, 0x78]
        let text = "Zoë 👩🏽‍💻 \"quoted\" \\ 'single' ü\u{301}"
        try connection.query("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", [Int64.min, 1.5e-300, true, text, bytes])
        try connection.query("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", [Int64.max, -0.25, false, "", [UInt8]()])
        try connection.query("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", [nil as Int64?, nil as Double?, nil as Bool?, nil as String?, nil as [UInt8]?])
        let rows = try connection.query("SELECT i, d, b, s, y FROM t ORDER BY i NULLS LAST").rows
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(try rows[0].int(0), Int64.min)
        XCTAssertEqual(try rows[0].optionalDouble(1), 1.5e-300)
        XCTAssertEqual(try rows[0].bool(2), true)
        XCTAssertEqual(try rows[0].string(3), text)
        XCTAssertEqual(try rows[0].bytes(4), bytes)
        XCTAssertEqual(try rows[1].int(0), Int64.max)
        XCTAssertEqual(try rows[1].bool(2), false)
        XCTAssertEqual(try rows[1].string(3), "")
        XCTAssertEqual(try rows[1].bytes(4), [])
        for column in 0..<5 { XCTAssertTrue(rows[2].isNull(column)) }
        XCTAssertNil(try rows[2].optionalInt(0))
        XCTAssertThrowsError(try rows[2].int(0)) { error in
            XCTAssertEqual((error as? PostgreSQLDecodingError)?.description.contains("i is NULL"), true, "\(error)")
        }
    }

    /// A `text[]` parameter reaches the server element for element, whatever the elements hold (quotes, backslashes,
    /// commas, braces, spaces, the word NULL, nothing at all), and an empty list is an empty array.
    func testATextArrayParameterArrivesElementForElement() throws {
        let elements = ["plain", "with \"quotes\"", "back\\slash", "a,b", "{braces}", "  spaced  ", "NULL", "", "Zoë 👩🏽‍💻"]
        let rows = try connection.query("SELECT element, position FROM unnest($1::text[]) WITH ORDINALITY AS e(element, position) ORDER BY position",
                                        [PostgreSQLValue.textArray(elements)]).rows
        XCTAssertEqual(try rows.map { try $0.string(0) }, elements)
        XCTAssertFalse(rows.contains { $0.isNull(0) }, "the word NULL is text, not a NULL")
        XCTAssertEqual(try connection.query("SELECT ($1::text[])[2], cardinality($1::text[])", [PostgreSQLValue.textArray(elements)]).first?.string(0),
                       elements[1])
        XCTAssertEqual(try connection.query("SELECT cardinality($1::text[])", [PostgreSQLValue.textArray([])]).first?.int(0), 0)
    }

    /// A `bigint[]` column's elements come back in order, NULL elements as `nil`, the 64-bit extremes intact; an empty
    /// or NULL array has none; a text that is not an integer array (a word, a float, a nested array, a number beyond
    /// 64 bits) is a decoding error, never a partial default.
    func testAnIntegerArrayColumnIsReadElementByElement() throws {
        func elements(_ sql: String) throws -> [Int64?] {
            var read: [Int64?] = []
            try XCTUnwrap(connection.query(sql).first).forEachIntegerInArray(0) { read.append($0) }
            return read
        }
        XCTAssertEqual(try elements("SELECT ARRAY[1, NULL, -3, 9223372036854775807, -9223372036854775808]::bigint[]"),
                       [1, nil, -3, .max, .min])
        XCTAssertEqual(try elements("SELECT array_agg(x ORDER BY x) FROM generate_series(1, 2000) x"), (1...2000).map { Int64($0) })
        XCTAssertEqual(try elements("SELECT '{}'::bigint[]"), [])
        XCTAssertEqual(try elements("SELECT NULL::bigint[]"), [])
        for sql in ["SELECT 'seven'", "SELECT ARRAY[1.5]::float8[]", "SELECT ARRAY[[1, 2], [3, 4]]::bigint[]",
                    "SELECT '{9223372036854775808}'", "SELECT '{1,}'", "SELECT '{-}'", "SELECT ARRAY['a']::text[]"] {
            XCTAssertThrowsError(try elements(sql), sql) { error in XCTAssertTrue(error is PostgreSQLDecodingError, "\(sql): \(error)") }
        }
    }

    func testAnIntegralNumericSumReadsAsAnIntegerAndTextDoesNot() throws {
        let row = try XCTUnwrap(connection.query("SELECT sum(x), 'seven', 2.5::numeric FROM (VALUES (9000000000000000000::bigint), (1)) v(x)").first)
        XCTAssertEqual(try row.int(0), 9_000_000_000_000_000_001)
        XCTAssertThrowsError(try row.int(1)) { error in
            XCTAssertEqual(error as? PostgreSQLDecodingError,
                           PostgreSQLDecodingError(column: "?column?", value: "seven", type: "Int64",
                                                   sql: "SELECT sum(x), 'seven', 2.5::numeric FROM (VALUES (9000000000000000000::bigint), (1)) v(x)"))
        }
        XCTAssertThrowsError(try row.int(2))
        XCTAssertEqual(try row.optionalDouble(2), 2.5)
    }

    func testTheServersErrorsCarrySQLStateMessageAndStatement() throws {
        try connection.execute("CREATE TABLE u (k TEXT PRIMARY KEY)")
        try connection.query("INSERT INTO u VALUES ($1)", ["a"])
        XCTAssertThrowsError(try connection.query("INSERT INTO u VALUES ($1)", ["a"])) { error in
            let error = error as? PostgreSQLError
            XCTAssertEqual(error?.sqlState, "23505")
            XCTAssertEqual(error?.isUniqueViolation, true)
            XCTAssertEqual(error?.isConnectionFailure, false)
            XCTAssertEqual(error?.sql, "INSERT INTO u VALUES ($1)")
            XCTAssertTrue(error?.message.contains("duplicate key value violates unique constraint") == true, "\(String(describing: error))")
        }
        XCTAssertThrowsError(try connection.execute("SELEC 1")) { error in
            XCTAssertEqual((error as? PostgreSQLError)?.sqlState, "42601")
        }
        // A NUL inside text is refused by the server, with its words; nothing is cut short.
        XCTAssertThrowsError(try connection.query("INSERT INTO u VALUES ($1)", ["a\u{0}b"])) { error in
            XCTAssertNotNil((error as? PostgreSQLError)?.sqlState, "\(error)")
        }
        // The connection is still usable after each error.
        XCTAssertEqual(try connection.query("SELECT count(*) FROM u").first?.int(0), 1)
    }

    func testAnUnreachableServerIsAConnectionFailureNamingIt() {
        XCTAssertThrowsError(try PostgreSQLConnection(url: "postgresql:///nowhere?host=/nonexistent-dir&port=5999", connectTimeoutSeconds: 2)) { error in
            let error = error as? PostgreSQLError
            XCTAssertEqual(error?.isConnectionFailure, true)
            XCTAssertNil(error?.sqlState)
            XCTAssertTrue(error?.message.contains("/nonexistent-dir") == true, "\(String(describing: error))")
        }
        XCTAssertThrowsError(try PostgreSQLConnection(url: "postgresql://[::1")) { error in
            XCTAssertEqual((error as? PostgreSQLError)?.isConnectionFailure, true, "\(error)")
        }
    }

    func testThePasswordNeverAppearsInTheTarget() throws {
        let other = try PostgreSQLConnection(url: url, password: "s3cret-password")
        defer { other.close() }
        XCTAssertFalse(other.target.contains("s3cret"))
        XCTAssertTrue(other.target.hasPrefix("postgres@["), other.target)
        XCTAssertTrue(other.target.contains("]:5432/test_"), other.target)
    }

    func testATransactionCommitsOrRollsBackAndACaughtFailureInsideItIsNotACommit() throws {
        try connection.execute("CREATE TABLE v (k BIGINT PRIMARY KEY)")
        _ = try connection.transaction { try connection.query("INSERT INTO v VALUES ($1)", [1]) }
        struct Stop: Error {}
        XCTAssertThrowsError(try connection.transaction {
            try connection.query("INSERT INTO v VALUES ($1)", [2])
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        // A statement fails inside, the caller swallows its error: the server rolls back at COMMIT, and says so.
        XCTAssertThrowsError(try connection.transaction {
            try connection.query("INSERT INTO v VALUES ($1)", [3])
            _ = try? connection.query("INSERT INTO v VALUES ($1)", [1])
        }) { error in
            XCTAssertEqual((error as? PostgreSQLError)?.sqlState, "25P02", "\(error)")
        }
        XCTAssertEqual(try connection.query("SELECT array_agg(k ORDER BY k)::text FROM v").first?.string(0), "{1}")
    }

    func testPreparedStatementsSurviveTheCacheStartingOver() throws {
        let distinct = PostgreSQLConnection.preparedStatementLimit + 10
        for i in 0..<distinct {
            XCTAssertEqual(try connection.query("SELECT $1::bigint + \(i)", [1]).first?.int(0), Int64(1 + i))
        }
        XCTAssertEqual(try connection.query("SELECT $1::bigint + 0", [41]).first?.int(0), 41)
        // After starting over: the 10 statements past the limit, the `+ 0` one again, and this count itself.
        XCTAssertEqual(try connection.query("SELECT count(*) FROM pg_prepared_statements").first?.int(0), 12)
        XCTAssertEqual(try connection.queryOnce("SELECT $1 || $2", ["a", "b"]).first?.string(0), "ab")
    }

    func testAnAdvisoryLockIsHeldByOneSessionAtATime() throws {
        let other = try PostgreSQLConnection(url: url)
        defer { other.close() }
        XCTAssertTrue(try connection.tryAdvisoryLock(17))
        XCTAssertFalse(try other.tryAdvisoryLock(17))
        XCTAssertTrue(try connection.advisoryUnlock(17))
        XCTAssertTrue(try other.tryAdvisoryLock(17))
        other.close() // a session's end releases its locks (once the server has ended that session)
        XCTAssertTrue(try waitUntil { try connection.tryAdvisoryLock(17) })
    }

    func testNotificationsReachAListenerInAnotherSessionAtCommit() throws {
        let listener = try PostgreSQLConnection(url: url)
        defer { listener.close() }
        try listener.listen("jobs queued")
        XCTAssertEqual(try listener.notifications(waitingUpTo: 0), [])
        try connection.transaction {
            try connection.notify("jobs queued", payload: "3")
            XCTAssertEqual(try listener.notifications(waitingUpTo: 50), [], "delivered only at commit")
        }
        let received = try listener.notifications(waitingUpTo: 5_000)
        XCTAssertEqual(received.map(\.channel), ["jobs queued"])
        XCTAssertEqual(received.map(\.payload), ["3"])
    }

    func testALostConnectionSaysSoAndReconnects() throws {
        let pid = try XCTUnwrap(connection.query("SELECT pg_backend_pid()").first?.int(0))
        let admin = try PostgreSQLConnection(url: url)
        defer { admin.close() }
        try admin.query("SELECT pg_terminate_backend($1::int)", [pid])
        XCTAssertThrowsError(try connection.query("SELECT 1")) { error in
            XCTAssertEqual((error as? PostgreSQLError)?.isConnectionFailure, true, "\(error)")
        }
        try connection.reconnect()
        XCTAssertEqual(try connection.query("SELECT $1::bigint", [7]).first?.int(0), 7)
    }

    func testAConnectionThatReconnectsAutomaticallyDoesSoOutsideATransactionOnly() throws {
        connection.reconnectsAutomatically = true
        var setups = 0
        connection.sessionSetup = { connection in
            setups += 1
            try connection.execute("SET application_name = 'set up again'")
        }
        let admin = try PostgreSQLConnection(url: url)
        defer { admin.close() }
        func terminate() throws {
            let pid = try XCTUnwrap(connection.query("SELECT pg_backend_pid()").first?.int(0))
            try admin.query("SELECT pg_terminate_backend($1::int)", [pid])
        }
        try terminate()
        XCTAssertThrowsError(try connection.query("SELECT 1"), "the call that meets the lost connection fails")
        XCTAssertEqual(try connection.query("SELECT current_setting('application_name')").first?.string(0), "set up again")
        XCTAssertEqual(setups, 1)

        // Inside a transaction the lost session is not replaced: the transaction fails as a whole.
        try connection.execute("CREATE TABLE r (k BIGINT)")
        XCTAssertThrowsError(try connection.transaction {
            try connection.query("INSERT INTO r VALUES ($1)", [1])
            try terminate()
            _ = try? connection.query("INSERT INTO r VALUES ($1)", [2])
            try connection.query("INSERT INTO r VALUES ($1)", [3])
        }) { error in
            XCTAssertEqual((error as? PostgreSQLError)?.isConnectionFailure, true, "\(error)")
        }
        XCTAssertEqual(try connection.query("SELECT count(*) FROM r").first?.int(0), 0)
    }

    func testQuotingAnIdentifier() {
        XCTAssertEqual(PostgreSQLConnection.quoteIdentifier("a\"b"), "\"a\"\"b\"")
    }
}
