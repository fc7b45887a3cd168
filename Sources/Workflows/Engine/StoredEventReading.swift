import Contacts
import Jobs
import Outbound
import Store
import StrictJSON

/// The stored event a job belongs to, as the engine's jobs read it. Stateless.
enum StoredEventReading {
    /// The event `job` belongs to. - Throws: `JobFailure` (storage when it cannot be read, invalid job when it is gone).
    static func event(of job: Job, store: any WorkflowRecords) throws(JobFailure) -> (source: EventSource, type: String, body: [UInt8]) {
        let stored: (source: EventSource, type: String, body: [UInt8])?
        do {
            stored = try store.event(id: job.eventID)
        } catch {
            throw JobFailure.storage("reading event \(job.eventID)", error)
        }
        guard let stored else { throw JobFailure.invalidJob("event \(job.eventID) is not in the database") }
        return stored
    }

    static func parse(_ body: [UInt8], of job: Job) throws(JobFailure) -> JSONValue {
        do {
            return try JSONValue.parse(body)
        } catch {
            throw JobFailure.invalidJob("event \(job.eventID) is not JSON: \(error)")
        }
    }

    /// The event as rules read it: a Stripe event gains `hookyard` (`StripeObjectReading.ruleFields`: the facts
    /// rules test, read from whichever API version's shape the event has); an Instantly event is as received.
    static func ruleView(source: EventSource, type: String, body: JSONValue) -> JSONValue {
        source == .stripe ? StripeObjectReading.ruleView(type: type, event: body) : body
    }
}
