import CLinux
import Glibc
import Foundation
import Synchronization
import SystemCalls

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

    /// The epoll instance and the eventfd that wakes it for queued tasks; both closed when the loop is freed.
    private let epoll: FileDescriptor
    private let wakeup: FileDescriptor
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
        do {
            let epoll = FileDescriptor(taking: try Linux.epollCreate())
            let wakeup = FileDescriptor(taking: try Linux.eventfdCreate())
            try epoll.withDescriptor { epoll throws(SystemCallError) in
                try Linux.epollControl(epoll, EPOLL_CTL_ADD, descriptor: wakeup.number, events: EPOLLIN.rawValue)
            }
            self.epoll = epoll
            self.wakeup = wakeup
        } catch {
            preconditionFailure("cannot set up an event loop: \(error)")
        }
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        readBuffer.deallocate()
        epoll.close()
        wakeup.close()
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
            // `.wouldBlock` only if the counter would overflow: the loop is woken anyway.
            _ = try? wakeup.withDescriptor { fd throws(SystemCallError) in try Linux.eventfdWrite(fd, 1) }
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
        control(EPOLL_CTL_ADD, connection, events: EPOLLIN.rawValue)
    }

    /// Sets which readiness the connection waits for.
    func setInterest(_ connection: HTTPConnection, read: Bool, write: Bool) {
        var mask: UInt32 = 0
        if read { mask |= EPOLLIN.rawValue }
        if write { mask |= EPOLLOUT.rawValue }
        control(EPOLL_CTL_MOD, connection, events: mask)
    }

    /// Forgets the connection; the caller closes the descriptor afterwards.
    func remove(_ connection: HTTPConnection) {
        control(EPOLL_CTL_DEL, connection, events: 0)
        connections[connection.descriptor] = nil
    }

    /// Registers, changes or removes a connection's interest; a failure (which the kernel gives only for a
    /// descriptor in the wrong state) was always ignored, and still is: the connection's deadline ends it.
    private func control(_ operation: Int32, _ connection: HTTPConnection, events: UInt32) {
        _ = try? epoll.withDescriptor { epoll throws(SystemCallError) in
            try Linux.epollControl(epoll, operation, descriptor: connection.descriptor, events: events)
        }
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
            let count: Int
            do {
                count = try epoll.withDescriptor { epoll throws(SystemCallError) in
                    try events.withUnsafeMutableBufferPointer { buffer throws(SystemCallError) in
                        try Linux.epollWait(epoll, events: buffer, timeoutMilliseconds: 500)
                    }
                }
            } catch {
                preconditionFailure("\(error)")
            }
            for index in 0..<count {
                let event = events[index]
                let descriptor = event.data.fd
                if descriptor == wakeup.number { continue }
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
            _ = try? wakeup.withDescriptor { fd throws(SystemCallError) in try Linux.eventfdRead(fd) }
            pending.wakeupSent = false
            defer { pending.tasks.removeAll(keepingCapacity: true) }
            return pending.tasks
        }
        for task in tasks { task() }
        return pending.withLock { $0.stopping }
    }
}
