import Foundation
import Logging
import Metrics
import Outbound
import Store
import TestSupport
import Workflows
import XCTest
@testable import Alerts
import HookyardFoundation

/// Deliverability rates per sending account and campaign on small constructed histories, the alerts they raise and
/// clear, the campaign pause through the (fake) Instantly API, account errors, and the `/metrics` gauges.
final class DeliverabilityWatchTests: AlertTestCase {
    private let campaign = "5f3c1a2b-0000-4000-8000-000000000001"
    private let account = "sender@outreach.example"
    private let hour: Int64 = 3_600_000
    private var now: Int64 = 0
    private var clock: TestClock!

    override func setUpWithError() throws {
        try super.setUpWithError()
        now = WallClock.nowMilliseconds()
        clock = TestClock(now)
    }

    private func watch(_ policy: DeliverabilityPolicy = DeliverabilityPolicy(), webhook: Bool = false) -> DeliverabilityWatch {
        DeliverabilityWatch(alerts: center(clock: clock, webhook: webhook), policy: policy, logger: log.logger, clock: clock.read)
    }

    private func engine(_ watch: DeliverabilityWatch, instantly: FakeInstantlyAPI? = nil) -> WorkflowEngine {
        let providers = instantly.map { fake in
            ProviderSet(stripe: DryRunProviderTransport(provider: "Stripe"),
                        instantly: LiveProviderTransport(provider: "Instantly", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                                         limiter: RateLimiter(requestsPerSecond: 100), userAgent: "test"),
                        stripeDryRun: true, instantlyDryRun: false)
        } ?? .dryRun
        return WorkflowEngine(rules: [], providers: providers, logger: log.logger, deliverability: watch)
    }

    /// `count` events of `type` from the account in the campaign, spread over the last hours.
    private func events(_ type: String, _ count: Int, minutesAgo: Int64 = 120, campaign: String? = nil) {
        for index in 0..<count {
            instantly(type, account: account, campaign: campaign ?? self.campaign, minutesAgo: minutesAgo - Int64(index % 60), now: now)
        }
    }

    private func raised(_ kind: String = "deliverability") -> [LogRecorder.Entry] {
        log.entries.filter { $0.level == .error && $0.fields["alert"] == kind }
    }

    func testThreeBouncesInAHundredSentCrossTwoPercentAndPauseTheCampaignOnce() throws {
        let instantly = try FakeInstantlyAPI()
        instantly.addCampaign(id: campaign, status: 1)
        let watch = watch(DeliverabilityPolicy(pauseCampaigns: true))
        let engine = engine(watch, instantly: instantly)
        events("email_sent", 100)
        events("email_bounced", 2, minutesAgo: 30)
        try drain(engine)
        XCTAssertEqual(raised(), [], "2 of 100 = 2%: not above the threshold")

        events("email_bounced", 1, minutesAgo: 20)
        try drain(engine)
        let reader = try SQLiteDeliverabilityReader(path: path)
        defer { reader.close() }
        let rates = try reader.rates(windowMilliseconds: 7 * 24 * hour, now: now)
        XCTAssertEqual(rates, [
            DeliverabilityRates(scope: .account, key: account, sent: 100, bounced: 3, unsubscribed: 0, replied: 0),
            DeliverabilityRates(scope: .campaign, key: campaign, sent: 100, bounced: 3, unsubscribed: 0, replied: 0),
        ])
        XCTAssertEqual(rates[1].bounceRate, 0.03)
        let alerts = raised()
        XCTAssertEqual(alerts.map { $0.fields["subject"] }, ["account:\(account):bounce_rate", "campaign:\(campaign):bounce_rate"])
        XCTAssertEqual(alerts.map { $0.fields["rate"] }, ["3%", "3%"])
        XCTAssertEqual(alerts[1].fields["count"], "3")
        XCTAssertEqual(alerts[1].fields["sent"], "100")
        XCTAssertEqual(alerts[1].fields["paused"], "true")
        XCTAssertEqual(alerts[0].fields["paused"], "false", "an account is never paused")
        XCTAssertTrue(alerts[0].fields["message"]?.contains("Instantly pauses campaigns, not sending accounts") == true)
        XCTAssertEqual(alerts[1].fields["message"], """
            campaign \(campaign): bounce rate 3% (3 of 100 emails sent in the last 7d) is above the 2% threshold \
            (deliverability.max_bounce_rate). Mailbox providers throttle and junk senders whose mail bounces: verify the lead \
            list and remove invalid addresses before sending more. Hookyard is pausing the campaign through the Instantly API \
            (deliverability.pause_campaigns); resume it in Instantly once fixed.
            """)
        XCTAssertEqual(try jobs(kind: DeliverabilityWatch.pauseJobKind).map(\.state), [.succeeded])
        XCTAssertEqual(instantly.campaign(id: campaign)?.status, 2, "paused")
        XCTAssertEqual(instantly.requestCount(path: "/api/v2/campaigns/\(campaign)/pause", method: "POST"), 1)

        // A fourth bounce: the same crossing, so no second pause (and no second notification within the hour).
        events("email_bounced", 1, minutesAgo: 10)
        try drain(engine)
        XCTAssertEqual(try jobs(kind: DeliverabilityWatch.pauseJobKind).count, 1)
        XCTAssertEqual(instantly.requestCount(path: "/api/v2/campaigns/\(campaign)/pause", method: "POST"), 1)
        XCTAssertEqual(raised().count, 2)
    }

