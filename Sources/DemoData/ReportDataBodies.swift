import HookyardFoundation

/// The event bodies generated report data carries, shared by both engines' writers so that the same calls store the
/// same bytes. Stateless.
enum ReportDataBodies {
    /// Instantly's event type per activity kind.
    static let instantlyTypes = [
        "sent": "email_sent", "opened": "email_opened", "clicked": "email_link_clicked", "replied": "reply_received",
        "bounced": "email_bounced", "unsubscribed": "lead_unsubscribed", "meeting_booked": "lead_meeting_booked",
    ]

    /// An Instantly webhook body of `type` at `at`, with the campaign, sending account and lead when known.
    static func activity(type: String, at: Int64, campaign: String?, account: String?, email: String?) -> String {
        var body = #"{"event_type":"\#(type)","timestamp":"\#(ISO8601Timestamp.string(at))""#
        if let campaign { body += #","campaign_id":"\#(campaign)""# }
        if let account { body += #","email_account":"\#(account)""# }
        if let email { body += #","lead_email":"\#(email)""# }
        return body + "}"
    }

    /// A Stripe event's type and body for a payment, invoice or refund `reference`.
    static func payment(kind: ReportDataPaymentKind, reference: String, amount: Int64, currency: String, at: Int64) -> (type: String, body: String) {
        let type = switch kind {
        case .payment: "checkout.session.completed"
        case .invoice: "invoice.paid"
        case .refund: "charge.refunded"
        }
        let body = #"{"id":"evt_\#(reference)","type":"\#(type)","created":\#(at / 1000),"data":{"object":{"id":"\#(reference)","amount":\#(amount),"currency":"\#(currency)"}}}"#
        return (type, body)
    }
}
