import Foundation
import TestSupport
import XCTest
@testable import hookyard

/// `HOOKYARD_ADMIN_TOKEN`: read like the other secrets, then required by every admin route but `/healthz`.
final class AdminTokenTests: TemporaryDirectoryTestCase {
    private let token = "admin-token-0123456789abcdef"

    private func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    func testCredentialParsing() {
        XCTAssertEqual(AdminAccess.credential(in: "Bearer \(token)"), token)
        XCTAssertEqual(AdminAccess.credential(in: "bearer  \(token) "), token)
        XCTAssertEqual(AdminAccess.credential(in: basic("anyone", token)), token)
        XCTAssertEqual(AdminAccess.credential(in: basic("", "a:b")), "a:b")  // the password runs past later colons
        XCTAssertNil(AdminAccess.credential(in: basic("anyone", "")))
        XCTAssertNil(AdminAccess.credential(in: "Basic not-base64!"))
        XCTAssertNil(AdminAccess.credential(in: "Digest \(token)"))
        XCTAssertNil(AdminAccess.credential(in: token))
    }

    func testDaemonRequiresTheTokenOnEveryAdminRouteButHealthz() throws {
        let daemon = try DaemonProcess(environment: ["HOOKYARD_ADMIN_TOKEN": token])
        defer { daemon.terminate() }
        let admin = try daemon.adminClient()
        XCTAssertEqual(try admin.roundTrip("GET", "/healthz").status, 200)

        let missing = try admin.roundTrip("GET", "/metrics")
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.headers["www-authenticate"], "Basic realm=\"hookyard\", charset=\"UTF-8\"")
        XCTAssertTrue(missing.bodyText.contains("missing_admin_token"), missing.bodyText)
        XCTAssertFalse(missing.bodyText.contains(token))
        let wrong = try admin.roundTrip("GET", "/metrics", headers: [("Authorization", "Bearer \(token)x")])
        XCTAssertEqual(wrong.status, 401)
        XCTAssertTrue(wrong.bodyText.contains("wrong_admin_token"), wrong.bodyText)
        XCTAssertEqual(try admin.roundTrip("GET", "/metrics", headers: [("Authorization", basic("admin", "nope"))]).status, 401)
        // Unknown paths are refused before routing: a stranger learns nothing about which routes exist.
        XCTAssertEqual(try admin.roundTrip("GET", "/nothing-here").status, 401)

        XCTAssertEqual(try admin.roundTrip("GET", "/metrics", headers: [("Authorization", "Bearer \(token)")]).status, 200)
        XCTAssertEqual(try admin.roundTrip("GET", "/metrics", headers: [("Authorization", basic("browser", token))]).status, 200)
        XCTAssertEqual(try admin.roundTrip("GET", "/nothing-here", headers: [("Authorization", "Bearer \(token)")]).status, 404)

        let line = daemon.logLines().first { $0["msg"] as? String == "admin listening" }
        XCTAssertEqual(line?["admin_token"] as? String, "required", daemon.output)
        XCTAssertFalse(daemon.output.contains(token), "the token must never be logged")
        XCTAssertEqual(daemon.terminate(), 0)
    }
}
