import Foundation
import PostgreSQL
import SQLite

/// `hookyard store copy`: copies a SQLite Hookyard database, every table of its schema, into an empty PostgreSQL
/// database, as one PostgreSQL transaction (all or nothing).
///
/// Contract:
/// - The source is read through one read transaction on a `ReadingConnection` (a WAL snapshot): the copy is the
///   database as it was at that instant, even while a daemon writes; what is written after it is not copied.
/// - The target is opened and migrated (`PostgreSQLStoreConnection.open`), its Hookyard tables are locked
///   (`EXCLUSIVE`: nodes started on it wait), and it must be empty: no rows in any table of its schema except the rows the
///   migrations insert themselves (`store_probe`, `schema_version`); otherwise `Failure` names the first non-empty
///   table and its row count, and nothing is written.
/// - Tables are copied in foreign-key order with their ids verbatim (identities are `BY DEFAULT`), in multi-row
///   `INSERT`s; then every identity sequence is moved past the copied ids (and past SQLite's `sqlite_sequence`, so an
///   id `AUTOINCREMENT` never reused is never reused on PostgreSQL either); then the row counts of every table are
///   compared between the snapshot and the target before `COMMIT`. Any failure (a value PostgreSQL cannot hold, a
///   constraint, a count mismatch, a lost connection) rolls everything back: the target stays empty.
/// - `backup_origin` is not copied (it describes a SQLite backup file). The demo marker table (`demo_data`, created by
///   `hookyard demo seed` on either engine with the same columns) is created and copied when the source has it, so
///   the report still says the data is synthetic. A source table this build does not know is refused.
///
/// Stateless; `copy` uses its own two connections on the calling thread. Never crashes on stored data: an impossible
/// value is a `Failure` naming table, row and column.
public enum StoreCopy {
    /// Every table copied, in foreign-key order (a table after the tables it references). Shared by both schemas
    /// (`Schema`, `PostgreSQLSchema`): same names, same columns.
    public static let tables: [String] = [
        "events", "jobs", "job_attempts", "store_probe", "purchases",
        "contacts", "contact_leads", "contact_customers", "contact_events", "contact_pending", "contact_activity",
        "contact_payments", "contact_segments", "segment_transitions", "own_writes", "rule_runs", "rule_holdbacks",
        "contact_registrations", "contact_lead_fields",
        "daemon_status", "alerts", "campaigns", "payment_links_sent", "admin_actions",
    ]

    /// Tables of the SQLite schema that are not copied: `backup_origin` marks a SQLite backup file.
    public static let skippedTables: Set<String> = ["backup_origin"]

    /// Tables only PostgreSQL's schema has (never copied; must be empty in the target except the seed row).
    static let postgreSQLOnlyTables = ["cluster_rate_limits", "schema_version"]

    /// Tables whose migrations insert a row (`store_probe`): the target's seed row is replaced by the source's.
    static let seededTables: Set<String> = ["store_probe"]

    /// The table `hookyard demo seed` creates on either engine to mark synthetic data (`DemoDataset.markerTable`).
    public static let demoMarkerTable = "demo_data"

    /// The demo marker table as `PostgreSQLReportDataWriter.markDemoData` creates it.
    static let demoMarkerTableDefinition = """
        CREATE TABLE demo_data (id BIGINT PRIMARY KEY CHECK (id = 1), seed BIGINT NOT NULL,
            contacts BIGINT NOT NULL, created_at BIGINT NOT NULL)
        """

    /// The most parameters one `INSERT` binds (PostgreSQL allows 65535): measured on a 20 000-contact demo database,
    /// 4 000 (about 130 to 440 rows a statement) copied faster than 60 000, the server planning huge `VALUES` lists
    /// more slowly than it gains in round trips.
    static let parametersPerStatement = 4_000

    /// One table's rows: in the source snapshot, and in the target after the copy (equal when the copy succeeded).
    public struct TableCount: Sendable, Equatable {
        public let table: String
        public let rows: Int
    }

    /// What a finished copy did.
    public struct Summary: Sendable {
        /// Every copied table with its row count, in copy order.
        public let tables: [TableCount]
        /// `INSERT` statements sent (round trips for rows).
        public let statements: Int
        /// Wall time of the whole copy, from opening the source to `COMMIT`.
        public let seconds: Double
        /// Rows copied in all.
        public var rows: Int { tables.reduce(0) { $0 + $1.rows } }
    }

