import Cryptography
import HTTPServer
import HookyardFoundation
import Store
import StrictJSON

/// Why a verified body is not an acceptable event; answered with 400.
public struct InvalidEvent: Error, Equatable, Sendable {
    public let reason: String
    public let message: String
}

/// Turns verified Stripe bodies into stored events: the dedup key is Stripe's event id (`evt_...`).
public enum StripeEvent {
    /// Extracts id and type. - Throws: `InvalidEvent` when the body is not a Stripe event object.
    public static func normalize(body: [UInt8], receivedAt: Int64, headers: [(name: String, value: String)]) throws(InvalidEvent) -> IncomingEvent {
        let object = try members(of: body)
        guard case .string(let id)? = object["id"], !id.isEmpty else {
            throw InvalidEvent(reason: "missing_field", message: "Stripe event has no 'id'")
        }
        guard case .string(let type)? = object["type"], !type.isEmpty else {
            throw InvalidEvent(reason: "missing_field", message: "Stripe event has no 'type'")
        }
        try refuseControlCharacters(in: id, field: "id", source: "Stripe")
        try refuseControlCharacters(in: type, field: "type", source: "Stripe")
        return IncomingEvent(source: .stripe, dedupKey: id, eventID: id, type: type, receivedAt: receivedAt,
                             body: body, headersJSON: keptHeadersJSON(headers))
    }
}

/// Turns authenticated Instantly bodies into stored events.
///
/// Instantly sends no event id, so the dedup key is the SHA-256 of the fields that identify a delivery:
/// event type, workspace, campaign, lead email, timestamp, step, variant and email id. `link_clicked` (the
/// spelling in Instantly's payload documentation) is stored as `email_link_clicked`, so both dedupe together.
public enum InstantlyEvent {
    /// The event types Instantly documents. Others (custom labels, new types) are stored too, and logged.
    public static let knownTypes: Set<String> = Set(InstantlyEventType.documented)

    /// The top-level fields Instantly documents for a webhook delivery (see `shared/notes/instantly-api.md`): always
    /// present first (`timestamp`, `event_type`, `workspace`, `campaign_id`, `campaign_name`), then the optional ones.
    /// Not closed: a lead's own fields and custom variables arrive as extra top-level keys (`firstName`,
    /// `companyName`, any variable name), and Instantly may add fields. `check-config` warns of a rule path into an
    /// Instantly event that names none of these, with the closest.
    public static let documentedFields = [
        "timestamp", "event_type", "workspace", "campaign_id", "campaign_name",
        "lead_email", "email_account", "unibox_url", "step", "variant", "is_first", "email_id", "email_subject",
        "email_text", "email_html", "reply_text_snippet", "reply_subject", "reply_text", "reply_html",
    ]

    /// Fields, in order, that make up the dedup key.
    static let identifyingFields = ["event_type", "workspace", "campaign_id", "lead_email", "timestamp", "step", "variant", "email_id"]

    /// Validates and normalises. - Throws: `InvalidEvent` naming the first missing required field.
    public static func normalize(body: [UInt8], receivedAt: Int64, headers: [(name: String, value: String)]) throws(InvalidEvent) -> IncomingEvent {
        let object = try members(of: body)
        var rawType = ""
        for field in ["event_type", "timestamp", "workspace"] {
            guard let value = object[field], value != .null else {
                throw InvalidEvent(reason: "missing_field", message: "Instantly event has no '\(field)'")
            }
            guard case .string(let text) = value, !text.isEmpty else {
                throw InvalidEvent(reason: "invalid_field", message: "Instantly event field '\(field)' must be a non-empty string")
            }
            if field == "event_type" { rawType = text }
        }
        // The fields that identify a delivery (type, ids, and the rest of the dedup key, whose parts are joined with
        // U+001F): a control character in one is refused, so no two deliveries can share a key by shifting text.
        for field in identifyingFields {
            if case .string(let text)? = object[field] { try refuseControlCharacters(in: text, field: field, source: "Instantly") }
        }
        let type = canonicalType(rawType)
        var identity: [String] = []
        for field in identifyingFields {
            var text = field == "event_type" ? type : scalarText(object[field])
            if field == "lead_email" { text = EmailAddress.normalized(text) }
            identity.append(text)
        }
        let key = Crypto.hex(Crypto.sha256(Array(identity.joined(separator: "\u{1f}").utf8)))
        return IncomingEvent(source: .instantly, dedupKey: key, eventID: nil, type: type, receivedAt: receivedAt,
                             body: body, headersJSON: keptHeadersJSON(headers))
    }

    /// The stored spelling of an event type.
    public static func canonicalType(_ type: String) -> String {
        type == "link_clicked" ? "email_link_clicked" : type
    }

    /// Strings as they are, numbers as sent, `true`/`false`; null, absent or nested as "".
    private static func scalarText(_ value: JSONObjectScanner.Value?) -> String {
        switch value {
        case .string(let text)?, .number(let text)?: return text
        case .bool(let flag)?: return flag ? "true" : "false"
        default: return ""
        }
    }
}

/// The top-level members of a webhook body. - Throws: `InvalidEvent` (`invalid_json`) with the parser's reason and
/// byte offset: the grammar is the one the workers parse stored events with (`StrictJSON`), so what intake accepts
/// the workers can process.
func members(of body: [UInt8]) throws(InvalidEvent) -> [String: JSONObjectScanner.Value] {
    do {
        return try JSONObjectScanner.scan(body)
    } catch {
        throw InvalidEvent(reason: "invalid_json", message: "body is not a valid JSON object: \(error)")
    }
}

/// Refuses an id or type with a control character (U+0000–U+001F, U+007F): such a value would not survive every
/// log line, label and comparison intact, and no provider sends one. - Throws: `InvalidEvent` (`invalid_field`)
/// naming the field, the character and its position.
func refuseControlCharacters(in text: String, field: String, source: String) throws(InvalidEvent) {
    for (position, scalar) in text.unicodeScalars.enumerated() where scalar.value < 0x20 || scalar.value == 0x7F {
        let code = String(scalar.value, radix: 16, uppercase: true)
        throw InvalidEvent(reason: "invalid_field",
                           message: "\(source) event field '\(field)' contains the control character U+\(String(repeating: "0", count: 4 - code.count) + code) at character \(position + 1); ids and types must not contain control characters")
    }
}

/// The kept request headers as the JSON object stored with the event (names lower-cased).
func keptHeadersJSON(_ headers: [(name: String, value: String)]) -> String {
    "{" + headers.map { JSONText.quote($0.name.lowercased()) + ":" + JSONText.quote($0.value) }.joined(separator: ",") + "}"
}
