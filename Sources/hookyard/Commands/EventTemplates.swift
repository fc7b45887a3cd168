import Contacts
import Cryptography
import Foundation
import HookyardFoundation
import Intake
import Outbound
import StrictJSON

/// Realistic webhook payloads for `hookyard trigger`: Stripe events in the shape of the configured Stripe API version
/// (`2025-12-15.clover` by default: an invoice's subscription under `parent.subscription_details`, its lines' prices
/// under `pricing.price_details`, the period end on subscription items) and flat Instantly deliveries. Each payload
/// carries every field `ContactEventReader` reads for its type, so the person it names becomes a contact.
///
/// The ids that tie one person's events together (customer, subscription, subscription item) are derived from the
/// email address, so events triggered one after another with the same email walk one customer and one subscription;
/// price and product are fixed test ids. The ids of the objects each event is about (event, Checkout Session,
/// invoice, charge, payment intent) are random. Stateless; thread-safe.
enum EventTemplates {
    /// What a payload is built from.
    struct Context: Sendable {
        /// The person the event is about.
        var email: String
        /// Unix milliseconds: the event's time.
        var nowMilliseconds: Int64
        /// Stripe's `api_version` field.
        var stripeAPIVersion: String

        var now: Int64 { nowMilliseconds / 1000 }
    }

    /// The Stripe event types `trigger stripe` builds, in the order help and errors list them.
    static let stripeTypes = [
        "checkout.session.completed", "checkout.session.async_payment_succeeded",
        "customer.created", "customer.updated",
        "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed", "invoice.upcoming",
        "charge.refunded", "payment_intent.succeeded",
    ]

    /// The Instantly event types `trigger instantly` builds: every type Instantly documents, plus `auto_reply_received`
    /// (sent with `all_events` only). `link_clicked`, the spelling of Instantly's payload documentation, is accepted
    /// too and sent as spelt.
    static let instantlyTypes = InstantlyEventType.documented

    /// The workspace and campaign of every Instantly event, unless overridden: the demo ids `make run` configures
    /// (scripts/dev-env.sh), so `trigger instantly lead_interested` starts the lead-to-sale example.
    static let instantlyWorkspace = "00000000-0000-4000-8000-000000000001"
    static let instantlyCampaign = "00000000-0000-4000-8000-000000000002"

    /// The test price and product of every Stripe event (`--set` changes them).
    static let price = "price_1HookyardTriggerDemo01"
    static let product = "prod_HookyardDemo01"
    static let amount: Int64 = 4900

    // MARK: Stripe

    /// The Stripe event of `type`, or `nil` for a type not in `stripeTypes`.
    static func stripe(_ type: String, _ context: Context) -> JSONValue? {
        let ids = StripeIDs(email: context.email)
        let object: String
        var previous: String?
        switch type {
        case "checkout.session.completed", "checkout.session.async_payment_succeeded":
            object = checkoutSession(type, context, ids)
        case "customer.created":
            object = customer(context, ids, name: "Test Lead")
        case "customer.updated":
            object = customer(context, ids, name: "Test Lead")
            previous = #"{"name":null}"#
        case "customer.subscription.created":
            object = subscription(context, ids, status: "active")
        case "customer.subscription.updated":
            // A customer scheduling a cancellation at the period end, as the customer portal does.
            let periodEnd = context.now + 30 * 86_400
            object = subscription(context, ids, status: "active", changes: """
                {"cancel_at":\(periodEnd),"cancel_at_period_end":true,"canceled_at":\(context.now),\
                "cancellation_details":{"comment":null,"feedback":"too_expensive","reason":"cancellation_requested"}}
                """)
            previous = #"{"cancel_at":null,"cancel_at_period_end":false,"canceled_at":null,"cancellation_details":{"feedback":null,"reason":null}}"#
        case "customer.subscription.deleted":
            object = subscription(context, ids, status: "canceled", changes: """
                {"canceled_at":\(context.now),"ended_at":\(context.now),\
                "cancellation_details":{"comment":null,"feedback":null,"reason":"cancellation_requested"}}
                """)
        case "customer.subscription.trial_will_end":
            object = subscription(context, ids, status: "trialing", changes: """
                {"trial_start":\(context.now - 11 * 86_400),"trial_end":\(context.now + 3 * 86_400),\
                "trial_settings":{"end_behavior":{"missing_payment_method":"create_invoice"}}}
                """)
        case "invoice.paid", "invoice.payment_succeeded":
            object = invoice(context, ids, status: "paid", paid: true)
        case "invoice.payment_failed":
            object = invoice(context, ids, status: "open", paid: false)
        case "invoice.upcoming":
            object = invoice(context, ids, status: "draft", paid: false, upcoming: true)
        case "charge.refunded":
            object = charge(context, ids)
            previous = #"{"amount_refunded":0,"refunded":false}"#
        case "payment_intent.succeeded":
            object = paymentIntent(context, ids)
        default:
            return nil
        }
        return parsed("""
            {"id":\(q(randomID("evt_1", 24))),"object":"event","api_version":\(q(context.stripeAPIVersion)),\
            "created":\(context.now),"data":{"object":\(object)\(previous.map { ",\"previous_attributes\":\($0)" } ?? "")},\
            "livemode":false,"pending_webhooks":1,\
            "request":{"id":\(q(randomID("req_", 14))),"idempotency_key":\(q(UUID().uuidString.lowercased()))},\
            "type":\(q(type))}
            """, type)
    }

