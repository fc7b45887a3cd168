import Cryptography

/// Verifies `Stripe-Signature` headers exactly as Stripe's official libraries do.
///
/// The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`; the signed payload is `"<t>." + raw body`;
/// the MAC is HMAC-SHA256 keyed with the endpoint secret's UTF-8 bytes. A delivery is genuine if any `v1`
/// matches any configured secret (several during a secret roll), compared in constant time, and if its
/// timestamp is no older than the tolerance. Like the official libraries, a future timestamp is not rejected.
/// Immutable and thread-safe.
public struct StripeSignatureVerifier: Sendable {
    /// Why a delivery was rejected. `reason` is a stable code for clients and logs.
    public struct Failure: Error, Equatable, Sendable {
        public let reason: String
        public let message: String

        static let missingHeader = Failure(reason: "missing_header", message: "no Stripe-Signature header")
        static let unparsableHeader = Failure(
            reason: "unparsable_header", message: "unable to extract timestamp and signatures from the Stripe-Signature header")
        static let noV1Signature = Failure(reason: "no_v1_signature", message: "no signatures found with expected scheme v1")
        static let noMatchingSignature = Failure(
            reason: "no_matching_signature",
            message: "no signatures found matching the expected signature for payload; check STRIPE_WEBHOOK_SECRET is this endpoint's signing secret")
        static func timestampOutsideTolerance(_ timestamp: Int64, tolerance: Int64) -> Failure {
            Failure(reason: "timestamp_outside_tolerance",
                    message: "timestamp \(timestamp) is more than \(tolerance) s old; replayed or delayed delivery, or a wrong clock")
        }
    }

    private let secrets: [[UInt8]]
    /// Oldest accepted timestamp age in seconds; 0 disables the check.
    public let toleranceSeconds: Int64

    /// - Parameter secrets: the endpoint signing secrets (`whsec_...`), as they appear in the Stripe dashboard.
    public init(secrets: [String], toleranceSeconds: Int64 = 300) {
        self.secrets = secrets.map { Array($0.utf8) }
        self.toleranceSeconds = toleranceSeconds
    }

    /// Checks `header` against `body` at time `now` (unix seconds).
    public func verify(header: String?, body: [UInt8], now: Int64) -> Result<Void, Failure> {
        guard let header, !header.isEmpty else { return .failure(.missingHeader) }
        var timestamp: Int64?
        var timestampText: Substring = ""
        var signatures: [[UInt8]] = []
        for item in header.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            let key = pair[0].trimmingWhitespace()
            let value = pair[1].trimmingWhitespace()
            if key == "t", timestamp == nil {
                guard let parsed = Int64(value) else { return .failure(.unparsableHeader) }
                timestamp = parsed
                timestampText = value
            } else if key == "v1" {
                signatures.append(Array(value.utf8))
            }
        }
        guard let timestamp else { return .failure(.unparsableHeader) }
        guard !signatures.isEmpty else { return .failure(.noV1Signature) }

        let signedPayload = TimestampedSignature.signedPayload(body, timestamp: timestampText)
        var matched = false
        for secret in secrets {
            let expected = Array(Crypto.hex(Crypto.hmacSHA256(key: secret, message: signedPayload)).utf8)
            for signature in signatures where Crypto.constantTimeEquals(expected, signature) {
                matched = true
            }
        }
        guard matched else { return .failure(.noMatchingSignature) }
        if toleranceSeconds > 0, timestamp < now - toleranceSeconds {
            return .failure(.timestampOutsideTolerance(timestamp, tolerance: toleranceSeconds))
        }
        return .success(())
    }

    /// A `Stripe-Signature` header for `body` at `timestamp`, as Stripe would send it (for tests and test events).
    public static func header(for body: [UInt8], secret: String, timestamp: Int64) -> String {
        TimestampedSignature.header(for: body, secret: secret, timestamp: timestamp)
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}
