import Foundation
import XCTest
@testable import HookyardConfiguration

final class ConfigurationTests: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    private func write(_ name: String, _ text: String) -> String {
        let url = directory.appendingPathComponent(name)
        try! text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func load(_ yaml: String?, environment: [String: String] = [:]) throws(ConfigurationErrors) -> HookyardConfiguration {
        let path = yaml.map { write("hookyard.yaml", $0) }
        return try ConfigurationLoader.load(path: path, environment: environment, defaultFile: directory.appendingPathComponent("absent.yaml").path)
    }

    func testAdminListen() throws {
        XCTAssertEqual(try load(nil).adminAddress, "127.0.0.1:9090")
        XCTAssertEqual(try load("admin_listen: \"[::1]:9100\"\n").adminAddress, "[::1]:9100")
        XCTAssertEqual(try load("admin_listen: \"[::1]:9100\"\n", environment: ["HOOKYARD_ADMIN_LISTEN": "127.0.0.1:9200"]).adminAddress,
                       "127.0.0.1:9200")
        XCTAssertNil(try load(nil, environment: ["HOOKYARD_ADMIN_LISTEN": ""]).adminAddress)
        XCTAssertNil(try load("admin_listen: \"off\"\n").adminAddress)
        XCTAssertThrowsError(try load(nil, environment: ["HOOKYARD_ADMIN_LISTEN": "127.0.0.1:99999"])) { error in
            XCTAssertTrue("\(error)".contains("admin_listen"), "\(error)")
        }
    }

    func testDefaults() throws {
        let configuration = try load(nil)
        XCTAssertEqual(configuration.listen, "127.0.0.1:8080")
        XCTAssertEqual(configuration.database, "./hookyard.db")
        XCTAssertEqual(configuration.http.maxBodyBytes, 1024 * 1024)
        XCTAssertEqual(configuration.http.maxConnections, 1024)
        XCTAssertEqual(configuration.stripe.toleranceSeconds, 300)
        XCTAssertEqual(configuration.instantly.secretHeader, "X-Webhook-Secret")
        XCTAssertNil(configuration.file)
    }

    func testFileValuesAndEnvironmentOverrides() throws {
        let configuration = try load("""
            listen: 0.0.0.0:9000
            database: /var/lib/hookyard/db.sqlite
            http:
              max_body_bytes: 2048
              header_timeout_seconds: 3
            stripe:
              tolerance_seconds: 60
              webhook_secret: whsec_from_file
            instantly:
              secret_header: X-Hook-Key
            """, environment: ["HOOKYARD_LISTEN": "[::1]:8081", "STRIPE_WEBHOOK_SECRET": "whsec_a, whsec_b"])
        XCTAssertEqual(configuration.listen, "[::1]:8081")
        XCTAssertEqual(configuration.database, "/var/lib/hookyard/db.sqlite")
        XCTAssertEqual(configuration.http.maxBodyBytes, 2048)
        XCTAssertEqual(configuration.http.headerTimeoutSeconds, 3)
        XCTAssertEqual(configuration.stripe.toleranceSeconds, 60)
        XCTAssertEqual(configuration.stripe.webhookSecrets, ["whsec_a", "whsec_b"])
        XCTAssertEqual(configuration.instantly.secretHeader, "X-Hook-Key")
    }