    /// The ids one person's Stripe objects share.
    private struct StripeIDs {
        let customer: String
        let subscription: String
        let subscriptionItem: String
        let paymentIntent = randomID("pi_3", 24)
        let charge = randomID("ch_3", 24)
        let invoice = randomID("in_1", 24)
        let paymentMethod = randomID("pm_1", 24)

        init(email: String) {
            customer = derivedID("cus_", 14, seed: "customer " + email.lowercased())
            subscription = derivedID("sub_1", 24, seed: "subscription " + email.lowercased())
            subscriptionItem = derivedID("si_", 14, seed: "subscription item " + email.lowercased())
        }
    }

    private static func metadata(_ context: Context) -> String { "{\"hookyard_email\":\(q(context.email))}" }

    private static func checkoutSession(_ type: String, _ context: Context, _ ids: StripeIDs) -> String {
        let id = randomID("cs_test_a1", 56)
        let asynchronous = type == "checkout.session.async_payment_succeeded"
        return """
            {"id":\(q(id)),"object":"checkout.session","after_expiration":null,"allow_promotion_codes":false,\
            "amount_subtotal":\(amount),"amount_total":\(amount),"automatic_tax":{"enabled":false,"liability":null,"status":null},\
            "billing_address_collection":"auto","cancel_url":null,"client_reference_id":null,"created":\(context.now - 120),\
            "currency":"usd","customer":\(q(ids.customer)),"customer_creation":"if_required",\
            "customer_details":{"address":{"city":null,"country":"US","line1":null,"line2":null,"postal_code":"94107","state":null},\
            "email":\(q(context.email)),"name":"Test Lead","phone":null,"tax_exempt":"none","tax_ids":[]},\
            "customer_email":\(q(context.email)),"expires_at":\(context.now + 86_280),"invoice":null,"livemode":false,"locale":"auto",\
            "metadata":\(metadata(context)),"mode":"payment","payment_intent":\(q(ids.paymentIntent)),\
            "payment_link":null,"payment_method_types":[\(asynchronous ? "\"us_bank_account\"" : "\"card\"")],\
            "payment_status":"paid","status":"complete","submit_type":"auto","subscription":null,\
            "success_url":"https://example.com/thanks","total_details":{"amount_discount":0,"amount_shipping":0,"amount_tax":0},\
            "ui_mode":"hosted","url":null}
            """
    }

    private static func customer(_ context: Context, _ ids: StripeIDs, name: String) -> String {
        """
        {"id":\(q(ids.customer)),"object":"customer","address":null,"balance":0,"created":\(context.now),"currency":null,\
        "default_source":null,"delinquent":false,"description":null,"email":\(q(context.email)),\
        "invoice_prefix":\(q(String(ids.customer.dropFirst(4).prefix(8)).uppercased())),\
        "invoice_settings":{"custom_fields":null,"default_payment_method":null,"footer":null,"rendering_options":null},\
        "livemode":false,"metadata":\(metadata(context)),"name":\(q(name)),"next_invoice_sequence":1,"phone":null,\
        "preferred_locales":[],"shipping":null,"tax_exempt":"none","test_clock":null}
        """
    }

