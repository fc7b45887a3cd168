import XCTest
@testable import Store
import SQLite

/// The shared checked money sum: what it counts, what it leaves out, and the exact SQL sum.
final class MoneySumTests: XCTestCase {
    func testImplausibleAmountsAndOverflowingAdditionsAreLeftOutNotTrapped() {
        var sum = MoneySum()
        XCTAssertNil(sum.add(1_000))
        XCTAssertEqual(sum.add(.max), .implausible)
        XCTAssertEqual(sum.add(.min), .implausible)
        XCTAssertEqual(sum.add(5_000_000_000_000_000_000), .implausible)
        XCTAssertNil(sum.add(-400))
        XCTAssertEqual(sum.total, 600)
        // 9,224 rows at the limit overflow: the 9,224th and later are left out, the total stays exact.
        var large = MoneySum()
        var overflowed = 0
        for _ in 0..<9_300 where large.add(MoneySum.plausibleLimit) == .overflow { overflowed += 1 }
        XCTAssertEqual(overflowed, 9_300 - 9_223)
        XCTAssertEqual(large.total, 9_223 * MoneySum.plausibleLimit)
    }

    func testExactTotalSaysWhenItCannotBeRepresented() {
        XCTAssertEqual(MoneySum.exactTotal([.max, -1, 1]), .max)
        XCTAssertNil(MoneySum.exactTotal([5_000_000_000_000_000_000, 5_000_000_000_000_000_000]))
        XCTAssertNil(MoneySum.exactTotal([.min, -1]))
    }

    func testSQLPartsSumExactlyWhereSQLiteSumFails() throws {
        let database = try SQLiteDatabase(path: ":memory:")
        defer { database.close() }
        try database.execute("CREATE TABLE t (g INTEGER, amount INTEGER)")
        let rows: [(Int, Int64)] = [(1, .max), (1, -5), (1, 5), (2, 5_000_000_000_000_000_000), (2, 5_000_000_000_000_000_000),
                                    (3, .min), (3, 7), (4, -4_294_967_297), (4, 3)]
        for (group, amount) in rows { try database.execute("INSERT INTO t VALUES (\(group), \(amount))") }
        XCTAssertThrowsError(try database.execute("SELECT sum(amount) FROM t WHERE g = 2"), "SQLite's sum() fails on overflow")
        let statement = try database.prepare("SELECT g, \(MoneySum.sqlParts(of: "amount")) FROM t GROUP BY g ORDER BY g")
        var totals: [Int64: Int64?] = [:]
        while try statement.step() { totals[statement.int(0)] = MoneySum.combine(high: statement.int(1), low: statement.int(2)) }
        XCTAssertEqual(totals, [1: .max, 2: nil, 3: .min + 7, 4: -4_294_967_294])
    }
}
