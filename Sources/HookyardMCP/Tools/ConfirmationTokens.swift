import Foundation
import HookyardFoundation
import Synchronization

/// Short-lived confirmation tokens for write tools in live mode: the first call answers with what it would do and a
/// token bound to that exact call (tool and arguments); only a second call that presents the token acts. A token is
/// good once, for `lifetimeMilliseconds` (2 minutes).
///
/// Thread-safety: one `Mutex` guards the issued tokens; safe from any task.
public final class ConfirmationTokens: Sendable {
    public static let lifetimeMilliseconds: Int64 = 120_000

    private struct Issued {
        var action: String
        var expiresAt: Int64
    }

    /// The issued, unused tokens by value; guarded by the mutex.
    private let issued = Mutex<[String: Issued]>([:])
    private let clock: MillisecondClock

    public init(clock: @escaping MillisecondClock = WallClock.system) {
        self.clock = clock
    }

    /// A new token for `action` (a canonical description of the call), valid for the lifetime.
    public func issue(for action: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 12)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let token = "confirm-" + bytes.map { String(format: "%02x", $0) }.joined()
        let now = clock()
        issued.withLock { tokens in
            tokens = tokens.filter { $0.value.expiresAt > now }
            tokens[token] = Issued(action: action, expiresAt: now + Self.lifetimeMilliseconds)
        }
        return token
    }

    /// Takes `token` if it was issued for `action` and has not expired; it cannot be used again.
    /// - Throws: `ToolError.refused` saying why (unknown, expired, or issued for another call).
    public func redeem(_ token: String, for action: String) throws {
        let now = clock()
        let problem: String? = issued.withLock { tokens in
            guard let found = tokens[token] else { return "unknown or already used confirmation token" }
            guard found.expiresAt > now else {
                tokens[token] = nil
                return "the confirmation token expired (tokens last \(Self.lifetimeMilliseconds / 1000) s)"
            }
            guard found.action == action else { return "the confirmation token was issued for another call (\(found.action))" }
            tokens[token] = nil
            return nil
        }
        if let problem {
            throw ToolError.refused("\(problem): call again without `confirmation` to get a new token")
        }
    }
}
