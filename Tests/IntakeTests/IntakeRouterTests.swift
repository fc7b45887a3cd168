import Foundation
import HTTPServer
import Logging
import Metrics
import SQLite
import Store
import TestSupport
import XCTest
@testable import Intake

/// The intake routes driven in process (requests built as values, a real `SQLiteEventWriter` on a temporary SQLite
/// database), with the assertions the daemon's binary tests make; every test body also runs over a live socket
/// (`ResponderTestMode.live`), so the two cannot drift apart.
final class IntakeRouterTests: XCTestCase {
    private static let stripeSecret = "whsec_intake_router_tests"
    private static let instantlySecret = "instantly-intake-router-secret"

    private var directory: URL!
    /// Every directory made (one per mode), removed after the writers closed.
    private var directories: [URL] = []
    private var path: String { directory.appendingPathComponent("intake.db").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("intake-router-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        directories.append(directory)
    }

    override func tearDownWithError() throws {
        for directory in directories { try? FileManager.default.removeItem(at: directory) }
    }

    /// A router on a fresh writer, and the metrics it records; the writer is closed when the test ends.
    private func makeRouter(secrets: Bool = true, answerTimeoutMilliseconds: Int32 = 5000) throws -> (IntakeRouter, HookyardMetrics) {
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger(), answerTimeoutMilliseconds: answerTimeoutMilliseconds)
        addTeardownBlock { writer.close() }
        let metrics = HookyardMetrics(version: "test")
        let configuration = secrets
            ? IntakeConfiguration(stripeSecrets: [Self.stripeSecret], instantlySecrets: [Self.instantlySecret])
            : IntakeConfiguration()
        return (IntakeRouter(configuration: configuration, writer: writer, logger: TestLog.logger(), metrics: metrics), metrics)
    }

    /// Runs `body` once in process and once over a live socket, each on a database of its own.
    private func eachMode(_ body: (ResponderTestMode) throws -> Void) throws {
        for mode in ResponderTestMode.allCases {
            try setUpWithError()
            try body(mode)
        }
    }

    private func stripeHeaders(_ body: [UInt8], secret: String = stripeSecret,
                               timestamp: Int64 = Int64(Date().timeIntervalSince1970)) -> [(String, String)] {
        [("Content-Type", "application/json"),
         ("Stripe-Signature", StripeSignatureVerifier.header(for: body, secret: secret, timestamp: timestamp))]
    }

    private func storedStripeIDs() throws -> [String: Int] {
        let database = try SQLiteDatabase(path: path)
        let statement = try database.prepare("SELECT event_id, count(*) FROM events WHERE source = 'stripe' GROUP BY event_id")
        var result: [String: Int] = [:]
        while try statement.step() { result[statement.string(0)!] = Int(statement.int(1)) }
        return result
    }

    private func instantlyEvents() throws -> Int {
        try SQLiteStoreReader(path: path).events(source: .instantly, limit: 100).count
    }

