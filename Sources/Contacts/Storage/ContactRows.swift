/// The engine-neutral part of the contact stores (`SQLiteContactStore`, `PostgreSQLContactStore`): the columns a
/// contact is read from, what an observation changes on its contact, which subscription state wins, and the text that
/// replaces an address. Each engine keeps its own SQL and wrapper calls and asks these for the values, so both decide
/// alike. Constants and pure functions only: safe from any thread; nothing here throws or traps.
enum ContactRows {
    /// The `contacts` columns (table alias `c`) a `Contact` is read from, in the order both stores' row mappings read.
    static let contactColumns = """
        c.id, c.email, c.first_seen_at, c.last_engagement_at, c.sent, c.opened, c.clicked, c.replied, c.bounced,
        c.unsubscribed, c.meeting_booked, c.interest_status, c.payment_status, c.engagement, c.subscription_id,
        c.subscription_status, c.subscription_price, c.subscription_product, c.subscription_tier,
        c.subscription_period_end, c.tier, c.product_interest, c.do_not_contact, c.first_campaign, c.last_campaign,
        c.updated_at
        """

    // MARK: Effects of an observation

    /// Activities that count as the person engaging (`last_engagement_at`); sends, bounces and unsubscribes do not.
    private static let engagingActivities: Set<ContactActivity> = [.opened, .clicked, .replied, .meetingBooked]
    /// Interest statuses that are not the person engaging (an auto-reply, or someone else answering).
    private static let nonEngagingInterest: Set<String> = ["out_of_office", "wrong_person"]

    /// Whether `observation` is the person engaging: an engaging activity, or an interest status other than an
    /// auto-reply or someone else answering.
    static func isEngaging(_ observation: ContactObservation) -> Bool {
        observation.activity.map { engagingActivities.contains($0) } == true
            || observation.interestStatus.map { !nonEngagingInterest.contains($0) } == true
    }

    /// The do-not-contact reason `observation` sets (`unsubscribed`, `bounced`), or `nil`.
    static func doNotContactReason(_ observation: ContactObservation) -> String? {
        switch observation.activity {
        case .unsubscribed?: "unsubscribed"
        case .bounced?: "bounced"
        default: nil
        }
    }

    /// The campaign `observation` touches the contact in (first and last campaign): an Instantly activity's campaign,
    /// or `nil`.
    static func campaignTouch(_ observation: ContactObservation) -> String? {
        observation.source == .instantly && observation.activity != nil ? observation.campaignID : nil
    }

    // MARK: Registrations

    /// Refuses a registration without a product or a reference (`ContactStorageError.emptyRegistration` naming the
    /// empty one, the product first), before anything is read or written.
    static func checkRegistration(product: String, reference: String) throws {
        guard !product.isEmpty else { throw ContactStorageError.emptyRegistration("product") }
        guard !reference.isEmpty else { throw ContactStorageError.emptyRegistration("reference") }
    }

    // MARK: Segment membership

    /// The segments whose membership changes: for each name's first query in `segments` (`values` holds their
    /// evaluations, in the same order), its new membership when it differs from `recorded` (a segment not recorded
    /// is not a member). In `segments`' order.
    static func membershipChanges(_ segments: [SegmentQuery], values: [Bool],
                                  recorded: [String: Bool]) -> [(segment: SegmentQuery, isMember: Bool)] {
        var seen = Set<String>()
        var changes: [(segment: SegmentQuery, isMember: Bool)] = []
        for (segment, isMember) in zip(segments, values) where seen.insert(segment.name).inserted {
            if isMember != (recorded[segment.name] ?? false) { changes.append((segment, isMember)) }
        }
        return changes
    }

    // MARK: Subscription precedence

    /// Stripe subscription statuses by precedence when two events carry the same time.
    private static let statusRank: [String: Int] = [
        "incomplete": 0, "trialing": 1, "active": 2, "paused": 2, "past_due": 3, "unpaid": 4,
        "incomplete_expired": 5, "canceled": 5,
    ]
    /// Statuses a subscription never leaves.
    private static let terminalStatuses: Set<String> = ["canceled", "incomplete_expired"]

    /// The subscription columns of a contact as stored (`status` is empty when none is stored).
    struct StoredSubscription {
        var id: String?
        var status: String
        var price: String?
        var product: String?
        var tier: String?
        var periodEnd: Int64?
        var at: Int64?
    }

    /// The subscription columns to write for an event at `occurredAt`.
    struct SubscriptionWrite {
        var id: String
        var status: String
        var price: String?
        var product: String?
        var tier: String?
        var periodEnd: Int64?
    }

    /// What to store for `subscription` seen at `occurredAt`, or `nil` when the stored state is newer: an older event,
    /// or one of the same time with a lower-ranked status, changes nothing; a subscription that ended never comes back
    /// to life; the end of a different subscription does not replace a live one (a customer who switched plans stays
    /// a customer). For the same subscription, fields the event leaves out keep their stored values.
    static func subscriptionWrite(_ subscription: ObservedSubscription, occurredAt: Int64,
                                  over stored: StoredSubscription) -> SubscriptionWrite? {
        let same = stored.id == subscription.id
        if let storedAt = stored.at {
            let storedEnded = terminalStatuses.contains(stored.status)
            let endsNow = terminalStatuses.contains(subscription.status)
            if same, storedEnded, subscription.status != stored.status { return nil }
            if !same, endsNow, !storedEnded { return nil }
            if occurredAt < storedAt { return nil }
            if occurredAt == storedAt, statusRank[subscription.status, default: 0] < statusRank[stored.status, default: 0] {
                return nil
            }
        }
        return SubscriptionWrite(id: subscription.id, status: subscription.status,
                                 price: subscription.priceID ?? (same ? stored.price : nil),
                                 product: subscription.productID ?? (same ? stored.product : nil),
                                 tier: subscription.tier ?? (same ? stored.tier : nil),
                                 periodEnd: subscription.currentPeriodEnd ?? (same ? stored.periodEnd : nil))
    }

    // MARK: Erasure

    /// Every place that still names `email`: each column of `columns()` (`place` gives its table and name) with the
    /// number of rows `countRows` finds naming the address, columns with none left out; empty, without reading a
    /// column, for an address that normalises to nothing.
    static func occurrences<Column>(ofEmail email: String, in columns: () throws -> [Column],
                                    place: (Column) -> (table: String, name: String),
                                    countRows: (AddressMatcher, Column) throws -> Int) throws -> [AddressOccurrence] {
        let matcher = AddressMatcher(email)
        guard !matcher.address.isEmpty else { return [] }
        var found: [AddressOccurrence] = []
        for column in try columns() {
            let count = try countRows(matcher, column)
            let (table, name) = place(column)
            if count > 0 { found.append(AddressOccurrence(table: table, column: name, rows: count)) }
        }
        return found
    }

    /// What replaces a non-unique text value that names the address: the value with the spans spelling it replaced
    /// (see `AddressMatcher.redacting`), or `erased` when that still names it or nothing could be replaced.
    static func redactedText(_ text: String, _ matcher: AddressMatcher) -> String {
        var replacement = matcher.redacting(text) ?? "erased"
        if matcher.isNamed(in: replacement) { replacement = "erased" }
        return replacement
    }
}
