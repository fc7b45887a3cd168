import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the daemon serving a database said of itself when it started (and when it stopped cleanly): its process, its
/// version, and whether each provider's calls are live or dry-run. CLI commands run from a shell do not have the
/// service's credentials, so they read the daemon's mode from here instead of guessing from their own environment.
///
/// One row per database, replaced at each start; a daemon that crashed leaves `stoppedAt` nil. A value; thread-safe.
public struct DaemonStatus: Sendable, Equatable {
    public var pid: Int32
    public var version: String
    /// Unix milliseconds.
    public var startedAt: Int64
    /// Unix milliseconds of a clean stop; nil while running, or after a crash.
    public var stoppedAt: Int64?
    public var stripeLive: Bool
    public var instantlyLive: Bool
    /// The absolute path of the configuration file the daemon runs with; nil for built-in defaults (or a record
    /// older than schema 12).
    public var configFile: String?

    public init(pid: Int32, version: String, startedAt: Int64, stoppedAt: Int64? = nil, stripeLive: Bool, instantlyLive: Bool,
                configFile: String? = nil) {
        self.pid = pid
        self.version = version
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
        self.stripeLive = stripeLive
        self.instantlyLive = instantlyLive
        self.configFile = configFile
    }

    /// Whether the process that recorded this status is still alive: a process with the recorded pid exists (one of
    /// another user, as under `DynamicUser=`, counts) and it is the same process, not a later one that was given the
    /// pid again. The recorded start is taken once the daemon is up, so its process began at or before it; a process
    /// that began after it (more than `ProcessStart.toleranceMilliseconds`, for the whole seconds of the boot time and
    /// the clock ticks) is another one. Where the start time cannot be read (no /proc), existence alone decides.
    public var processIsAlive: Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let began = ProcessStart.milliseconds(pid: pid) else { return true }
        return began <= startedAt + ProcessStart.toleranceMilliseconds
    }
}

/// What `hookyard backup` records in a copy: it is a backup, taken at `takenAt` (Unix milliseconds) of the database
/// at `sourcePath` (absolute). A value.
public struct BackupOrigin: Sendable, Equatable {
    public var takenAt: Int64
    public var sourcePath: String

    public init(takenAt: Int64, sourcePath: String) {
        self.takenAt = takenAt
        self.sourcePath = sourcePath
    }
}

/// When a process started, read from /proc (Linux). Stateless.
public enum ProcessStart {
    /// How far a process's start may lie after a recorded start and still be the same process: /proc/stat's boot
    /// time is whole seconds, the process's start is in clock ticks.
    public static let toleranceMilliseconds: Int64 = 2_000

    /// Unix milliseconds at which process `pid` started: field 22 of /proc/<pid>/stat (clock ticks since boot) plus
    /// `btime` of /proc/stat. Nil when either cannot be read or parsed.
    public static func milliseconds(pid: Int32) -> Int64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        // Field 2 (the command name, in parentheses) may itself hold spaces and parentheses: count after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field 22 is fields[19].
        guard fields.count > 19, let ticks = Int64(fields[19]) else { return nil }
        guard let line = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootSeconds = Int64(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces)) else { return nil }
        let ticksPerSecond = Int64(sysconf(Int32(_SC_CLK_TCK)))
        guard ticksPerSecond > 0 else { return nil }
        let (sinceBoot, overflow) = ticks.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return nil }
        return bootSeconds * 1000 + sinceBoot / ticksPerSecond
    }
}
