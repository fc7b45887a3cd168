import HTTPServer
import Logging
import Store

/// What the intake router knows about one answer to a webhook delivery: the source it came from and, once the
/// payload was read, the event's reference, its type and whether it was a duplicate. Carried on the response
/// (`HTTPResponse.context`) for the router's metrics, which read it directly, and for the request's log line
/// (`source`, `event_id`, `type`, `duplicate`). A value: immutable once answered, `Sendable`.
public struct WebhookDeliveryContext: HTTPResponseContext, Equatable {
    /// Which provider sent the delivery (from the route, so known even when the payload is not).
    public var source: EventSource
    /// The event's id, or its dedup key when the provider gives none; nil until the payload was read.
    public var eventID: String?
    /// The event's type as the payload names it; nil until the payload was read (metrics say `unknown`).
    public var type: String?
    /// Whether the store already had the event; nil unless it was stored.
    public var duplicate: Bool?

    public init(source: EventSource, eventID: String? = nil, type: String? = nil, duplicate: Bool? = nil) {
        self.source = source
        self.eventID = eventID
        self.type = type
        self.duplicate = duplicate
    }

    public func addLogMetadata(to metadata: inout Logger.Metadata) {
        metadata["source"] = .string(source.rawValue)
        if let eventID { metadata["event_id"] = .string(eventID) }
        if let type { metadata["type"] = .string(type) }
        if let duplicate { metadata["duplicate"] = .stringConvertible(duplicate) }
    }
}
