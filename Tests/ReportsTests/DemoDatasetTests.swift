import DemoData
import Foundation
import Reports
import Store
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
}
