import Foundation
import PostgreSQL
import Store

/// The durable state of alert conditions on PostgreSQL (`AlertStorage`, table `alerts`), shared by every node, and
/// the notification jobs created with each change in the same transaction, so a crash can neither notify without
/// recording it nor record without notifying. Same behaviour as `SQLiteAlertStore`, call for call.
///
/// Every job belongs to a stored event: the event given, else the event of the condition's previous notification,
/// else the newest stored event; with no event at all none is created (the caller still logs).
///
/// Across nodes: `raise` and `clear` lock the condition's row (`SELECT … FOR UPDATE`; a condition not yet stored is
/// claimed with `INSERT … ON CONFLICT (kind, subject) DO NOTHING`, which waits for a concurrent insert of the same
/// condition to commit), so two nodes raising the same condition at once store one alert, begin one episode and
/// queue one notification; the other node's call sees the first one's row and notifies only if it is due.
///
/// A stored state or context Hookyard never writes is an error (`PostgreSQLDecodingError`), never read as `cleared`.
///
/// Not thread-safe: one `PostgreSQLAlertStore` (one connection) per thread or behind a lock.
public final class PostgreSQLAlertStore: AlertStorage {
    private let connection: PostgreSQLConnection
    private let ownsConnection: Bool

    /// Opens a connection of its own (migrating the schema if needed); `close()` closes it.
    /// - Parameter durableCommits: `false` (the daemon) commits with `synchronous_commit = off`: a server crash may
    ///   roll back the last alert changes, which at worst notifies a condition once more.
    public convenience init(url: String, password: String?, durableCommits: Bool = true) throws {
        self.init(connection: try PostgreSQLStoreConnection.open(url: url, password: password, durableCommits: durableCommits),
                  ownsConnection: true)
    }

    /// Uses `connection` (migrated, opened by `PostgreSQLStoreConnection`), which its owner closes and other storage
    /// types may share.
    public convenience init(connection: PostgreSQLConnection) {
        self.init(connection: connection, ownsConnection: false)
    }

    private init(connection: PostgreSQLConnection, ownsConnection: Bool) {
        self.connection = connection
        self.ownsConnection = ownsConnection
    }

    /// Closes the connection when the store opened it. Safe to call twice.
    public func close() {
        if ownsConnection { connection.close() }
    }

    /// - Throws: `PostgreSQLDecodingError` for a state or a context Hookyard never writes.
    private func record(from row: PostgreSQLRow) throws -> AlertRecord {
        // Written only by `raise` as a JSON object of strings: anything else is an impossible value.
        guard let context = AlertRows.context(fromText: row.optionalString(9)) else {
            throw row.decodingError([String: String].self, 9)
        }
        return AlertRecord(id: try row.int(0), kind: try row.string(1), subject: try row.string(2),
                           state: try row.value(AlertState.self, 3), firstRaisedAt: try row.int(4),
                           lastRaisedAt: try row.int(5), lastNotifiedAt: try row.optionalInt(6), timesNotified: Int(try row.int(7)),
                           message: try row.string(8), context: context, clearedAt: try row.optionalInt(10),
                           eventID: try row.optionalInt(11))
    }

    public func alert(kind: String, subject: String) throws -> AlertRecord? {
        try connection.query("SELECT \(AlertRows.columns) FROM alerts WHERE kind = $1 AND subject = $2", [kind, subject])
            .first.map(record(from:))
    }

    /// The condition's row, locked until the transaction ends (`FOR UPDATE`).
    private func lockedAlert(kind: String, subject: String) throws -> AlertRecord? {
        try connection.query("SELECT \(AlertRows.columns) FROM alerts WHERE kind = $1 AND subject = $2 FOR UPDATE", [kind, subject])
            .first.map(record(from:))
    }

    /// Raised conditions (most recently raised first), then, with `includeCleared`, cleared ones (most recently
    /// cleared first).
    public func alerts(includeCleared: Bool) throws -> [AlertRecord] {
        try connection.query("""
            SELECT \(AlertRows.columns) FROM alerts WHERE state = 'raised' OR $1
            ORDER BY state = 'cleared', coalesce(cleared_at, first_raised_at) DESC, id DESC
            """, [includeCleared]).rows.map(record(from:))
    }

    public func raisedSubjects(kind: String) throws -> [String] {
        try connection.query("SELECT subject FROM alerts WHERE state = 'raised' AND kind = $1 ORDER BY subject", [kind])
            .rows.map { try $0.string(0) }
    }

    /// Whether any of `subjects` of `kind` is raised. - Complexity: one index lookup per subject.
    public func anyRaised(kind: String, subjects: [String]) throws -> Bool {
        // PostgreSQL-specific: `jsonb_array_elements_text` (SQLite: `json_each`).
        let list = String(decoding: try JSONSerialization.data(withJSONObject: subjects), as: UTF8.self)
        return try connection.query("""
            SELECT 1 FROM alerts WHERE kind = $1 AND state = 'raised'
            AND subject IN (SELECT jsonb_array_elements_text($2::jsonb)) LIMIT 1
            """, [kind, list]).count > 0
    }