    /// A copy that did not happen (the target was left as it was); `description` says why and what to do.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Copies the SQLite database at `sqlitePath` into the PostgreSQL database at `url` (see the type's contract).
    /// - Parameter password: overrides the URI's (from `HOOKYARD_DATABASE_PASSWORD`, a file or a credential).
    /// - Throws: `Failure` (non-empty target, unknown table, a value PostgreSQL cannot hold, a count mismatch),
    ///   `StoreError` (missing source, newer schema), `PostgreSQLError` wrapped in `Failure` for statements that fail.
    public static func copy(sqlitePath: String, to url: String, password: String?) throws -> Summary {
        let started = Date()
        let target = DatabaseLocation.postgresql(url: url, password: password)
        let source = try ReadingConnection.open(path: sqlitePath)
        defer { source.close() }
        let connection: PostgreSQLConnection
        do {
            connection = try PostgreSQLStoreConnection.open(url: url, password: password, applicationName: "hookyard store copy")
        } catch let error as PostgreSQLError {
            throw Failure("cannot open \(target): \(error.message); check the URI, that the server runs and the password "
                          + "(HOOKYARD_DATABASE_PASSWORD or HOOKYARD_DATABASE_PASSWORD_FILE)")
        }
        defer { connection.close() }
        // One read transaction: every SELECT below sees the same snapshot, whatever the daemon writes meanwhile.
        try source.execute("BEGIN")
        defer { try? source.execute("ROLLBACK") }
        let sourceTables = try sqliteTables(source)
        let copied = try tablesToCopy(sourceTables: sourceTables, sqlitePath: sqlitePath)
        let sourceCounts = try copied.map { TableCount(table: $0, rows: Int(try source.scalarInt("SELECT count(*) FROM \($0)") ?? 0)) }
        let sequences = sourceTables.contains("sqlite_sequence") ? try sqliteSequences(source) : [:]

        var statements = 0
        let targetCounts: [TableCount] = try withFailureContext("the copy into \(target)") {
            try connection.transaction {
                try requireEmpty(connection, target: target)
                if copied.contains(demoMarkerTable) { try connection.execute(demoMarkerTableDefinition) }
                let columns = try postgreSQLColumns(connection)
                for table in copied {
                    guard let targetColumns = columns[table] else {
                        throw Failure("\(target) has no table \(table) after migrating; is it another application's database?")
                    }
                    let sourceColumns = try sqliteColumns(source, table: table)
                    guard Set(sourceColumns) == Set(targetColumns.map(\.name)) else {
                        throw Failure("""
                            table \(table) has columns (\(sourceColumns.joined(separator: ", "))) in \(sqlitePath) but \
                            (\(targetColumns.map(\.name).joined(separator: ", "))) in \(target); both should be this \
                            Hookyard's schema: run a command on \(sqlitePath) with this hookyard to migrate it, then copy again
                            """)
                    }
                    if seededTables.contains(table) { try connection.execute("DELETE FROM \(table)") }
                    statements += try copyRows(of: table, columns: targetColumns, from: source, into: connection)
                }
                try moveIdentities(connection, columns: columns, copied: copied, sqliteSequences: sequences)
                let counts = try rowCounts(connection, tables: copied)
                for (expected, found) in zip(sourceCounts, counts) where expected.rows != found.rows {
                    throw Failure("""
                        table \(expected.table) has \(expected.rows) rows in \(sqlitePath) but \(found.rows) in \(target) \
                        after the copy; nothing was committed (the target is still empty): report this as a bug
                        """)
                }
                return counts
            }
        }
        return Summary(tables: targetCounts, statements: statements, seconds: Date().timeIntervalSince(started))
    }

    // MARK: - Source

    /// The source's table names (SQLite's own `sqlite_*` tables included).
    /// SQLite-specific: `sqlite_master`.
    private static func sqliteTables(_ source: SQLiteDatabase) throws -> Set<String> {
        let statement = try source.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        var names = Set<String>()
        while try statement.step() { names.insert(statement.string(0) ?? "") }
        return names
    }

    /// The tables to copy, in order: every known table (all must exist), and the demo marker when the source has it.
    /// - Throws: `Failure` for a table this build does not know, or a known one missing.
    private static func tablesToCopy(sourceTables: Set<String>, sqlitePath: String) throws -> [String] {
        let known = Set(tables).union(skippedTables).union([demoMarkerTable])
        if let unknown = sourceTables.filter({ !$0.hasPrefix("sqlite_") && !known.contains($0) }).sorted().first {
            throw Failure("""
                \(sqlitePath) has a table \(unknown) this hookyard does not know; copy it with the hookyard that wrote it \
                (or a newer one)
                """)
        }
        if let missing = tables.first(where: { !sourceTables.contains($0) }) {
            throw Failure("\(sqlitePath) has no table \(missing); is it a Hookyard database?")
        }
        return tables + (sourceTables.contains(demoMarkerTable) ? [demoMarkerTable] : [])
    }

