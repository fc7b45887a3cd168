import SQLite
import Store

/// Segment membership: evaluating compiled segments, recording entries and exits, and the clock's re-evaluation.
extension SQLiteContactStore {
    /// Evaluates `queries` for one contact at `now` (a rule's `if:` filters), in one statement.
    /// - Returns: one value per query, in order; all `false` when there is no such contact (e.g. erased).
    /// - Throws: `ContactStorageError.segmentQuery` naming a query that does not compile, or `SQLiteError`.
    public func evaluate(contactID: Int64, queries: [SegmentQuery], now: Int64) throws -> [Bool] {
        guard !queries.isEmpty else { return [] }
        return try evaluateRow(queries, contactID: contactID, now: now) ?? Array(repeating: false, count: queries.count)
    }

    /// Re-evaluates engagement and segments for the contacts after `contactID` in id order, at most `limit` of
    /// them, in one transaction: what the clock alone changes (activity leaving the engagement window, days since the
    /// last engagement growing). Transitions are recorded unqueued (`unqueuedTransitions` hands them to the
    /// maintenance task) and carry the contact's latest applied event (0 for a contact no event was applied to).
    /// Call repeatedly with the returned `lastContactID` until it is `nil`; keep `limit` small (a few hundred) so
    /// the transaction stays short.
    /// - Returns: the transitions recorded, and the last contact id examined (`nil` when there were none left).
    public func reevaluate(after contactID: Int64, limit: Int, policy: EngagementPolicy, segments: [SegmentQuery],
                           now: Int64) throws -> (transitions: [SegmentTransition], lastContactID: Int64?) {
        try database.transaction {
            let batch = try rows("SELECT id, email, engagement FROM contacts WHERE id > ? ORDER BY id LIMIT ?",
                                 contactID, limit) { row in
                (id: row.int(0), email: try row.requiredString(1, column: "contacts.email"),
                 engagement: try row.requiredString(2, column: "contacts.engagement"))
            }
            var transitions: [SegmentTransition] = []
            for contact in batch {
                let level = try engagement(contactID: contact.id, policy: policy, now: now)
                if level.rawValue != contact.engagement {
                    try run("UPDATE contacts SET engagement = ?2, updated_at = ?3 WHERE id = ?1", contact.id,
                            level.rawValue, now)
                }
                transitions += try updateSegments(contactID: contact.id, email: contact.email, segments: segments,
                                                  now: now, queued: false, cause: { try self.latestEvent(of: contact.id) })
            }
            return (transitions, batch.last?.id)
        }
    }

    /// Transitions the clock caused that no rule has been started for yet, oldest first, with their row ids (for
    /// `markTransitionsQueued`).
    public func unqueuedTransitions(limit: Int) throws -> [(id: Int64, transition: SegmentTransition)] {
        try rows("""
            SELECT t.id, t.contact_id, c.email, t.segment, t.entered, t.entry, t.event_id FROM segment_transitions t
            JOIN contacts c ON c.id = t.contact_id WHERE t.queued = 0 ORDER BY t.id LIMIT ?
            """, limit) { row in
            (id: row.int(0), transition: SegmentTransition(
                contactID: row.int(1), email: try row.requiredString(2, column: "contacts.email"),
                segment: try row.requiredString(3, column: "segment_transitions.segment"),
                entered: row.int(4) != 0, entry: Int(row.int(5)), eventID: row.int(6)))
        }
    }

    /// Marks transitions as handed to their rules, in one transaction. Unknown ids are ignored.
    public func markTransitionsQueued(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try database.transaction {
            for id in ids { try run("UPDATE segment_transitions SET queued = 1 WHERE id = ?", id) }
        }
    }

    // MARK: Internals (inside a transaction)

    /// The event a clock-caused transition is attributed to: the contact's latest applied event, or 0.
    func latestEvent(of contactID: Int64) throws -> Int64 {
        try firstRow("SELECT coalesce(max(event_id), 0) FROM contact_events WHERE contact_id = ?", contactID) {
            $0.int(0)
        } ?? 0
    }

