import Alerts
import Contacts
import Store

/// What workflow steps read and write in the store besides the queue, whatever engine stores it
/// (`SQLiteWorkflowStore` today): the event a job was caused by, recorded purchases and payment links, and the
/// contacts and deliverability rates on the same worker's storage.
///
/// Contract every implementation keeps: each call is atomic; recording a purchase or a sent link twice (a retried
/// step) changes nothing the second time; a stored value the implementation cannot read is an error.
/// Thread-safety is the implementation's: `SQLiteWorkflowStore` and `PostgreSQLWorkflowStore` are used by one worker
/// thread at a time.
public protocol WorkflowRecords: AnyObject {
    /// The contacts, on storage used by the same worker.
    var contacts: any ContactStorage { get }
    /// Deliverability rates read where the contacts were just written (for the worker that applied an event).
    func deliverabilityReader() -> any DeliverabilityRatesReading
    /// The source and type of the stored event with row id `id` (without reading its body).
    func eventHeader(id: Int64) throws -> (source: EventSource, type: String)?
    /// The stored event with row id `id`: its source, type and body.
    func event(id: Int64) throws -> (source: EventSource, type: String, body: [UInt8])?
    /// The payment link `id` as the step that created it recorded it, or `nil`.
    func createdPaymentLink(id: String) throws -> CreatedPaymentLink?
    /// Records a purchase unless one with the same reference exists.
    /// - Returns: the purchase's row id and whether this call created it.
    func recordPurchase(_ purchase: Purchase, now: Int64) throws -> (id: Int64, created: Bool)
    /// Records a payment link a step created, once per link id. - Returns: `true` when this call recorded it.
    @discardableResult
    func recordPaymentLinkSent(linkID: String, url: String, email: String?, campaignID: String?, rule: String,
                               jobID: Int64, now: Int64) throws -> Bool
    /// Every purchase, oldest first.
    func purchases() throws -> [Purchase]
    /// Releases the connections the records opened themselves (not one they were given). Later calls throw.
    func close()
}
