import Alerts
import Contacts
import HookyardFoundation
import SQLite
import Store

/// What workflow steps read and write in the SQLite database besides the queue (`WorkflowRecords`): the event a job
/// was caused by, recorded purchases, and the contacts. Each call is one statement or transaction. A stored event
/// source Hookyard never writes is an error (`SQLiteDecodingError`).
///
/// Its statements are compiled once per connection (`cachedStatement(sql:)`).
/// Not thread-safe: one per worker thread, like `SQLiteJobQueue`.
public final class SQLiteWorkflowStore: WorkflowRecords {
    let database: SQLiteDatabase
    /// The contacts, on a connection of their own with `synchronous=NORMAL`: contact state is derived from events
    /// that are stored durably, and a change rolled back by a power loss is applied again when its job reruns.
    public let sqliteContacts: SQLiteContactStore
    /// `sqliteContacts`, as the engine sees it.
    public var contacts: any ContactStorage { sqliteContacts }

    /// Opens an existing database and migrates it if needed.
    public convenience init(path: String) throws {
        self.init(database: try StoreConnection.openExisting(path: path),
                  contacts: try SQLiteContactStore(path: path, durableCommits: false))
    }

    /// Uses `database`, a connection opened by `StoreConnection` (migrated), which other storage types may share, and
    /// `contacts`; `close()` closes both.
    public init(database: SQLiteDatabase, contacts: SQLiteContactStore) {
        self.database = database
        sqliteContacts = contacts
    }

    /// A deliverability reader on this store's connection (for the worker that just applied an event); it lives no
    /// longer than the store.
    public func deliverabilityReader() -> any DeliverabilityRatesReading { SQLiteDeliverabilityReader(sharing: database) }

    public func close() {
        sqliteContacts.close()
        database.close()
    }

    /// The source and type of the stored event with row id `id` (without reading its body).
    public func eventHeader(id: Int64) throws -> (source: EventSource, type: String)? {
        let statement = try database.cachedStatement(sql: "SELECT source, type FROM events WHERE id = ?")
        defer { statement.reset() }
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        return (try statement.decode(EventSource.self, column: 0), statement.string(1) ?? "")
    }

    /// The stored event with row id `id`: its source, type and body.
    public func event(id: Int64) throws -> (source: EventSource, type: String, body: [UInt8])? {
        let statement = try database.cachedStatement(sql: "SELECT source, type, body FROM events WHERE id = ?")
        defer { statement.reset() }
        try statement.bind(1, id)
        guard try statement.step() else { return nil }
        return (try statement.decode(EventSource.self, column: 0), statement.string(1) ?? "", statement.blob(2))
    }

    /// The payment link `id` as the `stripe.create_payment_link` step of this database that created it recorded it
    /// (its metadata, its tier's amount), or `nil`: what a dry-run read of the link answers with.
    public func createdPaymentLink(id: String) throws -> CreatedPaymentLink? {
        try CreatedPaymentLink.read(id: id, from: database)
    }

    /// Records a purchase unless one with the same reference exists.
    /// - Returns: the purchase's row id and whether this call created it (`false`: it was already recorded).
    public func recordPurchase(_ purchase: Purchase, now: Int64) throws -> (id: Int64, created: Bool) {
        try database.transaction {
            // SQLite-specific: upsert `ON CONFLICT ... DO NOTHING` (PostgreSQL has the same form).
            let insert = try database.cachedStatement(sql: """
                INSERT INTO purchases (event_id, reference, email, amount, currency, campaign_id, payment_link, rule, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reference) DO NOTHING
                """)
            defer { insert.reset() }
            try insert.bind(1, purchase.eventID)
            try insert.bind(2, purchase.reference)
            // Stored normalised, so a person's purchases are found (and erased) by plain equality.
            try insert.bind(3, EmailAddress.normalizedOrNil(purchase.email))
            try insert.bind(4, purchase.amount)
            try insert.bind(5, purchase.currency)
            try insert.bind(6, purchase.campaignID)
            try insert.bind(7, purchase.paymentLink)
            try insert.bind(8, purchase.rule)
            try insert.bind(9, now)
            try insert.run()
            let created = database.changes == 1
            let lookup = try database.cachedStatement(sql: "SELECT id FROM purchases WHERE reference = ?")
            defer { lookup.reset() }
            try lookup.bind(1, purchase.reference)
            _ = try lookup.step()
            return (lookup.int(0), created)
        }
    }

    /// Records a payment link a `stripe.create_payment_link` step created, once per link id (a retried step gets
    /// the same link back from Stripe and changes nothing). `url` is stored without its query (which may prefill the
    /// email); the contact is the one with `email` (normalised), if any; `campaignID` is the campaign the link's
    /// metadata names.
    /// - Returns: `true` when this call recorded it.
    @discardableResult
    public func recordPaymentLinkSent(linkID: String, url: String, email: String?, campaignID: String?, rule: String,
                                      jobID: Int64, now: Int64) throws -> Bool {
        try database.transaction {
            // SQLite-specific: upsert `ON CONFLICT ... DO NOTHING` (PostgreSQL has the same form).
            let insert = try database.cachedStatement(sql: """
                INSERT INTO payment_links_sent (link_id, url, contact_id, campaign_id, rule, job_id, created_at)
                VALUES (?1, ?2, (SELECT id FROM contacts WHERE email = ?3), ?4, ?5, ?6, ?7) ON CONFLICT (link_id) DO NOTHING
                """)
            defer { insert.reset() }
            try insert.bind(1, linkID)
            try insert.bind(2, String(url.prefix { $0 != "?" }))
            try insert.bind(3, email)
            try insert.bind(4, campaignID)
            try insert.bind(5, rule)
            try insert.bind(6, jobID)
            try insert.bind(7, now)
            try insert.run()
            return database.changes == 1
        }
    }

    /// Every purchase, oldest first (for tests and reports).
    public func purchases() throws -> [Purchase] {
        let statement = try database.cachedStatement(sql: """
            SELECT event_id, reference, email, amount, currency, campaign_id, payment_link, rule FROM purchases ORDER BY id
            """)
        defer { statement.reset() }
        var result: [Purchase] = []
        while try statement.step() {
            result.append(Purchase(eventID: statement.int(0), reference: statement.string(1) ?? "", email: statement.string(2),
                                   amount: statement.int(3), currency: statement.string(4) ?? "",
                                   campaignID: statement.string(5), paymentLink: statement.string(6),
                                   rule: statement.string(7) ?? ""))
        }
        return result
    }
}
