/// Opening the job queue for a location, with the connection it runs on (which a worker's other storages share).
extension DatabaseLocation {
    /// A job queue on a connection of its own; `durableCommits` as `SQLiteJobQueue(path:durableCommits:)`.
    /// - Parameter leavingCheckpointsToTheWriter: SQLite only: the daemon's worker connections leave checkpoints to
    ///   the event writer's thread (`StoreConnection.leaveCheckpointsToTheWriter`).
    /// - Throws: `StoreError.missingDatabase` (SQLite), `StoreError.newerSchema`, or the engine's error.
    public func openJobQueue(durableCommits: Bool = true, leavingCheckpointsToTheWriter: Bool = false) throws
        -> (queue: any JobQueueStorage, connection: StorageConnection) {
        switch self {
        case .sqlite(let path):
            let queue = try SQLiteJobQueue(path: path, durableCommits: durableCommits)
            if leavingCheckpointsToTheWriter { try StoreConnection.leaveCheckpointsToTheWriter(queue.database) }
            return (queue, .sqlite(queue.database))
        case .postgresql:
            throw StoreError.notOnThisEngine("the PostgreSQL job queue is not part of this build yet")
        }
    }
}
