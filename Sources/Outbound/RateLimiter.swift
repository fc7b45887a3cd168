import Foundation
import Synchronization

/// What a `RateLimiter` reads the time from and sleeps on. The system clock in production; a test's clock that
/// moves only when told (or when a caller "sleeps") in tests.
public protocol RateLimiterClock: Sendable {
    /// Monotonic nanoseconds; never decreases.
    func nanoseconds() -> UInt64
    /// Blocks the calling thread for about `nanoseconds` (at most a second is ever asked for).
    func sleep(nanoseconds: UInt64)
}

/// The monotonic system clock (`CLOCK_MONOTONIC` through Dispatch) and `usleep`.
public struct SystemRateLimiterClock: RateLimiterClock {
    public init() {}
    public func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    public func sleep(nanoseconds: UInt64) { usleep(UInt32(min(nanoseconds / 1_000, 999_999))) }
}

/// What the provider transports take a grant from before each request: a process's own `RateLimiter`, or a limiter
/// shared by every node of a cluster (`ClusterRateLimiter`). Thread-safe: every worker calls it.
public protocol RequestRateLimiting: Sendable {
    /// Blocks until the caller may send one request.
    func acquireGrant()
    /// Holds every caller back for `milliseconds` (a 429's `Retry-After`).
    func pause(forMilliseconds milliseconds: Double)
    /// Changes the rate (configuration reload).
    func update(requestsPerSecond: Double)
}

/// Spaces the requests of every worker calling one provider at least `1 / requestsPerSecond` apart (virtual
/// scheduling, the GCRA with a burst of one). Guarantee: **no one-second window, sliding, holds more than
/// `requestsPerSecond` grants** (⌈requestsPerSecond⌉ for a fractional rate: 7.5 allows 8 in one second, 15 in two),
/// whatever the callers do:
/// - it starts empty: the first request goes one interval after the limiter is created, so a restart (even after
///   `kill -9`) never adds a burst on top of the previous process's last second;
/// - idling saves nothing up: after a quiet minute the next request goes at once, the one after a full interval later;
/// - the spacing is kept in whole nanoseconds, rounded up, so floating-point error cannot squeeze in one more.
///
/// When the provider answers 429, `pause(forMilliseconds:)` holds every caller back until its `Retry-After` has
/// passed, not only the job that got the 429, and the next request then goes one interval after the pause ends.
///
/// Thread-safe (one lock around two integers). Waiting callers sleep on the clock; they never spin.
public final class RateLimiter: RequestRateLimiting {
    private struct State {
        /// Nanoseconds between grants: ⌈10^9 / rate⌉.
        var interval: UInt64
        /// The time the spacing counts from: the last grant, the creation, or the end of a pause, whichever is
        /// latest. The next grant is due at `anchor + interval`.
        var anchor: UInt64
    }

    private let state: Mutex<State>
    private let clock: any RateLimiterClock

    /// The longest pause taken (a day): `Retry-After` is a provider's value.
    static let maximumPauseNanoseconds: UInt64 = 86_400_000_000_000

    /// - Parameter requestsPerSecond: the most requests in any one-second window (at least 0.001; not finite or
    ///   not positive is taken as 0.001).
    public init(requestsPerSecond: Double, clock: any RateLimiterClock = SystemRateLimiterClock()) {
        self.clock = clock
        state = Mutex(State(interval: Self.interval(requestsPerSecond), anchor: clock.nanoseconds()))
    }

    /// Monotonic milliseconds of the system clock (for callers measuring waits).
    public static let monotonicMilliseconds: @Sendable () -> Double = {
        Double(DispatchTime.now().uptimeNanoseconds) / 1_000_000
    }

    /// ⌈10^9 / rate⌉ nanoseconds, at least 1.
    static func interval(_ requestsPerSecond: Double) -> UInt64 {
        let rate = requestsPerSecond.isFinite && requestsPerSecond >= 0.001 ? requestsPerSecond : 0.001
        return max(1, UInt64((1e9 / rate).rounded(.up)))
    }

    /// Changes the rate (configuration reload). The next grant is due one new interval after the last one.
    public func update(requestsPerSecond: Double) {
        state.withLock { $0.interval = Self.interval(requestsPerSecond) }
    }

    /// Takes the next grant if it is due. - Returns: 0 when the caller may go, else how many milliseconds to wait
    /// before asking again.
    public func tryAcquire() -> Double {
        let (granted, wait) = take()
        return granted == nil ? Double(wait) / 1_000_000 : 0
    }

    /// Blocks until the caller may send one request. - Returns: the clock's time of the grant (nanoseconds).
    @discardableResult
    public func acquire() -> UInt64 {
        while true {
            let (granted, wait) = take()
            if let granted { return granted }
            clock.sleep(nanoseconds: min(wait, 999_000_000))
        }
    }

    public func acquireGrant() { acquire() }

    /// Holds every caller back until `milliseconds` from now (a 429's `Retry-After`, at most a day; NaN or negative
    /// is no pause); the first request after it goes one interval after the pause ends.
    public func pause(forMilliseconds milliseconds: Double) {
        guard milliseconds > 0 else { return }
        let nanoseconds = milliseconds * 1_000_000 >= Double(Self.maximumPauseNanoseconds)
            ? Self.maximumPauseNanoseconds : UInt64(milliseconds * 1_000_000)
        state.withLock { state in
            state.anchor = max(state.anchor, clock.nanoseconds() + nanoseconds)
        }
    }

    /// The grant's time when one is due now, else the nanoseconds until it is.
    private func take() -> (granted: UInt64?, wait: UInt64) {
        state.withLock { state in
            let now = clock.nanoseconds()
            let due = state.anchor + state.interval
            guard now >= due else { return (nil, due - now) }
            state.anchor = now
            return (now, 0)
        }
    }
}
