import Foundation
import SQLite
import XCTest

/// `SQLiteDatabase.withFunction`: the SQL function calls the Swift closure once per row with the row's arguments, and
/// exists only while the body runs (also when it throws).
final class SQLiteFunctionTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("function-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    private func database() throws -> SQLiteDatabase {
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("f.db").path)
        try database.execute("""
            CREATE TABLE t (x INTEGER, y INTEGER);
            INSERT INTO t VALUES (1, 10), (NULL, 20), (3, 30), (-4, 40), (9223372036854775807, 50);
            """)
        return database
    }

    func testTheClosureSeesEveryRowsArgumentsAndTheFunctionReturnsNull() throws {
        let database = try database()
        defer { database.close() }
        var seen: [String] = []
        let nulls = try database.withFunction("collect", argumentCount: 2, { arguments in
            seen.append("\(arguments.count):\(arguments.isNull(0) ? "NULL" : String(arguments.int(0))):\(arguments.int(1))")
        }) {
            try database.scalarInt("SELECT sum(collect(x, y) IS NULL) FROM t WHERE y >= 20")
        }
        XCTAssertEqual(nulls, 4, "one call per row, each returning NULL")
        XCTAssertEqual(seen, ["2:NULL:20", "2:3:30", "2:-4:40", "2:9223372036854775807:50"])
    }

    func testTheFunctionIsGoneAfterTheBodyEvenWhenItThrows() throws {
        let database = try database()
        defer { database.close() }
        struct Stop: Error {}
        var calls = 0
        XCTAssertThrowsError(try database.withFunction("count_calls", argumentCount: 1, { _ in calls += 1 }) {
            _ = try database.scalarInt("SELECT count(count_calls(x)) FROM t")
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(calls, 5)
        XCTAssertThrowsError(try database.scalarInt("SELECT count_calls(x) FROM t")) { error in
            XCTAssertTrue("\(error)".contains("no such function: count_calls"), "\(error)")
        }
        // Defined again with another closure: the new one is called.
        var again = 0
        try database.withFunction("count_calls", argumentCount: 1, { _ in again += 1 }) {
            _ = try database.scalarInt("SELECT count(count_calls(x)) FROM t")
        }
        XCTAssertEqual(again, 5)
        XCTAssertEqual(calls, 5)
    }

    func testAFunctionNameSQLiteRefusesIsAnErrorWithItsMessage() throws {
        let database = try database()
        defer { database.close() }
        let longName = String(repeating: "f", count: 300)  // SQLite allows at most 255 bytes
        XCTAssertThrowsError(try database.withFunction(longName, argumentCount: 1, { _ in }) { 0 }) { error in
            XCTAssertTrue(error is SQLiteError, "\(error)")
        }
    }
}
