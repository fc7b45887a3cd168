import DemoData
import Foundation
import Reports
import SQLite
import Store
import XCTest

/// `SQLiteReportQueries.forEachActivity` (ranges of `contact_activity_by_campaign_time`, tallied in Swift) against the same
/// groups computed by SQL's `GROUP BY`, and `ReportBuilder`'s email figures against SQL's own counts.
final class SQLiteReportQueriesTests: XCTestCase {
    var directory: URL!
    /// 2026-11-25T00:00:00Z.
    let now: Int64 = 1_795_564_800_000

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-queries-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// One group as both sides see it.
    struct Group: Hashable {
        var contactID: Int64?
        var campaign: String?
        var sent: Int
        var opened: Bool
        var clicked: Bool
        var replied: Bool
    }

    /// Demo data, plus rows the demo does not have: activity without a campaign, without a contact, and one contact
    /// in more campaigns than `forEachActivity` matches by comparison.
    func database() throws -> String {
        let path = directory.appendingPathComponent("demo.db").path
        _ = try DemoDataset(contacts: 400, seed: 5, now: now).create(path: path, force: false)
        let database = try LoadingConnection.open(path: path)
        defer { database.close() }
        let day: Int64 = 86_400_000
        var values: [String] = []
        for index in 0..<40 {
            let kind = ["sent", "opened", "clicked", "replied", "bounced"][index % 5]
            values.append("(1, '\(kind)', 'extra-\(index % 20)', \(now - Int64(index) * day / 2))")
            values.append("(NULL, '\(kind)', \(index % 3 == 0 ? "NULL" : "'extra-\(index % 4)'"), \(now - Int64(index) * day))")
            values.append("(2, '\(kind)', NULL, \(now - Int64(index) * day))")
        }
        try database.execute("INSERT INTO contact_activity (contact_id, kind, campaign_id, occurred_at) VALUES \(values.joined(separator: ", "))")
        return path
    }

    func testTheActivityGroupsAreTheGroupByOfThePeriod() throws {
        let path = try database()
        let queries = try SQLiteReportQueries(path: path)
        defer { queries.close() }
        let reading = try ReadingConnection.open(path: path)
        defer { reading.close() }
        for days: Int64 in [1, 7, 30, 90, 400] {
            let since = now - days * 86_400_000
            var grouped: [Group] = []
            let statement = try reading.prepare("""
                SELECT contact_id, campaign_id, sum(kind = 'sent'), max(kind = 'opened'), max(kind = 'clicked'), max(kind = 'replied')
                FROM contact_activity NOT INDEXED WHERE occurred_at >= ?1 AND occurred_at < ?2 GROUP BY contact_id, campaign_id
                """)
            try statement.bind(1, since)
            try statement.bind(2, now)
            while try statement.step() {
                grouped.append(Group(contactID: statement.isNull(0) ? nil : statement.int(0), campaign: statement.string(1),
                                     sent: Int(statement.int(2)), opened: statement.int(3) != 0, clicked: statement.int(4) != 0,
                                     replied: statement.int(5) != 0))
            }
            var streamed: [Group] = []
            try queries.forEachActivity(since: since, until: now) { row in
                streamed.append(Group(contactID: row.contactID, campaign: row.campaign, sent: row.sent, opened: row.opened,
                                      clicked: row.clicked, replied: row.replied))
            }
            XCTAssertEqual(streamed.count, grouped.count, "\(days) days")
            XCTAssertEqual(Set(streamed).symmetricDifference(Set(grouped)), [], "\(days) days: groups on one side only")
            XCTAssertTrue(grouped.contains { $0.contactID == nil } || days < 7, "\(days) days: contact-less rows")
            XCTAssertTrue(grouped.contains { $0.campaign == nil } || days < 7, "\(days) days: campaign-less rows")
        }
    }

    func testTheHeadlineEmailFiguresCountContactsOverAllTheirCampaigns() throws {
        let path = try database()
        let builder = try ReportBuilder(path: path)
        defer { builder.close() }
        let reading = try ReadingConnection.open(path: path)
        defer { reading.close() }
        let since = now - 30 * 86_400_000
        let figures = try builder.build(ReportQuery(since: since, until: now), now: now).headline.figures
        func count(_ sql: String) throws -> Int {
            let statement = try reading.prepare(sql)
            try statement.bind(1, since)
            try statement.bind(2, now)
            XCTAssertTrue(try statement.step())
            return Int(statement.int(0))
        }
        let perContact = """
            SELECT count(*) FROM (SELECT contact_id, max(kind = 'sent') AS s, max(kind = 'opened') AS o, max(kind = 'clicked') AS c,
                                         max(kind = 'replied') AS r
                                  FROM contact_activity WHERE contact_id IS NOT NULL AND occurred_at >= ?1 AND occurred_at < ?2
                                  GROUP BY contact_id)
            """
        XCTAssertEqual(figures.emailsSent, try count("SELECT count(*) FROM contact_activity WHERE kind = 'sent' AND occurred_at >= ?1 AND occurred_at < ?2"))
        XCTAssertEqual(figures.contacted, try count(perContact + " WHERE s"))
        XCTAssertEqual(figures.opened, try count(perContact + " WHERE s AND o"))
        XCTAssertEqual(figures.clicked, try count(perContact + " WHERE s AND c"))
        XCTAssertEqual(figures.replied, try count(perContact + " WHERE s AND r"))
        XCTAssertGreaterThan(figures.opened ?? 0, 0)
    }
}
