import Alerts
import Store
import TestSupport
import XCTest

/// The deliverability rates, one body on both engines, on activity rows written directly: the window is
/// `(now - window, now]`, only the four kinds count, accounts come first, each scope in byte order of its key, and
/// `minimumSent` filters by emails sent.
final class DeliverabilityRatesReadingTests: XCTestCase {
    func testRatesPerAccountAndCampaignInTheWindow() throws {
        try forEachStorageEngine { location in
            try EngineSQL.prepare(location)
            let now: Int64 = 10_000_000
            let window: Int64 = 1_000_000
            // (kind, campaign, account, time)
            let rows: [(String, String?, String?, Int64)] = [
                ("sent", "c-b", "b@x.example", now), ("sent", "c-b", "b@x.example", now - 10), ("bounced", "c-b", "b@x.example", now - 5),
                ("sent", "c-a", "B@x.example", now - 20), ("replied", "c-a", "B@x.example", now - 1),
                ("unsubscribed", "c-a", nil, now - 2), ("sent", nil, "a@x.example", now - 3),
                ("opened", "c-a", "a@x.example", now - 3),
                ("sent", "c-a", "a@x.example", now - window), ("sent", "c-a", "a@x.example", now + 1),
            ]
            let values = rows.map { kind, campaign, account, at in
                "('\(kind)', \(campaign.map { "'\($0)'" } ?? "NULL"), \(account.map { "'\($0)'" } ?? "NULL"), \(at))"
            }
            try EngineSQL.execute(location, "INSERT INTO contact_activity (kind, campaign_id, account, occurred_at) VALUES "
                                  + values.joined(separator: ", "))
            let reader = try DeliverabilityRatesReadingOpening.open(location)
            defer { reader.close() }
            XCTAssertEqual(try reader.rates(windowMilliseconds: window, now: now, minimumSent: 0), [
                DeliverabilityRates(scope: .account, key: "B@x.example", sent: 1, bounced: 0, unsubscribed: 0, replied: 1),
                DeliverabilityRates(scope: .account, key: "a@x.example", sent: 1, bounced: 0, unsubscribed: 0, replied: 0),
                DeliverabilityRates(scope: .account, key: "b@x.example", sent: 2, bounced: 1, unsubscribed: 0, replied: 0),
                DeliverabilityRates(scope: .campaign, key: "c-a", sent: 1, bounced: 0, unsubscribed: 1, replied: 1),
                DeliverabilityRates(scope: .campaign, key: "c-b", sent: 2, bounced: 1, unsubscribed: 0, replied: 0),
            ])
            XCTAssertEqual(try reader.rates(windowMilliseconds: window, now: now, minimumSent: 2).map(\.key), ["b@x.example", "c-b"])
            XCTAssertEqual(try reader.rates(scope: .campaign, key: "c-a", windowMilliseconds: window, now: now),
                           DeliverabilityRates(scope: .campaign, key: "c-a", sent: 1, bounced: 0, unsubscribed: 1, replied: 1))
            XCTAssertEqual(try reader.rates(scope: .account, key: "nobody", windowMilliseconds: window, now: now),
                           DeliverabilityRates(scope: .account, key: "nobody", sent: 0, bounced: 0, unsubscribed: 0, replied: 0))
        }
    }
}
