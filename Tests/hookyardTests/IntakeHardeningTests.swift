import Foundation
import Intake
import Store
import TestSupport
import XCTest

/// Issue 13, items 6–8 end to end on the real daemon: intake and the workers agree on JSON (a lone surrogate is
/// accepted and processed), ids and types with control characters are refused, and the Instantly secret never
/// reaches a log line, a metric or the database whatever the shape of the path that carries it.
final class IntakeHardeningTests: XCTestCase {
    private let instantlyHeaders = [("Content-Type", "application/json"), ("X-Webhook-Secret", DaemonProcess.instantlySecret)]

    /// An Instantly reply snippet cut mid-emoji (`\ud83d` with no low half): 200 at intake, and the worker
    /// processes it (the event's job succeeds, the rule's steps run) instead of the job going dead.
    func testLoneSurrogateIsAcceptedAndProcessed() throws {
        let outreach = "6f1d2c3b-0001-4a5b-8c7d-000000000001"
        let harness = try ScenarioHarness(example: "lead-to-sale", environment: [
            "HOOKYARD_PRICE_ID": "price_hookyard_test", "INSTANTLY_OUTREACH_CAMPAIGN_IDS": outreach,
            "INSTANTLY_PAYMENT_CAMPAIGN_ID": "6f1d2c3b-0002-4a5b-8c7d-000000000002",
            "INSTANTLY_CUSTOMER_CAMPAIGN_ID": "6f1d2c3b-0003-4a5b-8c7d-000000000003",
        ])
        harness.stripe.addPrice(id: "price_hookyard_test", unitAmount: 4900, currency: "usd")
        harness.instantly.addLead(email: "cut.emoji@example.com", campaign: outreach, firstName: "Cut")
        try harness.start()
        let body = #"{"timestamp":"2026-11-25T10:00:00.000Z","event_type":"lead_interested","workspace":"\#(FakeInstantlyAPI.workspaceID)","campaign_id":"\#(outreach)","campaign_name":"Outreach","lead_email":"cut.emoji@example.com","email_account":"sender@example.org","reply_text_snippet":"Yes please \ud83d","reply_subject":"Re: \udc00 offer \ud83d\ude00"}"#
        try harness.deliver(instantly: Array(body.utf8))
        try harness.settle()
        let jobs = try harness.jobs()
        XCTAssertFalse(jobs.isEmpty)
        XCTAssertEqual(jobs.filter { $0.state == .dead }.map { "\($0.kind): \($0.lastError ?? "")" }, [])
        XCTAssertTrue(jobs.allSatisfy { $0.state == .succeeded || $0.state == .queued }, "\(jobs.map { "\($0.kind) \($0.state)" })")
        XCTAssertEqual(jobs.filter { $0.kind == "process_event" }.map(\.state), [.succeeded])
        XCTAssertFalse(try harness.steps(ofRule: "lead-to-sale").isEmpty, "the rule's steps ran: \(jobs.map(\.kind))")
    }

