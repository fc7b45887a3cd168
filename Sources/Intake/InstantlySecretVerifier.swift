import Cryptography

/// Authenticates Instantly deliveries, which carry no signature: the shared secret configured as a static header
/// on the Instantly webhook must come with each delivery.
///
/// Accepted as `Authorization: Bearer <secret>`, as the configured header (default `X-Webhook-Secret`), or as the
/// last path segment (`/webhooks/instantly/<secret>`). Comparison is constant-time over SHA-256 digests, so neither
/// content nor length of the secret leaks through timing. Immutable and thread-safe.
public struct InstantlySecretVerifier: Sendable {
    private let secretDigests: [[UInt8]]
    /// The header that may carry the secret.
    public let headerName: String

    /// - Parameter secrets: accepted secrets (more than one while rotating).
    public init(secrets: [String], headerName: String = "X-Webhook-Secret") {
        secretDigests = secrets.map { Crypto.sha256(Array($0.utf8)) }
        self.headerName = headerName
    }

    /// Whether any presented credential matches a configured secret.
    /// - Parameters:
    ///   - authorization: the `Authorization` header, if any.
    ///   - secretHeader: the value of `headerName`, if any.
    ///   - pathSecret: the secret path segment, if the URL had one.
    public func isAuthentic(authorization: String?, secretHeader: String?, pathSecret: String?) -> Bool {
        var presented: [String] = []
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { presented.append(String(parts[1].trimmingWhitespace())) }
        }
        if let secretHeader { presented.append(secretHeader) }
        if let pathSecret { presented.append(pathSecret) }
        var matched = false
        for candidate in presented {
            let digest = Crypto.sha256(Array(candidate.utf8))
            for secret in secretDigests where Crypto.constantTimeEquals(digest, secret) { matched = true }
        }
        return matched
    }
}
