import Foundation
import SQLite
import XCTest

/// `SQLiteDatabase.readTransaction`: every statement in it reads the snapshot taken when it began, and it ends (also
/// when its body throws), so the connection sees new commits afterwards.
final class ReadTransactionTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("read-transaction-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func testTheBodyReadsOneSnapshotAndLaterReadsSeeNewCommits() throws {
        let path = directory.appendingPathComponent("r.db").path
        let writer = try SQLiteDatabase(path: path)
        defer { writer.close() }
        try writer.execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
        let reader = try SQLiteDatabase(path: path, readOnly: true)
        defer { reader.close() }

        let counts = try reader.readTransaction { () -> [Int64?] in
            let before = try reader.scalarInt("SELECT count(*) FROM t")
            try writer.execute("INSERT INTO t VALUES (2)")
            return [before, try reader.scalarInt("SELECT count(*) FROM t")]
        }
        XCTAssertEqual(counts, [1, 1], "a commit made during the transaction is not seen in it")
        XCTAssertEqual(try reader.scalarInt("SELECT count(*) FROM t"), 2)

        struct Stop: Error {}
        XCTAssertThrowsError(try reader.readTransaction { () -> Void in
            _ = try reader.scalarInt("SELECT count(*) FROM t")
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        try writer.execute("INSERT INTO t VALUES (3)")
        XCTAssertEqual(try reader.scalarInt("SELECT count(*) FROM t"), 3, "the thrown transaction was ended")
        XCTAssertEqual(try reader.readTransaction { try reader.scalarInt("SELECT count(*) FROM t") }, 3)
    }
}
