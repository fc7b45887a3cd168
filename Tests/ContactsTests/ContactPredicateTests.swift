import Contacts
import XCTest

final class ContactPredicateTests: XCTestCase {
    func testEveryFieldHasItsConfigurationName() {
        XCTAssertEqual(ContactField(rawValue: "days_since_engagement"), .daysSinceEngagement)
        XCTAssertEqual(ContactField(rawValue: "payment_status"), .paymentStatus)
    }
}
