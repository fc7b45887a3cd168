import Store

/// What a job handler opens on a worker: per-worker resources (the workflow records, contacts…) kept open across the
/// jobs that worker runs and closed when it stops.
///
/// Each resource type is opened once per worker, lazily by `resource(_:)` (or in `JobHandler.prepare`), from the
/// pool's database location or on the worker's own connection (`connection`, the one its job queue uses). Resources are
/// keyed by type, so the handlers of several job kinds share one instance per worker.
///
/// - Important: not thread-safe and not `Sendable`: it belongs to one worker thread (or one test), which alone uses
///   it and what it holds.
public final class WorkerContext {
    /// The worker's own connection, the one its job queue claims and records on (`synchronous=NORMAL`), which
    /// resources used only on this worker's thread may share instead of opening another (`nil` outside a pool:
    /// a direct run in a test). Lease renewals run on a connection of their own (another queue).
    public let connection: StorageConnection?
    /// The database the pool's queue lives in, which resources open.
    public let location: DatabaseLocation
    /// The worker's lease owner name (`host:pid:w0`).
    public let worker: String
    private var resources: [ObjectIdentifier: any WorkerResource] = [:]
    /// In opening order, closed in reverse.
    private var order: [ObjectIdentifier] = []

    public init(location: DatabaseLocation, worker: String, connection: StorageConnection? = nil) {
        self.location = location
        self.worker = worker
        self.connection = connection
    }

    /// This worker's instance of `type`, opened on first use.
    /// - Throws: the error `type.open(in:)` raised; nothing is kept then, so the next call tries again.
    public func resource<R: WorkerResource>(_ type: R.Type) throws -> R {
        let key = ObjectIdentifier(type)
        if let open = resources[key] {
            guard let typed = open as? R else { preconditionFailure("worker resource \(type) registered as \(Swift.type(of: open))") }
            return typed
        }
        let opened = try R.open(in: self)
        adopt(opened)
        return opened
    }

    /// Makes `resource` this worker's instance of its type (a test's own connection, say); the context closes it
    /// with the others. - Precondition: no instance of that type is held yet.
    public func adopt<R: WorkerResource>(_ resource: R) {
        let key = ObjectIdentifier(R.self)
        precondition(resources[key] == nil, "worker resource \(R.self) is already open")
        resources[key] = resource
        order.append(key)
    }

    /// Closes every resource, last opened first. The context holds none afterwards.
    public func close() {
        for key in order.reversed() { resources[key]?.close() }
        resources.removeAll()
        order.removeAll()
    }
}

/// Something a worker keeps open for the jobs it runs (a database connection and what is built on it).
/// Used only on the worker that opened it.
public protocol WorkerResource: AnyObject {
    /// Opens the resource for the worker `context` belongs to: on `context.connection` when it may share it,
    /// else on the database at `context.location`.
    static func open(in context: WorkerContext) throws -> Self
    /// Releases it; called once, when the worker stops.
    func close()
}
