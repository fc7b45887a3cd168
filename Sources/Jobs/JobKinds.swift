import Store

/// The registry of job kinds: which handler runs the jobs of each kind. Each module registers its own kinds
/// (Workflows `process_event` and one kind per action, Alerts `alert.notify`); the worker pool runs the registry as
/// its handler. A job of a kind nobody registered fails at once as an invalid job (`no handler for job kind 'x'`).
///
/// A value, built before the pool starts; thread-safe once built.
public struct JobKinds: JobHandler {
    private var handlers: [String: any JobHandler] = [:]
    /// Kinds whose success, when it queues nothing, is routine and logged at debug level (an event that started no
    /// rule): the request log line already shows it.
    public private(set) var quietKinds: Set<String> = []

    public init() {}

    /// Runs the jobs of `kind` with `handler`.
    /// - Parameter quiet: a success that queues nothing is routine (logged at debug level).
    /// - Precondition: `kind` is not registered yet: two modules claiming one kind is a programming error.
    public mutating func register(_ kind: String, quiet: Bool = false, handler: any JobHandler) {
        precondition(handlers[kind] == nil, "job kind '\(kind)' is registered twice")
        handlers[kind] = handler
        if quiet { quietKinds.insert(kind) }
    }

    /// Every kind registered from `other` as well. - Precondition: no kind is in both.
    public mutating func register(contentsOf other: JobKinds) {
        for (kind, handler) in other.handlers { register(kind, quiet: other.quietKinds.contains(kind), handler: handler) }
    }

    /// Every registered kind, sorted.
    public var kinds: [String] { handlers.keys.sorted() }

    /// The handler of `kind`, or `nil`.
    public func handler(of kind: String) -> (any JobHandler)? { handlers[kind] }

    public func run(_ job: Job, context: WorkerContext) -> JobOutcome {
        guard let handler = handlers[job.kind] else {
            return .failed(.invalidJob("no handler for job kind '\(job.kind)'"))
        }
        return handler.run(job, context: context)
    }

    /// Prepares every handler (opening a resource twice on one worker is a no-op: `WorkerContext` keeps one per type).
    public func prepare(_ context: WorkerContext) throws {
        for kind in kinds { try handlers[kind]!.prepare(context) }
    }
}
