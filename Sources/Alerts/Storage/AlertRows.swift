import Foundation

/// The engine-neutral part of the alert stores (`SQLiteAlertStore`, `PostgreSQLAlertStore`) and deliverability readers:
/// the columns an alert is read from, how its context is stored, whether a raise changes anything, and what a raise
/// or a clear makes of the record. Each engine keeps its own SQL and wrapper calls and asks these for the values, so
/// both decide alike. Constants and pure functions only: safe from any thread; nothing here traps.
enum AlertRows {
    /// The `alerts` columns an `AlertRecord` is read from, in the order both stores' row mappings read.
    static let columns = """
        id, kind, subject, state, first_raised_at, last_raised_at, last_notified_at, times_notified, last_message, context,
        cleared_at, event_id
        """

    /// The stored form of a context: a JSON object with sorted keys.
    static func contextText(_ context: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: context, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The context stored as `text`, or `nil` when it is not a JSON object of strings (a value Hookyard never writes:
    /// the caller throws its engine's decoding error).
    static func context(fromText text: String?) -> [String: String]? {
        guard let text else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]
    }

    /// The answer to raising the condition again when that changes nothing (the stores then write nothing): it is
    /// raised, its last notification is younger than `repeatAfterMilliseconds`, and the message and context are the
    /// same. `nil` when the raise must be recorded.
    static func unchangedRaise(_ current: AlertRecord?, message: String, context: [String: String], now: Int64,
                               repeatAfterMilliseconds: Int64) -> AlertChange? {
        guard let current, current.state == .raised, let notified = current.lastNotifiedAt,
              now - notified < repeatAfterMilliseconds, current.message == message, current.context == context else {
            return nil
        }
        return AlertChange(record: current, newlyRaised: false, notified: false, jobID: nil)
    }

    /// What raising the condition at `now` makes of the stored record `current` (`nil`: never stored, id 0): a new
    /// episode when it was not raised; notified (`due`) when new or when its last notification is at least
    /// `repeatAfterMilliseconds` old, counting one more notification at `now`. The event of a due notification is
    /// the caller's to set (it reads the database).
    static func raising(_ current: AlertRecord?, kind: String, subject: String, message: String,
                        context: [String: String], now: Int64,
                        repeatAfterMilliseconds: Int64) -> (record: AlertRecord, newlyRaised: Bool, due: Bool) {
        let newlyRaised = current?.state != .raised
        let due = newlyRaised || current?.lastNotifiedAt.map { now - $0 >= repeatAfterMilliseconds } ?? true
        var record = current ?? AlertRecord(id: 0, kind: kind, subject: subject, state: .raised, firstRaisedAt: now, lastRaisedAt: now,
                                            lastNotifiedAt: nil, timesNotified: 0, message: message, context: context,
                                            clearedAt: nil, eventID: nil)
        if newlyRaised {
            record.firstRaisedAt = now
            record.timesNotified = 0
            record.clearedAt = nil
        }
        record.state = .raised
        record.lastRaisedAt = now
        record.message = message
        record.context = context
        if due {
            record.lastNotifiedAt = now
            record.timesNotified += 1
        }
        return (record, newlyRaised, due)
    }

    /// `record` cleared at `now` with `message` (its event is the caller's to set).
    static func clearing(_ record: AlertRecord, message: String, now: Int64) -> AlertRecord {
        var record = record
        record.state = .cleared
        record.clearedAt = now
        record.message = message
        return record
    }

    // MARK: Deliverability

    /// The `contact_activity` kinds the deliverability readers count, as an SQL list.
    static let deliverabilityKinds = "('sent', 'bounced', 'unsubscribed', 'replied')"

    /// Sets `rates`' count of activity `kind` (one of `deliverabilityKinds`) to `count`; another kind changes nothing.
    static func setCount(_ count: Int, ofKind kind: String?, in rates: inout DeliverabilityRates) {
        switch kind {
        case "sent": rates.sent = count
        case "bounced": rates.bounced = count
        case "unsubscribed": rates.unsubscribed = count
        case "replied": rates.replied = count
        default: break
        }
    }
}
