import Foundation
import Logging
import Synchronization
import XCTest

/// Where the tests' own loggers (in-process servers, writers, workers, the fake APIs) write: not the test output,
/// which stays a list of test results, but a file per test process (`$TMPDIR/hookyard-test-logs/<pid>.log`) and a
/// buffer; when a test fails, the lines logged since it started are printed after its failure.
///
/// Thread-safe.
public enum TestLog {
    /// A logger (level `info`, or `HOOKYARD_TEST_LOG_LEVEL`) whose lines go to the test log.
    public static func logger(_ label: String = "test") -> Logger {
        sink.startObserving()
        var logger = Logger(label: label) { label in Handler(label: label) }
        logger.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["HOOKYARD_TEST_LOG_LEVEL"] ?? "") ?? .info
        return logger
    }

    /// The file this process's test log lines go to.
    public static var file: URL { sink.file }

    fileprivate static let sink = Sink()

    private struct Handler: LogHandler {
        let label: String
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = metadata.merging(event.metadata ?? [:]) { _, new in new }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let time = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                                                   formatOptions: [.withInternetDateTime, .withFractionalSeconds])
            let level = event.level, message = event.message
            TestLog.sink.append("\(time) \(level) \(label): \(message)\(fields.isEmpty ? "" : " " + fields)")
        }
    }
}

/// The file, the lines of the test running now, and the observer that prints them when it fails.
private final class Sink: NSObject, XCTestObservation, @unchecked Sendable {  // Safe: state is guarded by `state`.
    private struct State {
        var lines: [String] = []
        var observing = false
        var handle: FileHandle?
    }

    let file: URL
    private let state = Mutex(State())
    /// At most this many lines of one test are kept for printing.
    private let keep = 400

    override init() {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hookyard-test-logs")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        file = directory.appendingPathComponent("\(getpid()).log")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        super.init()
        let handle = try? FileHandle(forWritingTo: file)
        state.withLock { $0.handle = handle }
    }

    /// Registers the failure printer, from the main thread (where XCTest runs the tests); a logger made on another
    /// thread leaves it to the next one made on the main thread, rather than wait for the main thread.
    func startObserving() {
        guard Thread.isMainThread else { return }
        let start = state.withLock { state -> Bool in
            defer { state.observing = true }
            return !state.observing
        }
        if start { XCTestObservationCenter.shared.addTestObserver(self) }
    }

    func append(_ line: String) {
        state.withLock { state in
            state.lines.append(line)
            if state.lines.count > keep { state.lines.removeFirst(state.lines.count - keep) }
            state.handle?.write(Data((line + "\n").utf8))
        }
    }

    func testCaseWillStart(_ testCase: XCTestCase) {
        state.withLock { state in
            state.lines.removeAll()
            state.handle?.write(Data("--- \(testCase.name)\n".utf8))
        }
    }

    func testCase(_ testCase: XCTestCase, didFailWithDescription description: String, inFile filePath: String?, atLine lineNumber: Int) {
        let lines = state.withLock { state -> [String] in
            defer { state.lines.removeAll() }
            return state.lines
        }
        guard !lines.isEmpty else { return }
        print("--- what \(testCase.name) logged before this failure (all of it: \(file.path)):")
        lines.forEach { print($0) }
        print("---")
    }
}
