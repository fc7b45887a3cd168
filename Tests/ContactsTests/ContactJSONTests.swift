import Contacts
import HookyardFoundation
import StrictJSON
import Store
import XCTest

final class ContactJSONTests: XCTestCase {
    func testTimesAreISO8601InUTCWithMilliseconds() {
        XCTAssertEqual(ISO8601Timestamp.string(0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(ISO8601Timestamp.string(1_795_607_532_045), "2026-11-25T11:52:12.045Z")
        XCTAssertEqual(ISO8601Timestamp.string(-1), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(ISO8601Timestamp.string(951_782_400_000), "2000-02-29T00:00:00.000Z")
    }

    func testAContactRendersEveryFieldTemplatesRead() throws {
        let contact = Contact(id: 7, email: "ann@example.com", firstSeenAt: 0, lastEngagementAt: nil,
                              counts: [.opened: 2], interestStatus: "interested", paymentStatus: .customer,
                              engagement: .medium, subscription: nil, tier: "pro", productInterest: nil,
                              doNotContact: nil, leads: ["c1": "", "c2": "lead-2"], stripeCustomerIDs: ["cus_1"],
                              revenue: ["usd": 4900], firstCampaign: "c1", lastCampaign: "c2", segments: ["customers"],
                              updatedAt: 1000)
        let json = ContactJSON.render(contact)
        XCTAssertEqual(json["email"], .string("ann@example.com"))
        XCTAssertEqual(json["payment_status"], .string("customer"))
        XCTAssertEqual(json[path: ["counts", "opened"]], .integer(2))
        XCTAssertEqual(json[path: ["counts", "replied"]], .integer(0))
        XCTAssertEqual(json[path: ["leads", "c1"]], .null, "lead id not seen yet")
        XCTAssertEqual(json[path: ["leads", "c2"]], .string("lead-2"))
        XCTAssertEqual(json[path: ["revenue", "usd"]], .integer(4900))
        XCTAssertEqual(json["last_engagement_at"], .null)
        XCTAssertEqual(json["updated_at"], .string("1970-01-01T00:00:01.000Z"))
        XCTAssertEqual(json["subscription"], .null)
        XCTAssertEqual(json["registered_for"], .array([]))
        XCTAssertEqual(json["lead"], .object([:]))
    }

    func testRegistrationsAndLeadFieldsRenderForTemplates() throws {
        var contact = Contact(id: 8, email: "bo@example.com", firstSeenAt: 0, updatedAt: 0)
        contact.registeredFor = ["course", "webinar"]
        contact.leadFields = ["industry": "Retail", "companyName": "Acme"]
        let json = ContactJSON.render(contact)
        XCTAssertEqual(json["registered_for"], .array([.string("course"), .string("webinar")]))
        XCTAssertEqual(json[path: ["lead", "industry"]], .string("Retail"))
        XCTAssertEqual(json[path: ["lead", "companyName"]], .string("Acme"))

        var export = ContactExport(contact: contact, events: [], jobs: [], payments: [], purchases: [], transitions: [],
                                   activity: [], ruleRuns: [], ownWrites: [:])
        export.registrations = [ContactRegistration(product: "webinar", reference: "cs_1", eventID: 3, registeredAt: 1000)]
        let document = ContactExportJSON.render(export, exportedAt: 0)
        XCTAssertEqual(document[path: ["contact", "registered_for"]], .array([.string("course"), .string("webinar")]))
        XCTAssertEqual(document["registrations"], .array([.object([
            "product": .string("webinar"), "reference": .string("cs_1"), "at": .string("1970-01-01T00:00:01.000Z"),
            "event": .integer(3),
        ])]))
    }
}
