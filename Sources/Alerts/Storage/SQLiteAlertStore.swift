import Foundation
import SQLite
import Store

/// The durable state of alert conditions on SQLite (`AlertStorage`, table `alerts`), and the notification jobs created with each change in
/// the same transaction, so a crash can neither notify without recording it nor record without notifying.
///
/// Every job belongs to a stored event: a notification job belongs to the event given (the one that caused the
/// condition), else to the event of the condition's previous notification, else to the newest stored event; with
/// no event at all none is created (the caller still logs).
///
/// A stored state Hookyard never writes is an error (`SQLiteDecodingError`), never read as `cleared`.
///
/// Not thread-safe: one `SQLiteAlertStore` (one SQLite connection) per thread or behind a lock.
public final class SQLiteAlertStore: AlertStorage {
    private let database: SQLiteDatabase

    /// Opens an existing database and migrates it if needed.
    /// - Parameter durableCommits: `false` (the daemon) commits with `synchronous=NORMAL`: a power loss may roll back
    ///   the last alert changes, which at worst notifies a condition once more.
    public convenience init(path: String, durableCommits: Bool = true) throws {
        self.init(database: try StoreConnection.openExisting(path: path, durableCommits: durableCommits))
    }

    /// Uses `database`, a connection opened by `StoreConnection` (migrated), which other storage types may share.
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func close() { database.close() }

    /// - Throws: `SQLiteDecodingError` for a state or a context Hookyard never writes.
    private func record(from row: SQLiteStatement) throws -> AlertRecord {
        // Written only by `raise` as a JSON object of strings: anything else is an impossible value.
        guard let context = AlertRows.context(fromText: row.string(9)) else {
            throw row.decodingError([String: String].self, column: 9)
        }
        return AlertRecord(id: row.int(0), kind: row.string(1) ?? "", subject: row.string(2) ?? "",
                           state: try row.decode(AlertState.self, column: 3), firstRaisedAt: row.int(4),
                           lastRaisedAt: row.int(5), lastNotifiedAt: row.isNull(6) ? nil : row.int(6), timesNotified: Int(row.int(7)),
                           message: row.string(8) ?? "", context: context, clearedAt: row.isNull(10) ? nil : row.int(10),
                           eventID: row.isNull(11) ? nil : row.int(11))
    }

    /// The condition's row, or `nil` when it was never raised.
    public func alert(kind: String, subject: String) throws -> AlertRecord? {
        let statement = try database.prepare("SELECT \(AlertRows.columns) FROM alerts WHERE kind = ?1 AND subject = ?2")
        try statement.bind(1, kind)
        try statement.bind(2, subject)
        guard try statement.step() else { return nil }
        return try record(from: statement)
    }

    /// Raised conditions (most recently raised first), then, with `includeCleared`, cleared ones (most recently
    /// cleared first).
    public func alerts(includeCleared: Bool) throws -> [AlertRecord] {
        let statement = try database.prepare("""
            SELECT \(AlertRows.columns) FROM alerts WHERE state = 'raised' OR ?1
            ORDER BY state = 'cleared', coalesce(cleared_at, first_raised_at) DESC, id DESC
            """)
        try statement.bind(1, includeCleared ? 1 : 0)
        var records: [AlertRecord] = []
        while try statement.step() { records.append(try record(from: statement)) }
        return records
    }

    /// The subjects of the raised conditions of `kind`.
    public func raisedSubjects(kind: String) throws -> [String] {
        let statement = try database.prepare("SELECT subject FROM alerts WHERE state = 'raised' AND kind = ?1 ORDER BY subject")
        try statement.bind(1, kind)
        var subjects: [String] = []
        while try statement.step() { subjects.append(statement.string(0) ?? "") }
        return subjects
    }

    /// Whether any of `subjects` of `kind` is raised. - Complexity: one index lookup per subject.
    public func anyRaised(kind: String, subjects: [String]) throws -> Bool {
        // SQLite-specific: `json_each` (PostgreSQL: `jsonb_array_elements_text`).
        let statement = try database.prepare("""
            SELECT 1 FROM alerts WHERE kind = ?1 AND state = 'raised' AND subject IN (SELECT value FROM json_each(?2)) LIMIT 1
            """)
        try statement.bind(1, kind)
        try statement.bind(2, String(decoding: try JSONSerialization.data(withJSONObject: subjects), as: UTF8.self))
        return try statement.step()
    }

    /// Raised conditions per kind.
    public func raisedCounts() throws -> [String: Int] {
        let statement = try database.prepare("SELECT kind, count(*) FROM alerts WHERE state = 'raised' GROUP BY kind")
        var counts: [String: Int] = [:]
        while try statement.step() { counts[statement.string(0) ?? ""] = Int(statement.int(1)) }
        return counts
    }

