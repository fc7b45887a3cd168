#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Dispatch
import Foundation
import HTTPServer
import Synchronization
import StrictJSON

/// A swift-log handler that writes one JSON object per line to stdout: `ts` (UTC, milliseconds), `level`, `msg`,
/// then the metadata. Numbers and booleans passed as `.stringConvertible` stay JSON numbers and booleans, so
/// `jq 'select(.status >= 500)'` works. Lines go through `LogOutput`, so they never interleave.
///
/// Under systemd (stdout connected to the journal, which systemd signals with `$JOURNAL_STREAM`), each line starts
/// with the syslog priority in angle brackets (`<4>` for warning). journald takes it as the entry's priority and
/// strips it (`SyslogLevelPrefix=yes`, the default), so `journalctl -p warning` filters by level and
/// `journalctl -o cat` still shows pure JSON.
struct JSONLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    private let label: String
    private let priorityPrefix: Bool

    init(label: String, level: Logger.Level, priorityPrefix: Bool = false) {
        self.label = label
        self.logLevel = level
        self.priorityPrefix = priorityPrefix
    }

    /// The syslog priority journald files a line under.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = priorityPrefix ? "<\(Self.syslogPriority(event.level))>" : ""
        line += "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(event.level)\",\"msg\":\(JSONText.quote("\(event.message)"))"
        var merged = event.metadata ?? [:]
        if !metadata.isEmpty { merged.merge(metadata) { event, _ in event } }
        for key in merged.keys.sorted() {
            line += ",\(JSONText.quote(key)):\(Self.encode(merged[key]!))"
        }
        line += "}\n"
        LogOutput.standard.write(line)
    }

    private static func encode(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return JSONText.quote(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Int: return String(number)
            case let number as Int64: return String(number)
            case let number as UInt64: return String(number)
            case let number as Double where number.isFinite: return String(number)
            case let flag as Bool: return flag ? "true" : "false"
            default: return JSONText.quote(convertible.description)
            }
        case .array(let values): return "[" + values.map(encode).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\(JSONText.quote($0)):\(encode(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// `2026-11-25T06:50:00.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(now.tv_nsec / 1_000_000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}

/// Writes log lines to stdout from one thread, so request handlers never block on the terminal or the journal.
///
/// Lines are queued and the writer thread writes everything queued in one `write(2)`: under load many lines per
/// call, when quiet each line at once. Whole lines only, in order. Lines still queued when the process is killed
/// are lost (logs are not the durability guarantee; the database is). `flush()` waits until the queue is written.
final class LogOutput: Sendable {
    static let standard = LogOutput(descriptor: 1)

    private struct Pending {
        var bytes: [UInt8] = []
        var writing = false
    }

    private let descriptor: Int32
    private let pending = Mutex(Pending())
    private let wakeUp = DispatchSemaphore(value: 0)
    /// Most bytes kept waiting; past it a line is dropped rather than letting memory grow (a stalled stdout).
    private static let maxPending = 16 * 1024 * 1024

    private init(descriptor: Int32) {
        self.descriptor = descriptor
        let thread = Thread { [self] in run() }
        thread.name = "hookyard.log"
        thread.start()
    }

    func write(_ line: String) {
        let wasIdle = pending.withLock { pending in
            guard pending.bytes.count < Self.maxPending else { return false }
            let idle = pending.bytes.isEmpty && !pending.writing
            pending.bytes.append(contentsOf: line.utf8)
            return idle
        }
        if wasIdle { wakeUp.signal() }
    }

    /// Blocks until every line queued so far is written.
    func flush() {
        let busy = pending.withLock { !$0.bytes.isEmpty || $0.writing }
        guard busy else { return }
        wakeUp.signal()
        while pending.withLock({ !$0.bytes.isEmpty || $0.writing }) { usleep(1000) }
    }

    private func run() {
        while true {
            wakeUp.wait()
            while true {
                let bytes: [UInt8] = pending.withLock { pending in
                    let taken = pending.bytes
                    pending.bytes = []
                    pending.writing = !taken.isEmpty
                    return taken
                }
                if bytes.isEmpty { break }
                var offset = 0
                while offset < bytes.count {
                    let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
                    if written < 0 {
                        if errno == EINTR { continue }
                        break  // stdout gone: nothing sensible to do with log lines
                    }
                    offset += written
                }
                pending.withLock { $0.writing = false }
            }
        }
    }
}
