import HTTPServer
import XCTest

/// Secrets are redacted from logged paths by value, whatever the path's shape (issue 13, item 8).
final class PathRedactorTests: XCTestCase {
    let secret = "s3cr3t-Value_42"

    func testEveryShapeOfTheSecretIsRedacted() {
        let redactor = PathRedactor(secrets: [secret, "", "other-secret"])
        let encoded = secret.utf8.map { String(format: "%%%02x", $0) }.joined()
        let cases: [(String, String)] = [
            ("/webhooks/instantly/\(secret)", "/webhooks/instantly/[redacted]"),
            ("//webhooks/instantly/\(secret)", "//webhooks/instantly/[redacted]"),
            ("/hooks/webhooks/instantly/\(secret)", "/hooks/webhooks/instantly/[redacted]"),
            ("/webhooks%2Finstantly/\(secret)", "/webhooks%2Finstantly/[redacted]"),
            ("/webhooks%2Finstantly%2F\(secret)", "/[redacted]"),
            ("/webhooks/instantly/\(encoded)", "/webhooks/instantly/[redacted]"),
            ("/webhooks/instantly/\(encoded.replacingOccurrences(of: "%", with: "%25"))", "/webhooks/instantly/[redacted]"),
            ("/a/prefix\(secret)suffix/b", "/a/[redacted]/b"),
            ("/webhooks/instantly?key=\(secret)&x=1", "/webhooks/instantly?key=[redacted]&x=1"),
            ("/x/other-secret/\(secret)", "/x/[redacted]/[redacted]"),
        ]
        for (path, expected) in cases {
            let redacted = redactor.redact(path)
            XCTAssertEqual(redacted, expected, path)
            XCTAssertFalse(redacted.contains(secret), path)
        }
    }

    func testASecretSpanningASeparatorRedactsTheWholePath() {
        let redactor = PathRedactor(secrets: ["abc/def"])
        XCTAssertEqual(redactor.redact("/x/abc/def/y"), "[redacted]")
        XCTAssertEqual(redactor.redact("/x/abc%2Fdef"), "/x/[redacted]")
    }

    func testPathsWithoutSecretsAreUntouched() {
        let redactor = PathRedactor(secrets: [secret])
        for path in ["/webhooks/stripe", "/webhooks/instantly/wrong", "/%zz/%2", "/", "", "/s3cr3t-Value_4"] {
            XCTAssertEqual(redactor.redact(path), path)
        }
        XCTAssertEqual(PathRedactor(secrets: []).redact("/webhooks/instantly/\(secret)"), "/webhooks/instantly/\(secret)")
    }
}
