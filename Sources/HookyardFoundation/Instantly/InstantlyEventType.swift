/// Instantly's webhook event vocabulary: the one list that intake (which types it knows), contacts (what each
/// type says about a lead), the webhook registration (what Instantly accepts to subscribe to) and `hookyard trigger`
/// (what it can build) share. See `shared/notes/instantly-api.md`.
///
/// Pure data; thread-safe.
public enum InstantlyEventType {
    /// The event types Instantly documents, in the order of its documentation (API v2 extract), plus
    /// `auto_reply_received`, which Instantly sends to an `all_events` webhook only.
    public static let documented: [String] = [
        "email_sent", "email_opened", "email_link_clicked", "reply_received", "auto_reply_received", "email_bounced",
        "lead_unsubscribed", "campaign_completed", "account_error", "lead_neutral", "lead_interested",
        "lead_not_interested", "lead_meeting_booked", "lead_meeting_completed", "lead_closed", "lead_out_of_office",
        "lead_wrong_person", "lead_no_show", "supersearch_enrichment_completed",
    ]

    /// The `event_type` values `POST /api/v2/webhooks` accepts (the API v2 extract's enum): `all_events` (every
    /// type, custom labels included), then each documented type but `auto_reply_received`.
    public static let subscribable: [String] = ["all_events"] + documented.filter { $0 != autoReplyReceived }

    /// The type Instantly sends only to `all_events` webhooks.
    public static let autoReplyReceived = "auto_reply_received"

    /// The spelling of a click in Instantly's payload documentation; stored as `email_link_clicked`.
    public static let linkClicked = "link_clicked"

    /// The spelling Instantly's webhooks use for a click, and the one Hookyard stores.
    public static let emailLinkClicked = "email_link_clicked"
}
