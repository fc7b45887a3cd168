import Cryptography
import Foundation
import XCTest
@testable import Intake

/// The cases Stripe's official libraries (stripe-python, stripe-node) test, plus rotation and the Python vector.
final class StripeSignatureVerifierTests: XCTestCase {
    let secret = "whsec_test_secret"
    let payload = Array("{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}".utf8)
    let now: Int64 = 1_732_500_000

    private func header(_ body: [UInt8]? = nil, secret: String? = nil, timestamp: Int64? = nil) -> String {
        StripeSignatureVerifier.header(for: body ?? payload, secret: secret ?? self.secret, timestamp: timestamp ?? now)
    }

    private func reason(_ header: String?, secrets: [String]? = nil, tolerance: Int64 = 300, at time: Int64? = nil,
                        body: [UInt8]? = nil) -> String? {
        let verifier = StripeSignatureVerifier(secrets: secrets ?? [secret], toleranceSeconds: tolerance)
        switch verifier.verify(header: header, body: body ?? payload, now: time ?? now) {
        case .success: return nil
        case .failure(let failure): return failure.reason
        }
    }

    func testValidHeaderAndSignature() {
        XCTAssertNil(reason(header()))
    }

    func testMissingHeader() {
        XCTAssertEqual(reason(nil), "missing_header")
        XCTAssertEqual(reason(""), "missing_header")
    }

    func testMalformedHeader() {
        XCTAssertEqual(reason("i'm not even a real signature header"), "unparsable_header")
        XCTAssertEqual(reason("v1=abc,v1=def"), "unparsable_header")  // no timestamp
        XCTAssertEqual(reason("t=notanumber,v1=abc"), "unparsable_header")
        XCTAssertEqual(reason("t=,v1=abc"), "unparsable_header")
    }

    func testNoSignaturesWithExpectedScheme() {
        XCTAssertEqual(reason("t=\(now),v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"), "no_v1_signature")
        XCTAssertEqual(reason("t=\(now)"), "no_v1_signature")
    }

    func testNoValidSignatureForPayload() {
        XCTAssertEqual(reason("t=\(now),v1=bad_signature"), "no_matching_signature")
        XCTAssertEqual(reason(header(secret: "whsec_other")), "no_matching_signature")
        XCTAssertEqual(reason(header(), body: payload + [32]), "no_matching_signature")
        // The signature covers the timestamp: moving it invalidates the signature.
        let valid = header()
        XCTAssertEqual(reason(valid.replacingOccurrences(of: "t=\(now)", with: "t=\(now + 1)"), at: now + 1), "no_matching_signature")
        // Upper-case hex is not what Stripe sends; the official libraries compare strings exactly.
        XCTAssertEqual(reason(valid.replacingOccurrences(of: "v1=", with: "v1=").uppercased().replacingOccurrences(of: "T=", with: "t=")
                              .replacingOccurrences(of: "V1=", with: "v1=")), "no_matching_signature")
    }

    func testTimestampOutsideTolerance() {
        XCTAssertEqual(reason(header(timestamp: now - 301)), "timestamp_outside_tolerance")
        XCTAssertNil(reason(header(timestamp: now - 300)))
        XCTAssertEqual(reason(header(timestamp: now - 11), tolerance: 10), "timestamp_outside_tolerance")
    }

    func testTimestampOffButNoTolerance() {
        XCTAssertNil(reason(header(timestamp: 12345), tolerance: 0))
    }

    func testFutureTimestampIsAcceptedLikeTheOfficialLibraries() {
        XCTAssertNil(reason(header(timestamp: now + 3600)))
    }

    func testHeaderContainsAValidSignatureAmongOthers() {
        let valid = header().components(separatedBy: "v1=")[1]
        XCTAssertNil(reason("t=\(now),v1=bad_signature,v1=\(valid),v0=bad"))
        XCTAssertNil(reason("t=\(now), v1=\(valid)"))  // whitespace after commas, as some proxies fold it
    }

    func testAnyConfiguredSecretMatchesDuringRotation() {
        XCTAssertNil(reason(header(secret: "whsec_new"), secrets: ["whsec_old", "whsec_new"]))
        XCTAssertNil(reason(header(secret: "whsec_old"), secrets: ["whsec_old", "whsec_new"]))
        XCTAssertEqual(reason(header(secret: "whsec_third"), secrets: ["whsec_old", "whsec_new"]), "no_matching_signature")
    }

    func testRawBytesNotReserialisedJSON() {
        let unicode = Array("{\"name\":\"Zoë \\u00e9\",\"amount\":  1}".utf8)
        XCTAssertNil(reason(header(unicode), body: unicode))
    }

    func testVectorSignedByStripePythonLibrary() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "stripe-python-signature", withExtension: "json", subdirectory: "Fixtures"))
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let body = Array((fixture["payload"] as! String).utf8)
        let timestamp = Int64(fixture["timestamp"] as! Int)
        let secret = fixture["secret"] as! String
        let expected = fixture["header"] as! String
        XCTAssertEqual(StripeSignatureVerifier.header(for: body, secret: secret, timestamp: timestamp), expected)
        XCTAssertNil(reason(expected, secrets: [secret], at: timestamp + 5, body: body))
        XCTAssertEqual(reason(expected, secrets: [secret], at: timestamp + 301, body: body), "timestamp_outside_tolerance")
        let rolled = fixture["rolled_header"] as! String
        XCTAssertNil(reason(rolled, secrets: [fixture["rolled_secret"] as! String], at: timestamp, body: body))
        XCTAssertNil(reason(rolled, secrets: ["whsec_unrelated", secret], at: timestamp, body: body))
    }

    func testConstantTimeEquals() {
        XCTAssertTrue(Crypto.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(Crypto.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(Crypto.constantTimeEquals([1, 2, 3], [1, 2]))
        XCTAssertTrue(Crypto.constantTimeEquals([], []))
    }

    func testHMACMatchesRFC4231Vector() {
        // RFC 4231 test case 2.
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(Crypto.hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
