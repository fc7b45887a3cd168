import Dispatch
import Foundation
@testable import SQLite
import XCTest

/// The connection's statement cache, row decoding that refuses impossible values, and the overlap check's tolerance
/// of a connection that moves between threads.
final class StatementCacheAndDecodingTests: XCTestCase {
    private enum Colour: String { case red, green }

    private var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-cache-\(UUID().uuidString).db").path
    }

    override func tearDown() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func testCachedStatementIsCompiledOnceAndComesBackResetWithoutBindings() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        try database.execute("INSERT INTO t (name) VALUES ('a'), ('b')")
        let sql = "SELECT name FROM t WHERE ?1 IS NULL OR id = ?1 ORDER BY id"
        let first = try database.cachedStatement(sql: sql)
        try first.bind(1, 2)
        XCTAssertTrue(try first.step())
        XCTAssertEqual(first.string(0), "b")
        // Left mid-result and with a binding: the next lookup gets the same statement, reset and unbound.
        let second = try database.cachedStatement(sql: sql)
        XCTAssertTrue(first === second)
        XCTAssertTrue(try second.step())
        XCTAssertEqual(second.string(0), "a")
        XCTAssertFalse(try database.cachedStatement(sql: "SELECT 1") === second)
        database.close()
    }

    func testCachedStatementsDoNotKeepTheConnectionAlive() throws {
        weak var released: SQLiteDatabase?
        do {
            let database = try SQLiteDatabase(path: path)
            _ = try database.cachedStatement(sql: "SELECT 1")
            released = database
        }
        XCTAssertNil(released)
    }

    func testDecodeReadsRawValuesAndNamesTheImpossibleOne() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE paint (id INTEGER PRIMARY KEY, colour TEXT)")
        try database.execute("INSERT INTO paint (colour) VALUES ('red'), ('mauve'), (NULL)")
        let rows = try database.prepare("SELECT colour FROM paint ORDER BY id")
        XCTAssertTrue(try rows.step())
        XCTAssertEqual(try rows.decode(Colour.self, column: 0), .red)
        XCTAssertTrue(try rows.step())
        XCTAssertThrowsError(try rows.decode(Colour.self, column: 0)) { error in
            let decoding = error as? SQLiteDecodingError
            XCTAssertEqual(decoding?.table, "paint")
            XCTAssertEqual(decoding?.column, "colour")
            XCTAssertEqual(decoding?.value, "mauve")
            XCTAssertTrue(decoding?.description.contains("paint.colour is 'mauve'") ?? false, "\(error)")
        }
        XCTAssertTrue(try rows.step())
        XCTAssertNil(try rows.decodeIfPresent(Colour.self, column: 0))
        XCTAssertThrowsError(try rows.decode(Colour.self, column: 0)) { error in
            XCTAssertEqual((error as? SQLiteDecodingError)?.value, nil)
        }
    }

    /// A connection handed from thread to thread without overlap (a serial queue's way) is legitimate: the debug
    /// check looks for overlapping use, not for a change of thread.
    func testConnectionMayMoveBetweenThreadsWithoutOverlap() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE t (n INTEGER)")
        nonisolated(unsafe) let shared = database  // Safe: the threads below run one after the other.
        for n in 0..<4 {
            let done = DispatchSemaphore(value: 0)
            Thread {
                try? shared.transaction {
                    let insert = try shared.cachedStatement(sql: "INSERT INTO t (n) VALUES (?)")
                    try insert.bind(1, Int64(n))
                    try insert.run()
                }
                done.signal()
            }.start()
            done.wait()
        }
        XCTAssertEqual(try database.scalarInt("SELECT count(*) FROM t"), 4)
    }
}

/// The debug check's bookkeeping, without stopping the process: a second thread is refused while the first uses the
/// connection (re-entrant use on the first thread is not), and admitted once it is done.
final class ExclusiveUseCheckTests: XCTestCase {
    func testSecondThreadIsRefusedOnlyWhileTheFirstIsInside() throws {
        #if DEBUG
        let check = ExclusiveUseCheck()
        XCTAssertTrue(check.tryEnter())
        XCTAssertTrue(check.tryEnter())  // Nested on the same thread (a transaction's body).
        func fromAnotherThread() -> Bool {
            nonisolated(unsafe) var admitted = false  // Safe: written by the thread, read after join below.
            let done = DispatchSemaphore(value: 0)
            Thread {
                admitted = check.tryEnter()
                if admitted { check.leave() }
                done.signal()
            }.start()
            done.wait()
            return admitted
        }
        XCTAssertFalse(fromAnotherThread())
        check.leave()
        XCTAssertFalse(fromAnotherThread())
        check.leave()
        XCTAssertTrue(fromAnotherThread())
        #else
        throw XCTSkip("the check exists in debug builds only")
        #endif
    }
}
