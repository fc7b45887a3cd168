import DemoData
import Foundation
import Reports
import PostgreSQL
import Store
import TestSupport
import XCTest
import SQLite

/// `DemoDataset`: what `hookyard demo seed` writes, its refusals, and the report it gives.
final class DemoDatasetTests: XCTestCase {
    var directory: URL!
    /// 2026-11-25T00:00:00Z.
    let now: Int64 = 1_795_564_800_000

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func testTheReportOnDemoDataHasFiguresInEverySectionAndSaysItIsSynthetic() throws {
        let summary = try DemoDataset(contacts: 2_000, seed: 3, now: now).create(path: path("demo.db"), force: false)
        XCTAssertEqual(summary.contacts, 2_000)
        let builder = try ReportBuilder(path: path("demo.db"))
        defer { builder.close() }
        let report = try builder.build(ReportQuery(since: now - 30 * 86_400_000, until: now), now: now)
        XCTAssertTrue(report.synthetic)
        let figures = report.headline.figures
        for (name, value) in [("emails", figures.emailsSent), ("contacted", figures.contacted), ("opened", figures.opened),
                              ("clicked", figures.clicked), ("replied", figures.replied), ("links", figures.linksSent),
                              ("links clicked", figures.linksClicked), ("links paid", figures.linksPaid)] {
            XCTAssertGreaterThan(value ?? 0, 0, name)
        }
        XCTAssertGreaterThan(figures.customers, 0)
        XCTAssertGreaterThan(figures.newCustomers, 0)
        XCTAssertEqual(figures.revenue.map(\.currency), ["eur", "usd"])
        XCTAssertTrue(figures.revenue.allSatisfy { $0.amount > 0 })
        XCTAssertTrue(figures.refunds.contains { $0.amount < 0 })
        XCTAssertGreaterThan(figures.timeToFirstPurchaseCount, 0)
        XCTAssertGreaterThan(report.headline.manualInterventions, 0)
        XCTAssertGreaterThan(report.headline.deadJobsNow, 0)
        XCTAssertTrue(report.funnel.allSatisfy { $0.count > 0 }, "\(report.funnel)")
        XCTAssertGreaterThan(report.groups.count, 5)
        XCTAssertTrue(report.groups.filter { $0.key != "direct" }.allSatisfy { $0.name.hasPrefix("Demo: ") })
        XCTAssertGreaterThan(report.timeToPurchase.filter { $0.count > 0 }.count, 2, "spread over days and weeks")
        XCTAssertEqual(report.churn.count, 2)
        XCTAssertTrue(report.churn.contains { $0.churned > 0 })
        XCTAssertGreaterThan(report.lifetimeValue.count, 3)
        let control = try XCTUnwrap(report.controlGroups.first)
        XCTAssertGreaterThan(control.control, 0)
        XCTAssertGreaterThan(control.treated, control.control)
        // Every address is on a domain reserved for examples.
        let database = try SQLiteDatabase(path: path("demo.db"), readOnly: true)
        XCTAssertEqual(try database.scalarInt("""
            SELECT count(*) FROM contacts WHERE email NOT LIKE '%@example.com' AND email NOT LIKE '%@example.org'
            """), 0)
        XCTAssertEqual(try database.scalarInt("SELECT count(*) FROM campaigns WHERE name NOT LIKE 'Demo: %'"), 0)
    }

    func testTheSameSeedGivesTheSameDataAndAnotherSeedOther() throws {
        func fingerprint(_ name: String, seed: UInt64) throws -> [Int64] {
            _ = try DemoDataset(contacts: 300, seed: seed, now: now).create(path: path(name), force: false)
            let database = try SQLiteDatabase(path: path(name), readOnly: true)
            defer { database.close() }
            return try [
                "SELECT count(*) FROM events", "SELECT sum(occurred_at % 1000003) FROM contact_activity",
                "SELECT sum(amount) FROM contact_payments", "SELECT count(*) FROM payment_links_sent",
                "SELECT count(*) FROM rule_holdbacks", "SELECT sum(length(email)) FROM contacts",
            ].map { try database.scalarInt($0) ?? -1 }
        }
        let first = try fingerprint("a.db", seed: 9)
        XCTAssertEqual(try fingerprint("b.db", seed: 9), first)
        XCTAssertNotEqual(try fingerprint("c.db", seed: 10), first)
    }

    func testARealDatabaseIsRefusedAndADemoOneReplacedOnlyWithForce() throws {
        // A database holding one real event (not written by the demo generator).
        let real = try LoadingConnection.open(path: path("real.db"))
        let writer = try SQLiteReportDataWriter(database: real, keyPrefix: "evt:")
        try writer.activity(contact: nil, kind: "sent", campaign: "c", at: now)
        real.close()
        XCTAssertThrowsError(try DemoDataset(contacts: 10, now: now).create(path: path("real.db"), force: true)) { error in
            XCTAssertEqual(error as? DemoDataset.Refusal, .realData(path: path("real.db"), events: 1, contacts: 0))
            XCTAssertTrue("\(error)".contains("demo data is never mixed into a real database"), "\(error)")
        }

        _ = try DemoDataset(contacts: 10, now: now).create(path: path("demo.db"), force: false)
        XCTAssertThrowsError(try DemoDataset(contacts: 20, now: now).create(path: path("demo.db"), force: false)) { error in
            XCTAssertEqual(error as? DemoDataset.Refusal, .alreadySeeded(path: path("demo.db")))
        }
        XCTAssertEqual(try DemoDataset(contacts: 20, now: now).create(path: path("demo.db"), force: true).contacts, 20)
        let database = try SQLiteDatabase(path: path("demo.db"), readOnly: true)
        XCTAssertEqual(try database.scalarInt("SELECT count(*) FROM contacts WHERE email LIKE 'demo.lead%'"), 20, "replaced, not added to")
    }

