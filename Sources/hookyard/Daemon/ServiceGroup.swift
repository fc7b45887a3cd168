import Dispatch
import Synchronization

/// One part of the daemon as the service group sees it: one verb to start it, one to stop it.
///
/// `start` may throw: the part did not start, and the group stops the parts already started. `stop` does not throw:
/// a part that cannot stop cleanly logs why. The closures run on the thread that calls the group's `start`/`stop`.
struct DaemonService: Sendable {
    /// For logs and test assertions (`writer`, `intake`, …).
    let name: String
    let start: @Sendable () throws -> Void
    let stop: @Sendable () -> Void

    init(_ name: String, start: @escaping @Sendable () throws -> Void = {}, stop: @escaping @Sendable () -> Void = {}) {
        self.name = name
        self.start = start
        self.stop = stop
    }

    /// Parts that start one after the other, in order, and stop all at the same time, the stop returning when
    /// every one has stopped: parts that share one grace period (requests in flight and jobs in flight drain
    /// together). If one fails to start, those already started are stopped (at the same time) before it rethrows.
    /// - Parameter logBeforeStop: runs when the stop begins, before any part stops (the daemon's `stopping` line).
    static func together(_ name: String, logBeforeStop: @escaping @Sendable () -> Void = {},
                         _ services: [DaemonService]) -> DaemonService {
        DaemonService(name, start: {
            var started: [DaemonService] = []
            do {
                for service in services {
                    try service.start()
                    started.append(service)
                }
            } catch {
                stopAtOnce(started)
                throw error
            }
        }, stop: {
            logBeforeStop()
            stopAtOnce(services)
        })
    }

    private static func stopAtOnce(_ services: [DaemonService]) {
        guard let last = services.last else { return }
        let group = DispatchGroup()
        for service in services.dropLast() {
            DispatchQueue.global().async(group: group) { service.stop() }
        }
        last.stop()
        group.wait()
    }
}

/// The daemon's parts, started in order and stopped in reverse, as swift-service-lifecycle's `ServiceGroup` runs
/// its services: each part is built before the group is (nothing is reachable before it is built), the group only
/// orders its start and stop.
///
/// - `start()` starts the parts in order; if one throws, the parts already started are stopped in reverse and the
///   error is rethrown (the group is then stopped: `stop()` does nothing).
/// - `stop()` stops the started parts in reverse order, once; later calls do nothing.
///
/// Thread-safe: `start` and `stop` may be called from different threads (a stop waits for a start in progress).
final class ServiceGroup: Sendable {
    private let services: [DaemonService]
    /// How many of `services` have started and not been stopped; `nil` once stopped. Held during a start or stop.
    private let started = Mutex<Int?>(0)

    init(_ services: [DaemonService]) {
        self.services = services
    }

    /// Starts every part in order. - Throws: the first part's error that failed to start, after stopping the parts
    /// started before it in reverse order.
    func start() throws {
        try started.withLock { started in
            guard let count = started, count == 0 else { return }
            for (index, service) in services.enumerated() {
                do {
                    try service.start()
                } catch {
                    for earlier in services[..<index].reversed() { earlier.stop() }
                    started = nil
                    throw error
                }
                started = index + 1
            }
        }
    }

    /// Stops the started parts in reverse order of their start. Only the first call does anything.
    func stop() {
        started.withLock { started in
            guard let count = started else { return }
            for service in services[..<count].reversed() { service.stop() }
            started = nil
        }
    }
}
