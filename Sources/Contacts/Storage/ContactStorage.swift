import HookyardFoundation
/// What the rest of the system needs from contact storage, in engine-neutral terms: applying what stored events say
/// about people, segment membership and its transitions, the loop guard, registrations, reading, export, erasure,
/// pruning and address search. `SQLiteContactStore` (Storage/SQLite) and `PostgreSQLContactStore` (Storage/PostgreSQL)
/// implement it; `ContactStorageOpening.open(_:)` opens either for a `DatabaseLocation`.
///
/// Contract for every implementation:
/// - Every call that writes is atomic: after a crash each contact is either before or after the whole call.
/// - Applying an observation is idempotent per event (`ContactObservation.eventID`): applying it again changes
///   nothing and answers with what the first application recorded.
/// - Addresses are compared in their `EmailAddress.normalized` form.
/// - Segments arrive as `SegmentQuery` values carrying each engine's dialect (`SegmentCompiler` writes both); each
///   store uses its own and refuses a query without it (`ContactStorageError.segmentQuery`).
/// - Not thread-safe unless the implementation says otherwise: one instance per thread (a worker, a CLI command).
///   An instance is not used after `close()`.
/// - Throws: the engine's own errors, or `ContactStorageError`.
public protocol ContactStorage: AnyObject {
    // MARK: Applying observations

    /// Applies what one stored event says about one person and returns what changed (the contact, whether it was
    /// created or kept pending, the segments entered or left, which are recorded as queued transitions).
    func apply(_ observation: ContactObservation, policy: EngagementPolicy, segments: [SegmentQuery],
               now: Int64) throws -> ContactChange
    /// Links a Stripe customer to the contact with `email` (created if missing) and applies the observations kept
    /// pending for that customer.
    func linkCustomer(email: String, customerID: String, eventID: Int64, policy: EngagementPolicy,
                      segments: [SegmentQuery], now: Int64) throws -> ContactChange
    /// Records that the contact with `email` is lead `leadID` in Instantly campaign `campaignID`.
    @discardableResult
    func linkLead(email: String, campaignID: String, leadID: String, eventID: Int64, segments: [SegmentQuery],
                  now: Int64) throws -> [SegmentTransition]
    /// Forgets the contact's lead in campaign `campaignID`; nothing happens for an unknown address or campaign.
    @discardableResult
    func unlinkLead(email: String, campaignID: String, eventID: Int64, segments: [SegmentQuery],
                    now: Int64) throws -> [SegmentTransition]

    // MARK: Segments

    /// Whether the contact is in each of `queries` at `now`, in order.
    func evaluate(contactID: Int64, queries: [SegmentQuery], now: Int64) throws -> [Bool]
    /// Re-evaluates engagement and segments for at most `limit` contacts after `contactID` in id order (what the
    /// clock alone changes), recording the transitions unqueued; call again with `lastContactID` until it is `nil`.
    func reevaluate(after contactID: Int64, limit: Int, policy: EngagementPolicy, segments: [SegmentQuery],
                    now: Int64) throws -> (transitions: [SegmentTransition], lastContactID: Int64?)
    /// Transitions the clock caused that no rule has been started for yet, oldest first, with their ids.
    func unqueuedTransitions(limit: Int) throws -> [(id: Int64, transition: SegmentTransition)]
    /// Marks the transitions `ids` (from `unqueuedTransitions`) as queued.
    func markTransitionsQueued(_ ids: [Int64]) throws

    // MARK: Loop guard

