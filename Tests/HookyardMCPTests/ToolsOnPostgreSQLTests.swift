import DemoData
import Foundation
import HookyardConfiguration
@testable import HookyardMCP
import MCP
import Store
import TestSupport
import XCTest

/// The MCP tools on PostgreSQL give what they give on SQLite: the same demo data (same seed, same "now") in a file
/// and in a PostgreSQL database, and every read tool's structured answer compared between the two; the read
/// session refuses writes on PostgreSQL too.
final class ToolsOnPostgreSQLTests: XCTestCase {
    private func configuration(database: DatabaseLocation, directory: URL) throws -> HookyardConfiguration {
        let file = directory.appendingPathComponent("hookyard-\(database.engine).yaml")
        let key: String = switch database {
        case .sqlite(let path): "database: \(path)"
        case .postgresql(let url, _): "database:\n  url: \"\(url)\""
        }
        try """
            \(key)
            segments:
              customers: {payment_status: customer}
              engaged: {engagement: [medium, high]}
            """.write(to: file, atomically: true, encoding: .utf8)
        return try ConfigurationLoader.load(path: file.path, environment: [:], readRules: true)
    }

    private func toolbox(_ configuration: HookyardConfiguration) -> HookyardToolbox {
        let storage = HookyardStorage(configuration: configuration)
        addTeardownBlock { storage.close() }
        return HookyardToolbox(context: ToolContext(configuration: configuration, storage: storage, liveMode: { false }),
                               allowWrites: false)
    }

    private func structured(_ toolbox: HookyardToolbox, _ name: String, _ arguments: [String: Value]) async throws -> Value {
        let result = try await toolbox.call(name, arguments: arguments)
        XCTAssertNotEqual(result.isError, true, name)
        return try XCTUnwrap(result.structuredContent, name)
    }

    /// `value` without the keys that name where the database is and when a report was made (they differ by design).
    private func withoutLocation(_ value: Value) -> Value {
        switch value {
        case .object(let object):
            return .object(object.filter { $0.key != "database" && $0.key != "generated_at" }.mapValues(withoutLocation))
        case .array(let array):
            return .array(array.map(withoutLocation))
        default:
            return value
        }
    }

    func testEveryReadToolAnswersTheSameOnBothEngines() async throws {
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let now: Int64 = 1_796_000_000_000
        let sqlite = DatabaseLocation.sqlite(path: directory.appendingPathComponent("demo.db").path)
        let postgresql = DatabaseLocation.postgresql(url: try PostgreSQLTestServer.start().makeDatabase(), password: nil)
        for location in [sqlite, postgresql] {
            _ = try DemoDataset(contacts: 120, seed: 11, now: now).create(location, force: true)
        }
        let tools = (try toolbox(configuration(database: sqlite, directory: directory)),
                     try toolbox(configuration(database: postgresql, directory: directory)))
        let calls: [(String, [String: Value])] = [
            ("status", [:]),
            ("find_contacts", ["payment_status": "customer", "limit": 20]),
            ("find_contacts", ["segment": "engaged", "limit": 20]),
            ("list_events", ["source": "instantly", "limit": 10]),
            ("list_events", ["source": "stripe", "type": "invoice.paid", "limit": 10]),
            ("get_event", ["id": 5]),
            ("list_jobs", ["limit": 10]),
            ("list_jobs", ["state": "dead"]),
            ("get_job", ["id": 3]),
            ("get_report", ["by": "campaign", "model": "first", "since": "2026-09-01", "until": "2026-12-01"]),
            ("list_segments", [:]),
        ]
        for (name, arguments) in calls {
            let onSQLite = withoutLocation(try await structured(tools.0, name, arguments))
            let onPostgreSQL = withoutLocation(try await structured(tools.1, name, arguments))
            XCTAssertEqual(onSQLite, onPostgreSQL, "\(name) \(arguments)")
        }
        let contact = try await structured(tools.0, "find_contacts", ["payment_status": "customer", "limit": 1])
        let email = try XCTUnwrap(contact.objectValue?["contacts"]?.arrayValue?.first?.objectValue?["email"]?.stringValue)
        let storyOnSQLite = withoutLocation(try await structured(tools.0, "get_contact", ["email": .string(email)]))
        let storyOnPostgreSQL = withoutLocation(try await structured(tools.1, "get_contact", ["email": .string(email)]))
        XCTAssertEqual(storyOnSQLite, storyOnPostgreSQL)
    }

    func testTheReadSessionRefusesWritesOnPostgreSQL() async throws {
        let directory = DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let location = DatabaseLocation.postgresql(url: try PostgreSQLTestServer.start().makeDatabase(), password: nil)
        _ = try DemoDataset(contacts: 30, seed: 3, now: 1_796_000_000_000).create(location, force: true)
        let storage = HookyardStorage(configuration: try configuration(database: location, directory: directory))
        defer { storage.close() }
        do {
            _ = try await storage.withConnections { connections in try connections.jobs.retryAllDead(now: 0) }
            XCTFail("a write on the read session went through")
        } catch let error as ToolError {
            XCTAssertTrue("\(error)".contains("read-only"), "\(error)")
        }
    }
}
