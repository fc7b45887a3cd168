import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A source of the current time in milliseconds since 1970 (UTC): what every component that stamps, schedules or
/// expires something takes, so that tests and `HOOKYARD_CLOCK_OFFSET_FILE` runs can move time. Must be thread-safe.
public typealias MillisecondClock = @Sendable () -> Int64

/// The system's wall clock, the default `MillisecondClock`.
///
/// Thread-safe. Wall time can jump (NTP, an admin); measure durations with `MonotonicClock` instead.
public enum WallClock {
    /// Milliseconds since 1970-01-01T00:00:00Z now (`clock_gettime(CLOCK_REALTIME)`: no allocation, cheap enough
    /// for every request).
    public static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// The clock itself, for a `clock:` parameter's default.
    public static let system: MillisecondClock = { nowMilliseconds() }

    /// `date` in milliseconds since 1970 (truncated toward zero, as every stored time is).
    public static func milliseconds(of date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }
}

/// A clock that never goes backwards, for measuring how long something took or waiting out an interval.
///
/// Thread-safe. Its values mean nothing across processes or reboots; never store them.
public enum MonotonicClock {
    /// Milliseconds since an arbitrary fixed point (the system's boot).
    public static func milliseconds() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }
}
