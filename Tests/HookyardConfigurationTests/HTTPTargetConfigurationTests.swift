import Foundation
import Outbound
import Workflows
import XCTest
@testable import HookyardConfiguration

/// `http_targets:` and the `http.post` steps that name them.
final class HTTPTargetConfigurationTests: ConfigurationTestCase {


    private static func rules(target: String) -> String {
        """
        rules:
          - name: fulfil
            on: {source: stripe, event: checkout.session.completed}
            steps:
              - name: notify
                action: http.post
                with:
                  target: \(target)
                  body: {session: "{{ event.data.object.id }}"}
        """
    }

    func testTargetsAreReadWithSecretsFromTheEnvironmentOrAFile() throws {
        let secretFile = directory.appendingPathComponent("lms-secret")
        try "lms-s3cret\n".write(to: secretFile, atomically: true, encoding: .utf8)
        let configuration = try load("""
            http_targets:
              fulfilment:
                url: "https://fulfil.example.com/hooks/"
                secret: "${FULFILMENT_SECRET}"
              lms:
                url: "http://10.0.0.7:8080/enrol?src=${SOURCE:-hookyard}"
                secret: "${LMS_SECRET}"
                max_rps: 2
            \(Self.rules(target: "fulfilment"))
            """, environment: ["FULFILMENT_SECRET": "whsec_f", "LMS_SECRET_FILE": secretFile.path])
        XCTAssertEqual(configuration.httpTargets, [
            HTTPTargetSettings(name: "fulfilment", url: "https://fulfil.example.com/hooks/", secret: "whsec_f"),
            HTTPTargetSettings(name: "lms", url: "http://10.0.0.7:8080/enrol?src=hookyard", secret: "lms-s3cret", maxRequestsPerSecond: 2),
        ])
        XCTAssertEqual(configuration.rules.first?.steps.first?.action, "http.post")
    }

    func testUnknownTargetInARuleIsAProblemOnItsLine() {
        let yaml = """
            http_targets:
              fulfilment: {url: "https://fulfil.example.com/hooks", secret: s}
            \(Self.rules(target: "ticketing"))
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            XCTAssertEqual("\(error)", directory.appendingPathComponent("hookyard.yaml").path
                + ":10: rules[0].steps[0].with.target: no http_targets entry named 'ticketing' (configured: fulfilment)")
        }
    }

    func testBadTargetsAreProblems() {
        let yaml = """
            http_targets:
              fulfilment: {url: "ftp://fulfil.example.com/x", secret: "${MISSING_SECRET}"}
              "bad name": {url: "https://x.example", secret: s}
              lms: {url: "https://lms.example"}
              crm: {url: "https://crm.example", secret: "", colour: blue}
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(":2: http_targets.fulfilment.url: 'ftp://fulfil.example.com/x' is not an http:// or https:// URL with a host"), text)
            XCTAssertTrue(text.contains(":2: http_targets.fulfilment.secret: environment variable MISSING_SECRET is not set (nor MISSING_SECRET_FILE, nor a credential MISSING_SECRET)"), text)
            XCTAssertTrue(text.contains(":3: http_targets.bad name: a target name may only have letters, digits, '_' and '-'"), text)
            XCTAssertTrue(text.contains(":4: http_targets.lms: needs secret"), text)
            XCTAssertTrue(text.contains(":5: http_targets.crm.secret: must not be empty"), text)
            XCTAssertTrue(text.contains(":5: http_targets.crm.colour: unknown key"), text)
        }
    }
}
