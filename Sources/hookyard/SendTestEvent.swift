import ArgumentParser
import Cryptography
import Foundation
import Intake
import Outbound

/// `hookyard send-test-event`: send one correctly signed (or authenticated) test webhook to a running daemon.
struct SendTestEvent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test-event",
        abstract: "Send a correctly signed test webhook to a running hookyard.")

    enum Source: String, ExpressibleByArgument { case stripe, instantly }

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "stripe or instantly") var source: Source = .stripe
    @Option(help: "Base URL of the daemon (default: http://<listen address>).") var to: String?

    func run() throws {
        let settings = try options.load()
        let base = to ?? "http://\(settings.listen)"
        let unique = Crypto.hex(Crypto.randomBytes(12))
        let now = Int64(Date().timeIntervalSince1970)
        var headers = [("Content-Type", "application/json")]
        let body: String
        let path: String
        switch source {
        case .stripe:
            guard let secret = settings.stripe.webhookSecrets.first else {
                throw ValidationError("STRIPE_WEBHOOK_SECRET is not set (see .hookyard-dev.env after 'make run')")
            }
            body = """
            {"id":"evt_test_\(unique)","object":"event","api_version":"2024-06-20","created":\(now),"livemode":false,\
            "type":"checkout.session.completed","pending_webhooks":1,"request":{"id":null,"idempotency_key":null},\
            "data":{"object":{"id":"cs_test_\(unique)","object":"checkout.session","mode":"payment","payment_status":"paid",\
            "amount_total":4900,"currency":"usd","customer":"cus_test_\(unique.prefix(8))",\
            "customer_details":{"email":"test-lead@example.com"},"metadata":{}}}}
            """
            headers.append(("Stripe-Signature", StripeSignatureVerifier.header(for: Array(body.utf8), secret: secret, timestamp: now)))
            path = "/webhooks/stripe"
        case .instantly:
            guard let secret = settings.instantly.webhookSecrets.first else {
                throw ValidationError("INSTANTLY_WEBHOOK_SECRET is not set (see .hookyard-dev.env after 'make run')")
            }
            body = """
            {"timestamp":"\(isoTime(now * 1000))","event_type":"lead_interested",\
            "workspace":"00000000-0000-4000-8000-000000000001","campaign_id":"00000000-0000-4000-8000-000000000002",\
            "campaign_name":"Test campaign","lead_email":"test-lead+\(unique.prefix(8))@example.com","step":1,"variant":1}
            """
            headers.append(("Authorization", "Bearer \(secret)"))
            path = "/webhooks/instantly"
        }
        let client = HTTPClient(userAgent: "hookyard/\(Hookyard.version)")
        let response: HTTPClientResponse
        do {
            response = try client.send(method: "POST", url: base + path, headers: headers, body: Array(body.utf8))
        } catch {
            throw ValidationError("could not reach hookyard: \(error) (is 'make run' running?)")
        }
        print("POST \(base + path) -> \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        if !(200..<300).contains(response.status) { throw ExitCode(1) }
    }
}