    func testBelowTheMinimumSampleNothingIsJudged() throws {
        let watch = watch()
        events("email_sent", 49)
        events("email_bounced", 3, minutesAgo: 30)
        try drain(engine(watch))
        let reader = try SQLiteDeliverabilityReader(path: path)
        defer { reader.close() }
        XCTAssertEqual(try reader.rates(scope: .campaign, key: campaign, windowMilliseconds: 7 * 24 * hour, now: now).bounced, 3)
        XCTAssertEqual(try reader.rates(windowMilliseconds: 7 * 24 * hour, now: now, minimumSent: 50), [])
        XCTAssertEqual(raised(), [], "3 of 49 is 6%, but 49 is below the 50 the judgement needs")
        XCTAssertEqual(watch.samples(reader: reader), [], "nor is it a /metrics series")
    }

    /// Workers apply events in any order: when the bounces are applied before the sends that complete the sample,
    /// the send that reaches `min_sent` is the one that crosses the threshold.
    func testTheSendThatCompletesTheSampleJudgesBouncesAppliedBeforeIt() throws {
        let watch = watch()
        let engine = engine(watch)
        events("email_sent", 49)
        events("email_bounced", 3, minutesAgo: 30)
        try drain(engine)
        XCTAssertEqual(raised(), [], "3 of 49: below the sample")
        events("email_sent", 1, minutesAgo: 10)
        try drain(engine)
        XCTAssertEqual(raised().map { $0.fields["subject"] }, ["account:\(account):bounce_rate", "campaign:\(campaign):bounce_rate"])
        XCTAssertEqual(raised().map { $0.fields["rate"] }, ["6%", "6%"], "3 of 50")
    }

