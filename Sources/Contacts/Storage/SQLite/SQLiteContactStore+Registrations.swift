import SQLite
import Store

/// Registrations: a contact's place for a catalog product (an event, a course), recorded by the `contact.register`
/// workflow action, counted per product against its seats.
extension SQLiteContactStore {
    /// Registers `email` for `product`, in one transaction: creates the contact if missing (first seen `now`),
    /// records the registration under `reference`, counts the product's registrations, and re-evaluates the
    /// contact's segments (`registered_for` may have changed).
    ///
    /// Idempotent: a `reference` recorded before, or a second registration of the same contact for the same
    /// product (under another reference), stores nothing and returns `created: false` with the counts of the
    /// registration recorded first (its own place in line), so a step that runs again reports what it reported the
    /// first time. Segment changes carry `eventID` and are recorded unqueued, like those of `linkLead`: the caller
    /// starts their rules, and the maintenance pass does so should the caller crash first (flow keys are unique, so
    /// never twice).
    /// - Parameters:
    ///   - product: the catalog product key; the caller checks it names a product.
    ///   - reference: what the registration came from (a Checkout Session id); unique across every product.
    ///   - seats: the product's seats; `nil` when it has no limit (then `seatsLeft` is `nil` and `soldOut` false).
    /// - Throws: `ContactStorageError.emptyEmail` for a blank address, `.emptyRegistration` for an empty product or
    ///   reference, `ContactStorageError.segmentQuery` for a segment that cannot be evaluated, or `SQLiteError`
    ///   (nothing is written).
    public func register(email: String, product: String, reference: String, seats: Int?, eventID: Int64,
                         segments: [SegmentQuery], now: Int64) throws -> RegistrationResult {
        try ContactRows.checkRegistration(product: product, reference: reference)
        return try database.transaction {
            let contact = try findOrCreateContact(email: ContactObservation.normalise(email: email), firstSeenAt: now, now: now)
            let inserted = try firstRow("""
                INSERT INTO contact_registrations (contact_id, product, reference, event_id, registered_at)
                VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id
                """, contact.id, product, reference, eventID, now) { $0.int(0) }
            let registration: (id: Int64, product: String)
            if let inserted {
                registration = (inserted, product)
                try run("UPDATE contacts SET updated_at = ?2 WHERE id = ?1", contact.id, now)
            } else {
                // The reference first: it names exactly one registration; else this contact's for the product.
                guard let earlier = try firstRow("""
                    SELECT id, product FROM (
                        SELECT 0 AS rank, id, product FROM contact_registrations WHERE reference = ?1
                        UNION ALL
                        SELECT 1, id, product FROM contact_registrations WHERE contact_id = ?2 AND product = ?3
                    ) ORDER BY rank LIMIT 1
                    """, reference, contact.id, product, row: {
                        (id: $0.int(0), product: try $0.requiredString(1, column: "contact_registrations.product"))
                    }) else {
                    preconditionFailure("a registration conflicted on a unique key, yet neither of its keys finds one")
                }
                registration = earlier
            }
            let count = try firstRow("""
                SELECT count(*) FROM contact_registrations WHERE product = ? AND id <= ?
                """, registration.product, registration.id) { Int($0.int(0)) } ?? 0
            let address = try firstRow("SELECT email FROM contacts WHERE id = ?", contact.id) {
                try $0.requiredString(0, column: "contacts.email")
            } ?? ""
            let transitions = try updateSegments(contactID: contact.id, email: address, segments: segments, now: now,
                                                 queued: false, cause: { eventID })
            return RegistrationResult(contactID: contact.id, created: inserted != nil, product: registration.product,
                                      registrations: count, seats: seats, transitions: transitions)
        }
    }

    /// How many registrations `product` has now.
    public func registrationCount(product: String) throws -> Int {
        try firstRow("SELECT count(*) FROM contact_registrations WHERE product = ?", product) { Int($0.int(0)) } ?? 0
    }

    /// The contact's registrations, oldest first.
    func registrations(contactID: Int64) throws -> [ContactRegistration] {
        try rows("""
            SELECT product, reference, event_id, registered_at FROM contact_registrations WHERE contact_id = ? ORDER BY id
            """, contactID) { row in
            ContactRegistration(product: try row.requiredString(0, column: "contact_registrations.product"),
                                reference: try row.requiredString(1, column: "contact_registrations.reference"),
                                eventID: row.int(2),
                                registeredAt: row.int(3))
        }
    }
}
