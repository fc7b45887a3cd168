import Foundation
import PostgreSQL
import Store

/// Searching the whole PostgreSQL database for an address, as erasure and its verification do.
extension PostgreSQLContactStore {
    /// A column that can hold text: its table, name, whether it is `bytea`, whether a unique index covers it, and
    /// how a row of its table is named (`id` when the table has one, else PostgreSQL's `ctid`).
    struct TextColumn {
        var table: String
        var name: String
        var isBlob: Bool
        var isUnique: Bool
        var rowKey: String = "ctid"
    }

    /// Every text, character or `bytea` column of every table of the current schema, read from the catalog, so a
    /// table or column added by a later migration is searched without anyone listing it here. Tables in byte order
    /// of their names (as SQLite lists them), columns in their order.
    func textColumns() throws -> [TextColumn] {
        // PostgreSQL-specific: `information_schema` and `pg_index` for SQLite's `sqlite_schema` and pragmas.
        let columns = try rows("""
            SELECT c.table_name::text, c.column_name::text, c.data_type::text,
                EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                        WHERE i.indisunique AND i.indrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
                            AND a.attname = c.column_name),
                EXISTS (SELECT 1 FROM information_schema.columns k
                        WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = 'id'
                            AND k.data_type = 'bigint')
            FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
                AND c.data_type IN ('text', 'bytea', 'character varying', 'character', 'json', 'jsonb')
            ORDER BY c.table_name::text COLLATE "C", c.ordinal_position
            """) { row in
            TextColumn(table: try row.string(0), name: try row.string(1), isBlob: try row.string(2) == "bytea",
                       isUnique: try row.bool(3), rowKey: try row.bool(4) ? "id" : "ctid")
        }
        return columns
    }

    /// The rows of `column` whose value names the address: the row's key (`id` or `ctid`, as text) and the value
    /// as text (bytes decoded as UTF-8, invalid sequences replaced). Reads every non-NULL value: O(column size).
    func rows(naming matcher: AddressMatcher, in column: TextColumn) throws -> [(rowKey: String, text: String)] {
        let value = column.isBlob ? Self.quoted(column.name) : "\(Self.quoted(column.name))::text"
        let result = try connection.queryOnce("""
            SELECT \(column.rowKey)::text, \(value) FROM \(Self.quoted(column.table))
            WHERE \(Self.quoted(column.name)) IS NOT NULL
            """)
        var found: [(String, String)] = []
        for row in result.rows {
            let text = column.isBlob ? String(decoding: try row.bytes(1), as: UTF8.self) : try row.string(1)
            if matcher.isNamed(in: text) { found.append((try row.string(0), text)) }
        }
        return found
    }

    /// Every place in the database that still names `email`: each table and text column with the number of rows
    /// whose value contains the address (see `AddressMatcher`). Empty when no copy is left. O(database size).
    public func occurrences(ofEmail email: String) throws -> [AddressOccurrence] {
        try ContactRows.occurrences(ofEmail: email, in: textColumns, place: { ($0.table, $0.name) },
                                    countRows: { try rows(naming: $0, in: $1).count })
    }

    /// Replaces what names the address in every text column not handled before, as the SQLite store does: a unique
    /// value or a blob whole (`erased:<table>:<id or ctid>`, or empty), other text with the spans replaced.
    /// - Returns: what was changed, per column.
    func redactRemaining(_ matcher: AddressMatcher, skipping handled: Set<String>) throws -> [AddressOccurrence] {
        var changed: [AddressOccurrence] = []
        for column in try textColumns() where !handled.contains("\(column.table).\(column.name)") {
            let hits = try rows(naming: matcher, in: column)
            guard !hits.isEmpty else { continue }
            let key = column.rowKey == "id" ? "id = $1::bigint" : "ctid = $1::tid"
            let target = "UPDATE \(Self.quoted(column.table)) SET \(Self.quoted(column.name))"
            for hit in hits {
                if column.isBlob {
                    try connection.queryOnce("\(target) = ''::bytea WHERE \(key)", [hit.rowKey])
                } else if column.isUnique {
                    try connection.queryOnce("\(target) = $2 WHERE \(key)", [hit.rowKey, "erased:\(column.table):\(hit.rowKey)"])
                } else {
                    let replacement = ContactRows.redactedText(hit.text, matcher)
                    try connection.queryOnce("\(target) = $2 WHERE \(key)", [hit.rowKey, replacement])
                }
            }
            changed.append(AddressOccurrence(table: column.table, column: column.name, rows: hits.count))
        }
        return changed
    }

    static func quoted(_ identifier: String) -> String {
        PostgreSQLConnection.quoteIdentifier(identifier)
    }
}
