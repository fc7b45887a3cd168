import Foundation
import SQLite
@testable import Store
import XCTest

/// Migrations 14 and 15 on `contact_activity`'s indexes: 14 replaces `contact_activity_by_contact_campaign` with the
/// time index `contact_activity_by_time`; 15 widens `contact_activity_by_campaign_time` with the contact id (the ranges
/// the report's email pass reads per campaign and kind are covering) and drops `contact_activity_by_campaign`, its
/// prefix. The rows stay; the deliverability rates count per key in covering ranges too.
final class ActivityTimeIndexMigrationTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("activity-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func testADatabaseOfVersion13GetsTheTimeIndexAndTheCoveringCampaignIndex() throws {
        let path = directory.appendingPathComponent("v13.db").path
        let database = try SQLiteDatabase(path: path)
        let timeIndex = try XCTUnwrap(Schema.migrations.firstIndex { $0.contains("CREATE INDEX contact_activity_by_time") })
        for index in 0..<timeIndex { try database.execute(Schema.migrations[index]) }
        try database.execute("PRAGMA user_version = \(timeIndex)")
        try database.execute("""
            INSERT INTO contact_activity (contact_id, kind, campaign_id, occurred_at, account) VALUES
                (NULL, 'sent', 'c1', 10, 'a@x.example'), (NULL, 'opened', 'c1', 20, NULL), (NULL, 'sent', NULL, 30, NULL);
            """)
        database.close()

        let migrated = try StoreConnection.openExisting(path: path)
        defer { migrated.close() }
        XCTAssertEqual(try migrated.scalarInt("PRAGMA user_version"), Int64(Schema.currentVersion))
        XCTAssertEqual(try migrated.scalarInt("SELECT count(*) FROM contact_activity"), 3)
        let indexes = try migrated.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contact_activity' AND sql IS NOT NULL ORDER BY name")
        var names: [String] = []
        while try indexes.step() { names.append(indexes.string(0) ?? "") }
        XCTAssertEqual(names, ["contact_activity_by_account", "contact_activity_by_campaign_time", "contact_activity_by_contact",
                               "contact_activity_by_time"])

        // The report's email pass (`SQLiteReportQueries.forEachActivity`) reads the contacts of one covering range per
        // campaign and kind, with no table lookup; the deliverability rates (`SQLiteDeliverabilityReader`) count one
        // covering range per account or campaign and kind; a period's rows in time order are one covering range.
        for (sql, index) in [
            ("SELECT contact_id, campaign_id, kind = 'sent' FROM contact_activity WHERE occurred_at >= 1 AND occurred_at < 2",
             "contact_activity_by_time"),
            ("SELECT contact_id FROM contact_activity INDEXED BY contact_activity_by_campaign_time WHERE campaign_id = 'c' AND kind = 'sent' AND occurred_at >= 1 AND occurred_at < 2",
             "contact_activity_by_campaign_time"),
            // The report's per-contact lookups (migration 15): a payment's last touch, newest first, and a first purchase.
            ("SELECT campaign_id FROM contact_activity WHERE contact_id = 1 AND occurred_at <= 9 AND occurred_at >= 1 AND campaign_id IS NOT NULL ORDER BY occurred_at DESC, id DESC LIMIT 1",
             "contact_activity_by_contact"),
            ("SELECT 1 FROM contact_payments WHERE contact_id = 1 AND kind <> 'refund' AND (occurred_at < 5 OR (occurred_at = 5 AND id < 3))",
             "contact_payments_by_contact"),
            ("SELECT rule FROM rule_runs WHERE contact_id = 1 AND at <= 9 AND at >= 1 ORDER BY at DESC LIMIT 1", "rule_runs_by_contact_time"),
            ("SELECT count(*) FROM contact_activity INDEXED BY contact_activity_by_account WHERE account = 'a' AND kind = 'sent' AND occurred_at > 1 AND occurred_at <= 2",
             "contact_activity_by_account"),
            ("SELECT count(*) FROM contact_activity INDEXED BY contact_activity_by_campaign_time WHERE campaign_id = 'c' AND kind = 'sent' AND occurred_at > 1 AND occurred_at <= 2",
             "contact_activity_by_campaign_time"),
        ] {
            let plan = try migrated.prepare("EXPLAIN QUERY PLAN " + sql)
            var details: [String] = []
            while try plan.step() { details.append(plan.string(3) ?? "") }
            XCTAssertTrue(details.contains { $0.contains("COVERING INDEX \(index) (") }, "\(sql): \(details)")
            XCTAssertFalse(details.contains { $0.contains("TEMP B-TREE") }, "\(sql) sorts: \(details)")
        }
    }
}