    private func json(_ response: TestResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], response.bodyText)
    }

    private let instantlyBody = Array(#"{"event_type":"reply_received","timestamp":"2026-11-25T06:00:00Z","workspace":"w","campaign_id":"c","lead_email":"a@b.c"}"#.utf8)

    // MARK: Stripe

    func testStripeDeliveryAnswers200AfterCommitAndADuplicateCreatesNothing() throws {
        try eachMode { mode in
            let (router, metrics) = try makeRouter()
            try ResponderTestClient.withClient(router, mode: mode) { client in
                let body = StripeTestEvents.body(id: "evt_router_1")
                let first = try client.execute("POST", "/webhooks/stripe", headers: stripeHeaders(body), body: body)
                XCTAssertEqual(first.status, 200, "\(mode): \(first.bodyText)")
                XCTAssertEqual(try json(first)["duplicate"] as? Bool, false, "\(mode)")
                XCTAssertEqual(try json(first)["event_id"] as? String, "evt_router_1", "\(mode)")
                // Answered after the commit: the event is already in the database.
                XCTAssertEqual(try storedStripeIDs(), ["evt_router_1": 1], "\(mode)")

                // A redelivery is signed again with a new timestamp, as Stripe does.
                let second = try client.execute("POST", "/webhooks/stripe",
                                                headers: stripeHeaders(body, timestamp: Int64(Date().timeIntervalSince1970) - 5), body: body)
                XCTAssertEqual(second.status, 200, "\(mode): \(second.bodyText)")
                XCTAssertEqual(try json(second)["duplicate"] as? Bool, true, "\(mode)")
                XCTAssertEqual(try storedStripeIDs(), ["evt_router_1": 1], "\(mode)")
            }
            let exposition = try ExpositionParser(metrics.registry.render())
            XCTAssertEqual(exposition.value("hookyard_webhooks_received_total",
                                            ["source": "stripe", "type": "checkout.session.completed", "status": "200"]), 2, "\(mode)")
            XCTAssertEqual(exposition.value("hookyard_webhook_duplicates_total", ["source": "stripe"]), 1, "\(mode)")
        }
    }

    func testStripeRejectionsCarryStatusAndReasonAndStoreNothing() throws {
        try eachMode { mode in
            let (router, metrics) = try makeRouter()
            try ResponderTestClient.withClient(router, mode: mode) { client in
                let body = StripeTestEvents.body(id: "evt_router_rejected")
                let now = Int64(Date().timeIntervalSince1970)
                let cases: [(String?, String)] = [
                    (nil, "missing_header"),
                    ("garbage", "unparsable_header"),
                    ("t=\(now),v0=abc", "no_v1_signature"),
                    (StripeSignatureVerifier.header(for: body, secret: "whsec_wrong", timestamp: now), "no_matching_signature"),
                    (StripeSignatureVerifier.header(for: body, secret: Self.stripeSecret, timestamp: now - 400), "timestamp_outside_tolerance"),
                ]
                for (signature, reason) in cases {
                    let response = try client.execute("POST", "/webhooks/stripe",
                                                      headers: signature.map { [("Stripe-Signature", $0)] } ?? [], body: body)
                    XCTAssertEqual(response.status, 400, "\(mode): \(reason)")
                    let object = try json(response)
                    XCTAssertEqual(object["reason"] as? String, reason, "\(mode)")
                    XCTAssertFalse((object["error"] as? String)?.isEmpty ?? true, "\(mode)")
                }
                // Signed, but not JSON.
                let broken = Array("{not json".utf8)
                let unparsable = try client.execute("POST", "/webhooks/stripe", headers: stripeHeaders(broken), body: broken)
                XCTAssertEqual(unparsable.status, 400, "\(mode): \(unparsable.bodyText)")
                XCTAssertEqual(try storedStripeIDs(), [:], "\(mode)")
            }
            let exposition = try ExpositionParser(metrics.registry.render())
            XCTAssertEqual(exposition.value("hookyard_signature_failures_total", ["source": "stripe", "reason": "no_matching_signature"]), 1,
                           "\(mode)")
            XCTAssertEqual(exposition.value("hookyard_webhooks_received_total", ["source": "stripe", "type": "unknown", "status": "400"]), 6,
                           "\(mode)")
        }
    }

    // MARK: Instantly

    func testInstantlySecretInHeaderBearerOrPathAndDuplicates() throws {
        try eachMode { mode in
            let (router, _) = try makeRouter()
            try ResponderTestClient.withClient(router, mode: mode) { client in
                let first = try client.execute("POST", "/webhooks/instantly",
                                               headers: [("Authorization", "Bearer \(Self.instantlySecret)")], body: instantlyBody)
                XCTAssertEqual(first.status, 200, "\(mode): \(first.bodyText)")
                XCTAssertEqual(try json(first)["duplicate"] as? Bool, false, "\(mode)")
                XCTAssertEqual(try instantlyEvents(), 1, "\(mode)")
                let viaPath = try client.execute("POST", "/webhooks/instantly/\(Self.instantlySecret)", body: instantlyBody)
                XCTAssertEqual(try json(viaPath)["duplicate"] as? Bool, true, "\(mode): \(viaPath.bodyText)")
                let viaHeader = try client.execute("POST", "/webhooks/instantly",
                                                   headers: [("X-Webhook-Secret", Self.instantlySecret)], body: instantlyBody)
                XCTAssertEqual(try json(viaHeader)["duplicate"] as? Bool, true, "\(mode): \(viaHeader.bodyText)")
                XCTAssertEqual(try instantlyEvents(), 1, "\(mode)")
            }
        }
    }

    func testInstantlyRejections() throws {
        try eachMode { mode in
            let (router, metrics) = try makeRouter()
            try ResponderTestClient.withClient(router, mode: mode) { client in
                let missing = try client.execute("POST", "/webhooks/instantly", body: Array("{}".utf8))
                XCTAssertEqual(missing.status, 401, "\(mode)")
                XCTAssertEqual(try json(missing)["reason"] as? String, "missing_secret", "\(mode)")
                let wrong = try client.execute("POST", "/webhooks/instantly", headers: [("X-Webhook-Secret", "nope")], body: Array("{}".utf8))
                XCTAssertEqual(wrong.status, 401, "\(mode)")
                XCTAssertEqual(try json(wrong)["reason"] as? String, "wrong_secret", "\(mode)")
                let incomplete = try client.execute("POST", "/webhooks/instantly", headers: [("X-Webhook-Secret", Self.instantlySecret)],
                                                    body: Array(#"{"event_type":"email_sent","timestamp":"t"}"#.utf8))
                XCTAssertEqual(incomplete.status, 400, "\(mode)")
                XCTAssertTrue(incomplete.bodyText.contains("'workspace'"), "\(mode): \(incomplete.bodyText)")
                let notJSON = try client.execute("POST", "/webhooks/instantly", headers: [("X-Webhook-Secret", Self.instantlySecret)],
                                                 body: Array("[1,".utf8))
                XCTAssertEqual(notJSON.status, 400, "\(mode): \(notJSON.bodyText)")
                XCTAssertEqual(try instantlyEvents(), 0, "\(mode)")
            }
            let exposition = try ExpositionParser(metrics.registry.render())
            XCTAssertEqual(exposition.value("hookyard_signature_failures_total", ["source": "instantly", "reason": "wrong_secret"]), 1, "\(mode)")
            XCTAssertEqual(exposition.value("hookyard_signature_failures_total", ["source": "instantly", "reason": "missing_secret"]), 1, "\(mode)")
        }
    }

    // MARK: The store

    func testStoreThatCannotCommitAnswers503ThenRecovers() throws {
        try eachMode { mode in
            let (router, metrics) = try makeRouter(answerTimeoutMilliseconds: 300)
            try ResponderTestClient.withClient(router, mode: mode) { client in
                let blocker = try SQLiteDatabase(path: path)
                try blocker.execute("BEGIN IMMEDIATE")
                let body = StripeTestEvents.body(id: "evt_router_locked")
                let refused = try client.execute("POST", "/webhooks/stripe", headers: stripeHeaders(body), body: body)
                XCTAssertEqual(refused.status, 503, "\(mode): \(refused.bodyText)")
                XCTAssertEqual(refused.headers["retry-after"], "5", "\(mode)")
                XCTAssertEqual(try json(refused)["reason"] as? String, "store_unavailable", "\(mode)")
                XCTAssertEqual(try client.execute("GET", "/readyz").status, 503, "\(mode)")
                try blocker.execute("ROLLBACK")

                let accepted = try client.execute("POST", "/webhooks/stripe", headers: stripeHeaders(body), body: body)
                XCTAssertEqual(accepted.status, 200, "\(mode): \(accepted.bodyText)")
                XCTAssertEqual(try json(accepted)["duplicate"] as? Bool, false, "\(mode): the refused delivery was not stored")
                XCTAssertEqual(try client.execute("GET", "/readyz").status, 200, "\(mode)")
            }
            let exposition = try ExpositionParser(metrics.registry.render())
            XCTAssertEqual(exposition.value("hookyard_webhooks_received_total",
                                            ["source": "stripe", "type": "checkout.session.completed", "status": "503"]), 1, "\(mode)")
        }
    }

    func testUnconfiguredSourceAnswers503NamingTheVariable() throws {
        try eachMode { mode in
            let (router, _) = try makeRouter(secrets: false)
            try ResponderTestClient.withClient(router, mode: mode) { client in
                let body = StripeTestEvents.body(id: "evt_router_unconfigured")
                let stripe = try client.execute("POST", "/webhooks/stripe", headers: stripeHeaders(body), body: body)
                XCTAssertEqual(stripe.status, 503, "\(mode)")
                XCTAssertTrue(stripe.bodyText.contains("STRIPE_WEBHOOK_SECRET"), "\(mode): \(stripe.bodyText)")
                let instantly = try client.execute("POST", "/webhooks/instantly", body: Array("{}".utf8))
                XCTAssertEqual(instantly.status, 503, "\(mode)")
                XCTAssertTrue(instantly.bodyText.contains("INSTANTLY_WEBHOOK_SECRET"), "\(mode): \(instantly.bodyText)")
            }
        }
    }

    // MARK: Health and routing

    func testHealthRoutesAndRouting() throws {
        try eachMode { mode in
            let (router, _) = try makeRouter()
            try ResponderTestClient.withClient(router, mode: mode) { client in
                XCTAssertEqual(try client.execute("GET", "/healthz").status, 200, "\(mode)")
                XCTAssertEqual(try client.execute("GET", "/readyz").status, 200, "\(mode)")
                XCTAssertEqual(try client.execute("GET", "/nowhere").status, 404, "\(mode)")
                let wrongMethod = try client.execute("GET", "/webhooks/stripe")
                XCTAssertEqual(wrongMethod.status, 405, "\(mode)")
                XCTAssertEqual(wrongMethod.headers["allow"], "POST", "\(mode)")
                let admin = try client.execute("GET", "/metrics")
                XCTAssertEqual(admin.status, 404, "\(mode)")
                XCTAssertEqual(try json(admin)["reason"] as? String, "admin_route", "\(mode)")
            }
        }
    }
}