    /// A table's column names. SQLite-specific: `PRAGMA table_info`.
    private static func sqliteColumns(_ source: SQLiteDatabase, table: String) throws -> [String] {
        let statement = try source.prepare("PRAGMA table_info(\(table))")
        var names: [String] = []
        while try statement.step() { names.append(statement.string(1) ?? "") }
        return names
    }

    /// The highest id `AUTOINCREMENT` ever gave, per table (it may be above the highest id left, after deletes).
    /// SQLite-specific: `sqlite_sequence`.
    private static func sqliteSequences(_ source: SQLiteDatabase) throws -> [String: Int64] {
        let statement = try source.prepare("SELECT name, seq FROM sqlite_sequence")
        var sequences: [String: Int64] = [:]
        while try statement.step() {
            if let name = statement.string(0) { sequences[name] = max(sequences[name] ?? 0, statement.int(1)) }
        }
        return sequences
    }

    // MARK: - Target

    /// A target column: its name, PostgreSQL type (`information_schema.columns.data_type`) and whether it is an
    /// identity.
    struct Column {
        let name: String
        let type: String
        let isIdentity: Bool
    }

    /// Every table's columns in the target's schema, in their order.
    private static func postgreSQLColumns(_ connection: PostgreSQLConnection) throws -> [String: [Column]] {
        let result = try connection.queryOnce("""
            SELECT table_name::text, column_name::text, data_type::text, is_identity::text FROM information_schema.columns
            WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
            """)
        var columns: [String: [Column]] = [:]
        for row in result.rows {
            columns[try row.string(0), default: []].append(
                Column(name: try row.string(1), type: try row.string(2), isIdentity: try row.string(3) == "YES"))
        }
        return columns
    }

    /// Locks every table of the target's schema and checks that none has rows (except migrations' seed rows):
    /// Hookyard's tables in copy order first, then any other (a PostgreSQL-only table added later is checked too).
    /// - Throws: `Failure` naming the first non-empty table and its row count.
    private static func requireEmpty(_ connection: PostgreSQLConnection, target: DatabaseLocation) throws {
        let present = try connection.queryOnce("""
            SELECT table_name::text FROM information_schema.tables
            WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name
            """).rows.map { try $0.string(0) }
        let ordered = tables + Array(skippedTables).sorted() + postgreSQLOnlyTables
        let checked = (ordered.filter(present.contains) + present.filter { !ordered.contains($0) })
            .filter { !seededTables.contains($0) && $0 != "schema_version" && $0 != demoMarkerTable }
        // PostgreSQL-specific: `LOCK TABLE`: a node started on the target meanwhile waits until the copy commits, and
        // two copies into one database cannot both find it empty.
        guard !checked.isEmpty else { throw Failure("\(target) has no tables after migrating; report this as a bug") }
        try connection.execute("LOCK TABLE \(checked.map(PostgreSQLConnection.quoteIdentifier).joined(separator: ", ")) IN EXCLUSIVE MODE")
        for count in try rowCounts(connection, tables: checked) where count.rows > 0 {
            throw Failure("""
                \(target) is not empty: table \(count.table) has \(count.rows) rows; store copy fills an empty database \
                only, it never merges: create a new database (createdb) or drop and re-create this one, then copy again
                """)
        }
        if present.contains(demoMarkerTable) {
            throw Failure("""
                \(target) is not empty: it holds demo data (table \(demoMarkerTable)); store copy fills an empty database \
                only: create a new one (createdb) or drop and re-create this one, then copy again
                """)
        }
    }

    /// Row counts of `tables` in one round trip, in the same order.
    private static func rowCounts(_ connection: PostgreSQLConnection, tables: [String]) throws -> [TableCount] {
        guard !tables.isEmpty else { return [] }
        let row = try connection.queryOnce(
            "SELECT " + tables.map { "(SELECT count(*) FROM \(PostgreSQLConnection.quoteIdentifier($0)))" }.joined(separator: ", ")).first
        guard let row else { throw StoreError.corrupt("no row from the row counts of \(tables)") }
        return try tables.enumerated().map { TableCount(table: $1, rows: Int(try row.int($0))) }
    }

