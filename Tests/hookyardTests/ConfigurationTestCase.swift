import Foundation
import XCTest
@testable import hookyard

/// A test case that loads YAML configurations from a file of its own, as `--config` would: a fresh temporary
/// directory per test, removed afterwards.
class ConfigurationTestCase: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// Writes `yaml` to `hookyard.yaml` in the test's directory and loads it with `environment` only.
    func load(_ yaml: String, environment: [String: String] = [:], readRules: Bool = true) throws(ConfigurationErrors) -> HookyardConfiguration {
        let url = directory.appendingPathComponent("hookyard.yaml")
        try! yaml.write(to: url, atomically: true, encoding: .utf8)
        return try ConfigurationLoader.load(path: url.path, environment: environment, defaultFile: "/nonexistent", readRules: readRules)
    }
}
