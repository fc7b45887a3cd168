/// One campaign's activity per contact while an engine's `forEachActivity` reads it a range (campaign and activity
/// kind) at a time: per contact id, a sent count and flags in buffers allocated once per pass (ids outside them, and
/// the contact-less rows, in a dictionary), and the contacts touched, so `flush` reports and clears only those. `add`
/// runs once per activity row (on SQLite called from SQLite's loop through the pass's SQL function): plain buffers,
/// so a row costs no reference counting or exclusivity check. Shared by both engines.
/// Not thread-safe: one pass, on one thread.
final class ActivityTally {
    enum Kind: UInt8 {
        case sent, opened, clicked, replied, other

        init(_ kind: String) {
            switch kind {
            case "sent": self = .sent
            case "opened": self = .opened
            case "clicked": self = .clicked
            case "replied": self = .replied
            default: self = .other
            }
        }
    }

    /// Flags of `Group.flags`: touched (any activity), opened, clicked, replied.
    private static let touchedFlag: UInt8 = 1, openedFlag: UInt8 = 2, clickedFlag: UInt8 = 4, repliedFlag: UInt8 = 8

    private struct Group {
        var sent = 0
        var flags: UInt8 = 0
    }

    /// The kind of the range being read: what `add` counts.
    var kind = Kind.other
    private let dense: UnsafeMutableBufferPointer<Group>
    /// The contacts touched in the campaign so far, `touchedCount` of them, in `dense`.
    private let touched: UnsafeMutableBufferPointer<Int32>
    private var touchedCount = 0
    private var others: [Int64?: Group] = [:]

    /// Buffers for the contact ids up to `maximumContact` (at most 2^24 of them; larger ids go to the dictionary).
    convenience init(maximumContact: Int64) {
        self.init(denseContacts: Int(clamping: min(max(maximumContact + 1, 0), 1 << 24)))
    }

    init(denseContacts: Int) {
        dense = .allocate(capacity: denseContacts)
        dense.initialize(repeating: Group())
        touched = .allocate(capacity: denseContacts)
        touched.initialize(repeating: 0)
    }

    deinit {
        dense.deallocate()
        touched.deallocate()
    }

    func add(contact: Int64?) {
        if let contact, contact >= 0, contact < dense.count {
            let slot = Int(contact)
            if dense[slot].flags == 0 {
                touched[touchedCount] = Int32(slot)
                touchedCount += 1
            }
            Self.apply(kind, to: &dense[slot])
        } else {
            Self.apply(kind, to: &others[contact, default: Group()])
        }
    }

    private static func apply(_ kind: Kind, to group: inout Group) {
        group.flags |= touchedFlag
        switch kind {
        case .sent: group.sent += 1
        case .opened: group.flags |= openedFlag
        case .clicked: group.flags |= clickedFlag
        case .replied: group.flags |= repliedFlag
        case .other: break
        }
    }

    private static func row(_ contact: Int64?, _ campaign: String?, _ group: Group) -> ReportActivityRow {
        ReportActivityRow(contactID: contact, campaign: campaign, sent: group.sent, opened: group.flags & openedFlag != 0,
                          clicked: group.flags & clickedFlag != 0, replied: group.flags & repliedFlag != 0)
    }

    /// Passes one row per contact touched in `campaign` to `body`, and clears the tally for the next campaign.
    func flush(campaign: String?, _ body: (ReportActivityRow) throws -> Void) throws {
        for index in 0..<touchedCount {
            let slot = Int(touched[index])
            try body(Self.row(Int64(slot), campaign, dense[slot]))
            dense[slot] = Group()
        }
        touchedCount = 0
        for (contact, group) in others { try body(Self.row(contact, campaign, group)) }
        others.removeAll(keepingCapacity: true)
    }
}

extension ActivityTally {
    /// The campaigns of the pass, `nil` (the campaign-less rows) first, then each campaign id present in
    /// `contact_activity_by_campaign_time`, found one `min()` seek at a time: `next(nil)` the first, `next(id)` the
    /// one after `id`, `nil` when there is none.
    static func campaigns(_ next: (_ after: String?) throws -> String?) throws -> [String?] {
        var campaigns: [String?] = [nil]
        var campaign = try next(nil)
        while let found = campaign {
            campaigns.append(found)
            campaign = try next(found)
        }
        return campaigns
    }

    /// The pass both engines run: for each campaign, each activity kind present in it (`nextKind(campaign, nil)` the
    /// first, `nextKind(campaign, kind)` the one after), `readRange(campaign, kind)` feeds the period's contact ids of
    /// that range to `add` (with `kind` set); after a campaign's last range its rows go to `body` (`flush`).
    func read(_ campaigns: [String?], nextKind: (_ campaign: String?, _ after: String?) throws -> String?,
              readRange: (_ campaign: String?, _ kind: String) throws -> Void,
              _ body: (ReportActivityRow) throws -> Void) throws {
        for campaign in campaigns {
            var found = try nextKind(campaign, nil)
            while let next = found {
                kind = Kind(next)
                try readRange(campaign, next)
                found = try nextKind(campaign, next)
            }
            try flush(campaign: campaign, body)
        }
    }
}
