import COpenSSL

/// The libcrypto (OpenSSL) functions Hookyard uses, wrapped once. Thread-safe (OpenSSL 3 one-shot calls).
public enum Crypto {
    /// HMAC-SHA256 of `message` under `key`.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                _ = HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                         messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), messageBytes.count,
                         &digest, &length)
            }
        }
        return Array(digest.prefix(Int(length)))
    }

    /// SHA-256 of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        bytes.withUnsafeBytes { input in
            _ = SHA256(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, &digest)
        }
        return digest
    }

    /// Compares equal-length byte strings in time independent of their contents (`CRYPTO_memcmp`).
    /// Different lengths compare unequal at once: lengths are not secret here (hex digests, hashed secrets).
    public static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.isEmpty { return true }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }

    /// `count` cryptographically secure random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let status = RAND_bytes(&bytes, Int32(count))
        precondition(status == 1, "RAND_bytes failed: the OpenSSL random generator is not seeded")
        return bytes
    }

    /// Lower-case hexadecimal.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The `t=<unix seconds>,v1=<hex>` signature header Stripe puts on its webhooks (`Stripe-Signature`) and Hookyard
/// puts on its own outbound `http.post` requests (`Hookyard-Signature`): the MAC is HMAC-SHA256, keyed with the
/// secret's UTF-8 bytes, of `"<t>."` followed by the raw body bytes. Stateless and thread-safe.
public enum TimestampedSignature {
    /// The header value for `body` signed with `secret` at `timestamp` (unix seconds).
    public static func header(for body: [UInt8], secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(Crypto.hex(Crypto.hmacSHA256(key: Array(secret.utf8), message: signedPayload(body, timestamp: "\(timestamp)"))))"
    }

    /// `"<timestamp>."` followed by `body`: the bytes the MAC covers.
    public static func signedPayload(_ body: [UInt8], timestamp: some StringProtocol) -> [UInt8] {
        var payload = Array(timestamp.utf8)
        payload.append(UInt8(ascii: "."))
        payload.append(contentsOf: body)
        return payload
    }
}
