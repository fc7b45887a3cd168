import PostgreSQL
import Store

/// Registrations on PostgreSQL: a contact's place for a catalog product, counted per product against its seats.
extension PostgreSQLContactStore {
    /// Registers `email` for `product`, as `SQLiteContactStore.register` does, in one transaction.
    ///
    /// Two nodes registering at once: an advisory lock keyed by the product makes registrations of one product
    /// commit one at a time, so ids grow in commit order and each registration's place in line (`registrations`) is
    /// the count of those before it; the insert's `ON CONFLICT DO NOTHING` on the reference and on (contact,
    /// product) makes a repeated registration store nothing; the contact's row is held for its segments.
    public func register(email: String, product: String, reference: String, seats: Int?, eventID: Int64,
                         segments: [SegmentQuery], now: Int64) throws -> RegistrationResult {
        try ContactRows.checkRegistration(product: product, reference: reference)
        return try connection.transaction {
            try checkCompiles(segments)
            let normalised = ContactObservation.normalise(email: email)
            guard !normalised.isEmpty else { throw ContactStorageError.emptyEmail }
            try advisoryLock("product:\(product)")
            let contact = try findOrCreateContact(email: normalised, firstSeenAt: now, now: now)
            let inserted = try firstRow("""
                INSERT INTO contact_registrations (contact_id, product, reference, event_id, registered_at)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id
                """, contact.id, product, reference, eventID, now) { try $0.int(0) }
            let registration: (id: Int64, product: String)
            if let inserted {
                registration = (inserted, product)
                try run("UPDATE contacts SET updated_at = $2 WHERE id = $1", contact.id, now)
            } else {
                guard let earlier = try firstRow("""
                    SELECT id, product FROM (
                        SELECT 0 AS rank, id, product FROM contact_registrations WHERE reference = $1
                        UNION ALL
                        SELECT 1, id, product FROM contact_registrations WHERE contact_id = $2 AND product = $3
                    ) AS found ORDER BY rank LIMIT 1
                    """, reference, contact.id, product, row: { (id: try $0.int(0), product: try $0.string(1)) }) else {
                    preconditionFailure("a registration conflicted on a unique key, yet neither of its keys finds one")
                }
                registration = earlier
            }
            let count = try firstRow("""
                SELECT count(*) FROM contact_registrations WHERE product = $1 AND id <= $2
                """, registration.product, registration.id) { Int(try $0.int(0)) } ?? 0
            let address = try contactEmail(contact.id)
            let transitions = try updateSegments(contactID: contact.id, email: address, segments: segments, now: now,
                                                 queued: false, cause: { eventID })
            return RegistrationResult(contactID: contact.id, created: inserted != nil, product: registration.product,
                                      registrations: count, seats: seats, transitions: transitions)
        }
    }

    /// How many registrations `product` has now.
    public func registrationCount(product: String) throws -> Int {
        try firstRow("SELECT count(*) FROM contact_registrations WHERE product = $1", product) { Int(try $0.int(0)) } ?? 0
    }

    /// The contact's registrations, oldest first.
    func registrations(contactID: Int64) throws -> [ContactRegistration] {
        try rows("""
            SELECT product, reference, event_id, registered_at FROM contact_registrations WHERE contact_id = $1 ORDER BY id
            """, contactID) { row in
            ContactRegistration(product: try row.string(0), reference: try row.string(1), eventID: try row.int(2),
                                registeredAt: try row.int(3))
        }
    }
}
