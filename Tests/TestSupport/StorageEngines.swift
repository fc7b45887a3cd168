import Foundation
import Store

/// One test body, both engines: runs `body` with a fresh, empty database of each storage engine, SQLite first (a
/// file in a new temporary directory, not yet created) then PostgreSQL (a new migrated database on the test server,
/// `PostgreSQLTestServer.makeStoreDatabase()`), so a store's behaviour cannot drift between them. A failure names
/// the engine it happened on.
public func forEachStorageEngine(file: StaticString = #filePath, line: UInt = #line,
                                 _ body: (DatabaseLocation) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hookyard-engines-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let locations: [DatabaseLocation] = [
        .sqlite(path: directory.appendingPathComponent("hookyard.db").path),
        .postgresql(url: try PostgreSQLTestServer.start().makeStoreDatabase(), password: nil),
    ]
    for location in locations {
        do {
            try body(location)
        } catch {
            throw EngineFailure(engine: location.engine, underlying: error)
        }
    }
}

/// An error thrown by a test body on one engine, naming the engine.
public struct EngineFailure: Error, CustomStringConvertible {
    public let engine: String
    public let underlying: any Error
    public var description: String { "on \(engine): \(underlying)" }
}
