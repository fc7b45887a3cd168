import Contacts
import Store

extension SQLiteContactStore {
    /// A deliverability reader on this store's connection (for the worker that just applied an event); it lives no
    /// longer than the store and, like it, stays on the store's thread.
    public func deliverabilityReader() -> DeliverabilityReader { DeliverabilityReader(database: database) }
}
