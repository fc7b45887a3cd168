import Foundation
import XCTest
@testable import Intake

final class InstantlySecretVerifierTests: XCTestCase {
    let verifier = InstantlySecretVerifier(secrets: ["s3cret"], headerName: "X-Webhook-Secret")

    func testAcceptsBearerHeaderAndPath() {
        XCTAssertTrue(verifier.isAuthentic(authorization: "Bearer s3cret", secretHeader: nil, pathSecret: nil))
        XCTAssertTrue(verifier.isAuthentic(authorization: "bearer s3cret", secretHeader: nil, pathSecret: nil))
        XCTAssertTrue(verifier.isAuthentic(authorization: nil, secretHeader: "s3cret", pathSecret: nil))
        XCTAssertTrue(verifier.isAuthentic(authorization: nil, secretHeader: nil, pathSecret: "s3cret"))
    }

    func testRejectsMissingOrWrong() {
        XCTAssertFalse(verifier.isAuthentic(authorization: nil, secretHeader: nil, pathSecret: nil))
        XCTAssertFalse(verifier.isAuthentic(authorization: "Bearer wrong", secretHeader: "s3cre", pathSecret: "s3cret2"))
        XCTAssertFalse(verifier.isAuthentic(authorization: "Basic s3cret", secretHeader: nil, pathSecret: nil))
        XCTAssertFalse(verifier.isAuthentic(authorization: "s3cret", secretHeader: nil, pathSecret: nil))
    }

    func testSeveralSecretsDuringRotation() {
        let rotating = InstantlySecretVerifier(secrets: ["old", "new"])
        XCTAssertTrue(rotating.isAuthentic(authorization: "Bearer old", secretHeader: nil, pathSecret: nil))
        XCTAssertTrue(rotating.isAuthentic(authorization: nil, secretHeader: "new", pathSecret: nil))
    }
}

final class WebhookEventTests: XCTestCase {
    private func instantly(_ fields: [String: Any]) throws(InvalidEvent) -> String {
        let body = Array(try! JSONSerialization.data(withJSONObject: fields))
        return try InstantlyEvent.normalize(body: body, receivedAt: 1, headers: []).dedupKey
    }

    let base: [String: Any] = [
        "event_type": "email_opened", "timestamp": "2026-11-25T06:00:00.000Z",
        "workspace": "ws-1", "campaign_id": "c-1", "lead_email": "Lead@Example.com", "step": 1, "variant": 2,
    ]

    func testInstantlyRequiredFieldsAreNamed() {
        for field in ["event_type", "timestamp", "workspace"] {
            var fields = base
            fields[field] = nil
            XCTAssertThrowsError(try instantly(fields)) { error in
                XCTAssertEqual((error as? InvalidEvent)?.reason, "missing_field")
                XCTAssertTrue((error as? InvalidEvent)?.message.contains("'\(field)'") ?? false)
            }
        }
        var wrongType = base
        wrongType["workspace"] = 5
        XCTAssertThrowsError(try instantly(wrongType)) { XCTAssertEqual(($0 as? InvalidEvent)?.reason, "invalid_field") }
        XCTAssertThrowsError(try InstantlyEvent.normalize(body: Array("[1]".utf8), receivedAt: 1, headers: [])) {
            XCTAssertEqual(($0 as? InvalidEvent)?.reason, "invalid_json")
        }
    }

    func testInstantlyDedupKeyIsStableAndCoversIdentifyingFields() throws {
        let key = try instantly(base)
        XCTAssertEqual(key.count, 64)
        // Unrelated fields (names, custom variables) do not change the key.
        var extra = base
        extra["firstName"] = "Ann"
        XCTAssertEqual(try instantly(extra), key)
        // Lead email is compared trimmed and case-insensitively.
        var email = base
        email["lead_email"] = " lead@example.COM "
        XCTAssertEqual(try instantly(email), key)
        for (field, value) in [("timestamp", "2026-11-25T06:00:01.000Z"), ("campaign_id", "c-2"), ("workspace", "ws-2"),
                               ("lead_email", "other@example.com"), ("email_id", "e-1")] as [(String, Any)] {
            var changed = base
            changed[field] = value
            XCTAssertNotEqual(try instantly(changed), key, field)
        }
        var step = base
        step["step"] = 2
        XCTAssertNotEqual(try instantly(step), key)
        var variant = base
        variant["variant"] = 1
        XCTAssertNotEqual(try instantly(variant), key)
    }

    func testLinkClickedSpellingsAreOneEvent() throws {
        var documented = base
        documented["event_type"] = "link_clicked"
        var subscribed = base
        subscribed["event_type"] = "email_link_clicked"
        XCTAssertEqual(try instantly(documented), try instantly(subscribed))
        let event = try InstantlyEvent.normalize(body: Array(try JSONSerialization.data(withJSONObject: documented)), receivedAt: 1, headers: [])
        XCTAssertEqual(event.type, "email_link_clicked")
    }