    func testOnlyTheWindowCountsAndTheMaintenancePassClearsWhatItNoLongerHolds() throws {
        let watch = watch(DeliverabilityPolicy(windowMilliseconds: 24 * hour))
        events("email_sent", 60, minutesAgo: 26 * 60)  // older than the day the window spans
        events("email_sent", 50)
        events("lead_unsubscribed", 1, minutesAgo: 30)
        try drain(engine(watch))
        let alerts = raised()
        XCTAssertEqual(alerts.map { $0.fields["subject"] }, ["account:\(account):unsubscribe_rate", "campaign:\(campaign):unsubscribe_rate"])
        XCTAssertEqual(alerts.first?.fields["rate"], "2%", "1 of the 50 sent within the day (not of 110)")
        XCTAssertEqual(alerts.first?.fields["threshold"], "0.3%")

        let reader = try SQLiteDeliverabilityReader(path: path)
        defer { reader.close() }
        XCTAssertEqual(watch.evaluateAll(reader: reader), [], "still holding: nothing new, and pausing is off")
        XCTAssertEqual(log.entries("alert cleared"), [])
        clock.advance(by: 24 * hour)  // everything has left the window
        XCTAssertEqual(watch.evaluateAll(reader: reader), [])
        let cleared = log.entries("alert cleared")
        XCTAssertEqual(Set(cleared.compactMap { $0.fields["subject"] }),
                       ["account:\(account):unsubscribe_rate", "campaign:\(campaign):unsubscribe_rate"])
        XCTAssertEqual(cleared.first?.fields["message"], "fewer than 50 emails sent in the last 1d, or its threshold is off: no longer judged")
        XCTAssertEqual(try watch.alerts.alerts(includeCleared: false), [])
    }

    func testAReplyRateFloorAlertsButNeverPauses() throws {
        let watch = watch(DeliverabilityPolicy(maxBounceRate: nil, maxUnsubscribeRate: nil, minReplyRate: 0.05, pauseCampaigns: true))
        events("email_sent", 50)
        try drain(engine(watch))
        let alerts = raised()
        XCTAssertEqual(alerts.map { $0.fields["subject"] }, ["account:\(account):reply_rate", "campaign:\(campaign):reply_rate"])
        XCTAssertEqual(alerts.first?.fields["sent"], "50", "judged from the 50th send on")
        XCTAssertEqual(alerts.first?.fields["rate"], "0%")
        XCTAssertEqual(try jobs(kind: DeliverabilityWatch.pauseJobKind), [])
        events("reply_received", 3, minutesAgo: 10)  // 3 of 50 = 6%
        try drain(engine(watch))
        XCTAssertEqual(log.entries("alert cleared").count, 2)
    }

    func testAnAccountErrorRaisesAndTheNextSendFromThatAccountClears() throws {
        let watch = watch(webhook: true)
        let error = instantly("account_error", account: "Sender@Outreach.example", campaign: campaign, minutesAgo: 5, now: now)
        try drain(engine(watch))
        let alert = try XCTUnwrap(raised("instantly_account_error").first)
        XCTAssertEqual(alert.fields["subject"], account, "the account, normalised")
        XCTAssertEqual(alert.fields["campaign"], campaign)
        XCTAssertEqual(try jobs(kind: AlertCenter.notificationKind).map(\.eventID), [error], "the notification belongs to the event")

        instantly("email_sent", account: "other@outreach.example", campaign: campaign, minutesAgo: 4, now: now)
        try drain(engine(watch))
        XCTAssertEqual(log.entries("alert cleared"), [], "another account's send says nothing about this one")
        instantly("email_sent", account: account, campaign: campaign, minutesAgo: 3, now: now)
        try drain(engine(watch))
        XCTAssertEqual(log.entries("alert cleared").map { $0.fields["subject"] }, [account])
    }

    func testMetricsShowTheRatesOfAccountsAndCampaignsWithTheMinimumSample() throws {
        let watch = watch()
        events("email_sent", 100)
        events("email_bounced", 3, minutesAgo: 30)
        events("reply_received", 5, minutesAgo: 30)
        events("email_sent", 10, campaign: "small")
        try drain(engine(watch))
        let metrics = HookyardMetrics(version: "test", activeAlerts: { watch.alerts.activeCounts() }, deliverability: { [path] in
            guard let reader = try? SQLiteDeliverabilityReader(path: path) else { return [] }
            defer { reader.close() }
            return watch.samples(reader: reader)
        })
        let scrape = try ExpositionParser(metrics.registry.render())
        XCTAssertEqual(scrape.value("hookyard_deliverability_bounce_rate", ["scope": "campaign", "key": campaign]), 0.03)
        XCTAssertEqual(scrape.value("hookyard_deliverability_reply_rate", ["scope": "campaign", "key": campaign]), 0.05)
        XCTAssertEqual(scrape.value("hookyard_deliverability_unsubscribe_rate", ["scope": "campaign", "key": campaign]), 0)
        XCTAssertEqual(scrape.value("hookyard_deliverability_bounce_rate", ["scope": "account", "key": account]),
                       3.0 / 110, "the account sent for both campaigns")
        XCTAssertNil(scrape.value("hookyard_deliverability_bounce_rate", ["scope": "campaign", "key": "small"]), "10 sent: below the sample")
        XCTAssertEqual(scrape.value("hookyard_alerts_active", ["kind": "deliverability"]), 2)
        XCTAssertEqual(scrape.value("hookyard_alerts_active", ["kind": "job_dead"]), 0)
        XCTAssertNotNil(scrape.families["hookyard_alerts_raised_total"])
    }

