/// When a failed job runs again: exponential backoff with full jitter, bounded by a cap and an attempt budget,
/// and never sooner than the provider asked (`Retry-After`).
///
/// The delay before attempt n+1 is a uniformly random duration in `0...min(cap, base × 2^(n-1))` ("full jitter":
/// failures that happened together do not retry together). Defaults: base 2 s, cap 1 h, 10 attempts.
/// A value type; thread-safe.
public struct RetryPolicy: Sendable, Equatable {
    public var baseMilliseconds: Int64
    public var capMilliseconds: Int64
    /// Attempts in all, the first included. After the last one fails, the job is dead.
    public var maxAttempts: Int

    public init(baseMilliseconds: Int64 = 2_000, capMilliseconds: Int64 = 3_600_000, maxAttempts: Int = 10) {
        self.baseMilliseconds = max(1, baseMilliseconds)
        self.capMilliseconds = max(self.baseMilliseconds, capMilliseconds)
        self.maxAttempts = max(1, maxAttempts)
    }

    /// The delay before the next attempt after `attempt` (1-based) failed, or `nil` when the budget is spent.
    /// - Parameters:
    ///   - retryAfterMilliseconds: what the provider asked for (`Retry-After`), which the delay never undercuts.
    ///   - random: returns a value in `0...upperBound`; injectable for tests.
    public func delayMilliseconds(afterAttempt attempt: Int, retryAfterMilliseconds: Int64? = nil,
                                  random: (Int64) -> Int64 = { Int64.random(in: 0...$0) }) -> Int64? {
        guard attempt < maxAttempts else { return nil }
        let exponent = min(max(attempt - 1, 0), 40)
        let (scaled, overflow) = baseMilliseconds.multipliedReportingOverflow(by: Int64(1) << exponent)
        let ceiling = overflow ? capMilliseconds : min(capMilliseconds, scaled)
        let jittered = random(ceiling)
        return max(jittered, retryAfterMilliseconds ?? 0)
    }
}
