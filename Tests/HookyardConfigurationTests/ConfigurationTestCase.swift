import Foundation
import TestSupport
import XCTest
@testable import HookyardConfiguration

/// A test case that loads YAML configurations from a file of its own, as `--config` would: a fresh temporary
/// directory per test, removed afterwards.
class ConfigurationTestCase: TemporaryDirectoryTestCase {
    /// Writes `yaml` to `hookyard.yaml` in the test's directory and loads it with `environment` only.
    func load(_ yaml: String, environment: [String: String] = [:], readRules: Bool = true) throws(ConfigurationErrors) -> HookyardConfiguration {
        let url = directory.appendingPathComponent("hookyard.yaml")
        try! yaml.write(to: url, atomically: true, encoding: .utf8)
        return try ConfigurationLoader.load(path: url.path, environment: environment, defaultFile: "/nonexistent", readRules: readRules)
    }
}