    /// Evaluates `segments` for the contact, compares with its recorded membership, and records each entry (the
    /// entry count grows by one) and exit as a transition attributed to `cause()` (called once, only if something
    /// changed). Segments missing from `segments` keep their recorded membership.
    func updateSegments(contactID: Int64, email: String, segments: [SegmentQuery], now: Int64, queued: Bool,
                        cause: () throws -> Int64) throws -> [SegmentTransition] {
        guard !segments.isEmpty, let values = try evaluateRow(segments, contactID: contactID, now: now) else { return [] }
        var members: [String: Bool] = [:]
        _ = try rows("SELECT segment, member FROM contact_segments WHERE contact_id = ?", contactID) { row in
            members[try row.requiredString(0, column: "contact_segments.segment")] = row.int(1) != 0
        }
        var eventID: Int64?
        var transitions: [SegmentTransition] = []
        for (segment, isMember) in ContactRows.membershipChanges(segments, values: values, recorded: members) {
            let entry: Int64?
            if isMember {
                entry = try firstRow("""
                    INSERT INTO contact_segments (contact_id, segment, member, entries, changed_at) VALUES (?1, ?2, 1, 1, ?3)
                    ON CONFLICT (contact_id, segment) DO UPDATE SET member = 1, entries = entries + 1,
                        changed_at = excluded.changed_at
                    RETURNING entries
                    """, contactID, segment.name, now) { $0.int(0) }
            } else {
                entry = try firstRow("""
                    UPDATE contact_segments SET member = 0, changed_at = ?3 WHERE contact_id = ?1 AND segment = ?2
                    RETURNING entries
                    """, contactID, segment.name, now) { $0.int(0) }
            }
            let cause = try eventID ?? cause()
            eventID = cause
            try run("""
                INSERT INTO segment_transitions (contact_id, segment, entered, entry, event_id, queued, at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, contactID, segment.name, isMember, entry ?? 0, cause, queued, now)
            transitions.append(SegmentTransition(contactID: contactID, email: email, segment: segment.name,
                                                 entered: isMember, entry: Int(entry ?? 0), eventID: cause))
        }
        return transitions
    }

    /// Every query's value for one contact, from one statement (`SELECT (q1), (q2), ... FROM contacts c WHERE
    /// c.id = ?`) compiled once per segment list. - Returns: `nil` when there is no such contact.
    func evaluateRow(_ queries: [SegmentQuery], contactID: Int64, now: Int64) throws -> [Bool]? {
        let sql: String
        if let cached = segmentSQLCache, cached.segments == queries {
            sql = cached.sql
        } else {
            let expressions = try queries.map { "(\(try Self.boundSQL($0)))" }
            sql = "SELECT \(expressions.joined(separator: ", ")) FROM contacts c WHERE c.id = ?"
            segmentSQLCache = (queries, sql)
        }
        var arguments: [any SQLBindable] = []
        for query in queries { arguments += Self.arguments(query, now: now) }
        arguments.append(contactID)
        do {
            return try firstRow(sql, arguments: arguments) { row in
                (0..<Int32(queries.count)).map { !row.isNull($0) && row.int($0) != 0 }
            }
        } catch let error as SQLiteError {
            for query in queries {
                if let message = compiles("SELECT (\(try Self.boundSQL(query))) FROM contacts c WHERE c.id = ?") {
                    throw ContactStorageError.segmentQuery(name: query.name, message: message)
                }
            }
            throw error
        }
    }

    /// `query.sql` with each `.real` parameter's placeholder written `CAST(? AS REAL)`: the SQLite wrapper binds no
    /// doubles, so a real is bound as its decimal text and SQLite converts it back (exactly, for the shortest
    /// round-trip form Swift prints). Placeholders inside quoted strings or identifiers are not counted.
    /// - Throws: `ContactStorageError.segmentQuery` when the placeholders and parameters differ in number.
    static func boundSQL(_ query: SegmentQuery) throws -> String {
        var result: [UInt8] = []
        result.reserveCapacity(query.sql.utf8.count)
        var placeholders = 0
        var closingQuote: UInt8?
        for byte in query.sql.utf8 {
            if let quote = closingQuote {
                if byte == quote { closingQuote = nil }
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "`") {
                closingQuote = byte
            } else if byte == UInt8(ascii: "[") {
                closingQuote = UInt8(ascii: "]")
            } else if byte == UInt8(ascii: "?") {
                defer { placeholders += 1 }
                if placeholders < query.parameters.count, case .real = query.parameters[placeholders] {
                    result += Array("CAST(? AS REAL)".utf8)
                    continue
                }
            }
            result.append(byte)
        }
        guard placeholders == query.parameters.count else {
            throw ContactStorageError.segmentQuery(
                name: query.name, message: "\(placeholders) placeholders but \(query.parameters.count) parameters")
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// The values to bind for `query`'s placeholders, in order.
    static func arguments(_ query: SegmentQuery, now: Int64) -> [any SQLBindable] {
        query.parameters.map { parameter -> any SQLBindable in
            switch parameter {
            case .text(let text): text
            case .integer(let value): value
            case .now: now
            case .real(let value):
                if value.isNaN { nil as String? } else if value.isInfinite { value > 0 ? "9e999" : "-9e999" } else { "\(value)" }
            }
        }
    }
}
