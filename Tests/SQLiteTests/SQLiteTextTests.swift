import XCTest
import SQLite

/// Text goes into SQLite and comes back by its byte count, never as a C string (issue 13, item 7).
final class SQLiteTextTests: XCTestCase {
    private var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-text-\(UUID().uuidString).db").path
    }

    override func tearDown() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    func testTextWithNULRoundTripsIntactAndStaysDistinct() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT UNIQUE)")
        let insert = try database.prepare("INSERT INTO t (text) VALUES (?)")
        let values = ["evt_1\u{0}first", "evt_1\u{0}second", "\u{0}", "", "zoë \u{0} 日本 😀", "plain"]
        for value in values {
            try insert.bind(1, value)
            try insert.run()  // the UNIQUE constraint fails if two values were cut to the same text
        }
        let select = try database.prepare("SELECT text, length(CAST(text AS BLOB)), text IS NULL FROM t ORDER BY id")
        var read: [String?] = []
        while try select.step() {
            read.append(select.string(0))
            XCTAssertEqual(select.int(1), Int64(values[read.count - 1].utf8.count), "SQLite stored every byte")
            XCTAssertEqual(select.int(2), 0, "an empty text is not NULL")
        }
        XCTAssertEqual(read, values)

        let lookup = try database.prepare("SELECT id FROM t WHERE text = ?")
        try lookup.bind(1, "evt_1\u{0}second")
        XCTAssertTrue(try lookup.step())
        XCTAssertEqual(lookup.int(0), 2, "a comparison sees the text after the NUL")
        lookup.reset()
        try lookup.bind(1, "evt_1")
        XCTAssertFalse(try lookup.step(), "the text before the NUL is a different text")
    }
}