    /// Records that `rule` wrote to Instantly for `email` at `at`.
    func recordOwnWrite(email: String, rule: String, at: Int64) throws
    /// When `rule` last wrote to Instantly for `email`, or `nil`.
    func lastOwnWrite(email: String, rule: String) throws -> Int64?
    /// Decides atomically whether `rule` may start `flow` for `email` at `now` under the per-contact and per-rule caps
    /// of the last 24 hours, and records the run when admitted.
    func admitRuleRun(rule: String, email: String, flow: String, now: Int64, maxPerDay: Int,
                      maxTotalPerDay: Int?, eventID: Int64?) throws -> RuleRunAdmission
    /// Counts `email` as held back by `rule` for `reason`, once per rule, contact and reason.
    func recordHoldback(rule: String, email: String, reason: String, eventID: Int64?, at: Int64) throws
    /// Contacts each rule held back, per reason (`rollout`, `max_per_day`).
    func holdbackCounts() throws -> [(rule: String, reason: String, contacts: Int)]
    /// Why Instantly actions must skip `email` (`unsubscribed` or `bounced`, the first that happened), or `nil`.
    func doNotContact(email: String) throws -> String?

    // MARK: Registrations

    /// Registers `email` for catalog product `product`, once per `reference`, within `seats` if given.
    func register(email: String, product: String, reference: String, seats: Int?, eventID: Int64,
                  segments: [SegmentQuery], now: Int64) throws -> RegistrationResult
    /// How many registrations `product` has.
    func registrationCount(product: String) throws -> Int

    // MARK: Reading

    /// The contact with (normalised) `email`, or `nil`.
    func contact(email: String) throws -> Contact?
    /// The contact with `id`, or `nil`.
    func contact(id: Int64) throws -> Contact?
    /// Contacts in `query` (all when `nil`) with the given payment status and engagement, most recently updated
    /// first, at most `limit`.
    func contacts(matching query: SegmentQuery?, paymentStatus: PaymentStatus?, engagement: EngagementLevel?,
                  limit: Int, now: Int64) throws -> [Contact]
    /// Contacts that pass `filter`, most recently updated first, at most `limit`, starting after `filter.after`.
    func contacts(matching filter: ContactFilter, limit: Int, now: Int64) throws -> [Contact]
    /// How many contacts are in `query` at `now`.
    func count(matching query: SegmentQuery, now: Int64) throws -> Int
    /// The contact's history, newest first, at most `limit` entries.
    func timeline(contactID: Int64, limit: Int) throws -> [ContactTimelineEntry]
    /// The id of the contact with `email`, or `nil`.
    func contactID(email: String) throws -> Int64?
    /// The email of the contact Stripe customer `customerID` is linked to, or `nil`.
    func email(ofCustomer customerID: String) throws -> String?

    // MARK: Export, erasure, pruning, address search

    /// Everything held about `email` (a data subject's access request), or `nil` when nothing is.
    func export(email: String) throws -> ContactExport?
    /// Erases every copy of `email` and reports what still names it; `nil` when nothing named it.
    func erase(email: String) throws -> ContactErasure?
    /// Empties the bodies of at most `limit` events received before `cutoff` whose jobs are all finished; call it
    /// in a loop until it returns less than `limit`.
    /// - Returns: how many bodies were emptied.
    func prunePayloads(olderThan cutoff: Int64, limit: Int, now: Int64) throws -> Int
    /// Where `email` still occurs in storage (table and column, rows).
    func occurrences(ofEmail email: String) throws -> [AddressOccurrence]

    /// Releases the storage's resources; later calls throw. Safe to call twice.
    func close()
}

/// The reads every engine answers the same way from its other reads (the stores do not repeat them).
extension ContactStorage {
    /// The contact with this email (normalised before the lookup), or `nil`: `contactID(email:)`, then
    /// `contact(id:)`.
    public func contact(email: String) throws -> Contact? {
        guard let email = EmailAddress.normalizedOrNil(email), let id = try contactID(email: email) else { return nil }
        return try contact(id: id)
    }

    /// Contacts that match `query` (all when `nil`) and the given payment status and engagement, most recently
    /// updated first, at most `limit`: `contacts(matching:limit:now:)` with that `ContactFilter`.
    public func contacts(matching query: SegmentQuery?, paymentStatus: PaymentStatus?, engagement: EngagementLevel?,
                         limit: Int, now: Int64) throws -> [Contact] {
        try contacts(matching: ContactFilter(segment: query, paymentStatus: paymentStatus, engagement: engagement),
                     limit: limit, now: now)
    }
}
