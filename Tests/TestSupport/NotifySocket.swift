#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A datagram socket standing in for systemd's notify socket (`$NOTIFY_SOCKET`): a thread of its own reads every
/// message the daemon sends as soon as it arrives (as systemd does, so the daemon's blocking `sendto` never waits
/// on a full queue), and `receive(for:until:)` hands them out in order. Closed when released.
///
/// Thread-safe.
public final class NotifySocket: Sendable {
    /// The value for `$NOTIFY_SOCKET`.
    public let name: String
    private let inbox: Inbox

    /// - Parameter abstract: bind in the abstract namespace (`@name`) instead of the file system.
    public init(directory: URL, abstract: Bool = false) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TestClientError("notify socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // A name of its own each time: a restarted daemon in the same directory gets a fresh socket.
        let unique = UUID().uuidString.prefix(8)
        let path = abstract ? "hookyard-test-\(unique)" : directory.appendingPathComponent("notify-\(unique).sock").path
        var bytes = Array(path.utf8)
        if abstract { bytes.insert(0, at: 0) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (index, byte) in bytes.enumerated() { raw[index] = byte } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw TestClientError("bind notify socket: \(message)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        name = abstract ? "@" + path : path
        inbox = Inbox(descriptor: descriptor, file: abstract ? nil : path)
        let inbox = inbox
        Thread { inbox.readUntilStopped() }.start()
    }

    deinit { inbox.stop() }

    /// The messages not yet handed out, as they arrive within `seconds`, until `stop` (shown the messages this
    /// call has taken so far) says enough.
    public func receive(for seconds: Double, until stop: ([String]) -> Bool = { _ in false }) -> [String] {
        inbox.receive(for: seconds, until: stop)
    }

    /// Every message received so far, handed out or not.
    public var all: [String] { inbox.all }
}

/// The socket's reader thread and what it has read.
private final class Inbox: @unchecked Sendable {  // Safe: every field but `descriptor` is guarded by `condition`.
    private let descriptor: Int32
    private let condition = NSCondition()
    private var messages: [String] = []
    private var cursor = 0
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// The socket's file, removed when it closes (nil in the abstract namespace).
    private let file: String?

    init(descriptor: Int32, file: String?) {
        self.descriptor = descriptor
        self.file = file
    }

    func readUntilStopped() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            condition.lock()
            let done = stopped
            condition.unlock()
            if done { break }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let message = String(decoding: buffer[..<count], as: UTF8.self)
            condition.lock()
            messages.append(message)
            condition.broadcast()
            condition.unlock()
        }
        finished.signal()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.unlock()
        finished.wait()
        close(descriptor)
        if let file { unlink(file) }
    }

    func receive(for seconds: Double, until stop: ([String]) -> Bool) -> [String] {
        var taken: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while !stop(taken) {
            if cursor < messages.count {
                taken.append(messages[cursor])
                cursor += 1
            } else if !condition.wait(until: deadline) {
                break
            }
        }
        return taken
    }

    var all: [String] {
        condition.lock()
        defer { condition.unlock() }
        return messages
    }
}
