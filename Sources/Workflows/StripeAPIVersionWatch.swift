import Synchronization

/// Notices Stripe events rendered in an API version other than the configured `stripe.api_version`: an endpoint on
/// another version sends other payload shapes (before `2025-03-31.basil`, an invoice names its subscription at the
/// top, not under `parent.subscription_details`), which rules written for the configured version may not read.
///
/// `firstDifferent(_:)` answers `true` once per distinct differing version (per process, and again after the
/// configured version changes), so the engine logs one warning per version, not one per event. Thread-safe.
public final class StripeAPIVersionWatch: Sendable {
    private let state: Mutex<(configured: String?, warned: Set<String>)>

    /// - Parameter configured: `stripe.api_version`; `nil`: no version is expected and none is reported.
    public init(configured: String?) {
        state = Mutex((configured, []))
    }

    public var configured: String? { state.withLock { $0.configured } }

    /// A new configured version (configuration reload); the versions warned about are forgotten when it changed.
    public func update(configured: String?) {
        state.withLock { state in
            if state.configured != configured { state = (configured, []) }
        }
    }

    /// Whether `version` (an event's `api_version`) differs from the configured one and was not reported before; it
    /// counts as reported from now on. Events without a version are not judged.
    public func firstDifferent(_ version: String?) -> Bool {
        guard let version, !version.isEmpty else { return false }
        return state.withLock { state in
            guard let configured = state.configured, version != configured else { return false }
            return state.warned.insert(version).inserted
        }
    }
}
