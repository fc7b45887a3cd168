import Glibc
import Synchronization

/// Owns one open file descriptor (a socket, an epoll instance, an eventfd) and closes it exactly once, as
/// swift-nio's `BaseSocket` does: `close()` marks it invalid before calling `close(2)`, so a second `close()` or a
/// use after it stops the process instead of touching a descriptor number the kernel may have handed out again.
/// If the owner never closed it, `deinit` does.
///
/// Thread-safe in the narrow sense that matters: the open/closed state is atomic. The owner must still not close
/// it while another thread is inside `withDescriptor` (the HTTP server's owners use each on one thread, or close it
/// only when no other user is left).
public final class FileDescriptor: Sendable {
    private let state: Atomic<Int32>
    /// The descriptor's number, kept after closing: for identity (tables keyed by descriptor) and logs, never for calls.
    public let number: Int32

    /// Takes ownership of `descriptor`, which must be open.
    public init(taking descriptor: Int32) {
        precondition(descriptor >= 0, "FileDescriptor needs an open descriptor, got \(descriptor)")
        state = Atomic(descriptor)
        number = descriptor
    }

    /// Whether `close()` has not been called yet.
    public var isOpen: Bool { state.load(ordering: .acquiring) >= 0 }

    /// Lends the open descriptor to `body`. - Precondition: not closed.
    @inline(__always)
    public func withDescriptor<Result, Failure: Error>(_ body: (Int32) throws(Failure) -> Result) throws(Failure) -> Result {
        let descriptor = state.load(ordering: .acquiring)
        precondition(descriptor >= 0, "descriptor \(number) used after it was closed")
        return try body(descriptor)
    }

    /// Closes the descriptor. - Precondition: not closed yet (closing twice is a programming error).
    public func close() {
        let descriptor = state.exchange(-1, ordering: .acquiringAndReleasing)
        precondition(descriptor >= 0, "descriptor \(number) closed twice")
        Posix.close(descriptor)
    }

    deinit {
        let descriptor = state.load(ordering: .acquiring)
        if descriptor >= 0 { Posix.close(descriptor) }
    }
}
