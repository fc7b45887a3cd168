/// A product interest a clicked link shows: a click on a URL matching `pattern` means interest in `product`.
///
/// `pattern` is a glob over the whole URL where `*` stands for any run of characters (none included) and every other
/// character stands for itself; letters match regardless of case. `*example.com/course*` matches
/// `https://www.Example.com/course/intro?utm=x`. A value type; thread-safe.
public struct LinkInterest: Sendable, Equatable {
    public var pattern: String
    public var product: String

    public init(pattern: String, product: String) {
        self.pattern = pattern
        self.product = product
    }

    /// Whether `url` matches the whole pattern.
    /// - Complexity: O(pattern length × url length) in the worst case.
    public func matches(_ url: String) -> Bool {
        Self.glob(Array(pattern.lowercased().unicodeScalars), Array(url.lowercased().unicodeScalars))
    }

    /// Iterative glob with single-star backtracking: on a mismatch, the last `*` absorbs one more character.
    private static func glob(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        var p = 0
        var t = 0
        var star: Int?
        var starText = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "*" {
                star = p
                starText = t
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let star {
                p = star + 1
                starText += 1
                t = starText
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
