import Logging
import PostgreSQL

/// Opens the event writer for a `DatabaseLocation`: `SQLiteEventWriter` for a file, `PostgreSQLEventWriter` for a
/// PostgreSQL URI. Stateless; the writer's own contract applies (thread-safe, one per process).
public enum EventSinkOpening {
    /// Opens (creating or migrating the schema) and starts the writer thread. The parameters are
    /// `SQLiteEventWriter.init`'s. - Throws: the engine's error when the database cannot be opened or migrated.
    public static func open(_ location: DatabaseLocation, logger: Logger, maxBatch: Int = 1024, answerTimeoutMilliseconds: Int32 = 5000,
                            intakeIdleMilliseconds: Int64 = 5000, onCommit: @escaping @Sendable () -> Void = {},
                            onCommitFailure: @escaping @Sendable (String) -> Void = { _ in },
                            onRecovery: @escaping @Sendable () -> Void = {}) throws -> any GroupCommitEventSink {
        switch location {
        case .sqlite(let path):
            try SQLiteEventWriter(path: path, logger: logger, maxBatch: maxBatch, answerTimeoutMilliseconds: answerTimeoutMilliseconds,
                                  intakeIdleMilliseconds: intakeIdleMilliseconds, onCommit: onCommit,
                                  onCommitFailure: onCommitFailure, onRecovery: onRecovery)
        case .postgresql(let url, let password):
            try PostgreSQLEventWriter(url: url, password: password, logger: logger, maxBatch: maxBatch,
                                      answerTimeoutMilliseconds: answerTimeoutMilliseconds, intakeIdleMilliseconds: intakeIdleMilliseconds,
                                      onCommit: onCommit, onCommitFailure: onCommitFailure, onRecovery: onRecovery)
        }
    }
}

/// Opens the job queue for a `DatabaseLocation` (`SQLiteJobQueue` or `PostgreSQLJobQueue`) on a connection of its own,
/// closed by its `close()`. Stateless; the queue is used by one thread at a time.
public enum JobQueueOpening {
    /// - Parameter durableCommits: as `SQLiteJobQueue.init(path:durableCommits:)` (workers pass `false`).
    /// - Throws: `StoreError.missingDatabase` (SQLite file absent), `StoreError.newerSchema`, or the engine's error.
    public static func open(_ location: DatabaseLocation, durableCommits: Bool = true) throws -> any JobQueueStorage {
        switch location {
        case .sqlite(let path): try SQLiteJobQueue(path: path, durableCommits: durableCommits)
        case .postgresql(let url, let password): try PostgreSQLJobQueue(url: url, password: password, durableCommits: durableCommits)
        }
    }

    /// A queue on a connection of its own, with that connection, which a worker's other storages share.
    /// - Parameter leavingCheckpointsToTheWriter: SQLite only: the daemon's worker connections leave checkpoints to
    ///   the event writer's thread (`StoreConnection.leaveCheckpointsToTheWriter`).
    public static func openSharingItsConnection(_ location: DatabaseLocation, durableCommits: Bool = true,
                                                leavingCheckpointsToTheWriter: Bool = false) throws
        -> (queue: any JobQueueStorage, connection: StorageConnection) {
        switch location {
        case .sqlite(let path):
            let queue = try SQLiteJobQueue(path: path, durableCommits: durableCommits)
            if leavingCheckpointsToTheWriter { try StoreConnection.leaveCheckpointsToTheWriter(queue.database) }
            return (queue, .sqlite(queue.database))
        case .postgresql(let url, let password):
            let queue = try PostgreSQLJobQueue(url: url, password: password, durableCommits: durableCommits)
            return (queue, .postgresql(queue.connection))
        }
    }
}

/// Opens the store reader for a `DatabaseLocation` (`SQLiteStoreReader` or `PostgreSQLStoreReader`) on a connection
/// of its own. Stateless; the reader is used by one thread at a time.
public enum StoreReadingOpening {
    /// - Throws: `StoreError.missingDatabase` (SQLite file absent), `StoreError.newerSchema`, or the engine's error.
    public static func open(_ location: DatabaseLocation) throws -> any StoreReading {
        switch location {
        case .sqlite(let path): try SQLiteStoreReader(path: path)
        case .postgresql(let url, let password): try PostgreSQLStoreReader(url: url, password: password)
        }
    }
}

extension DaemonStatus {
    /// `recordStart(_:databasePath:)` or `recordStart(_:on:)` for a location, on a connection opened for the call.
    public static func recordStart(_ status: DaemonStatus, location: DatabaseLocation) throws {
        switch location {
        case .sqlite(let path): try recordStart(status, databasePath: path)
        case .postgresql(let url, let password):
            let connection = try PostgreSQLStoreConnection.open(url: url, password: password)
            defer { connection.close() }
            try recordStart(status, on: connection)
        }
    }

    /// `recordStop(pid:at:databasePath:)` or `recordStop(pid:at:on:)` for a location.
    public static func recordStop(pid: Int32, at time: Int64, location: DatabaseLocation) throws {
        switch location {
        case .sqlite(let path): try recordStop(pid: pid, at: time, databasePath: path)
        case .postgresql(let url, let password):
            let connection = try PostgreSQLStoreConnection.open(url: url, password: password)
            defer { connection.close() }
            try recordStop(pid: pid, at: time, on: connection)
        }
    }
}
