import Foundation
import Jobs
import Outbound
import Store
import StrictJSON
import Synchronization

/// Runs the catalog's actions (`ActionCatalog.actions`, one file each) and holds what they share between jobs: the
/// per-email lock of `stripe.find_or_create_customer`, the `http.post` targets, and how long Instantly's background
/// writes are waited for.
///
/// `http.post` targets (`http_targets:`) are the runner's own: the engine's providers are Stripe and Instantly.
///
/// Thread-safe: the shared state is the per-email lock that keeps two flows for the same person from creating two
/// Stripe customers at once, and the `http.post` targets (swapped whole by `update(httpTargets:)`).
public final class ActionRunner: Sendable {
    /// How long `instantly.move_lead` and `instantly.set_interest_status` wait for Instantly's background work
    /// to show before retrying later.
    let moveWaitMilliseconds: Int
    /// The first wait before looking again; it doubles up to 2 s.
    let movePollMilliseconds: Int
    /// One flow at a time per email address finds or creates its Stripe customer.
    let customerLocks = KeyedLocks()
    /// `http.post` targets by name.
    private let httpTargets: Mutex<[String: HTTPTarget]>

    /// - Parameter httpTargets: the `http_targets:` entries `http.post` may name.
    public init(moveWaitMilliseconds: Int = 15_000, movePollMilliseconds: Int = 250, httpTargets: [HTTPTarget] = []) {
        self.moveWaitMilliseconds = moveWaitMilliseconds
        self.movePollMilliseconds = max(1, movePollMilliseconds)
        self.httpTargets = Mutex(Dictionary(httpTargets.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }))
    }

    /// Replaces the `http.post` targets (configuration reload); jobs that start afterwards use the new ones.
    public func update(httpTargets targets: [HTTPTarget]) {
        httpTargets.withLock { $0 = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }) }
    }

    /// Runs `action` with rendered `arguments`. - Returns: the output object later steps read.
    /// - Throws: `JobFailure` (argument errors are non-retryable invalid-job failures that name the argument).
    func run(_ action: String, _ arguments: Arguments, in context: ActionContext) throws(JobFailure) -> JSONValue {
        guard let found = ActionCatalog.action(action) else { throw Arguments.failure("unknown action '\(action)'") }
        return try found.run(arguments, in: context, runner: self)
    }

    /// The `http.post` target named `name`, or `nil`.
    func httpTarget(named name: String) -> HTTPTarget? { httpTargets.withLock { $0[name] } }

    /// The names of the `http.post` targets, sorted.
    var httpTargetNames: [String] { httpTargets.withLock { $0.keys.sorted() } }

    /// Instantly does some writes in the background: asks `done` after a pause that starts at
    /// `movePollMilliseconds` and doubles up to 2 s, until it says yes or `moveWaitMilliseconds` have passed.
    /// - Returns: whether `done` said yes in time.
    func waitForInstantly(_ done: () throws(JobFailure) -> Bool) throws(JobFailure) -> Bool {
        var waited = 0
        var pause = movePollMilliseconds
        while waited < moveWaitMilliseconds {
            Thread.sleep(forTimeInterval: Double(pause) / 1000)
            waited += pause
            pause = min(pause * 2, 2_000)
            if try done() { return true }
        }
        return false
    }
}

/// Mutual exclusion per key (for instance per email), for work that must not run twice at once for the same key.
/// Thread-safe; keys are forgotten when no one holds them.
final class KeyedLocks: @unchecked Sendable {  // Safe: `held` is only read or changed with `condition` locked.
    private var held: Set<String> = []
    private let condition = NSCondition()

    func withLock<T, E: Error>(_ key: String, _ body: () throws(E) -> T) throws(E) -> T {
        condition.lock()
        while held.contains(key) { condition.wait() }
        held.insert(key)
        condition.unlock()
        defer {
            condition.lock()
            held.remove(key)
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
