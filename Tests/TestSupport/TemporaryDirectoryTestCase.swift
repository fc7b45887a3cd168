import Foundation
import XCTest

/// A test case with a fresh temporary directory per test (`directory`), removed afterwards, for the files a test
/// writes (configuration files, secrets, databases). Not thread-safe: `directory` is set in `setUpWithError` (before
/// `setUp`) on the test's thread; subclasses that override `setUpWithError` call `super` first.
open class TemporaryDirectoryTestCase: XCTestCase {
    /// The test's own directory; exists from `setUp` until `tearDown`.
    public var directory: URL!

    open override func setUpWithError() throws {
        try super.setUpWithError()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hookyard-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    open override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
        super.tearDown()
    }
}