    /// Two Stripe ids that differ only after a NUL were one id in the store (the second acknowledged as a
    /// duplicate and dropped); an Instantly type with a NUL ran as the type before it. Both are refused now, with
    /// a 400 naming the field and the character.
    func testControlCharactersInIdsAndTypesAreRefused() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        for id in [#"evt_nul\u0000first"#, #"evt_nul\u0000second"#, #"evt_tab\tid"#, #"evt_del\u007f"#] {
            let body = Array(#"{"id":"\#(id)","object":"event","type":"checkout.session.completed","data":{"object":{}}}"#.utf8)
            let header = StripeSignatureVerifier.header(for: body, secret: DaemonProcess.stripeSecret, timestamp: Int64(Date().timeIntervalSince1970))
            let response = try client.roundTrip("POST", "/webhooks/stripe", headers: [("Stripe-Signature", header)], body: body)
            XCTAssertEqual(response.status, 400, "\(id): \(response.bodyText)")
            XCTAssertTrue(response.bodyText.contains("invalid_field"), response.bodyText)
            XCTAssertTrue(response.bodyText.contains("'id'") && response.bodyText.contains("control character U+00"), response.bodyText)
        }
        let typed = Array(#"{"id":"evt_type_nul","object":"event","type":"invoice.paid\u0000x","data":{"object":{}}}"#.utf8)
        let header = StripeSignatureVerifier.header(for: typed, secret: DaemonProcess.stripeSecret, timestamp: Int64(Date().timeIntervalSince1970))
        let typedResponse = try client.roundTrip("POST", "/webhooks/stripe", headers: [("Stripe-Signature", header)], body: typed)
        XCTAssertEqual(typedResponse.status, 400, typedResponse.bodyText)
        XCTAssertTrue(typedResponse.bodyText.contains("'type'"), typedResponse.bodyText)

        let instantly = Array(#"{"event_type":"lead_interested\u0000x","timestamp":"2026-11-25T06:00:00Z","workspace":"w","campaign_id":"c","lead_email":"a@b.c"}"#.utf8)
        let response = try client.roundTrip("POST", "/webhooks/instantly", headers: instantlyHeaders, body: instantly)
        XCTAssertEqual(response.status, 400, response.bodyText)
        XCTAssertTrue(response.bodyText.contains("'event_type'") && response.bodyText.contains("U+0000"), response.bodyText)

        let (_, stripeList) = try daemon.run(["events", "list", "--source", "stripe"])
        let (_, instantlyList) = try daemon.run(["events", "list", "--source", "instantly"])
        XCTAssertEqual(stripeList.split(separator: "\n").count, 1, stripeList)  // the header only
        XCTAssertEqual(instantlyList.split(separator: "\n").count, 1, instantlyList)
    }

    /// The Instantly secret in any path shape: after a second slash, behind a proxy's prefix, with the slash
    /// percent-encoded, entirely percent-encoded, inside a longer segment, in the query. None of it reaches the
    /// log, `/metrics` or the database file.
    func testSecretInAnyPathShapeIsRedacted() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.client()
        let secret = DaemonProcess.instantlySecret
        let encoded = secret.utf8.map { String(format: "%%%02X", $0) }.joined()
        let lowerEncoded = encoded.lowercased()
        let doubleEncoded = encoded.replacingOccurrences(of: "%", with: "%25")
        let paths = [
            "//webhooks/instantly/\(secret)", "/hooks/webhooks/instantly/\(secret)", "/webhooks%2Finstantly/\(secret)",
            "/webhooks%2finstantly%2F\(secret)", "/webhooks/instantly/\(encoded)", "/WEBHOOKS/instantly/\(lowerEncoded)",
            "/webhooks/instantly/x\(secret)y", "/other/\(doubleEncoded)/tail", "/webhooks/instantly/\(secret)/extra",
            "/webhooks/instantly?secret=\(secret)", "/webhooks/instantly/\(secret)",
        ]
        let body = Array(#"{"event_type":"reply_received","timestamp":"2026-11-25T06:00:00Z","workspace":"w","campaign_id":"c","lead_email":"a@b.c"}"#.utf8)
        for path in paths {
            _ = try client.roundTrip("POST", path, headers: [("Content-Type", "application/json")], body: body)
            _ = try client.roundTrip("GET", path)
        }
        let metrics = try daemon.adminClient().roundTrip("GET", "/metrics").bodyText
        for path in paths { _ = try daemon.adminClient().roundTrip("GET", path) }
        let logged = daemon.logLines().compactMap { $0["path"] as? String }
        XCTAssertGreaterThanOrEqual(logged.filter { $0.contains("[redacted]") }.count, paths.count * 2, "\(logged)")
        XCTAssertTrue(logged.contains("//webhooks/instantly/[redacted]"), "\(logged)")
        XCTAssertTrue(logged.contains("/hooks/webhooks/instantly/[redacted]"), "\(logged)")
        let output = daemon.output
        for form in [secret, encoded, lowerEncoded, doubleEncoded] {
            XCTAssertFalse(output.contains(form), "the log holds \(form)")
            XCTAssertFalse(metrics.contains(form), "/metrics holds \(form)")
        }
        _ = daemon.terminate()
        for suffix in ["", "-wal"] {
            guard let data = FileManager.default.contents(atPath: daemon.databasePath + suffix) else { continue }
            XCTAssertNil(data.range(of: Data(secret.utf8)), "the database\(suffix) holds the secret")
        }
    }
}