    /// Figures over every table the demo writes, ids included, that differ if any row does.
    static let fingerprintQueries = [
        "SELECT count(*) FROM events", "SELECT sum(id) FROM events", "SELECT sum(length(body)) FROM events",
        "SELECT count(*) FROM events WHERE pruned_at IS NOT NULL", "SELECT sum(received_at % 1000003) FROM events",
        "SELECT sum(occurred_at % 1000003) FROM contact_activity", "SELECT sum(id * (occurred_at % 1000)) FROM contact_activity",
        "SELECT sum(coalesce(contact_id, 0) + coalesce(event_id, 0)) FROM contact_activity",
        "SELECT count(*) FROM contact_activity WHERE account IS NOT NULL",
        "SELECT sum(amount) FROM contact_payments", "SELECT sum(id * (amount % 1000)) FROM contact_payments",
        "SELECT count(*) FROM contact_payments WHERE last_campaign IS NOT NULL AND first_campaign IS NOT NULL",
        "SELECT count(*) FROM payment_links_sent", "SELECT sum(created_at % 1000003) FROM payment_links_sent",
        "SELECT count(*) FROM rule_holdbacks", "SELECT count(*) FROM rule_runs", "SELECT sum(at % 1000003) FROM rule_runs",
        "SELECT sum(length(email) * id) FROM contacts", "SELECT sum(sent + 3 * opened + 5 * clicked + 7 * replied + 11 * bounced) FROM contacts",
        "SELECT sum(coalesce(last_engagement_at, 0) % 1000003) FROM contacts",
        "SELECT count(*) FROM contacts WHERE payment_status = 'customer'", "SELECT count(*) FROM contacts WHERE do_not_contact IS NOT NULL",
        "SELECT count(*) FROM contacts WHERE subscription_status = 'canceled'", "SELECT count(*) FROM contacts WHERE tier IS NOT NULL",
        "SELECT sum(coalesce(first_campaign_at, 0) % 1000003) FROM contacts",
        "SELECT sum(id) FROM jobs", "SELECT count(*) FROM jobs WHERE state = 'dead'", "SELECT sum(count) FROM admin_actions",
        "SELECT count(*) FROM campaigns",
    ]

    /// `hookyard demo seed` on PostgreSQL writes what it writes on SQLite for the same seed, row for row (ids
    /// included), and the report read from each is the same.
    func testTheSameSeedWritesTheSameRowsAndTheSameReportOnBothEngines() throws {
        var fingerprints: [[Int64]] = []
        var reports: [Report] = []
        try forEachStorageEngine { location in
            let summary = try DemoDataset(contacts: 1_000, seed: 3, now: now).create(location, force: false)
            XCTAssertEqual(summary.contacts, 1_000)
            fingerprints.append(try Self.fingerprintQueries.map { try EngineSQL.integer(location, $0) ?? -1 })
            let builder = ReportBuilder(queries: try ReportQueriesOpening.open(location))
            defer { builder.close() }
            for model in [AttributionModel.last, .first] {
                for grouping in [ReportGrouping.campaign, .rule] {
                    reports.append(try builder.build(ReportQuery(since: now - 30 * 86_400_000, until: now, model: model,
                                                                 grouping: grouping), now: now))
                }
            }
        }
        XCTAssertEqual(fingerprints.count, 2)
        for (index, query) in Self.fingerprintQueries.enumerated() {
            XCTAssertEqual(fingerprints[0][index], fingerprints[1][index], query)
        }
        XCTAssertEqual(reports.count, 8)
        XCTAssertTrue(reports[4].synthetic)
        XCTAssertGreaterThan(reports[4].headline.figures.emailsSent ?? 0, 0)
        for index in 0..<4 { XCTAssertEqual(reports[index], reports[index + 4], "report \(index): SQLite, then PostgreSQL") }
    }

    func testOnPostgreSQLARealDatabaseIsRefusedAndADemoOneReplacedOnlyWithForce() throws {
        let server = try PostgreSQLTestServer.start()
        let real = DatabaseLocation.postgresql(url: try server.makeStoreDatabase(), password: nil)
        let writer = try ReportDataWritingOpening.open(real, keyPrefix: "evt:")
        try writer.transaction { try writer.activity(contact: nil, kind: "sent", campaign: "c", at: now) }
        writer.close()
        XCTAssertThrowsError(try DemoDataset(contacts: 10, now: now).create(real, force: true)) { error in
            XCTAssertEqual(error as? DemoDataset.Refusal, .realData(path: real.description, events: 1, contacts: 0))
        }

        let demo = DatabaseLocation.postgresql(url: try server.makeStoreDatabase(), password: nil)
        _ = try DemoDataset(contacts: 10, now: now).create(demo, force: false)
        XCTAssertThrowsError(try DemoDataset(contacts: 20, now: now).create(demo, force: false)) { error in
            XCTAssertEqual(error as? DemoDataset.Refusal, .alreadySeeded(path: demo.description))
        }
        XCTAssertEqual(try DemoDataset(contacts: 20, now: now).create(demo, force: true).contacts, 20)
        XCTAssertEqual(try EngineSQL.integer(demo, "SELECT count(*) FROM contacts WHERE email LIKE 'demo.lead%'"), 20, "replaced, not added to")
        XCTAssertEqual(try EngineSQL.integer(demo, "SELECT min(id) FROM contacts"), 1, "numbered from 1 again")
        XCTAssertEqual(try EngineSQL.integer(demo, "SELECT count(*) FROM demo_data"), 1)
    }
}
