import Foundation
import Synchronization

/// A token bucket shared by every worker calling one provider: at most `rate` requests per second on average,
/// bursts of at most `burst`. When the provider answers 429, `pause(untilMilliseconds:)` holds every caller
/// back until the provider's `Retry-After` has passed, not only the job that got the 429.
///
/// Thread-safe. Waiting callers sleep; they never spin.
public final class RateLimiter: Sendable {
    private struct State {
        var rate: Double
        var burst: Double
        var tokens: Double
        /// Monotonic milliseconds of the last refill.
        var refilledAt: Double
        /// No request may start before this (monotonic milliseconds).
        var pausedUntil: Double = 0
    }

    private let state: Mutex<State>
    /// Monotonic milliseconds; injectable for tests.
    private let clock: @Sendable () -> Double

    /// - Parameters:
    ///   - requestsPerSecond: the average rate allowed.
    ///   - burst: how many requests may start back to back after a quiet period (default: one second's worth, at least 1).
    public init(requestsPerSecond: Double, burst: Double? = nil, clock: @escaping @Sendable () -> Double = RateLimiter.monotonicMilliseconds) {
        let rate = max(requestsPerSecond, 0.001)
        let size = max(burst ?? rate, 1)
        self.clock = clock
        state = Mutex(State(rate: rate, burst: size, tokens: size, refilledAt: clock()))
    }

    public static let monotonicMilliseconds: @Sendable () -> Double = {
        Double(DispatchTime.now().uptimeNanoseconds) / 1_000_000
    }

    /// Changes the rate (configuration reload); tokens already earned are kept up to the new burst.
    public func update(requestsPerSecond: Double, burst: Double? = nil) {
        state.withLock { state in
            refill(&state, now: clock())
            state.rate = max(requestsPerSecond, 0.001)
            state.burst = max(burst ?? state.rate, 1)
            state.tokens = min(state.tokens, state.burst)
        }
    }

    /// Takes a token if one is available now. - Returns: 0 when the caller may go, else how many milliseconds
    /// to wait before asking again.
    public func tryAcquire() -> Double {
        state.withLock { state in
            let now = clock()
            refill(&state, now: now)
            if now < state.pausedUntil { return state.pausedUntil - now }
            if state.tokens >= 1 {
                state.tokens -= 1
                return 0
            }
            return (1 - state.tokens) / state.rate * 1000
        }
    }

    /// Blocks until the caller may send one request.
    public func acquire() {
        while true {
            let wait = tryAcquire()
            if wait <= 0 { return }
            usleep(UInt32(min(wait, 999) * 1000))  // usleep takes less than a second
        }
    }

    /// Holds every caller back until `milliseconds` from now (a 429's `Retry-After`), and drops saved-up tokens
    /// so the provider is not hit with a burst the moment the pause ends.
    public func pause(forMilliseconds milliseconds: Double) {
        state.withLock { state in
            let now = clock()
            state.pausedUntil = max(state.pausedUntil, now + milliseconds)
            state.tokens = 0
            state.refilledAt = max(state.refilledAt, state.pausedUntil)
        }
    }

    private func refill(_ state: inout State, now: Double) {
        guard now > state.refilledAt else { return }
        state.tokens = min(state.burst, state.tokens + (now - state.refilledAt) / 1000 * state.rate)
        state.refilledAt = now
    }
}
