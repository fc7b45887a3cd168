/// The header fields of a request or response, in arrival order.
///
/// Names are kept as received; lookups are case-insensitive (names are compared in ASCII lower case).
public struct HTTPHeaders: Sendable, Sequence {
    /// `(name, value)` pairs; `lowercasedNames` runs parallel to it for lookups.
    public private(set) var fields: [(name: String, value: String)] = []
    private var lowercasedNames: [String] = []

    public init() {}

    public init(_ fields: [(String, String)]) {
        for (name, value) in fields { add(name: name, value: value) }
    }

    public mutating func add(name: String, value: String) {
        fields.append((name, value))
        lowercasedNames.append(name.lowercased())
    }

    /// The first value of the field `name`, if present.
    public subscript(name: String) -> String? {
        let key = name.lowercased()
        guard let index = lowercasedNames.firstIndex(of: key) else { return nil }
        return fields[index].value
    }

    /// Every value of the field `name`, in order.
    public func values(_ name: String) -> [String] {
        let key = name.lowercased()
        return lowercasedNames.indices.filter { lowercasedNames[$0] == key }.map { fields[$0].value }
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}
