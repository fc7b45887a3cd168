import Foundation
import Store
import TestSupport
import XCTest
@testable import HookyardConfiguration

/// Which engine holds the database: a SQLite file by default, PostgreSQL when a URL is configured
/// (`database.url`, `HOOKYARD_DATABASE_URL`), with its password from `HOOKYARD_DATABASE_PASSWORD` like the other
/// secrets.
final class DatabaseConfigurationTests: ConfigurationTestCase {
    private let url = "postgresql://hookyard@db.internal:5432/hookyard?sslmode=require"

    func testTheSQLiteFileIsTheDefaultAndAPathSelectsIt() throws {
        XCTAssertEqual(try load("").databaseLocation, .sqlite(path: "./hookyard.db"))
        XCTAssertEqual(try load("database: /var/lib/hookyard/h.db").databaseLocation, .sqlite(path: "/var/lib/hookyard/h.db"))
        XCTAssertEqual(try load("database:\n  path: /srv/h.db").databaseLocation, .sqlite(path: "/srv/h.db"))
        XCTAssertEqual(try load("", environment: ["HOOKYARD_DATABASE": "/tmp/x.db"]).databaseLocation, .sqlite(path: "/tmp/x.db"))
    }

    func testAURLSelectsPostgreSQLFromTheFileOrTheEnvironment() throws {
        XCTAssertEqual(try load("database:\n  url: \(url)").databaseLocation, .postgresql(url: url, password: nil))
        XCTAssertEqual(try load("database: /srv/h.db", environment: ["HOOKYARD_DATABASE_URL": url]).databaseLocation,
                       .postgresql(url: url, password: nil))
    }

    func testThePasswordIsASecretReadWholeFromTheEnvironmentAFileOrACredential() throws {
        let password = "p,a ss:w@rd/1"
        XCTAssertEqual(try load("", environment: ["HOOKYARD_DATABASE_URL": url, "HOOKYARD_DATABASE_PASSWORD": password]).databaseLocation,
                       .postgresql(url: url, password: password))
        let file = directory.appendingPathComponent("db-password")
        try "\(password)\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try load("", environment: ["HOOKYARD_DATABASE_URL": url, "HOOKYARD_DATABASE_PASSWORD_FILE": file.path]).databaseLocation,
                       .postgresql(url: url, password: password))
        try password.write(to: directory.appendingPathComponent("HOOKYARD_DATABASE_PASSWORD"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try load("database:\n  url: \(url)", environment: ["CREDENTIALS_DIRECTORY": directory.path]).databaseLocation,
                       .postgresql(url: url, password: password))
    }

    func testMistakesAreNamed() {
        XCTAssertThrowsError(try load("database:\n  url: mysql://db/hookyard")) { error in
            XCTAssertTrue("\(error)".contains("database.url (HOOKYARD_DATABASE_URL): 'mysql://db/hookyard' is not a PostgreSQL URI"), "\(error)")
        }
        XCTAssertThrowsError(try load("database:\n  host: db")) { error in
            XCTAssertTrue("\(error)".contains("database.host: unknown key (database has path, url)"), "\(error)")
        }
        XCTAssertThrowsError(try load("", environment: ["HOOKYARD_DATABASE": "/tmp/x.db", "HOOKYARD_DATABASE_URL": url])) { error in
            XCTAssertTrue("\(error)".contains("both HOOKYARD_DATABASE"), "\(error)")
        }
        XCTAssertThrowsError(try load("", environment: ["HOOKYARD_DATABASE_URL": url, "HOOKYARD_DATABASE_PASSWORD_FILE": "/nonexistent/pw"])) { error in
            XCTAssertTrue("\(error)".contains("cannot read secret file '/nonexistent/pw'"), "\(error)")
        }
    }

    func testAPasswordInTheURIIsNeverShown() {
        let location = DatabaseLocation.postgresql(url: "postgresql://ada:s3cret@db:5432/h?password=other&sslmode=require", password: "x")
        XCTAssertEqual(location.description, "postgresql://ada:***@db:5432/h?password=***&sslmode=require")
        XCTAssertEqual(DatabaseLocation.postgresql(url: "postgresql://ada@db/h", password: nil).description, "postgresql://ada@db/h")
        XCTAssertEqual(DatabaseLocation.postgresql(url: "postgresql:///h?host=/run/pg", password: nil).description, "postgresql:///h?host=/run/pg")
    }
}
