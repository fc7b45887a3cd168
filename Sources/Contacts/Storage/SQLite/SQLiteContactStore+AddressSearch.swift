import Foundation
import Store

/// Searching the whole database for an address, as erasure and its verification do.
extension SQLiteContactStore {
    /// A column that can hold text: its table, name, declared type, and whether a unique index or primary key covers
    /// it (such a value is replaced whole, so two redacted values never collide).
    struct TextColumn {
        var table: String
        var name: String
        var isBlob: Bool
        var isUnique: Bool
    }

    /// Every column of every table (SQLite's own excepted) whose declared type is not INTEGER or REAL, read from the
    /// schema itself, so a table or column added by a later migration is searched without anyone listing it here.
    func textColumns() throws -> [TextColumn] {
        let tables = try rows("""
            SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name
            """) { $0.string(0) ?? "" }
        var columns: [TextColumn] = []
        for table in tables {
            var unique: Set<String> = []
            let indexes = try rows("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1", table) { $0.string(0) ?? "" }
            for index in indexes {
                unique.formUnion(try rows("SELECT name FROM pragma_index_info(?)", index) { $0.string(0) ?? "" })
            }
            for (name, type) in try rows("SELECT name, upper(type) FROM pragma_table_info(?) ORDER BY cid", table, row: {
                ($0.string(0) ?? "", $0.string(1) ?? "")
            }) where !["INTEGER", "INT", "REAL"].contains(type) {
                columns.append(TextColumn(table: table, name: name, isBlob: type == "BLOB", isUnique: unique.contains(name)))
            }
        }
        return columns
    }

    /// The rows of `column` whose value names the address: row id and the value as text (bytes read with their length,
    /// invalid UTF-8 replaced). Reads every non-NULL text or blob value of the column: O(column size).
    func rows(naming matcher: AddressMatcher, in column: TextColumn) throws -> [(rowID: Int64, text: String)] {
        let statement = try database.prepare("""
            SELECT rowid, CAST(\(Self.quoted(column.name)) AS BLOB) FROM \(Self.quoted(column.table))
            WHERE typeof(\(Self.quoted(column.name))) IN ('text', 'blob')
            """)
        var found: [(Int64, String)] = []
        while try statement.step() {
            let text = String(decoding: statement.blob(1), as: UTF8.self)
            if matcher.isNamed(in: text) { found.append((statement.int(0), text)) }
        }
        return found
    }

    /// Every place in the database that still names `email` (normalised first): each table and text column with the
    /// number of rows whose value contains the address, in any letter case, NFC or NFD, JSON-escaped or
    /// percent-encoded (see `AddressMatcher`). Empty when no copy is left. Reads every text value: O(database size).
    public func occurrences(ofEmail email: String) throws -> [AddressOccurrence] {
        try ContactRows.occurrences(ofEmail: email, in: textColumns, place: { ($0.table, $0.name) },
                                    countRows: { try rows(naming: $0, in: $1).count })
    }

    /// Replaces what names the address in every text column not handled before: a unique value or a blob whole
    /// (`erased:<table>:<rowid>`, or empty), any other text with the spans spelling the address replaced by `[erased]`
    /// (so a message stays readable and JSON stays valid), or with `erased` when that is not enough.
    /// - Returns: what was changed, per column.
    func redactRemaining(_ matcher: AddressMatcher, skipping handled: Set<String>) throws -> [AddressOccurrence] {
        var changed: [AddressOccurrence] = []
        for column in try textColumns() where !handled.contains("\(column.table).\(column.name)") {
            let hits = try rows(naming: matcher, in: column)
            guard !hits.isEmpty else { continue }
            let sql = "UPDATE \(Self.quoted(column.table)) SET \(Self.quoted(column.name)) = ?2 WHERE rowid = ?1"
            for hit in hits {
                if column.isBlob {
                    try run("UPDATE \(Self.quoted(column.table)) SET \(Self.quoted(column.name)) = x'' WHERE rowid = ?1", hit.rowID)
                } else if column.isUnique {
                    try run(sql, hit.rowID, "erased:\(column.table):\(hit.rowID)")
                } else {
                    let replacement = ContactRows.redactedText(hit.text, matcher)
                    try run(sql, hit.rowID, replacement)
                }
            }
            changed.append(AddressOccurrence(table: column.table, column: column.name, rows: hits.count))
        }
        return changed
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
