import CLinux
import Glibc
import Foundation
import Synchronization

/// A thread running an epoll loop that owns a set of connections, their read buffer and their deadlines.
///
/// Connection state is only ever touched on this thread: other threads hand it work with `execute(_:)`.
/// Why not Dispatch sources: on Linux every Dispatch source event travels from libdispatch's manager thread to a
/// worker thread, two context switches per socket event, which measurably capped ingest (docs/benchmarks.md).
final class EventLoop: @unchecked Sendable {  // Safe: `connections`, `readBuffer` and `lastSweep` are used only on the loop thread; tasks are guarded by `pending`.
    private struct Pending {
        var tasks: [@Sendable () -> Void] = []
        /// The eventfd was written and not yet drained, so further tasks need no new wake-up.
        var wakeupSent = false
        var stopping = false
    }

    private let epoll: Int32
    private let wakeup: Int32
    private let pending = Mutex(Pending())
    private let finished = DispatchSemaphore(value: 0)
    /// Scratch space for reads; used only on the loop thread.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// The connections this loop owns, by descriptor (loop thread only).
    private var connections: [Int32: HTTPConnection] = [:]
    private let name: String
    private var lastSweep: UInt64 = 0
    private static let sweepInterval: UInt64 = 500_000_000
    /// The most connections this loop held since it last gave freed memory back (loop thread only).
    private var connectionPeak = 0
    /// After this many of its connections closed, a loop calls `malloc_trim`: glibc keeps the freed buffers of
    /// closed connections in the loop thread's arena otherwise (1,000 pipelining clients: 17 MB over the baseline
    /// after they closed, 0.6 MB with the trim; docs/benchmarks.md).
    private static let closedConnectionsBeforeTrim = 256

    init(index: Int) {
        name = "hookyard.loop\(index)"
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeup >= 0, "epoll_create1/eventfd failed: \(String(cString: strerror(errno)))")
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeup))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event)
    }

    deinit {
        readBuffer.deallocate()
        Glibc.close(epoll)
        Glibc.close(wakeup)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Runs `task` on the loop thread, after the events being handled now. Callable from any thread.
    func execute(_ task: @escaping @Sendable () -> Void) {
        let wake = pending.withLock { pending -> Bool in
            pending.tasks.append(task)
            defer { pending.wakeupSent = true }
            return !pending.wakeupSent
        }
        if wake {
            var one: UInt64 = 1
            _ = Glibc.write(wakeup, &one, 8)
        }
    }

    /// Runs `task` on the loop thread and waits for it. Must not be called on the loop thread.
    func executeAndWait(_ task: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        execute {
            task()
            done.signal()
        }
        done.wait()
    }

    /// Ends the loop thread once the tasks queued so far have run; returns when it has ended.
    func stop() {
        execute { [self] in pending.withLock { $0.stopping = true } }
        finished.wait()
    }

    // MARK: Registration (loop thread only)

    func add(_ connection: HTTPConnection) {
        connections[connection.descriptor] = connection
        connectionPeak = max(connectionPeak, connections.count)
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: connection.descriptor))
        epoll_ctl(epoll, EPOLL_CTL_ADD, connection.descriptor, &event)
    }

    /// Sets which readiness the connection waits for.
    func setInterest(_ connection: HTTPConnection, read: Bool, write: Bool) {
        var mask: UInt32 = 0
        if read { mask |= EPOLLIN.rawValue }
        if write { mask |= EPOLLOUT.rawValue }
        var event = epoll_event(events: mask, data: epoll_data_t(fd: connection.descriptor))
        epoll_ctl(epoll, EPOLL_CTL_MOD, connection.descriptor, &event)
    }

    /// Forgets the connection; the caller closes the descriptor afterwards.
    func remove(_ connection: HTTPConnection) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, connection.descriptor, nil)
        connections[connection.descriptor] = nil
    }

    /// Runs `body` on every connection of this loop (loop thread only).
    func forEachConnection(_ body: (HTTPConnection) -> Void) {
        for connection in Array(connections.values) { body(connection) }
    }

    // MARK: The loop

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        lastSweep = DispatchTime.now().uptimeNanoseconds
        while true {
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), 500) }
            if count < 0 && errno != EINTR {
                preconditionFailure("epoll_wait failed: \(String(cString: strerror(errno)))")
            }
            for index in 0..<max(0, Int(count)) {
                let event = events[index]
                let descriptor = event.data.fd
                if descriptor == wakeup { continue }
                guard let connection = connections[descriptor] else { continue }
                if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                    connection.close()  // reset or fully shut down: nothing more can be read or written
                } else {
                    if event.events & EPOLLIN.rawValue != 0 { connection.readable() }
                    if event.events & EPOLLOUT.rawValue != 0, connections[descriptor] === connection { connection.writable() }
                }
            }
            if runTasks() {
                for connection in Array(connections.values) { connection.close() }
                finished.signal()
                return
            }
            let now = DispatchTime.now().uptimeNanoseconds
            if now - lastSweep >= Self.sweepInterval {
                lastSweep = now
                for connection in Array(connections.values) where connection.deadline <= now {
                    connection.deadlinePassed()
                }
                if connectionPeak - connections.count >= Self.closedConnectionsBeforeTrim {
                    connectionPeak = connections.count
                    _ = malloc_trim(0)
                }
            }
        }
    }

    /// Runs queued tasks. - Returns: whether the loop should stop.
    private func runTasks() -> Bool {
        let tasks = pending.withLock { pending -> [@Sendable () -> Void] in
            guard pending.wakeupSent else { return [] }
            var drained: UInt64 = 0
            _ = Glibc.read(wakeup, &drained, 8)
            pending.wakeupSent = false
            defer { pending.tasks.removeAll(keepingCapacity: true) }
            return pending.tasks
        }
        for task in tasks { task() }
        return pending.withLock { $0.stopping }
    }
}