    /// A subscription with `status`; the members of the JSON object `changes` replace the defaults.
    private static func subscription(_ context: Context, _ ids: StripeIDs, status: String, changes: String = "{}") -> String {
        let start = context.now - 86_400
        let periodEnd = start + 30 * 86_400
        let base = """
            {"id":\(q(ids.subscription)),"object":"subscription","application":null,"billing_cycle_anchor":\(start),\
            "cancel_at":null,"cancel_at_period_end":false,"canceled_at":null,\
            "cancellation_details":{"comment":null,"feedback":null,"reason":null},\
            "collection_method":"charge_automatically","created":\(start),"currency":"usd","customer":\(q(ids.customer)),\
            "default_payment_method":\(q(ids.paymentMethod)),"description":null,"discounts":[],"ended_at":null,\
            "items":{"object":"list","data":[{"id":\(q(ids.subscriptionItem)),"object":"subscription_item","created":\(start),\
            "current_period_end":\(periodEnd),"current_period_start":\(start),"discounts":[],"metadata":{},\
            "price":\(priceObject(context)),"quantity":1,"subscription":\(q(ids.subscription)),"tax_rates":[]}],\
            "has_more":false,"total_count":1,"url":\(q("/v1/subscription_items?subscription=\(ids.subscription)"))},\
            "latest_invoice":\(q(ids.invoice)),"livemode":false,"metadata":\(metadata(context)),"pending_update":null,\
            "start_date":\(start),"status":\(q(status)),"trial_end":null,"trial_start":null}
            """
        guard case .object(var members) = parsed(base, "subscription"), case .object(let replaced) = parsed(changes, "subscription")
        else { preconditionFailure("subscription template is not an object") }
        members.merge(replaced) { _, new in new }
        return JSONValue.object(members).serialized()
    }

    private static func priceObject(_ context: Context) -> String {
        """
        {"id":\(q(price)),"object":"price","active":true,"billing_scheme":"per_unit","created":\(context.now - 90 * 86_400),\
        "currency":"usd","livemode":false,"lookup_key":null,"metadata":{},"nickname":null,"product":\(q(product)),\
        "recurring":{"interval":"month","interval_count":1,"meter":null,"usage_type":"licensed"},\
        "tax_behavior":"unspecified","type":"recurring","unit_amount":\(amount),"unit_amount_decimal":"\(amount)"}
        """
    }