    func testPercentages() {
        XCTAssertEqual(DeliverabilityWatch.percent(0.003), "0.3%")
        XCTAssertEqual(DeliverabilityWatch.percent(0.02), "2%")
        XCTAssertEqual(DeliverabilityWatch.percent(2.0 / 110), "1.82%")
    }

    /// Rates a test gives, after an optional wait of its own inside the read (the worker's connection, as it was then).
    private final class ScriptedRatesReader: DeliverabilityRatesReading, @unchecked Sendable {  // Safe: used by one thread.
        let rates: DeliverabilityRates
        let beforeAnswering: () -> Void
        init(_ rates: DeliverabilityRates, beforeAnswering: @escaping () -> Void = {}) {
            self.rates = rates
            self.beforeAnswering = beforeAnswering
        }
        func rates(windowMilliseconds: Int64, now: Int64, minimumSent: Int) throws -> [DeliverabilityRates] { [rates] }
        func rates(scope: DeliverabilityRates.Scope, key: String, windowMilliseconds: Int64, now: Int64) throws -> DeliverabilityRates {
            beforeAnswering()
            return rates
        }
        func close() {}
    }

    /// Two workers judge the same account: one read the rates before the other's bounce was committed (0 of 10), the
    /// other after (1 of 10). The evaluations decide in the order they read, so the older rows can never clear the
    /// alert raised on the newer ones: the stale reader here waits, inside its read, until the alert is raised (for at
    /// most 2 s); without one evaluation at a time the other worker raises meanwhile and the stale one then clears it.
    func testAStaleReadOfTheRatesNeverClearsAnAlertRaisedOnNewerRows() throws {
        let watch = watch(DeliverabilityPolicy(minimumSent: 10))
        let subject = "account:\(account):bounce_rate"
        let entered = DispatchSemaphore(value: 0)
        let stale = ScriptedRatesReader(DeliverabilityRates(scope: .account, key: account, sent: 10, bounced: 0, unsubscribed: 0, replied: 0)) {
            entered.signal()
            _ = waitUntil(timeout: .seconds(2), interval: .milliseconds(10)) {
                (try? watch.alerts.raisedSubjects(.deliverability)) == [subject]
            }
        }
        let fresh = ScriptedRatesReader(DeliverabilityRates(scope: .account, key: account, sent: 10, bounced: 1, unsubscribed: 0, replied: 0))
        let staleDone = DispatchSemaphore(value: 0)
        let (account, now) = (account, now)
        Thread {
            _ = watch.observe(type: "reply_received", account: account, campaign: nil, eventID: 1, occurredAt: now, reader: stale)
            staleDone.signal()
        }.start()
        XCTAssertEqual(entered.wait(timeout: .now() + 10), .success)
        _ = watch.observe(type: "email_bounced", account: account, campaign: nil, eventID: 2, occurredAt: now, reader: fresh)
        XCTAssertEqual(staleDone.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(try watch.alerts.raisedSubjects(.deliverability), [subject], "the alert raised on the newer rows holds")
        XCTAssertEqual(log.entries.filter { $0.message == "alert cleared" }, [], "nothing cleared it")
        XCTAssertEqual(raised().count, 1, "notified once")
    }

}
