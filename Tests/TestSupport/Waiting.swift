import Foundation

/// Polls `condition` every `interval` until it holds or `timeout` has passed, then checks it once more.
/// - Returns: whether the condition held; the caller asserts on it (the assertion is on the condition, never on
///   the time waited). Rethrows the condition's error. Blocks the calling thread; thread-safe.
@discardableResult
public func waitUntil(timeout: Duration = .seconds(10), interval: Duration = .milliseconds(20),
                      _ condition: () throws -> Bool) rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
    }
    return try condition()
}

extension DaemonProcess {
    /// The daemon's job counts by state (`hookyard stats --json`'s `jobs`).
    public func jobCounts() throws -> [String: Int] {
        let (_, output) = try run(["stats", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["jobs"] as? [String: Int] ?? [:]
    }

    /// Waits until no job is queued, running or retrying (the counts missing count as busy).
    /// - Returns: the last job counts read and whether the queue was idle in time.
    @discardableResult
    public func waitForIdleQueue(timeout: Duration = .seconds(30)) throws -> (jobs: [String: Int], idle: Bool) {
        var jobs: [String: Int] = [:]
        let idle = try waitUntil(timeout: timeout, interval: .milliseconds(50)) {
            jobs = try jobCounts()
            return jobs["queued", default: 1] + jobs["running", default: 1] + jobs["retrying", default: 1] == 0
        }
        return (jobs, idle)
    }
}
