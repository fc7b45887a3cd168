import Glibc

/// An error from a POSIX or Linux call, carrying `errno`, the C library's own message and the call that failed.
/// A value; thread-safe.
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    /// The name of the failing function, e.g. `bind`.
    public let function: String
    /// The `errno` value.
    public let errno: Int32
    /// What the call was about (an address, a path), if anything.
    public let context: String

    public init(function: String, errno: Int32, context: String = "") {
        self.function = function
        self.errno = errno
        self.context = context
    }

    public var description: String {
        let message = String(cString: strerror(errno))
        return context.isEmpty ? "\(function): \(message)" : "\(function) \(context): \(message)"
    }
}

/// The outcome of a non-blocking read or write.
public enum IOResult<Value> {
    case processed(Value)
    case wouldBlock
}

/// swift-nio's rule for every call in this module: `EINTR` is retried, `EAGAIN` is "would block" (non-blocking
/// calls only), programmer errors (`EBADF`, `EFAULT`) stop the process, other failures throw `SystemCallError`.
enum SystemCallRule {
    static func isProgrammerError(_ code: Int32) -> Bool {
        code == EBADF || code == EFAULT
    }

    /// Runs `body` until it does not fail with `EINTR`; a negative result throws (or stops, for a programmer error).
    @inline(__always)
    static func call<T: FixedWidthInteger>(_ function: String, context: String = "", _ body: () -> T) throws(SystemCallError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            precondition(!isProgrammerError(code), "\(function) failed with a programmer error: \(String(cString: strerror(code)))")
            throw SystemCallError(function: function, errno: code, context: context)
        }
    }

    /// As `call`, with `EAGAIN`/`EWOULDBLOCK` answered as `.wouldBlock`.
    @inline(__always)
    static func nonBlockingCall(_ function: String, _ body: () -> Int) throws(SystemCallError) -> IOResult<Int> {
        while true {
            let result = body()
            if result >= 0 { return .processed(result) }
            let code = Glibc.errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            precondition(!isProgrammerError(code), "\(function) failed with a programmer error: \(String(cString: strerror(code)))")
            throw SystemCallError(function: function, errno: code)
        }
    }
}
