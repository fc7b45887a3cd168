import Glibc

/// The texts a column repeats (campaign ids, rule names, currencies), kept so that a row repeating one reuses its
/// `String` instead of allocating and validating another: for a loop that reads many rows of a few distinct values.
/// At most `capacity` texts are kept (the oldest is replaced); a column of mostly distinct values gains nothing.
///
/// A value type, not thread-safe: one per column and loop.
public struct SQLiteTextReuse {
    private var kept: [String] = []
    private var next = 0
    public let capacity: Int

    public init(capacity: Int = 16) {
        self.capacity = max(1, capacity)
    }

    /// The kept `String` whose UTF-8 is `bytes`, or a new one (kept from then on).
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        for string in kept where string.utf8.count == bytes.count {
            let equal = string.utf8.withContiguousStorageIfAvailable { stored in
                bytes.isEmpty || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0
            } ?? string.utf8.elementsEqual(bytes)
            if equal { return string }
        }
        let string = String(decoding: bytes, as: UTF8.self)
        if kept.count < capacity {
            kept.append(string)
        } else {
            kept[next] = string
            next = (next + 1) % capacity
        }
        return string
    }
}

extension SQLiteStatement {
    /// The column as text, as `string(_:)` reads it, reusing a `String` `reuse` kept for the same bytes.
    public func string(_ column: Int32, reusing reuse: inout SQLiteTextReuse) -> String? {
        withTextBytes(column) { bytes in bytes.map { reuse.string($0) } }
    }
}
