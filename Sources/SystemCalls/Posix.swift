import CLinux
import Glibc

/// Every POSIX call Hookyard makes on descriptors goes through here (swift-nio's `Posix`): `EINTR` is retried,
/// `EAGAIN` becomes `.wouldBlock` for the non-blocking calls, programmer errors (`EBADF`, `EFAULT`) stop the
/// process, other failures throw `SystemCallError` with the call's name and `strerror`'s words.
/// Stateless; thread-safe as the calls themselves are.
public enum Posix {
    private typealias Rule = SystemCallRule

    /// A close-on-exec socket of `type` (`SOCK_STREAM`, `SOCK_DGRAM`), non-blocking unless `nonBlocking` is false.
    public static func socket(domain: Int32, type: Int32, nonBlocking: Bool = true) throws(SystemCallError) -> Int32 {
        let flags = type | Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        return try Rule.call("socket") { Glibc.socket(domain, flags, 0) }
    }

    /// Sets an `Int32` socket option (`setsockopt`).
    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(SystemCallError) {
        var value = value
        _ = try Rule.call("setsockopt") {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Sets `SO_LINGER`: with `seconds` 0, `close` discards unsent output and sends `RST`.
    public static func setLinger(_ fd: Int32, seconds: Int32) throws(SystemCallError) {
        var option = linger(l_onoff: 1, l_linger: seconds)
        _ = try Rule.call("setsockopt") {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        }
    }

    /// Adds `O_NONBLOCK` to the descriptor's status flags.
    public static func setNonBlocking(_ fd: Int32) throws(SystemCallError) {
        let flags = try Rule.call("fcntl") { fcntl(fd, F_GETFL) }
        _ = try Rule.call("fcntl") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Sets `FD_CLOEXEC`, so the descriptor does not leak into child processes.
    public static func setCloseOnExec(_ fd: Int32) throws(SystemCallError) {
        _ = try Rule.call("fcntl") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    public static func bind(_ fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, description: String) throws(SystemCallError) {
        _ = try Rule.call("bind", context: description) { Glibc.bind(fd, address, length) }
    }

    public static func listen(_ fd: Int32, backlog: Int32) throws(SystemCallError) {
        _ = try Rule.call("listen") { Glibc.listen(fd, backlog) }
    }

    /// Accepts one connection, non-blocking and close-on-exec. `nil` when none is pending.
    public static func accept(_ fd: Int32) throws(SystemCallError) -> Int32? {
        let result = try Rule.nonBlockingCall("accept") { Int(Glibc.accept(fd, nil, nil)) }
        switch result {
        case .processed(let accepted):
            let client = Int32(accepted)
            // Cannot fail on a descriptor just accepted (and never did matter before: errors were ignored).
            try? setNonBlocking(client)
            try? setCloseOnExec(client)
            return client
        case .wouldBlock:
            return nil
        }
    }

    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        try Rule.nonBlockingCall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// `send` with `MSG_NOSIGNAL`: a peer that is gone is an `EPIPE` error, not a `SIGPIPE`.
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        try Rule.nonBlockingCall("send") { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Waits until `fd` is readable or `timeoutMilliseconds` pass (`poll` for `POLLIN`; -1 waits without limit).
    /// - Returns: whether it became readable (or reported an error or hang-up, which the next read reveals).
    public static func waitUntilReadable(_ fd: Int32, timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return try Rule.call("poll") { Glibc.poll(&descriptor, 1, timeoutMilliseconds) } > 0
    }

    /// Sends one datagram to `address` (`sendto` with `MSG_NOSIGNAL`). - Returns: the bytes sent.
    public static func sendTo(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, address: UnsafePointer<sockaddr>,
                              length: socklen_t) throws(SystemCallError) -> Int {
        try Rule.call("sendto") { Glibc.sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), address, length) }
    }

    /// Half-closes the sending side; errors (the peer already gone) are irrelevant here.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes a descriptor; `EINTR` on close must not be retried on Linux. Only `FileDescriptor` calls it, so a
    /// descriptor is closed by its owner, once.
    static func close(_ fd: Int32) {
        let result = Glibc.close(fd)
        precondition(result == 0 || errno != EBADF, "close on a descriptor that was not open")
    }

    /// The local address a socket is bound to (`getsockname`).
    public static func localAddress(_ fd: Int32) throws(SystemCallError) -> sockaddr_storage {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try Rule.call("getsockname") { getsockname(fd, address, &length) }
            }
        }
        return storage
    }

    /// Sets the calling thread's nice value (Linux gives each thread its own: `setpriority(PRIO_PROCESS, gettid())`).
    public static func setCurrentThreadNice(_ nice: Int32) throws(SystemCallError) {
        _ = try Rule.call("setpriority") {
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(clinux_gettid()), nice)
        }
    }
}
