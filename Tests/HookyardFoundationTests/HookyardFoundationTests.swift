import Foundation
import HookyardFoundation
import XCTest

final class WallClockTests: XCTestCase {
    func testNowIsTheSystemTimeInMilliseconds() {
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let now = WallClock.nowMilliseconds()
        let after = Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertGreaterThanOrEqual(now, before - 1)
        XCTAssertLessThanOrEqual(now, after + 1)
        XCTAssertEqual(WallClock.milliseconds(of: Date(timeIntervalSince1970: 1_764_064_800.123_4)), 1_764_064_800_123)
    }

    func testMonotonicClockNeverGoesBack() {
        var last = MonotonicClock.milliseconds()
        for _ in 0..<1000 {
            let next = MonotonicClock.milliseconds()
            XCTAssertGreaterThanOrEqual(next, last)
            last = next
        }
    }
}

final class ISO8601TimestampTests: XCTestCase {
    func testWritesUTCWithMilliseconds() {
        XCTAssertEqual(ISO8601Timestamp.string(0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(ISO8601Timestamp.string(1_764_064_800_123), "2025-11-25T10:00:00.123Z")
        XCTAssertEqual(ISO8601Timestamp.string(-1), "1969-12-31T23:59:59.999Z")
    }

    func testReadsWhatItWritesAndInstantlysForms() {
        for milliseconds: Int64 in [0, 1_764_064_800_123, 253_402_300_799_999] {
            XCTAssertEqual(ISO8601Timestamp.milliseconds(ISO8601Timestamp.string(milliseconds)), milliseconds)
        }
        XCTAssertEqual(ISO8601Timestamp.milliseconds("2026-08-14T11:30:00+02:00"), ISO8601Timestamp.milliseconds("2026-08-14T09:30:00Z"))
        XCTAssertNil(ISO8601Timestamp.milliseconds("2026-13-01T00:00:00Z"))
        XCTAssertNil(ISO8601Timestamp.milliseconds("yesterday"))
    }

    func testExtremeTimesDoNotTrap() {
        for milliseconds in [Int64.max, Int64.min, Int64.min + 1] {
            let text = ISO8601Timestamp.string(milliseconds)
            XCTAssertTrue(text.hasSuffix("Z") || text.contains("out of range"), text)
        }
    }
}

final class InstantlyEventTypeTests: XCTestCase {
    /// The `event_type` enum of `POST /api/v2/webhooks` in shared/notes/instantly-openapi-v2-extract.json.
    func testSubscribableTypesAreInstantlysEnumInItsOrder() {
        XCTAssertEqual(InstantlyEventType.subscribable, [
            "all_events", "email_sent", "email_opened", "email_link_clicked", "reply_received", "email_bounced",
            "lead_unsubscribed", "campaign_completed", "account_error", "lead_neutral", "lead_interested",
            "lead_not_interested", "lead_meeting_booked", "lead_meeting_completed", "lead_closed", "lead_out_of_office",
            "lead_wrong_person", "lead_no_show", "supersearch_enrichment_completed",
        ])
    }

    func testDocumentedTypesAreUniqueAndIncludeTheAllEventsOnlyType() {
        XCTAssertEqual(Set(InstantlyEventType.documented).count, InstantlyEventType.documented.count)
        XCTAssertTrue(InstantlyEventType.documented.contains(InstantlyEventType.autoReplyReceived))
        XCTAssertTrue(InstantlyEventType.documented.contains(InstantlyEventType.emailLinkClicked))
        XCTAssertFalse(InstantlyEventType.documented.contains(InstantlyEventType.linkClicked))
    }
}

final class EmailAddressTests: XCTestCase {
    func testOneSpellingPerPerson() {
        XCTAssertEqual(EmailAddress.normalized("  ZOË.ÄNGSTRÖM@EXAMPLE.COM\n"), "zoë.ängström@example.com")
        XCTAssertEqual(EmailAddress.normalized("zoe\u{0308}@example.com"), "zoë@example.com")
        XCTAssertEqual(EmailAddress.normalized("Ada+Tag@Example.com"), "ada+tag@example.com")
        XCTAssertNil(EmailAddress.normalizedOrNil("   "))
        XCTAssertNil(EmailAddress.normalizedOrNil(nil))
    }
}
