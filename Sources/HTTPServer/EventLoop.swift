import Dispatch

/// A serial Dispatch queue that owns a set of connections, their read buffer and their deadlines.
///
/// Everything here runs on `queue`: connection state is never touched from another thread.
final class EventLoop: @unchecked Sendable {  // Safe: every mutable field is only accessed on `queue`.
    let queue: DispatchQueue
    /// Scratch space for reads; used only on `queue`.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// The connections this loop owns (protected by `queue`).
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private var sweepTimer: DispatchSourceTimer?

    init(index: Int) {
        queue = DispatchQueue(label: "hookyard.http.loop\(index)", qos: .userInitiated)
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        readBuffer.deallocate()
    }

    /// Starts the twice-a-second sweep that enforces connection deadlines.
    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(500), repeating: .milliseconds(500), leeway: .milliseconds(100))
        timer.setEventHandler { [unowned self] in
            let now = DispatchTime.now().uptimeNanoseconds
            for connection in connections.values where connection.deadline <= now {
                connection.deadlinePassed()
            }
        }
        timer.resume()
        sweepTimer = timer
    }

    func stop() {
        sweepTimer?.cancel()
        sweepTimer = nil
    }

    func add(_ connection: HTTPConnection) {
        dispatchPrecondition(condition: .onQueue(queue))
        connections[ObjectIdentifier(connection)] = connection
    }

    func remove(_ connection: HTTPConnection) {
        dispatchPrecondition(condition: .onQueue(queue))
        connections[ObjectIdentifier(connection)] = nil
    }

    /// Runs `body` on every connection of this loop, on the loop's queue.
    func forEachConnection(_ body: (HTTPConnection) -> Void) {
        dispatchPrecondition(condition: .onQueue(queue))
        for connection in Array(connections.values) { body(connection) }
    }
}
