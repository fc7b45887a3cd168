import CPostgreSQL

/// The rows one statement returned, in PostgreSQL's text format, and how many rows it changed. Owns libpq's result
/// and frees it once, when the last reference goes.
///
/// Immutable after creation, so it may be read from any thread; it holds no connection.
public final class PostgreSQLResult: @unchecked Sendable {
    private let result: OpaquePointer
    /// The statement it answers, for error messages.
    public let sql: String

    init(taking result: OpaquePointer, sql: String) {
        self.result = result
        self.sql = sql
    }

    deinit { PQclear(result) }

    /// How many rows came back.
    public var count: Int { Int(PQntuples(result)) }
    /// How many columns each row has.
    public var columnCount: Int { Int(PQnfields(result)) }
    /// The rows an `INSERT`, `UPDATE` or `DELETE` changed (0 for other statements).
    public var changedRows: Int {
        guard let text = PQcmdTuples(result), text.pointee != 0 else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// The command tag (`INSERT 0 3`, `COMMIT`, `ROLLBACK`).
    public var commandStatus: String { PQcmdStatus(result).map { String(cString: $0) } ?? "" }

    /// Row `index` (0-based). - Precondition: `index < count`.
    public subscript(index: Int) -> PostgreSQLRow {
        precondition(index >= 0 && index < count, "row \(index) of \(count)")
        return PostgreSQLRow(result: self, index: Int32(index))
    }

    /// The rows in order.
    public var rows: [PostgreSQLRow] { (0..<count).map { self[$0] } }

    /// The first row, or `nil` when there is none.
    public var first: PostgreSQLRow? { count > 0 ? self[0] : nil }

    /// The name of column `column`.
    public func columnName(_ column: Int) -> String {
        PQfname(result, Int32(column)).map { String(cString: $0) } ?? "column \(column)"
    }

    fileprivate func isNull(_ row: Int32, _ column: Int32) -> Bool { PQgetisnull(result, row, column) != 0 }

    /// The value's bytes in text form, without copying; valid while `self` lives. `nil` for NULL.
    fileprivate func withValue<R>(_ row: Int32, _ column: Int32, _ body: (UnsafeBufferPointer<UInt8>?) throws -> R) rethrows -> R {
        guard PQgetisnull(result, row, column) == 0, let value = PQgetvalue(result, row, column) else { return try body(nil) }
        let length = Int(PQgetlength(result, row, column))
        return try value.withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }
}

/// One row of a `PostgreSQLResult`. Readers throw `PostgreSQLDecodingError` for a value the asked type cannot hold:
/// an impossible value is an error, never a default. Column indexes are 0-based.
public struct PostgreSQLRow: @unchecked Sendable {
    let result: PostgreSQLResult
    let index: Int32

    public func isNull(_ column: Int) -> Bool { result.isNull(index, Int32(column)) }

