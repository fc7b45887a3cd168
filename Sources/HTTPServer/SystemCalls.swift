#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from a POSIX call, carrying `errno`, the C library's own message and the call that failed.
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
enum IOResult<Value> {
    case processed(Value)
    case wouldBlock
}

/// Every POSIX socket call the server makes goes through here: `EINTR` is retried, `EAGAIN` becomes
/// `.wouldBlock`, programmer errors (`EBADF`, `EFAULT`) stop the process, other failures throw.
enum SystemCalls {
    private static func isProgrammerError(_ code: Int32) -> Bool {
        code == EBADF || code == EFAULT
    }

    @inline(__always)
    private static func call<T: FixedWidthInteger>(_ function: String, context: String = "", _ body: () -> T) throws(SystemCallError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            precondition(!isProgrammerError(code), "\(function) failed with a programmer error: \(String(cString: strerror(code)))")
            throw SystemCallError(function: function, errno: code, context: context)
        }
    }

    @inline(__always)
    private static func nonBlockingCall(_ function: String, _ body: () -> Int) throws(SystemCallError) -> IOResult<Int> {
        while true {
            let result = body()
            if result >= 0 { return .processed(result) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            precondition(!isProgrammerError(code), "\(function) failed with a programmer error: \(String(cString: strerror(code)))")
            throw SystemCallError(function: function, errno: code)
        }
    }

    static func socket(domain: Int32, type: Int32) throws(SystemCallError) -> Int32 {
        #if canImport(Glibc)
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return try call("socket") { Glibc.socket(domain, flags, 0) }
        #else
        return try call("socket") { Darwin.socket(domain, type, 0) }
        #endif
    }

    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(SystemCallError) {
        var value = value
        _ = try call("setsockopt") {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    static func bind(_ fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, description: String) throws(SystemCallError) {
        _ = try call("bind", context: description) {
            #if canImport(Glibc)
            Glibc.bind(fd, address, length)
            #else
            Darwin.bind(fd, address, length)
            #endif
        }
    }

    static func listen(_ fd: Int32, backlog: Int32) throws(SystemCallError) {
        _ = try call("listen") {
            #if canImport(Glibc)
            Glibc.listen(fd, backlog)
            #else
            Darwin.listen(fd, backlog)
            #endif
        }
    }

    /// Accepts one connection, non-blocking and close-on-exec. `nil` when none is pending.
    static func accept(_ fd: Int32) throws(SystemCallError) -> Int32? {
        let result = try nonBlockingCall("accept") {
            #if canImport(Glibc)
            Int(Glibc.accept(fd, nil, nil))
            #else
            Int(Darwin.accept(fd, nil, nil))
            #endif
        }
        switch result {
        case .processed(let accepted):
            let client = Int32(accepted)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            return client
        case .wouldBlock:
            return nil
        }
    }

    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        try nonBlockingCall("read") {
            #if canImport(Glibc)
            Glibc.read(fd, buffer.baseAddress, buffer.count)
            #else
            Darwin.read(fd, buffer.baseAddress, buffer.count)
            #endif
        }
    }

    static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        try nonBlockingCall("send") {
            #if canImport(Glibc)
            Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            #else
            Darwin.send(fd, buffer.baseAddress, buffer.count, 0)
            #endif
        }
    }

    /// Half-closes the sending side; errors (the peer already gone) are irrelevant here.
    static func shutdownWrite(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        #else
        _ = Darwin.shutdown(fd, SHUT_WR)
        #endif
    }

    /// Closes a descriptor exactly once; `EINTR` on close must not be retried on Linux.
    static func close(_ fd: Int32) {
        #if canImport(Glibc)
        let result = Glibc.close(fd)
        #else
        let result = Darwin.close(fd)
        #endif
        precondition(result == 0 || errno != EBADF, "close on a descriptor that was not open")
    }

    /// The local address a socket is bound to, as `(host, port)`.
    static func localAddress(_ fd: Int32) throws(SystemCallError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try call("getsockname") { getsockname(fd, address, &length) }
            }
        }
        return SocketAddress(storage: storage)
    }
}