    /// Records that the condition holds, in one transaction. It is notified when it was not raised (a new episode),
    /// or when its last notification is at least `repeatAfterMilliseconds` old; `notification` then gets the updated
    /// record and returns the job to queue (or `nil`). Otherwise only the message, context and `lastRaisedAt` change,
    /// and nothing is written when they are the same.
    /// - Parameter eventID: the stored event that caused the condition, if any (see the type's comment).
    public func raise(kind: String, subject: String, message: String, context: [String: String], eventID: Int64?, now: Int64,
                      repeatAfterMilliseconds: Int64, notification: (AlertRecord) -> NewJob?) throws -> AlertChange {
        let contextText = try AlertRows.contextText(context)
        if let unchanged = AlertRows.unchangedRaise(try alert(kind: kind, subject: subject), message: message,
                                                    context: context, now: now,
                                                    repeatAfterMilliseconds: repeatAfterMilliseconds) {
            return unchanged
        }
        return try database.transaction {
            let current = try alert(kind: kind, subject: subject)
            let raising = AlertRows.raising(current, kind: kind, subject: subject, message: message, context: context,
                                            now: now, repeatAfterMilliseconds: repeatAfterMilliseconds)
            let (newlyRaised, due) = (raising.newlyRaised, raising.due)
            var record = raising.record
            if due {
                record.eventID = try existingEvent(eventID) ?? existingEvent(record.eventID) ?? newestEvent()
            }
            // SQLite-specific: upsert `ON CONFLICT ... DO UPDATE ... excluded.`; `RETURNING` (PostgreSQL has it too).
            let upsert = try database.prepare("""
                INSERT INTO alerts (kind, subject, state, first_raised_at, last_raised_at, last_notified_at, times_notified,
                                    last_message, context, cleared_at, event_id)
                VALUES (?1, ?2, 'raised', ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)
                ON CONFLICT (kind, subject) DO UPDATE SET state = 'raised', first_raised_at = excluded.first_raised_at,
                    last_raised_at = excluded.last_raised_at, last_notified_at = excluded.last_notified_at,
                    times_notified = excluded.times_notified, last_message = excluded.last_message, context = excluded.context,
                    cleared_at = NULL, event_id = excluded.event_id
                RETURNING id
                """)
            try upsert.bind(1, kind)
            try upsert.bind(2, subject)
            try upsert.bind(3, record.firstRaisedAt)
            try upsert.bind(4, now)
            try upsert.bind(5, record.lastNotifiedAt)
            try upsert.bind(6, Int64(record.timesNotified))
            try upsert.bind(7, message)
            try upsert.bind(8, contextText)
            try upsert.bind(9, record.eventID)
            _ = try upsert.step()
            record.id = upsert.int(0)
            upsert.reset()
            let jobID = due ? try queue(notification(record), eventID: record.eventID, now: now) : nil
            return AlertChange(record: record, newlyRaised: newlyRaised, notified: due, jobID: jobID)
        }
    }

    /// Records that the condition no longer holds, in one transaction, if it was raised; `notification` gets the
    /// cleared record and returns the job to queue. - Returns: `nil` when it was not raised (nothing is written).
    public func clear(kind: String, subject: String, message: String, now: Int64,
                      notification: (AlertRecord) -> NewJob?) throws -> AlertChange? {
        guard try alert(kind: kind, subject: subject)?.state == .raised else { return nil }
        return try database.transaction {
            guard var record = try alert(kind: kind, subject: subject), record.state == .raised else { return nil }
            record = AlertRows.clearing(record, message: message, now: now)
            record.eventID = try existingEvent(record.eventID) ?? newestEvent()
            let update = try database.prepare("""
                UPDATE alerts SET state = 'cleared', cleared_at = ?2, last_message = ?3, event_id = ?4 WHERE id = ?1
                """)
            try update.bind(1, record.id)
            try update.bind(2, now)
            try update.bind(3, message)
            try update.bind(4, record.eventID)
            try update.run()
            let jobID = try queue(notification(record), eventID: record.eventID, now: now)
            return AlertChange(record: record, newlyRaised: false, notified: true, jobID: jobID)
        }
    }

    /// Inserts the notification job (inside the caller's transaction) under `eventID` unless it names its own.
    private func queue(_ job: NewJob?, eventID: Int64?, now: Int64) throws -> Int64? {
        guard let job, job.eventID ?? eventID != nil else { return nil }
        return try SQLiteJobQueue.insert([job], defaultEventID: eventID, now: now, into: database).first
    }

    private func existingEvent(_ id: Int64?) throws -> Int64? {
        guard let id else { return nil }
        let statement = try database.prepare("SELECT id FROM events WHERE id = ?1")
        try statement.bind(1, id)
        return try statement.step() ? id : nil
    }

    /// The newest stored event's id (what a job no event caused is attached to).
    public func newestEvent() throws -> Int64? {
        try database.scalarInt("SELECT max(id) FROM events")
    }
}
