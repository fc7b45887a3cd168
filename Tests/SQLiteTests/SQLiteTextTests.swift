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

    /// `string(_:reusing:)` reads what `string(_:)` reads (NUL, empty, NULL, non-ASCII), returns the kept `String` for a
    /// repeated text, and keeps working once more distinct texts than its capacity have come by.
    func testReusedTextsReadTheSameValues() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT)")
        let insert = try database.prepare("INSERT INTO t (text) VALUES (?)")
        let values: [String?] = ["camp-a", "camp-b", "camp-a", nil, "", "a\u{0}b", "a\u{0}c", "zoë 日本", "camp-a", "",
                                 "x1", "x2", "x3", "camp-b", "a\u{0}b"]
        for value in values {
            try insert.bind(1, value)
            try insert.run()
        }
        let select = try database.prepare("SELECT text FROM t ORDER BY id")
        var reuse = SQLiteTextReuse(capacity: 3)
        var read: [String?] = []
        while try select.step() {
            let reused = select.string(0, reusing: &reuse)
            XCTAssertEqual(reused, select.string(0))
            read.append(reused)
        }
        XCTAssertEqual(read, values)
    }
}
