import PostgreSQL
import Store

/// Segment membership on PostgreSQL: evaluating segments (their `postgreSQL` dialect), recording entries and exits,
/// and the clock's re-evaluation.
extension PostgreSQLContactStore {
    /// Evaluates `queries` for one contact at `now`, in one statement; all `false` when there is no such contact.
    /// - Throws: `ContactStorageError.segmentQuery` naming a query that has no PostgreSQL form or does not compile.
    public func evaluate(contactID: Int64, queries: [SegmentQuery], now: Int64) throws -> [Bool] {
        guard !queries.isEmpty else { return [] }
        try checkCompiles(queries)
        return try evaluateRow(queries, contactID: contactID, now: now) ?? Array(repeating: false, count: queries.count)
    }

    /// Re-evaluates engagement and segments for at most `limit` contacts after `contactID`, as the SQLite store does,
    /// in one transaction. The batch's rows are held (`FOR UPDATE`, in id order) so an event applied to one of them
    /// meanwhile on another node waits, and membership is never compared against a stale state.
    public func reevaluate(after contactID: Int64, limit: Int, policy: EngagementPolicy, segments: [SegmentQuery],
                           now: Int64) throws -> (transitions: [SegmentTransition], lastContactID: Int64?) {
        try connection.transaction {
            try checkCompiles(segments)
            let batch = try rows("""
                SELECT id, email, engagement FROM contacts WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE
                """, contactID, limit) { row in
                (id: try row.int(0), email: try row.string(1), engagement: try row.string(2))
            }
            var transitions: [SegmentTransition] = []
            for contact in batch {
                let level = try engagement(contactID: contact.id, policy: policy, now: now)
                if level.rawValue != contact.engagement {
                    try run("UPDATE contacts SET engagement = $2, updated_at = $3 WHERE id = $1", contact.id,
                            level.rawValue, now)
                }
                transitions += try updateSegments(contactID: contact.id, email: contact.email, segments: segments,
                                                  now: now, queued: false, cause: { try self.latestEvent(of: contact.id) })
            }
            return (transitions, batch.last?.id)
        }
    }

    /// Transitions the clock caused that no rule has been started for yet, oldest first, with their row ids.
    public func unqueuedTransitions(limit: Int) throws -> [(id: Int64, transition: SegmentTransition)] {
        try rows("""
            SELECT t.id, t.contact_id, c.email, t.segment, t.entered, t.entry, t.event_id FROM segment_transitions t
            JOIN contacts c ON c.id = t.contact_id WHERE t.queued = 0 ORDER BY t.id LIMIT $1
            """, limit) { row in
            (id: try row.int(0), transition: SegmentTransition(
                contactID: try row.int(1), email: try row.string(2), segment: try row.string(3),
                entered: try row.int(4) != 0, entry: Int(try row.int(5)), eventID: try row.int(6)))
        }
    }

    /// Marks transitions as handed to their rules, in one statement (idempotent). Unknown ids are ignored.
    public func markTransitionsQueued(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        // PostgreSQL-specific: the ids as one array parameter.
        try run("UPDATE segment_transitions SET queued = 1 WHERE id = ANY($1::bigint[])", Self.array(ids))
    }

    /// `{1,2,3}`: an id list as a PostgreSQL array literal, bound as one text parameter.
    static func array<S: Sequence>(_ ids: S) -> String where S.Element == Int64 {
        "{" + ids.map(String.init).joined(separator: ",") + "}"
    }

    // MARK: Internals (inside a transaction)

    /// The event a clock-caused transition is attributed to: the contact's latest applied event, or 0.
    func latestEvent(of contactID: Int64) throws -> Int64 {
        try firstRow("SELECT coalesce(max(event_id), 0) FROM contact_events WHERE contact_id = $1", contactID) {
            try $0.int(0)
        } ?? 0
    }

