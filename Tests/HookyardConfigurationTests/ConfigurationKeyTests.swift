import Foundation
import Intake
import XCTest
@testable import HookyardConfiguration

/// The "did you mean" behind `check-config`'s messages, and the documented Instantly fields it checks rule paths against.
final class ConfigurationKeyTests: XCTestCase {
    /// Every key `topLevelKeys` lists is one the reader takes (none is reported unknown).
    func testEveryListedTopLevelKeyIsRead() {
        let yaml = YAMLReader.topLevelKeys.map { "\($0): {}" }.joined(separator: "\n")
        var reader = YAMLReader(file: "keys.yaml")
        var configuration = HookyardConfiguration()
        reader.apply(text: yaml, to: &configuration)
        XCTAssertEqual(reader.issues.filter { $0.message.hasPrefix("unknown key") }, [])
    }

    func testClosestMatch() {
        XCTAssertEqual(ClosestMatch.distance("lead_emial", "lead_email"), 1, "a swap of neighbours is one edit")
        XCTAssertEqual(ClosestMatch.distance("kitten", "sitting"), 3)
        XCTAssertEqual(ClosestMatch.distance("", "abc"), 3)
        XCTAssertEqual(ClosestMatch.closest(to: "worker", among: YAMLReader.topLevelKeys), "workers")
        XCTAssertEqual(ClosestMatch.closest(to: "leadEmail", among: InstantlyEvent.documentedFields), "lead_email")
        XCTAssertEqual(ClosestMatch.closest(to: "Campaign_ID", among: InstantlyEvent.documentedFields), "campaign_id")
        XCTAssertNil(ClosestMatch.closest(to: "companyName", among: InstantlyEvent.documentedFields))
        XCTAssertNil(ClosestMatch.closest(to: "xyz", among: ["abc"]))
    }

    /// docs/configuration.md lists exactly the fields `check-config` knows, in the same order.
    func testConfigurationPageListsTheDocumentedFields() throws {
        let page = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/configuration.md").standardized, encoding: .utf8)
        let paragraph = try XCTUnwrap(page.split(separator: "\n").first { $0.hasPrefix("Instantly's webhook payload is a flat object") })
        let listed = paragraph.components(separatedBy: " (the list lives")[0].split(separator: "`").enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
        XCTAssertEqual(listed, InstantlyEvent.documentedFields)
    }

    /// The fields intake identifies a delivery by are documented ones.
    func testIdentifyingFieldsAreDocumented() {
        XCTAssertTrue(Set(["event_type", "workspace", "campaign_id", "lead_email", "timestamp", "step", "variant", "email_id"])
            .isSubset(of: InstantlyEvent.documentedFields))
    }
}
