import Cryptography
import Foundation
import HTTPServer

/// Who may use the admin listener: everyone who can reach it (no token configured), or only requests that present
/// `HOOKYARD_ADMIN_TOKEN`.
///
/// A token is accepted as `Authorization: Bearer <token>` (Prometheus `authorization`/`bearer_token`, curl
/// `-H`), or as HTTP Basic with the token as the password and any user name (what a browser sends after the
/// `WWW-Authenticate: Basic` prompt). Several comma-separated tokens are all accepted, for rotation. Comparison is
/// constant-time over SHA-256 digests, so neither the content nor the length of a token leaks through timing.
/// `/healthz` stays open, so load balancers and systemd checks need no token. Immutable and thread-safe.
struct AdminAccess: Sendable {
    private let tokenDigests: [[UInt8]]

    /// - Parameter tokens: the accepted tokens; empty: no token is required.
    init(tokens: [String]) {
        tokenDigests = tokens.map { Crypto.sha256(Array($0.utf8)) }
    }

    var requiresToken: Bool { !tokenDigests.isEmpty }

    /// The paths answered without a token.
    static let openPaths: Set<Substring> = ["/healthz"]

    /// `nil` when `request` may proceed, else the 401 to answer (with the `WWW-Authenticate` challenge that makes a
    /// browser ask for the token).
    func refusal(for request: HTTPRequest) -> HTTPResponse? {
        guard requiresToken, !Self.openPaths.contains(request.path) else { return nil }
        let presented = request.headers["Authorization"].flatMap(Self.credential(in:))
        if let presented {
            let digest = Crypto.sha256(Array(presented.utf8))
            var matched = false
            for token in tokenDigests where Crypto.constantTimeEquals(digest, token) { matched = true }
            if matched { return nil }
        }
        var response = HTTPResponse.error(
            status: 401, reason: presented == nil ? "missing_admin_token" : "wrong_admin_token",
            message: presented == nil
                ? "the admin listener requires HOOKYARD_ADMIN_TOKEN: send Authorization: Bearer <token>, or HTTP Basic with the token as password"
                : "the admin token presented is not HOOKYARD_ADMIN_TOKEN")
        response.headers.add(name: "WWW-Authenticate", value: "Basic realm=\"hookyard\", charset=\"UTF-8\"")
        response.headers.add(name: "Cache-Control", value: "no-store")
        return response
    }

    /// The token in an `Authorization` value: a Bearer token, or the password of Basic credentials (everything
    /// after the first colon of the decoded `user:password`). `nil` for any other scheme or malformed value.
    static func credential(in authorization: String) -> String? {
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        switch parts[0].lowercased() {
        case "bearer":
            return value.isEmpty ? nil : value
        case "basic":
            guard let data = Data(base64Encoded: value), let decoded = String(data: data, encoding: .utf8),
                  let colon = decoded.firstIndex(of: ":") else { return nil }
            let password = String(decoded[decoded.index(after: colon)...])
            return password.isEmpty ? nil : password
        default:
            return nil
        }
    }
}
