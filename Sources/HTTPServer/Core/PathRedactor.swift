/// Keeps configured secrets out of logged request paths, by what the path contains rather than where it starts.
///
/// A path is checked as sent and percent-decoded (up to three times, so `%252F` is caught as well as `%2F`). When
/// any form contains a secret, every piece of the path between `/`, `?`, `&`, `=`, `;` and `#` whose forms contain
/// one is replaced by `[redacted]`; if a secret still shows (it spans a separator), the whole path is replaced.
/// `//webhooks/instantly/<secret>`, `/hooks/webhooks/instantly/<secret>` and `/webhooks%2Finstantly/<secret>` all log
/// as their shape with `[redacted]` in place of the secret. Immutable and thread-safe.
public struct PathRedactor: Sendable {
    /// What a redacted piece (or path) is logged as.
    public static let placeholder = "[redacted]"

    private let secrets: [[UInt8]]

    /// - Parameter secrets: every configured secret value; empty ones are ignored.
    public init(secrets: [String]) {
        self.secrets = Array(Set(secrets.filter { !$0.isEmpty })).map { Array($0.utf8) }
    }

    /// `path` with every piece holding a secret replaced by `[redacted]`; `path` itself when it holds none.
    public func redact<Path: StringProtocol>(_ path: Path) -> String {
        let bytes = Array(path.utf8)
        guard !secrets.isEmpty, holdsSecret(bytes) else { return String(path) }
        var out: [UInt8] = []
        var piece: [UInt8] = []
        func flush() {
            if holdsSecret(piece) { out.append(contentsOf: Self.placeholder.utf8) } else { out.append(contentsOf: piece) }
            piece.removeAll()
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "&"), UInt8(ascii: "="), UInt8(ascii: ";"), UInt8(ascii: "#"):
                flush()
                out.append(byte)
            default:
                piece.append(byte)
            }
        }
        flush()
        return holdsSecret(out) ? Self.placeholder : String(decoding: out, as: UTF8.self)
    }

    /// Whether `bytes`, as they are or percent-decoded up to three times, contain a secret.
    func holdsSecret(_ bytes: [UInt8]) -> Bool {
        var form = bytes
        for round in 0...3 {
            if secrets.contains(where: { Self.contains(form, $0) }) { return true }
            guard round < 3, form.contains(UInt8(ascii: "%")) else { return false }
            let decoded = PercentDecoding.decode(form)
            if decoded == form { return false }
            form = decoded
        }
        return false
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        guard let first = needle.first else { return true }
        var start = 0
        while start + needle.count <= haystack.count {
            if haystack[start] == first && haystack[start..<start + needle.count].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }
}
