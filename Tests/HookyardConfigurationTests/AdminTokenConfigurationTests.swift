import Foundation
import TestSupport
import XCTest
@testable import HookyardConfiguration

/// `HOOKYARD_ADMIN_TOKEN` is read like the other secrets.
final class AdminTokenConfigurationTests: ConfigurationTestCase {
    private let token = "admin-token-0123456789abcdef"

    func testTokenIsReadFromTheEnvironmentAFileOrACredential() throws {
        XCTAssertEqual(try load("", environment: ["HOOKYARD_ADMIN_TOKEN": token]).adminTokens, [token])
        let file = directory.appendingPathComponent("token")
        try "\(token)\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try load("", environment: ["HOOKYARD_ADMIN_TOKEN_FILE": file.path]).adminTokens, [token])
        try token.write(to: directory.appendingPathComponent("HOOKYARD_ADMIN_TOKEN"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try load("", environment: ["CREDENTIALS_DIRECTORY": directory.path]).adminTokens, [token])
        XCTAssertEqual(try load("").adminTokens, [])
        XCTAssertEqual(try load("", environment: ["HOOKYARD_ADMIN_TOKEN": "\(token),\(token)-next"]).adminTokens,
                       [token, "\(token)-next"])
    }

    func testShortTokenIsRefused() {
        XCTAssertThrowsError(try load("", environment: ["HOOKYARD_ADMIN_TOKEN": "short"])) { error in
            XCTAssertTrue("\(error)".contains("HOOKYARD_ADMIN_TOKEN: a token must be at least 16 characters"), "\(error)")
        }
    }
}