    public func raisedCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try connection.query("SELECT kind, count(*) FROM alerts WHERE state = 'raised' GROUP BY kind").rows {
            counts[try row.string(0)] = Int(try row.int(1))
        }
        return counts
    }

    /// As `SQLiteAlertStore.raise`: records that the condition holds, in one transaction, notifying a new episode or
    /// a repeat that is due. Across nodes: the row is locked (or claimed, for a condition never stored) before it is
    /// read in the transaction, so of two nodes raising the same condition at once one begins the episode and the
    /// other sees it.
    public func raise(kind: String, subject: String, message: String, context: [String: String], eventID: Int64?, now: Int64,
                      repeatAfterMilliseconds: Int64, notification: (AlertRecord) -> NewJob?) throws -> AlertChange {
        let contextText = try AlertRows.contextText(context)
        if let unchanged = AlertRows.unchangedRaise(try alert(kind: kind, subject: subject), message: message,
                                                    context: context, now: now,
                                                    repeatAfterMilliseconds: repeatAfterMilliseconds) {
            return unchanged
        }
        return try connection.transaction {
            var current = try lockedAlert(kind: kind, subject: subject)
            if current == nil {
                // PostgreSQL-specific: claim the condition's row. A node inserting the same condition concurrently
                // holds its unique-index entry; this insert waits for that node's commit and then does nothing, and
                // the row it committed is read (and locked) instead.
                let claimed = try connection.query("""
                    INSERT INTO alerts (kind, subject, state, first_raised_at, last_raised_at, times_notified, last_message, context)
                    VALUES ($1, $2, 'raised', $3, $3, 0, $4, $5) ON CONFLICT (kind, subject) DO NOTHING RETURNING id
                    """, [kind, subject, now, message, contextText])
                if claimed.count == 0 { current = try lockedAlert(kind: kind, subject: subject) }
            }
            let raising = AlertRows.raising(current, kind: kind, subject: subject, message: message, context: context,
                                            now: now, repeatAfterMilliseconds: repeatAfterMilliseconds)
            let (newlyRaised, due) = (raising.newlyRaised, raising.due)
            var record = raising.record
            if due {
                record.eventID = try existingEvent(eventID) ?? existingEvent(record.eventID) ?? newestEvent()
            }
            // The row exists now (claimed above or locked), so this is an update of the locked row.
            guard let row = try connection.query("""
                UPDATE alerts SET state = 'raised', first_raised_at = $3, last_raised_at = $4, last_notified_at = $5,
                    times_notified = $6, last_message = $7, context = $8, cleared_at = NULL, event_id = $9
                WHERE kind = $1 AND subject = $2 RETURNING id
                """, [kind, subject, record.firstRaisedAt, now, record.lastNotifiedAt, Int64(record.timesNotified), message,
                      contextText, record.eventID]).first else {
                throw StoreError.corrupt("alert \(kind)/\(subject) vanished inside its own transaction")
            }
            record.id = try row.int(0)
            let jobID = due ? try queue(notification(record), eventID: record.eventID, now: now) : nil
            return AlertChange(record: record, newlyRaised: newlyRaised, notified: due, jobID: jobID)
        }
    }

    /// Records that the condition no longer holds, in one transaction, if it was raised; `notification` gets the
    /// cleared record and returns the job to queue. - Returns: `nil` when it was not raised (nothing is written).
    /// Across nodes: the row is locked before its state is checked, so two nodes clearing at once clear (and notify)
    /// once.
    public func clear(kind: String, subject: String, message: String, now: Int64,
                      notification: (AlertRecord) -> NewJob?) throws -> AlertChange? {
        guard try alert(kind: kind, subject: subject)?.state == .raised else { return nil }
        return try connection.transaction {
            guard var record = try lockedAlert(kind: kind, subject: subject), record.state == .raised else { return nil }
            record = AlertRows.clearing(record, message: message, now: now)
            record.eventID = try existingEvent(record.eventID) ?? newestEvent()
            try connection.query("UPDATE alerts SET state = 'cleared', cleared_at = $2, last_message = $3, event_id = $4 WHERE id = $1",
                                 [record.id, now, message, record.eventID])
            let jobID = try queue(notification(record), eventID: record.eventID, now: now)
            return AlertChange(record: record, newlyRaised: false, notified: true, jobID: jobID)
        }
    }

    /// The channel idle workers listen on for new jobs (the PostgreSQL job queue's `NOTIFY hookyard_jobs`).
    static let jobsChannel = "hookyard_jobs"

    /// Inserts the notification job (inside the caller's transaction) under `eventID` unless it names its own; a job
    /// whose idempotency key exists already is not created again (as `SQLiteJobQueue.insert`). A created job is
    /// announced on `jobsChannel` when the transaction commits, so an idle worker on any node wakes for it.
    private func queue(_ job: NewJob?, eventID: Int64?, now: Int64) throws -> Int64? {
        guard let job, let owner = job.eventID ?? eventID else { return nil }
        let id = try connection.query("""
            INSERT INTO jobs (event_id, kind, next_run_at, idempotency_key, input, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
            """, [owner, job.kind, job.runAt, job.idempotencyKey, job.input, now]).first.map { try $0.int(0) }
        if id != nil { try connection.notify(Self.jobsChannel) }
        return id
    }

    private func existingEvent(_ id: Int64?) throws -> Int64? {
        guard let id else { return nil }
        return try connection.query("SELECT id FROM events WHERE id = $1", [id]).count > 0 ? id : nil
    }

    public func newestEvent() throws -> Int64? {
        try connection.query("SELECT max(id) FROM events").first?.optionalInt(0)
    }
}
