/// Which contacts a search returns (`ContactStorage.contacts(matching:limit:now:)`): every condition given must hold.
/// A value; thread-safe.
public struct ContactFilter: Sendable, Equatable {
    /// Members of this segment at the evaluation time.
    public var segment: SegmentQuery?
    public var paymentStatus: PaymentStatus?
    public var engagement: EngagementLevel?
    /// Leads of this Instantly campaign id.
    public var campaign: String?
    /// Contacts whose address contains this text (any case).
    public var addressContains: String?
    /// Where a page starts: contacts ordered after this one (most recently updated first, then by id descending).
    public var after: ContactCursor?

    public init(segment: SegmentQuery? = nil, paymentStatus: PaymentStatus? = nil, engagement: EngagementLevel? = nil,
                campaign: String? = nil, addressContains: String? = nil, after: ContactCursor? = nil) {
        self.segment = segment
        self.paymentStatus = paymentStatus
        self.engagement = engagement
        self.campaign = campaign
        self.addressContains = addressContains
        self.after = after
    }
}

/// A position in the contacts' listing order (`updatedAt` descending, then `id` descending): the last contact of a page.
public struct ContactCursor: Sendable, Equatable {
    /// Unix milliseconds.
    public var updatedAt: Int64
    public var id: Int64

    public init(updatedAt: Int64, id: Int64) {
        self.updatedAt = updatedAt
        self.id = id
    }
}