    private static func invoice(_ context: Context, _ ids: StripeIDs, status: String, paid: Bool, upcoming: Bool = false) -> String {
        let periodStart = upcoming ? context.now - 27 * 86_400 : context.now
        let periodEnd = periodStart + 30 * 86_400
        let number = "\(String(ids.customer.dropFirst(4).prefix(8)).uppercased())-0002"
        let line = """
            {"id":\(q(randomID("il_1", 24))),"object":"line_item","amount":\(amount),"currency":"usd",\
            "description":"1 × Hookyard demo plan (at $49.00 / month)","discount_amounts":[],"discountable":true,"discounts":[],\
            "invoice":\(upcoming ? "null" : q(ids.invoice)),"livemode":false,"metadata":{},\
            "parent":{"invoice_item_details":null,"subscription_item_details":{"invoice_item":null,"proration":false,\
            "proration_details":{"credited_items":null},"subscription":\(q(ids.subscription)),\
            "subscription_item":\(q(ids.subscriptionItem))},"type":"subscription_item_details"},\
            "period":{"end":\(periodEnd),"start":\(periodStart)},\
            "pricing":{"price_details":{"price":\(q(price)),"product":\(q(product))},"type":"price_details",\
            "unit_amount_decimal":"\(amount)"},"quantity":1,"taxes":[]}
            """
        // An upcoming invoice is a preview: it has no id, and Stripe attempts payment at the period end.
        let identity = upcoming ? "" : "\"id\":\(q(ids.invoice)),"
        let nextAttempt = paid ? "null" : String(upcoming ? periodStart + 30 * 86_400 : context.now + 3 * 86_400)
        let hosted = upcoming ? "null" : q("https://invoice.stripe.com/i/acct_1HookyardDemo/test_\(randomID("", 40))")
        return """
            {\(identity)"object":"invoice","account_country":"US","account_name":"Hookyard demo","amount_due":\(amount),\
            "amount_overpaid":0,"amount_paid":\(paid ? amount : 0),"amount_remaining":\(paid ? 0 : amount),"amount_shipping":0,\
            "attempt_count":\(upcoming ? 0 : 1),"attempted":\(!upcoming),"auto_advance":\(!paid),\
            "automatic_tax":{"disabled_reason":null,"enabled":false,"liability":null,"provider":null,"status":null},\
            "billing_reason":\(q(upcoming ? "upcoming" : "subscription_cycle")),"collection_method":"charge_automatically",\
            "created":\(context.now),"currency":"usd","customer":\(q(ids.customer)),"customer_address":null,\
            "customer_email":\(q(context.email)),"customer_name":"Test Lead","customer_phone":null,"customer_shipping":null,\
            "customer_tax_exempt":"none","default_payment_method":null,"description":null,"discounts":[],"due_date":null,\
            "ending_balance":\(upcoming ? "null" : "0"),"hosted_invoice_url":\(hosted),\
            "invoice_pdf":\(upcoming ? "null" : q("https://pay.stripe.com/invoice/acct_1HookyardDemo/test_\(randomID("", 40))/pdf")),\
            "lines":{"object":"list","data":[\(line)],"has_more":false,"total_count":1,\
            "url":\(q(upcoming ? "/v1/invoices/upcoming/lines" : "/v1/invoices/\(ids.invoice)/lines"))},\
            "livemode":false,"metadata":{},"next_payment_attempt":\(nextAttempt),"number":\(upcoming ? "null" : q(number)),\
            "parent":{"quote_details":null,"subscription_details":{"metadata":\(metadata(context)),\
            "subscription":\(q(ids.subscription))},"type":"subscription_details"},\
            "period_end":\(periodEnd),"period_start":\(periodStart),"receipt_number":null,"starting_balance":0,\
            "status":\(q(status)),"status_transitions":{"finalized_at":\(upcoming ? "null" : String(context.now)),\
            "marked_uncollectible_at":null,"paid_at":\(paid ? String(context.now) : "null"),"voided_at":null},\
            "subtotal":\(amount),"subtotal_excluding_tax":\(amount),"total":\(amount),"total_discount_amounts":[],\
            "total_excluding_tax":\(amount),"total_taxes":[]}
            """
    }

    private static func cardDetails() -> String {
        """
        {"card":{"brand":"visa","checks":{"address_line1_check":null,"address_postal_code_check":"pass","cvc_check":"pass"},\
        "country":"US","exp_month":12,"exp_year":2034,"funding":"credit","last4":"4242","network":"visa"},"type":"card"}
        """
    }

    private static func charge(_ context: Context, _ ids: StripeIDs) -> String {
        """
        {"id":\(q(ids.charge)),"object":"charge","amount":\(amount),"amount_captured":\(amount),"amount_refunded":\(amount),\
        "balance_transaction":\(q(randomID("txn_3", 24))),\
        "billing_details":{"address":{"city":null,"country":"US","line1":null,"line2":null,"postal_code":"94107","state":null},\
        "email":\(q(context.email)),"name":"Test Lead","phone":null,"tax_id":null},"captured":true,\
        "created":\(context.now - 3 * 86_400),"currency":"usd","customer":\(q(ids.customer)),"description":null,\
        "disputed":false,"failure_code":null,"failure_message":null,"livemode":false,"metadata":\(metadata(context)),\
        "outcome":{"network_status":"approved_by_network","reason":null,"risk_level":"normal","seller_message":"Payment complete.",\
        "type":"authorized"},"paid":true,"payment_intent":\(q(ids.paymentIntent)),"payment_method":\(q(ids.paymentMethod)),\
        "payment_method_details":\(cardDetails()),"receipt_email":\(q(context.email)),"receipt_number":null,\
        "receipt_url":\(q("https://pay.stripe.com/receipts/payment/\(randomID("", 48))")),"refunded":true,\
        "status":"succeeded"}
        """
    }