    /// Evaluates `segments` for the contact, compares with its recorded membership, and records each entry and exit
    /// as a transition attributed to `cause()`, as the SQLite store does. The caller holds the contact's row.
    func updateSegments(contactID: Int64, email: String, segments: [SegmentQuery], now: Int64, queued: Bool,
                        cause: () throws -> Int64) throws -> [SegmentTransition] {
        guard !segments.isEmpty, let values = try evaluateRow(segments, contactID: contactID, now: now) else { return [] }
        var members: [String: Bool] = [:]
        _ = try rows("SELECT segment, member FROM contact_segments WHERE contact_id = $1", contactID) { row in
            members[try row.string(0)] = try row.int(1) != 0
        }
        var eventID: Int64?
        var transitions: [SegmentTransition] = []
        for (segment, isMember) in ContactRows.membershipChanges(segments, values: values, recorded: members) {
            let entry: Int64?
            if isMember {
                entry = try firstRow("""
                    INSERT INTO contact_segments (contact_id, segment, member, entries, changed_at) VALUES ($1, $2, 1, 1, $3)
                    ON CONFLICT (contact_id, segment) DO UPDATE SET member = 1, entries = contact_segments.entries + 1,
                        changed_at = excluded.changed_at
                    RETURNING entries
                    """, contactID, segment.name, now) { try $0.int(0) }
            } else {
                entry = try firstRow("""
                    UPDATE contact_segments SET member = 0, changed_at = $3 WHERE contact_id = $1 AND segment = $2
                    RETURNING entries
                    """, contactID, segment.name, now) { try $0.int(0) }
            }
            let cause = try eventID ?? cause()
            eventID = cause
            try run("""
                INSERT INTO segment_transitions (contact_id, segment, entered, entry, event_id, queued, at)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, contactID, segment.name, isMember ? 1 : 0, entry ?? 0, cause, queued ? 1 : 0, now)
            transitions.append(SegmentTransition(contactID: contactID, email: email, segment: segment.name,
                                                 entered: isMember, entry: Int(entry ?? 0), eventID: cause))
        }
        return transitions
    }

    /// Every query's value for one contact, from one statement compiled once per segment list.
    /// - Returns: `nil` when there is no such contact.
    func evaluateRow(_ queries: [SegmentQuery], contactID: Int64, now: Int64) throws -> [Bool]? {
        let sql: String
        if let cached = segmentSQLCache, cached.segments == queries {
            sql = cached.sql
        } else {
            var expressions: [String] = []
            var next = 1
            for query in queries {
                let expression = try Self.numberedSQL(query, from: &next)
                expressions.append("(" + expression + ")")
            }
            sql = "SELECT \(expressions.joined(separator: ", ")) FROM contacts c WHERE c.id = $\(next)"
            segmentSQLCache = (queries, sql)
        }
        var arguments: [any PostgreSQLEncodable] = []
        for query in queries { arguments += Self.arguments(query, now: now) }
        arguments.append(contactID)
        guard let row = try connection.query(sql, arguments).first else { return nil }
        return try (0..<queries.count).map { try row.optionalBool($0) ?? false }
    }

    /// Checks, once per query and store, that each query has a PostgreSQL form that compiles, so a broken one is
    /// reported by name (`ContactStorageError.segmentQuery`) instead of as the combined statement's error. Runs first
    /// in the caller's transaction (whose rollback the error then causes, as the SQLite store's) or on its own.
    func checkCompiles(_ queries: [SegmentQuery]) throws {
        for query in queries where !compiledQueries.contains(query) {
            var next = 1
            let expression = try Self.numberedSQL(query, from: &next)
            let sql = "SELECT (" + expression + ") FROM contacts c WHERE FALSE"
            let failure: PostgreSQLError?
            do {
                try connection.queryOnce(sql, Self.arguments(query, now: 0))
                failure = nil
            } catch {
                failure = error
            }
            if let failure {
                if failure.isConnectionFailure { throw failure }
                throw ContactStorageError.segmentQuery(name: query.name, message: failure.message)
            }
            if compiledQueries.count >= 256 { compiledQueries.removeAll() }
            compiledQueries.append(query)
        }
    }

    /// `query.postgreSQL` with its `?` placeholders numbered `$next`, `$next+1`, … and cast to their parameter's
    /// type (`::text`, `::bigint`, `::float8`), so PostgreSQL never has to guess one. Placeholders inside quoted
    /// strings or identifiers are not counted.
    /// - Throws: `ContactStorageError.segmentQuery` for a query without a PostgreSQL form, or when the placeholders
    ///   and parameters differ in number.
    static func numberedSQL(_ query: SegmentQuery, from next: inout Int) throws -> String {
        guard let text = query.postgreSQL else {
            throw ContactStorageError.segmentQuery(name: query.name, message: "it has no PostgreSQL form (written for SQLite only)")
        }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8 * query.parameters.count)
        var placeholders = 0
        var closingQuote: Character?
        for character in text {
            if let quote = closingQuote {
                if character == quote { closingQuote = nil }
            } else if character == "'" || character == "\"" {
                closingQuote = character
            } else if character == "?" {
                defer { placeholders += 1 }
                if placeholders < query.parameters.count {
                    let cast = switch query.parameters[placeholders] {
                    case .text: "text"
                    case .integer, .now: "bigint"
                    case .real: "float8"
                    }
                    result += "$\(next)::\(cast)"
                    next += 1
                    continue
                }
            }
            result.append(character)
        }
        guard placeholders == query.parameters.count else {
            throw ContactStorageError.segmentQuery(
                name: query.name, message: "\(placeholders) placeholders but \(query.parameters.count) parameters")
        }
        return result
    }

    /// The values to bind for `query`'s placeholders, in order. A NaN real is NULL, as SQLite binds it.
    static func arguments(_ query: SegmentQuery, now: Int64) -> [any PostgreSQLEncodable] {
        query.parameters.map { parameter -> any PostgreSQLEncodable in
            switch parameter {
            case .text(let text): text
            case .integer(let value): value
            case .now: now
            case .real(let value): value.isNaN ? nil as Double? : value
            }
        }
    }
}