    /// Moves every identity sequence past the copied ids and past SQLite's `sqlite_sequence` for that table.
    private static func moveIdentities(_ connection: PostgreSQLConnection, columns: [String: [Column]], copied: [String],
                                       sqliteSequences: [String: Int64]) throws {
        for table in copied {
            for column in columns[table] ?? [] where column.isIdentity {
                // PostgreSQL-specific: `setval` on the identity's sequence; `greatest` ignores NULLs, and an empty table
                // that never had a row keeps its sequence as it is.
                try connection.queryOnce("""
                    SELECT setval(pg_get_serial_sequence($1::text, $2::text), greatest(max(\(column.name)), $3::bigint))
                    FROM \(table) HAVING greatest(max(\(column.name)), $3::bigint) >= 1
                    """, [table, column.name, sqliteSequences[table]])
            }
        }
    }

    // MARK: - Rows

    /// Copies every row of `table` in rowid order, `parametersPerStatement` parameters per `INSERT`.
    /// - Returns: the `INSERT` statements sent.
    private static func copyRows(of table: String, columns: [Column], from source: SQLiteDatabase,
                                 into connection: PostgreSQLConnection) throws -> Int {
        let names = columns.map(\.name)
        let select = try source.prepare(
            "SELECT " + names.map { "typeof(\($0)), \($0)" }.joined(separator: ", ") + ", rowid FROM \(table) ORDER BY rowid")
        let rowsPerStatement = max(1, parametersPerStatement / columns.count)
        let insertPrefix = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES "
        var fullStatement: String?
        var values: [any PostgreSQLEncodable] = []
        values.reserveCapacity(rowsPerStatement * columns.count)
        var rows = 0
        var statements = 0

        func flush() throws {
            guard rows > 0 else { return }
            let sql: String
            if rows == rowsPerStatement, let fullStatement {
                sql = fullStatement
            } else {
                sql = insertPrefix + valuesList(rows: rows, columns: columns.count)
                if rows == rowsPerStatement { fullStatement = sql }
            }
            try connection.queryOnce(sql, values)
            statements += 1
            values.removeAll(keepingCapacity: true)
            rows = 0
        }

        while try select.step() {
            let rowID = select.int(Int32(columns.count * 2))
            for (index, column) in columns.enumerated() {
                values.append(try value(select, at: Int32(index * 2), column: column, table: table, rowID: rowID))
            }
            rows += 1
            if rows == rowsPerStatement { try flush() }
        }
        try flush()
        return statements
    }

    /// `($1, $2), ($3, $4)` for `rows` rows of `columns` values.
    private static func valuesList(rows: Int, columns: Int) -> String {
        var text = ""
        text.reserveCapacity(rows * columns * 7)
        var parameter = 1
        for row in 0..<rows {
            text += row == 0 ? "(" : ", ("
            for column in 0..<columns {
                if column > 0 { text += ", " }
                text += "$\(parameter)"
                parameter += 1
            }
            text += ")"
        }
        return text
    }

    /// One SQLite value (`typeof` at `index`, the value at `index + 1`) as the PostgreSQL column's type needs it.
    /// - Throws: `Failure` naming table, row and column for a value PostgreSQL cannot hold or of another type.
    private static func value(_ statement: SQLiteStatement, at index: Int32, column: Column, table: String,
                              rowID: Int64) throws -> PostgreSQLValue {
        let storage = statement.string(index) ?? "null"
        func refuse(_ problem: String) -> Failure {
            Failure("""
                cannot copy \(table) row \(rowID), column \(column.name): \(problem); nothing was copied (the target is \
                still empty): correct or delete that row in the SQLite database (sqlite3 with the daemon stopped, after \
                a hookyard backup), then copy again
                """)
        }
        switch (storage, column.type) {
        case ("null", _):
            return .null
        case ("integer", "bigint"):
            return .integer(statement.int(index + 1))
        case ("text", "text"):
            // Read by byte count, so a NUL or invalid UTF-8 is seen, never cut or replaced.
            let bytes = statement.blob(index + 1)
            if bytes.contains(0) { throw refuse("the text holds a NUL character, which PostgreSQL text cannot store") }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw refuse("the text is not valid UTF-8, which a PostgreSQL UTF8 database cannot store")
            }
            return .text(text)
        case ("blob", "bytea"), ("text", "bytea"):
            return .bytes(statement.blob(index + 1))
        default:
            throw refuse("SQLite holds a value of type \(storage) where PostgreSQL's column is \(column.type)")
        }
    }

    /// Runs `body`, turning a `PostgreSQLError` into a `Failure` that says the target was left unchanged.
    private static func withFailureContext<R>(_ what: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as PostgreSQLError {
            throw Failure("""
                \(what) failed and was rolled back (the target is unchanged): \(error.message)\
                \(error.sql.map { " (in \(String($0.prefix(120))))" } ?? "")
                """)
        }
    }
}
