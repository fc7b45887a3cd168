#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SystemCalls

/// systemd's notify protocol, spoken directly (no libsystemd): each message is one datagram of `KEY=value` lines
/// sent to the `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`).
///
/// Without `$NOTIFY_SOCKET` (not started by systemd, or `Type=simple`) every call does nothing. A failed send is
/// ignored: systemd's own timeouts then decide. Thread-safe.
final class SystemdNotifier: Sendable {
    /// The datagram socket, nil without `$NOTIFY_SOCKET`; closed when the notifier is freed.
    private let socket: FileDescriptor?
    private let address: [UInt8]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.hasPrefix("/") || path.hasPrefix("@"),
              path.utf8.count < 108 else {
            socket = nil
            address = []
            return
        }
        var bytes = Array(path.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        address = bytes
        // A socket that cannot be made leaves the notifier disabled, as before (systemd's own timeouts decide).
        socket = (try? Posix.socket(domain: AF_UNIX, type: Int32(SOCK_DGRAM.rawValue), nonBlocking: false))
            .map { FileDescriptor(taking: $0) }
    }

    /// Whether a notify socket was given.
    var isEnabled: Bool { socket != nil }

    /// Sends `message` (e.g. `"READY=1\nSTATUS=listening"`). - Returns: whether it was sent.
    @discardableResult
    func send(_ message: String) -> Bool {
        guard let socket else { return false }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { path in
            for (index, byte) in address.enumerated() { path[index] = byte }
        }
        // An abstract name is exactly its bytes; a path may include its terminating NUL.
        let length = MemoryLayout<sa_family_t>.size + address.count + (address.first == 0 ? 0 : 1)
        let payload = Array(message.utf8)
        let sent = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketPointer in
                payload.withUnsafeBytes { bytes in
                    socket.withDescriptor { fd in
                        try? Posix.sendTo(fd, bytes, address: socketPointer, length: socklen_t(length))
                    }
                }
            }
        }
        return sent == payload.count
    }

    /// The watchdog interval systemd asked for (`$WATCHDOG_USEC`), when it is meant for this process
    /// (`$WATCHDOG_PID` absent or ours).
    static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], !pid.isEmpty, pid != String(getpid()) { return nil }
        return .microseconds(microseconds)
    }

    /// The listening socket systemd passed (socket activation: `$LISTEN_FDS` descriptors from 3 on, meant for this
    /// process when `$LISTEN_PID` is ours). Takes the first one and clears the variables, as `sd_listen_fds` does.
    static func inheritedListener(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32? {
        guard let pid = environment["LISTEN_PID"], pid == String(getpid()),
              let count = environment["LISTEN_FDS"].flatMap(Int.init), count >= 1 else { return nil }
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        let descriptor: Int32 = 3
        try? Posix.setCloseOnExec(descriptor)
        return descriptor
    }
}
