import CLinux
import Glibc

/// The Linux-only calls of the HTTP server's event loops (epoll, eventfd), under the same rule as `Posix`:
/// `EINTR` retried, `EAGAIN` "would block", `EBADF`/`EFAULT` stop the process, other failures throw
/// `SystemCallError`. Stateless; thread-safe as the calls themselves are.
public enum Linux {
    private typealias Rule = SystemCallRule

    /// A close-on-exec epoll instance.
    public static func epollCreate() throws(SystemCallError) -> Int32 {
        try Rule.call("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    /// `epoll_ctl` with `operation` (`EPOLL_CTL_ADD`, `_MOD`, `_DEL`) and `events` (`EPOLLIN`, `EPOLLOUT`, …),
    /// the descriptor itself as the event's data.
    public static func epollControl(_ epoll: Int32, _ operation: Int32, descriptor: Int32, events: UInt32) throws(SystemCallError) {
        var event = epoll_event(events: events, data: epoll_data_t(fd: descriptor))
        _ = try Rule.call("epoll_ctl") { epoll_ctl(epoll, operation, descriptor, &event) }
    }

    /// Waits up to `timeoutMilliseconds` for events. - Returns: how many of `events` were filled.
    public static func epollWait(_ epoll: Int32, events: UnsafeMutableBufferPointer<epoll_event>,
                                 timeoutMilliseconds: Int32) throws(SystemCallError) -> Int {
        Int(try Rule.call("epoll_wait") { epoll_wait(epoll, events.baseAddress, Int32(events.count), timeoutMilliseconds) })
    }

    /// A close-on-exec, non-blocking eventfd with counter 0.
    public static func eventfdCreate() throws(SystemCallError) -> Int32 {
        try Rule.call("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
    }

    /// Adds `value` to the eventfd's counter; `.wouldBlock` if it would overflow (the reader is woken anyway).
    @discardableResult
    public static func eventfdWrite(_ fd: Int32, _ value: UInt64) throws(SystemCallError) -> IOResult<Int> {
        var value = value
        return try Rule.nonBlockingCall("write") { Glibc.write(fd, &value, 8) }
    }

    /// Reads and resets the eventfd's counter; `.wouldBlock` when it is 0.
    @discardableResult
    public static func eventfdRead(_ fd: Int32) throws(SystemCallError) -> IOResult<UInt64> {
        var value: UInt64 = 0
        switch try Rule.nonBlockingCall("read", { Glibc.read(fd, &value, 8) }) {
        case .processed: return .processed(value)
        case .wouldBlock: return .wouldBlock
        }
    }
}