    func testEveryErrorHasFileLineAndKey() {
        let yaml = """
            listen: 127.0.0.1:8080
            databse: typo.db
            http:
              max_body_bytes: lots
              max_connections: 0
              colour: blue
            stripe: 5
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            let issues = (error as! ConfigurationErrors).issues
            let text = issues.map(\.description)
            let file = directory.appendingPathComponent("hookyard.yaml").path
            XCTAssertTrue(text.contains("\(file):2: databse: unknown key (the top level has listen, admin_listen, database, "
                                        + "log_level, http, stripe, instantly, workers, outbound, rules, http_targets, contacts, "
                                        + "segments, catalog, alerts, deliverability, retention, reports, mcp); did you mean `database`?"),
                          "\(text)")
            XCTAssertTrue(text.contains("\(file):4: http.max_body_bytes: must be a whole number"), "\(text)")
            XCTAssertTrue(text.contains("\(file):5: http.max_connections: must be at least 1"), "\(text)")
            XCTAssertTrue(text.contains("\(file):6: http.colour: unknown key"), "\(text)")
            XCTAssertTrue(text.contains("\(file):7: stripe: must be a mapping"), "\(text)")
            XCTAssertEqual(issues.count, 5)
        }
    }

    func testInvalidYAMLAndValuesAreReported() {
        XCTAssertThrowsError(try load("listen: [unclosed\n")) { error in
            XCTAssertTrue("\(error)".contains("invalid YAML"), "\(error)")
        }
        XCTAssertThrowsError(try load("listen: nonsense\nlog_level: loud\n")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("listen: invalid listen address 'nonsense'"), text)
            XCTAssertTrue(text.contains("log_level: 'loud' is not one of"), text)
        }
        XCTAssertThrowsError(try load(nil, environment: ["HOOKYARD_LISTEN": "127.0.0.1:99999"])) { error in
            XCTAssertTrue("\(error)".contains("invalid port"), "\(error)")
        }
    }

    func testSecretsFromFileAndCredentials() throws {
        let secretFile = write("stripe-secret", "whsec_from_file\n")
        var configuration = try load(nil, environment: ["STRIPE_WEBHOOK_SECRET_FILE": secretFile])
        XCTAssertEqual(configuration.stripe.webhookSecrets, ["whsec_from_file"])

        let credentials = directory.appendingPathComponent("creds")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try "instantly-cred".write(to: credentials.appendingPathComponent("INSTANTLY_WEBHOOK_SECRET"), atomically: true, encoding: .utf8)
        configuration = try load("instantly:\n  webhook_secret: from-yaml\n", environment: ["CREDENTIALS_DIRECTORY": credentials.path])
        XCTAssertEqual(configuration.instantly.webhookSecrets, ["instantly-cred"])
        // The environment wins over the credential.
        configuration = try load(nil, environment: ["CREDENTIALS_DIRECTORY": credentials.path, "INSTANTLY_WEBHOOK_SECRET": "env"])
        XCTAssertEqual(configuration.instantly.webhookSecrets, ["env"])
        // An empty credential file (install.sh creates one per secret not given) is unset: no key, so dry-run.
        try "\n".write(to: credentials.appendingPathComponent("STRIPE_API_KEY"), atomically: true, encoding: .utf8)
        configuration = try load(nil, environment: ["CREDENTIALS_DIRECTORY": credentials.path])
        XCTAssertEqual(configuration.stripe.apiKey, "")
        XCTAssertEqual(configuration.instantly.webhookSecrets, ["instantly-cred"])
    }

    func testSecretConflictsAndUnreadableFiles() {
        XCTAssertThrowsError(try load(nil, environment: ["STRIPE_WEBHOOK_SECRET": "a", "STRIPE_WEBHOOK_SECRET_FILE": "/x"])) { error in
            XCTAssertTrue("\(error)".contains("both STRIPE_WEBHOOK_SECRET and STRIPE_WEBHOOK_SECRET_FILE are set"), "\(error)")
        }
        XCTAssertThrowsError(try load(nil, environment: ["INSTANTLY_WEBHOOK_SECRET_FILE": "/nonexistent/secret"])) { error in
            XCTAssertTrue("\(error)".contains("cannot read secret file '/nonexistent/secret'"), "\(error)")
        }
        XCTAssertThrowsError(try load(nil, environment: ["STRIPE_WEBHOOK_SECRET": " , "])) { error in
            XCTAssertTrue("\(error)".contains("secret is empty"), "\(error)")
        }
    }

    func testMissingExplicitConfigFile() {
        XCTAssertThrowsError(try ConfigurationLoader.load(path: "/nonexistent/hookyard.yaml", environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/hookyard.yaml: cannot read configuration file"), "\(error)")
        }
    }

    /// Under systemd with StateDirectory=, the database goes there unless the file or HOOKYARD_DATABASE names one.
    func testStateDirectoryHoldsTheDatabaseByDefault() throws {
        XCTAssertEqual(try load(nil, environment: ["STATE_DIRECTORY": "/var/lib/hookyard"]).database, "/var/lib/hookyard/hookyard.db")
        XCTAssertEqual(try load(nil, environment: ["STATE_DIRECTORY": "/var/lib/hookyard", "HOOKYARD_DATABASE": "/srv/h.db"]).database, "/srv/h.db")
        XCTAssertEqual(try load("database: /data/h.db\n", environment: ["STATE_DIRECTORY": "/var/lib/hookyard"]).database, "/data/h.db")
        XCTAssertEqual(try load(nil).database, "./hookyard.db")
    }

    func testSecretsAreNeverDescribedByValue() {
        XCTAssertEqual(HookyardConfiguration.describe(secrets: []), "not set")
        XCTAssertEqual(HookyardConfiguration.describe(secrets: ["whsec_x"]), "set")
        XCTAssertEqual(HookyardConfiguration.describe(secrets: ["a", "b"]), "set (2 secrets)")
    }
}