    private static func paymentIntent(_ context: Context, _ ids: StripeIDs) -> String {
        """
        {"id":\(q(ids.paymentIntent)),"object":"payment_intent","amount":\(amount),"amount_capturable":0,\
        "amount_received":\(amount),"automatic_payment_methods":{"allow_redirects":"always","enabled":true},\
        "canceled_at":null,"cancellation_reason":null,"capture_method":"automatic_async",\
        "client_secret":\(q("\(ids.paymentIntent)_secret_\(randomID("", 25))")),"confirmation_method":"automatic",\
        "created":\(context.now - 5),"currency":"usd","customer":\(q(ids.customer)),"description":null,\
        "last_payment_error":null,"latest_charge":\(q(ids.charge)),"livemode":false,"metadata":\(metadata(context)),\
        "next_action":null,"payment_method":\(q(ids.paymentMethod)),"payment_method_types":["card"],\
        "receipt_email":\(q(context.email)),"setup_future_usage":null,"status":"succeeded"}
        """
    }

    // MARK: Instantly

    /// The Instantly delivery of `type`, or `nil` for a type not in `instantlyTypes` (and not `link_clicked`).
    static func instantly(_ type: String, _ context: Context) -> JSONValue? {
        guard instantlyTypes.contains(type) || type == "link_clicked" else { return nil }
        var fields = """
            "timestamp":\(q(ISO8601Timestamp.string(context.nowMilliseconds))),"event_type":\(q(type)),\
            "workspace":\(q(instantlyWorkspace)),"campaign_id":\(q(instantlyCampaign)),"campaign_name":"Hookyard demo outreach"
            """
        let account = #""email_account":"outreach@sender.example.com""#
        // Campaign and account events are about no lead.
        if type == "campaign_completed" { return parsed("{" + fields + "}", type) }
        if type == "account_error" { return parsed("{" + fields + "," + account + "}", type) }
        let subject = "Quick question about your outbound"
        fields += """
            ,"lead_email":\(q(context.email)),\(account),"firstName":"Test","lastName":"Lead","companyName":"Example Inc",\
            "unibox_url":\(q("https://app.instantly.ai/app/unibox?thread_search=\(context.email)")),\
            "step":1,"variant":1,"is_first":true,"email_id":\(q(UUID().uuidString.lowercased()))
            """
        let sent = #","email_subject":"\#(subject)","email_text":"Hi Test, ...","email_html":"<p>Hi Test, ...</p>""#
        switch type {
        case "email_sent", "email_opened", "email_bounced":
            fields += sent
        case "email_link_clicked", "link_clicked":
            fields += sent + #","link":"https://example.com/pricing""#
        case "reply_received":
            fields += sent + """
                ,"reply_subject":"Re: \(subject)","reply_text_snippet":"Sounds interesting, how much is it?",\
                "reply_text":"Sounds interesting, how much is it?","reply_html":"<div>Sounds interesting, how much is it?</div>"
                """
        case "auto_reply_received":
            fields += sent + """
                ,"reply_subject":"Automatic reply: \(subject)","reply_text_snippet":"I am out of the office until Monday.",\
                "reply_text":"I am out of the office until Monday.","reply_html":"<div>I am out of the office until Monday.</div>"
                """
        default:
            break
        }
        return parsed("{" + fields + "}", type)
    }

    // MARK: Values

    /// `text` as a JSON string literal.
    private static func q(_ text: String) -> String { JSONValue.string(text).serialized() }

    private static func parsed(_ text: String, _ type: String) -> JSONValue {
        do {
            return try JSONValue.parse(text)
        } catch {
            preconditionFailure("event template \(type) is not JSON: \(error)")
        }
    }

    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// `prefix` and `count` random letters and digits, like Stripe's ids.
    static func randomID(_ prefix: String, _ count: Int) -> String {
        prefix + String(Crypto.randomBytes(count).map { alphabet[Int($0) % alphabet.count] })
    }

    /// `prefix` and `count` letters and digits derived from `seed`: the same seed gives the same id.
    static func derivedID(_ prefix: String, _ count: Int, seed: String) -> String {
        var bytes: [UInt8] = []
        var block = Array(seed.utf8)
        while bytes.count < count {
            block = Crypto.sha256(block)
            bytes += block
        }
        return prefix + String(bytes.prefix(count).map { alphabet[Int($0) % alphabet.count] })
    }
}