    func testUnknownInstantlyTypeIsAccepted() throws {
        var custom = base
        custom["event_type"] = "custom_label_hot"
        let event = try InstantlyEvent.normalize(body: Array(try JSONSerialization.data(withJSONObject: custom)), receivedAt: 1, headers: [])
        XCTAssertEqual(event.type, "custom_label_hot")
        XCTAssertFalse(InstantlyEvent.knownTypes.contains(event.type))
    }

    func testStripeEventNeedsIdAndType() throws {
        let event = try StripeEvent.normalize(body: Array(#"{"id":"evt_1","type":"invoice.paid","object":"event"}"#.utf8),
                                              receivedAt: 1, headers: [])
        XCTAssertEqual(event.dedupKey, "evt_1")
        XCTAssertEqual(event.eventID, "evt_1")
        XCTAssertEqual(event.type, "invoice.paid")
        for body in [#"{"type":"invoice.paid"}"#, #"{"id":"evt_1"}"#, #"{"id":"","type":"x"}"#, "not json", "[]"] {
            XCTAssertThrowsError(try StripeEvent.normalize(body: Array(body.utf8), receivedAt: 1, headers: []), body)
        }
    }

    func testPathSecretIsPercentDecoded() {
        XCTAssertEqual(IntakeRouter.percentDecoded("a%2Bb%zz%4"), "a+b%zz%4")
    }
}

/// Ids and types with control characters are refused, naming the field (issue 13, item 7).
final class ControlCharacterTests: XCTestCase {
    func testStripeIdsAndTypesWithControlCharactersAreRefused() {
        for (body, field) in [(#"{"id":"evt_1\u0000a","type":"invoice.paid"}"#, "id"), (#"{"id":"evt_1\u0000b","type":"invoice.paid"}"#, "id"),
                              (#"{"id":"evt_1","type":"invoice.paid\u001f"}"#, "type"), (#"{"id":"evt\u007f","type":"invoice.paid"}"#, "id")] {
            XCTAssertThrowsError(try StripeEvent.normalize(body: Array(body.utf8), receivedAt: 1, headers: []), body) { error in
                let invalid = error as? InvalidEvent
                XCTAssertEqual(invalid?.reason, "invalid_field")
                XCTAssertTrue(invalid?.message.contains("'\(field)'") ?? false, invalid?.message ?? "")
            }
        }
        XCTAssertNoThrow(try StripeEvent.normalize(body: Array(#"{"id":"evt_\u00e9","type":"invoice.paid","x":"\u0000"}"#.utf8), receivedAt: 1, headers: []),
                         "a control character elsewhere in the body is data")
    }

    func testInstantlyTypeWithNULIsRefused() {
        let body = #"{"event_type":"lead_interested\u0000x","timestamp":"t","workspace":"w","campaign_id":"c","lead_email":"a@b.c"}"#
        XCTAssertThrowsError(try InstantlyEvent.normalize(body: Array(body.utf8), receivedAt: 1, headers: [])) { error in
            XCTAssertEqual((error as? InvalidEvent)?.message,
                           "Instantly event field 'event_type' contains the control character U+0000 at character 16; ids and types must not contain control characters")
        }
        let campaign = #"{"event_type":"email_sent","timestamp":"t","workspace":"w","campaign_id":"c\nx","lead_email":"a@b.c"}"#
        XCTAssertThrowsError(try InstantlyEvent.normalize(body: Array(campaign.utf8), receivedAt: 1, headers: []))
        // The dedup key joins its fields with U+001F: a field holding one could make two deliveries share a key.
        let shifted = #"{"event_type":"email_sent","timestamp":"t","workspace":"w","campaign_id":"c","lead_email":"a@b.c\u001fx"}"#
        XCTAssertThrowsError(try InstantlyEvent.normalize(body: Array(shifted.utf8), receivedAt: 1, headers: [])) { error in
            XCTAssertTrue((error as? InvalidEvent)?.message.contains("'lead_email'") ?? false)
        }
        let snippet = #"{"event_type":"reply_received","timestamp":"t","workspace":"w","reply_text":"line\nline\u0000 \ud83d"}"#
        XCTAssertNoThrow(try InstantlyEvent.normalize(body: Array(snippet.utf8), receivedAt: 1, headers: []))
    }

    func testInvalidJSONNamesTheProblemAndOffset() {
        XCTAssertThrowsError(try InstantlyEvent.normalize(body: Array(#"{"event_type":"x",}"#.utf8), receivedAt: 1, headers: [])) { error in
            XCTAssertEqual((error as? InvalidEvent)?.message, "body is not a valid JSON object: invalid JSON at byte 18: expected a member name")
        }
    }
}
