import Alerts
import Contacts
import HookyardFoundation
import PostgreSQL
import Store

/// What workflow steps read and write in the PostgreSQL database besides the queue (`WorkflowRecords`): the event a
/// job was caused by, recorded purchases and payment links, and the contacts given at init (the worker's
/// `ContactStorage`, whichever type it is). Same behaviour as `SQLiteWorkflowStore`, call for call; a stored event
/// source Hookyard never writes is an error (`PostgreSQLDecodingError`).
///
/// Across nodes, what must happen once is decided by a unique key in the statement itself:
/// - `recordPurchase`: `INSERT … ON CONFLICT (reference) DO NOTHING RETURNING id`. Of two nodes recording the same
///   reference at once, the second waits on the first's index entry until it commits, then inserts nothing: exactly
///   one call reports `created`.
/// - `recordPaymentLinkSent`: `INSERT … ON CONFLICT (link_id) DO NOTHING`, the same way: one call reports `true`.
/// The rule-run caps (`max_per_day`, a rule's daily total), rollout holdbacks and own writes are the contacts'
/// (`ContactStorage.admitRuleRun`, `recordHoldback`, `recordOwnWrite`), protected by the PostgreSQL contact store.
///
/// Statements are prepared once per connection. Not thread-safe: one per worker thread, like the job queue.
public final class PostgreSQLWorkflowStore: WorkflowRecords {
    let connection: PostgreSQLConnection
    private let ownsConnection: Bool
    /// The worker's contacts (their own connection or this one, as the caller chose); `close()` closes them.
    public let contacts: any ContactStorage

    /// Opens a connection of its own (migrating the schema if needed) for the records, with `contacts` beside it;
    /// `close()` closes both.
    /// - Parameter durableCommits: true (the default) for the records: a purchase or a sent link is recorded once and
    ///   never re-derived, so its commit waits for the server's flush.
    public convenience init(url: String, password: String?, contacts: any ContactStorage, durableCommits: Bool = true) throws {
        self.init(connection: try PostgreSQLStoreConnection.open(url: url, password: password, durableCommits: durableCommits),
                  contacts: contacts, ownsConnection: true)
    }

    /// Uses `connection` (migrated), which its owner closes and other storage types may share, and `contacts`, which
    /// `close()` closes.
    public convenience init(connection: PostgreSQLConnection, contacts: any ContactStorage) {
        self.init(connection: connection, contacts: contacts, ownsConnection: false)
    }

    /// Takes `connection` (migrated) as its own: `close()` closes it (a read-only session a caller prepared).
    public convenience init(owning connection: PostgreSQLConnection, contacts: any ContactStorage) {
        self.init(connection: connection, contacts: contacts, ownsConnection: true)
    }

    private init(connection: PostgreSQLConnection, contacts: any ContactStorage, ownsConnection: Bool) {
        self.connection = connection
        self.contacts = contacts
        self.ownsConnection = ownsConnection
    }

    /// A deliverability reader on this store's connection (for the worker that just applied an event); it lives no
    /// longer than the store.
    public func deliverabilityReader() -> any DeliverabilityRatesReading { PostgreSQLDeliverabilityReader(connection: connection) }

    /// Closes the contacts, and the connection when the store opened it.
    public func close() {
        contacts.close()
        if ownsConnection { connection.close() }
    }

    public func eventHeader(id: Int64) throws -> (source: EventSource, type: String)? {
        guard let row = try connection.query("SELECT source, type FROM events WHERE id = $1", [id]).first else { return nil }
        return (try row.value(EventSource.self, 0), try row.string(1))
    }

    public func event(id: Int64) throws -> (source: EventSource, type: String, body: [UInt8])? {
        guard let row = try connection.query("SELECT source, type, body FROM events WHERE id = $1", [id]).first else { return nil }
        return (try row.value(EventSource.self, 0), try row.string(1), try row.bytes(2))
    }

    public func createdPaymentLink(id: String) throws -> CreatedPaymentLink? {
        try CreatedPaymentLink.readForWorkflowStore(id: id, from: connection)
    }

    /// Records a purchase unless one with the same reference exists (see the type's comment for two nodes at once).
    /// - Returns: the purchase's row id and whether this call created it.
    public func recordPurchase(_ purchase: Purchase, now: Int64) throws -> (id: Int64, created: Bool) {
        try connection.transaction {
            // PostgreSQL-specific: `RETURNING` gives the new row's id; none comes back when the reference exists.
            let inserted = try connection.query("""
                INSERT INTO purchases (event_id, reference, email, amount, currency, campaign_id, payment_link, rule, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (reference) DO NOTHING RETURNING id
                """, [purchase.eventID, purchase.reference, EmailAddress.normalizedOrNil(purchase.email), purchase.amount,
                      purchase.currency, purchase.campaignID, purchase.paymentLink, purchase.rule, now])
            if let row = inserted.first { return (try row.int(0), true) }
            guard let existing = try connection.query("SELECT id FROM purchases WHERE reference = $1", [purchase.reference]).first else {
                throw StoreError.corrupt("purchase \(purchase.reference) conflicted but is not stored")
            }
            return (try existing.int(0), false)
        }
    }

    /// Records a payment link a step created, once per link id (see the type's comment for two nodes at once); `url`
    /// is stored without its query, the contact is the one with `email`, if any.
    /// - Returns: `true` when this call recorded it.
    @discardableResult
    public func recordPaymentLinkSent(linkID: String, url: String, email: String?, campaignID: String?, rule: String,
                                      jobID: Int64, now: Int64) throws -> Bool {
        try connection.query("""
            INSERT INTO payment_links_sent (link_id, url, contact_id, campaign_id, rule, job_id, created_at)
            VALUES ($1, $2, (SELECT id FROM contacts WHERE email = $3::text), $4, $5, $6, $7) ON CONFLICT (link_id) DO NOTHING
            """, [linkID, String(url.prefix { $0 != "?" }), email, campaignID, rule, jobID, now]).changedRows == 1
    }

    /// Every purchase, oldest first.
    public func purchases() throws -> [Purchase] {
        try connection.query("""
            SELECT event_id, reference, email, amount, currency, campaign_id, payment_link, rule FROM purchases ORDER BY id
            """).rows.map { row in
            Purchase(eventID: try row.int(0), reference: try row.string(1), email: row.optionalString(2), amount: try row.int(3),
                     currency: try row.string(4), campaignID: row.optionalString(5), paymentLink: row.optionalString(6),
                     rule: try row.string(7))
        }
    }
}