    /// The text of a column, or `nil` for NULL.
    public func optionalString(_ column: Int) -> String? {
        result.withValue(index, Int32(column)) { bytes in bytes.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// The text of a non-NULL column.
    public func string(_ column: Int) throws(PostgreSQLDecodingError) -> String {
        guard let text = optionalString(column) else { throw decodingError(String.self, column) }
        return text
    }

    /// An integer column (`int2`/`int4`/`int8`, or an integral `numeric` such as `sum(bigint)`), or `nil` for NULL.
    public func optionalInt(_ column: Int) throws(PostgreSQLDecodingError) -> Int64? {
        // The usual case, a plain integer, read from the bytes in place (no `String` per value).
        let direct: Int64?? = result.withValue(index, Int32(column)) { bytes in bytes.map { Self.parseInteger($0) } }
        guard let direct else { return nil }
        if let direct { return direct }
        guard let text = optionalString(column) else { return nil }
        if let value = Int64(text) { return value }
        // numeric sums arrive as "123" or "123.000…"; only an integral value that fits is an Int64.
        if let dot = text.firstIndex(of: "."), text[text.index(after: dot)...].allSatisfy({ $0 == "0" }),
           let value = Int64(text[..<dot]) {
            return value
        }
        throw decodingError(Int64.self, column)
    }

    /// A non-NULL integer column.
    public func int(_ column: Int) throws(PostgreSQLDecodingError) -> Int64 {
        guard let value = try optionalInt(column) else { throw decodingError(Int64.self, column) }
        return value
    }

    /// A `float8`/`numeric` column, or `nil` for NULL.
    public func optionalDouble(_ column: Int) throws(PostgreSQLDecodingError) -> Double? {
        guard let text = optionalString(column) else { return nil }
        guard let value = Double(text) else { throw decodingError(Double.self, column) }
        return value
    }

    /// A `bool` column, or `nil` for NULL.
    public func optionalBool(_ column: Int) throws(PostgreSQLDecodingError) -> Bool? {
        // `t` or `f`, read from the byte in place; anything else is no `bool`.
        let value: Bool?? = result.withValue(index, Int32(column)) { bytes -> Bool?? in
            guard let bytes else { return .some(nil) }
            guard bytes.count == 1 else { return nil }
            switch bytes[0] {
            case UInt8(ascii: "t"): return .some(true)
            case UInt8(ascii: "f"): return .some(false)
            default: return nil
            }
        }
        guard let value else { throw decodingError(Bool.self, column) }
        return value
    }

    /// A non-NULL `bool` column.
    public func bool(_ column: Int) throws(PostgreSQLDecodingError) -> Bool {
        guard let value = try optionalBool(column) else { throw decodingError(Bool.self, column) }
        return value
    }

    /// A `bytea` column (sent in PostgreSQL's hex form, `\x…`), or `nil` for NULL.
    public func optionalBytes(_ column: Int) throws(PostgreSQLDecodingError) -> [UInt8]? {
        let decoded: [UInt8]?? = result.withValue(index, Int32(column)) { bytes -> [UInt8]?? in
            guard let bytes else { return .some(nil) }
            return Self.decodeHexBytea(bytes).map { .some($0) }
        }
        guard let decoded else { throw decodingError([UInt8].self, column) }
        return decoded
    }

    /// Passes the elements of a one-dimensional integer array column (`int8[]`, as `array_agg(bigint)` gives, in
    /// PostgreSQL's text form `{1,NULL,-3}`) to `body` in order, `nil` for a NULL element; a NULL array has none. The
    /// text is parsed in place, without a `String` per element: for arrays of many thousand ids.
    /// - Throws: `PostgreSQLDecodingError` when the column is not such an array (another shape, a non-integer element,
    ///   an element beyond 64 bits), before or after passing the elements that came before; `body`'s error.
    public func forEachIntegerInArray(_ column: Int, _ body: (Int64?) throws -> Void) throws {
        // Made only when thrown: the error quotes the column's whole text.
        let malformed = { decodingError([Int64?].self, column) }
        try result.withValue(index, Int32(column)) { bytes in
            guard let bytes else { return }
            guard bytes.count >= 2, bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else { throw malformed() }
            var position = 1
            let end = bytes.count - 1
            guard position < end else { return }  // {}
            while true {
                let start = position
                while position < end && bytes[position] != UInt8(ascii: ",") { position += 1 }
                let element = UnsafeBufferPointer(rebasing: bytes[start..<position])
                if element.elementsEqual("NULL".utf8) {
                    try body(nil)
                } else {
                    guard let value = Self.parseInteger(element) else { throw malformed() }
                    try body(value)
                }
                if position == end { return }
                position += 1  // the comma
                guard position < end else { throw malformed() }  // a trailing comma
            }
        }
    }

    /// The decimal integer (an optional minus sign, then digits) the bytes spell, or `nil` (empty, another character,
    /// beyond 64 bits).
    static func parseInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { index = 1 }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            // Accumulate negatively, so that Int64.min parses too.
            let (shifted, overflowMultiply) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowAdd) = shifted.subtractingReportingOverflow(Int64(digit))
            guard !overflowMultiply, !overflowAdd else { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        let (positive, overflow) = Int64(0).subtractingReportingOverflow(value)
        return overflow ? nil : positive
    }

    /// A non-NULL `bytea` column.
    public func bytes(_ column: Int) throws(PostgreSQLDecodingError) -> [UInt8] {
        guard let value = try optionalBytes(column) else { throw decodingError([UInt8].self, column) }
        return value
    }

    /// A text column read as a `RawRepresentable` (an enum of names); an unknown name is an error.
    public func value<T: RawRepresentable>(_ type: T.Type, _ column: Int) throws(PostgreSQLDecodingError) -> T where T.RawValue == String {
        guard let text = optionalString(column), let value = T(rawValue: text) else { throw decodingError(T.self, column) }
        return value
    }

    /// The error for column `column` read as `type`.
    public func decodingError<T>(_ type: T.Type, _ column: Int) -> PostgreSQLDecodingError {
        PostgreSQLDecodingError(column: result.columnName(column), value: optionalString(column),
                                type: String(describing: type), sql: result.sql)
    }

    /// `\x` followed by two hex digits per byte (PostgreSQL's `bytea_output = hex`, the default since 9.0).
    static func decodeHexBytea(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((text.count - 2) / 2)
        var i = 2
        while i < text.count {
            guard let high = nibble(text[i]), let low = nibble(text[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
            i += 2
        }
        return bytes
    }
}
