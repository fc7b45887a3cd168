@testable import Contacts
import Foundation
import HookyardConfiguration
import PostgreSQL
import Logging
import StrictJSON
import Store
import XCTest
import TestSupport
import SQLite

/// Every compiled expression is run against a real database with the contacts schema (migration 5), and judged by
/// the contacts it selects; each is also run in its PostgreSQL dialect on a PostgreSQL database holding the same
/// rows, and must select the same contacts there.
final class SegmentCompilerTests: XCTestCase {
    var directory: URL!
    var database: SQLiteDatabase!
    var postgreSQL: PostgreSQLConnection!
    static let now: Int64 = 1_800_000_000_000
    static let day: Int64 = 86_400_000

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("segments-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("hookyard.db").path
        let writer = try SQLiteEventWriter(path: path, logger: TestLog.logger())  // creates and migrates the schema
        writer.close()
        database = try SQLiteDatabase(path: path)
        let now = Self.now, day = Self.day
        let fixture = """
            INSERT INTO contacts (id, email, first_seen_at, last_engagement_at, interest_status, payment_status, engagement,
                                  subscription_status, tier, product_interest, do_not_contact, first_campaign, last_campaign, updated_at)
            VALUES
              (1, 'ann@x.io', 0, \(now - day),      'interested',     'prospect', 'high',   NULL,     NULL,      'course', NULL,           'c1', 'c1', 0),
              (2, 'bob@x.io', 0, \(now - 40 * day), NULL,             'customer', 'medium', 'active', 'pro',     NULL,     NULL,           'c1', 'c2', 0),
              (3, 'cat@x.io', 0, NULL,              'not_interested', 'prospect', 'low',    NULL,     NULL,      NULL,     'unsubscribed', NULL, NULL, 0),
              (4, 'dan@x.io', 0, \(now - 10 * day), NULL,             'past_due', 'low',    'past_due', 'starter', 'course', NULL,         'c2', 'c2', 0),
              (5, 'eve@x.io', 0, \(now - 30 * day), 'won',            'canceled', 'high',   'canceled', NULL,    NULL,     NULL,           NULL, NULL, 0);
            INSERT INTO contact_leads (contact_id, campaign_id, lead_id, first_seen_at) VALUES
              (1, 'c1', 'l1', 0), (2, 'c1', 'l2', 0), (2, 'c2', 'l3', 0), (4, 'c2', 'l4', 0);
            INSERT INTO contact_payments (contact_id, reference, kind, amount, currency, occurred_at) VALUES
              (2, 'in_1', 'invoice', 60000, 'usd', 0), (2, 'cs_1', 'payment', 1000, 'eur', 0),
              (4, 'cs_2', 'payment', 5000, 'usd', 0), (4, 'ch_2', 'refund', -5000, 'usd', 0),
              (NULL, 'cs_9', 'payment', 99999, 'usd', 0);
            INSERT INTO contact_registrations (contact_id, product, reference, event_id, registered_at) VALUES
              (1, 'webinar', 'cs_r1', 0, 0), (2, 'webinar', 'cs_r2', 0, 0), (2, 'course', 'cs_r3', 0, 0),
              (4, 'course', 'cs_r4', 0, 0);
            INSERT INTO contact_lead_fields (contact_id, name, value, at, event_id) VALUES
              (1, 'industry', 'Retail', 0, 0), (2, 'industry', 'Finance', 0, 0), (2, 'companyName', 'Acme', 0, 0),
              (3, 'industry', 'Retail', 0, 0);
            """
        try database.execute(fixture)
        postgreSQL = try PostgreSQLConnection(url: try PostgreSQLTestServer.start().makeStoreDatabase())
        try postgreSQL.execute(fixture)
    }

    override func tearDown() {
        database?.close()
        postgreSQL?.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The emails `query` selects, sorted.
    private func select(_ query: SegmentQuery) throws -> [String] {
        let statement = try database.prepare("SELECT email FROM contacts c WHERE \(query.sql) ORDER BY email")
        for (offset, parameter) in query.parameters.enumerated() {
            let index = Int32(offset + 1)
            switch parameter {
            case .text(let text): try statement.bind(index, text)
            case .integer(let value): try statement.bind(index, value)
            case .now: try statement.bind(index, Self.now)
            case .real(let value): XCTFail("the compiler binds only integers, got \(value)")
            }
        }
        var emails: [String] = []
        while try statement.step() { emails.append(statement.string(0) ?? "") }
        let names = emails.map { String($0.prefix(while: { $0 != "@" })) }
        XCTAssertEqual(try selectOnPostgreSQL(query), names, "PostgreSQL's dialect selects other contacts: \(query.postgreSQL ?? "none")")
        return names
    }

    /// Changes the rows of both databases alike.
    private func executeOnBoth(_ sql: String) throws {
        try database.execute(sql)
        try postgreSQL.execute(sql)
    }

    /// The emails' names `query` selects in its PostgreSQL dialect on the PostgreSQL copy of the rows, sorted.
    private func selectOnPostgreSQL(_ query: SegmentQuery) throws -> [String] {
        var next = 1
        let condition = try PostgreSQLContactStore.numberedSQL(query, from: &next)
        let sql = "SELECT email FROM contacts c WHERE " + condition + " ORDER BY email"
        return try postgreSQL.queryOnce(sql, PostgreSQLContactStore.arguments(query, now: Self.now)).rows.map {
            String(try $0.string(0).prefix(while: { $0 != "@" }))
        }
    }

    private func select(_ predicate: ContactPredicate, segments: [SegmentDefinition] = []) throws -> [String] {
        try select(try SegmentCompiler(definitions: segments).compile(predicate, name: "test"))
    }

    private func field(_ field: ContactField, currency: String? = nil, _ test: ContactPredicate.Test) -> ContactPredicate {
        .field(field, currency: currency, test)
    }

    func testTextColumnsAndNull() throws {
        XCTAssertEqual(try select(field(.tier, .equals(.string("pro")))), ["bob"])
        XCTAssertEqual(try select(field(.tier, .notEquals(.string("pro")))), ["ann", "cat", "dan", "eve"], "not holds for NULL")
        XCTAssertEqual(try select(.not(field(.tier, .equals(.string("pro"))))), ["ann", "cat", "dan", "eve"], "not: is the complement")
        XCTAssertEqual(try select(field(.tier, .oneOf([.string("pro"), .string("starter")]))), ["bob", "dan"])
        XCTAssertEqual(try select(field(.tier, .noneOf([.string("pro"), .string("starter")]))), ["ann", "cat", "eve"])
        XCTAssertEqual(try select(.not(field(.tier, .oneOf([.string("pro"), .string("starter")])))), ["ann", "cat", "eve"])
        XCTAssertEqual(try select(field(.tier, .oneOf([]))), [])
        XCTAssertEqual(try select(field(.tier, .noneOf([]))), ["ann", "bob", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.tier, .exists(true))), ["bob", "dan"])
        XCTAssertEqual(try select(field(.tier, .exists(false))), ["ann", "cat", "eve"])
        XCTAssertEqual(try select(field(.tier, .equals(.null))), ["ann", "cat", "eve"])
        XCTAssertEqual(try select(field(.subscriptionStatus, .oneOf([.string("past_due"), .null]))), ["ann", "cat", "dan"])
        XCTAssertEqual(try select(field(.interestStatus, .equals(.string("won")))), ["eve"])
        XCTAssertEqual(try select(field(.productInterest, .equals(.string("course")))), ["ann", "dan"])
        XCTAssertEqual(try select(field(.firstCampaign, .equals(.string("c1")))), ["ann", "bob"])
        XCTAssertEqual(try select(field(.lastCampaign, .notEquals(.string("c1")))), ["bob", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.email, .equals(.string(" Ann@X.io ")))), ["ann"], "addresses compare normalised")
        XCTAssertEqual(try select(field(.paymentStatus, .equals(.string("prospect")))), ["ann", "cat"])
        XCTAssertEqual(try select(field(.engagement, .oneOf([.string("high"), .string("medium")]))), ["ann", "bob", "eve"])
    }

    func testValuesAreBoundNeverSpliced() throws {
        let query = try SegmentCompiler().compile(field(.tier, .equals(.string("pro' OR 1=1 --"))), name: "t")
        XCTAssertFalse(query.sql.contains("pro"), query.sql)
        XCTAssertEqual(query.parameters, [.text("pro' OR 1=1 --")])
        XCTAssertEqual(try select(query), [])
    }

    func testCampaignMembership() throws {
        XCTAssertEqual(try select(field(.campaign, .equals(.string("c1")))), ["ann", "bob"])
        XCTAssertEqual(try select(field(.campaign, .notEquals(.string("c1")))), ["cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.campaign, .oneOf([.string("c2"), .string("c9")]))), ["bob", "dan"])
        XCTAssertEqual(try select(field(.campaign, .noneOf([.string("c1"), .string("c2")]))), ["cat", "eve"])
        XCTAssertEqual(try select(field(.campaign, .exists(true))), ["ann", "bob", "dan"])
        XCTAssertEqual(try select(field(.campaign, .exists(false))), ["cat", "eve"])
    }

    func testRegisteredForMembership() throws {
        XCTAssertEqual(try select(field(.registeredFor, .equals(.string("webinar")))), ["ann", "bob"])
        XCTAssertEqual(try select(field(.registeredFor, .notEquals(.string("webinar")))), ["cat", "dan", "eve"])
        XCTAssertEqual(try select(.not(field(.registeredFor, .equals(.string("webinar"))))), ["cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.registeredFor, .oneOf([.string("course"), .string("gala")]))), ["bob", "dan"])
        XCTAssertEqual(try select(field(.registeredFor, .noneOf([.string("webinar"), .string("course")]))), ["cat", "eve"])
        XCTAssertEqual(try select(field(.registeredFor, .oneOf([]))), [])
        XCTAssertEqual(try select(field(.registeredFor, .exists(true))), ["ann", "bob", "dan"])
        XCTAssertEqual(try select(field(.registeredFor, .exists(false))), ["cat", "eve"])
        XCTAssertEqual(try select(field(.registeredFor, .equals(.null))), ["cat", "eve"])
        let query = try SegmentCompiler().compile(field(.registeredFor, .equals(.string("webinar' OR 1=1 --"))), name: "t")
        XCTAssertFalse(query.sql.contains("webinar"), query.sql)
        XCTAssertEqual(try select(query), [])
    }

    func testLeadFieldsAreTextFields() throws {
        func lead(_ name: String, _ test: ContactPredicate.Test) -> ContactPredicate { .leadField(name, test) }
        XCTAssertEqual(try select(lead("industry", .equals(.string("Retail")))), ["ann", "cat"])
        XCTAssertEqual(try select(lead("industry", .notEquals(.string("Retail")))), ["bob", "dan", "eve"], "not holds without a value")
        XCTAssertEqual(try select(lead("industry", .oneOf([.string("Finance"), .string("Health")]))), ["bob"])
        XCTAssertEqual(try select(lead("industry", .noneOf([.string("Retail"), .string("Finance")]))), ["dan", "eve"])
        XCTAssertEqual(try select(lead("industry", .exists(true))), ["ann", "bob", "cat"])
        XCTAssertEqual(try select(lead("companyName", .exists(false))), ["ann", "cat", "dan", "eve"])
        XCTAssertEqual(try select(lead("companyName", .equals(.null))), ["ann", "cat", "dan", "eve"])
        // The field's own parameter is bound wherever the value is read, in order.
        XCTAssertEqual(try select(.all([lead("industry", .oneOf([.string("Retail"), .string("Finance")])),
                                        lead("companyName", .equals(.string("Acme")))])), ["bob"])
        let query = try SegmentCompiler().compile(lead("industry", .equals(.string("x' OR 1=1 --"))), name: "t")
        XCTAssertFalse(query.sql.contains("industry"), query.sql)
        XCTAssertEqual(query.parameters, [.text("industry"), .text("x' OR 1=1 --")])

        // With lead_fields configured, other names are refused, naming the configured ones.
        let compiler = SegmentCompiler(leadFields: ["industry", "companyName"])
        XCTAssertEqual(try select(try compiler.compile(lead("industry", .equals(.string("Retail"))), name: "t")), ["ann", "cat"])
        XCTAssertThrowsError(try compiler.compile(lead("title", .exists(true)), name: "rules[0].if")) { error in
            XCTAssertEqual("\(error)", "segment 'rules[0].if': lead.title: 'title' is not one of contacts.lead_fields (configured: companyName, industry)")
        }
        XCTAssertEqual(SegmentCompiler.problems(in: [SegmentDefinition(name: "by-title", predicate: lead("title", .exists(true)))],
                                                leadFields: []),
                       [SegmentError(segment: "by-title", message: "lead.title: 'title' is not one of contacts.lead_fields (none are configured)")])
        XCTAssertThrowsError(try SegmentCompiler(definitions: [SegmentDefinition(name: "s", predicate: lead("industry", .greaterThan(1)))])) { error in
            XCTAssertEqual("\(error)", "segment 's': lead.industry: gt compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are (lead.industry takes equals, not, in, not_in, exists)")
        }
    }

    func testRevenueOfAmountsWhoseSumOverflowsStillCompares() throws {
        // Two payments of 5e18 (stored as received): SQLite's sum() would fail the whole segment query.
        try executeOnBoth("""
            INSERT INTO contact_payments (contact_id, reference, kind, amount, currency, occurred_at)
            SELECT id, 'cs_huge_' || n, 'payment', 5000000000000000000, 'eur', 0 FROM contacts, (SELECT 1 AS n UNION SELECT 2) AS numbers
            WHERE email LIKE 'cat@%'
            """)
        XCTAssertEqual(try select(field(.revenue, currency: "eur", .greaterThan(1_000_000))), ["cat"])
        XCTAssertEqual(try select(field(.revenue, .greaterThanOrEqual(50000))), ["bob", "cat"])
    }

    func testRevenue() throws {
        XCTAssertEqual(try select(field(.revenue, currency: "usd", .greaterThanOrEqual(50000))), ["bob"])
        XCTAssertEqual(try select(field(.revenue, currency: "usd", .greaterThanOrEqual(60001))), [])
        XCTAssertEqual(try select(field(.revenue, .equals(.integer(61000)))), ["bob"], "every currency summed")
        XCTAssertEqual(try select(field(.revenue, currency: "eur", .equals(.string("1000")))), ["bob"])
        XCTAssertEqual(try select(field(.revenue, .greaterThan(0))), ["bob"], "refunds net out")
        XCTAssertEqual(try select(field(.revenue, .lessThan(1))), ["ann", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.revenue, .lessThanOrEqual(0))), ["ann", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.revenue, .notEquals(.integer(0)))), ["bob"])
        XCTAssertEqual(try select(field(.revenue, .oneOf([.integer(0), .integer(61000)]))), ["ann", "bob", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.revenue, .exists(true))), ["bob", "dan"])
        XCTAssertEqual(try select(field(.revenue, currency: "eur", .exists(false))), ["ann", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.revenue, .greaterThan(60999.5))), ["bob"])
        XCTAssertEqual(try select(field(.revenue, .greaterThanOrEqual(60999.5))), ["bob"])
        XCTAssertEqual(try select(field(.revenue, .lessThanOrEqual(60999.5))), ["ann", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.revenue, .equals(.number(0.5)))), [])
    }

    func testDaysSinceEngagement() throws {
        // ann 1 day, bob 40, cat never, dan 10, eve 30.
        XCTAssertEqual(try select(field(.daysSinceEngagement, .greaterThanOrEqual(30))), ["bob", "cat", "eve"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .greaterThan(30))), ["bob", "cat"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .lessThan(7))), ["ann"], "never engaged is not recent")
        XCTAssertEqual(try select(field(.daysSinceEngagement, .lessThanOrEqual(10))), ["ann", "dan"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .equals(.integer(10)))), ["dan"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .notEquals(.integer(10)))), ["ann", "bob", "cat", "eve"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .noneOf([.integer(1), .integer(10)]))), ["bob", "cat", "eve"])
        XCTAssertEqual(try select(.not(field(.daysSinceEngagement, .greaterThanOrEqual(30)))), ["ann", "dan"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .greaterThan(9.5))), ["bob", "cat", "dan", "eve"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .lessThan(9.5))), ["ann"])
        XCTAssertEqual(try select(field(.daysSinceEngagement, .exists(false))), ["cat"])
        let query = try SegmentCompiler().compile(field(.daysSinceEngagement, .greaterThanOrEqual(30)), name: "d")
        XCTAssertEqual(query.parameters, [.now, .integer(30)])
    }

    func testActivityCounts() throws {
        try executeOnBoth("UPDATE contacts SET clicked = 2, opened = 5 WHERE id = 1; UPDATE contacts SET clicked = 1, replied = 1 WHERE id = 4")
        XCTAssertEqual(try select(field(.clicks, .greaterThanOrEqual(1))), ["ann", "dan"])
        XCTAssertEqual(try select(field(.clicks, .greaterThan(1))), ["ann"])
        XCTAssertEqual(try select(field(.clicks, .equals(.integer(0)))), ["bob", "cat", "eve"])
        XCTAssertEqual(try select(field(.opens, .greaterThanOrEqual(3))), ["ann"])
        XCTAssertEqual(try select(field(.replies, .greaterThanOrEqual(1))), ["dan"])
    }

    func testDoNotContact() throws {
        XCTAssertEqual(try select(field(.doNotContact, .equals(.bool(true)))), ["cat"])
        XCTAssertEqual(try select(field(.doNotContact, .equals(.string("false")))), ["ann", "bob", "dan", "eve"])
        XCTAssertEqual(try select(field(.doNotContact, .notEquals(.bool(true)))), ["ann", "bob", "dan", "eve"])
        XCTAssertEqual(try select(field(.doNotContact, .exists(true))), ["cat"])
    }

    func testCombinators() throws {
        XCTAssertEqual(try select(.all([])), ["ann", "bob", "cat", "dan", "eve"])
        XCTAssertEqual(try select(.any([])), [])
        XCTAssertEqual(try select(.not(.any([]))), ["ann", "bob", "cat", "dan", "eve"])
        XCTAssertEqual(try select(.all([field(.engagement, .equals(.string("high"))), field(.campaign, .exists(false))])), ["eve"])
        XCTAssertEqual(try select(.any([field(.tier, .equals(.string("pro"))), field(.interestStatus, .equals(.string("won")))])), ["bob", "eve"])
    }

    /// The configuration example: segments referring to segments, in order, with their parameters in order.
    func testNamedSegmentsInlineTheirReferences() throws {
        let definitions = [
            SegmentDefinition(name: "lapsed", predicate: .any([field(.daysSinceEngagement, .greaterThanOrEqual(30)),
                                                               .not(.segment("hot-prospects"))])),
            SegmentDefinition(name: "hot-prospects", predicate: .all([field(.paymentStatus, .equals(.string("prospect"))),
                                                                      field(.engagement, .equals(.string("high")))])),
            SegmentDefinition(name: "big-spenders", predicate: field(.revenue, currency: "usd", .greaterThanOrEqual(50000))),
        ]
        let compiler = try SegmentCompiler(definitions: definitions)
        XCTAssertEqual(compiler.queries.map(\.name), ["lapsed", "hot-prospects", "big-spenders"])
        XCTAssertEqual(try select(XCTUnwrap(compiler.query(segment: "hot-prospects"))), ["ann"])
        XCTAssertEqual(try select(XCTUnwrap(compiler.query(segment: "big-spenders"))), ["bob"])
        let lapsed = try XCTUnwrap(compiler.query(segment: "lapsed"))
        XCTAssertEqual(lapsed.parameters, [.now, .integer(30), .text("prospect"), .text("high")])
        XCTAssertEqual(try select(lapsed), ["bob", "cat", "dan", "eve"])
        XCTAssertNil(compiler.query(segment: "absent"))

        let rule = try compiler.compile(.all([.segment("lapsed"), field(.campaign, .equals(.string("c2")))]), name: "rules[0].if")
        XCTAssertEqual(rule.name, "rules[0].if")
        XCTAssertEqual(try select(rule), ["bob", "dan"])
    }

    func testReferenceProblems() {
        let unknown = [SegmentDefinition(name: "a", predicate: .not(.segment("ghost"))),
                       SegmentDefinition(name: "b", predicate: .segment("a"))]
        XCTAssertThrowsError(try SegmentCompiler(definitions: unknown)) { error in
            XCTAssertEqual(error as? SegmentError, SegmentError(segment: "a", message: "refers to unknown segment 'ghost' (defined: a, b)"))
        }
        XCTAssertEqual(SegmentCompiler.problems(in: unknown).count, 1, "b only refers to the broken segment")

        let cycle = [SegmentDefinition(name: "a", predicate: .all([.segment("b")])),
                     SegmentDefinition(name: "b", predicate: .any([.segment("c"), field(.tier, .exists(true))])),
                     SegmentDefinition(name: "c", predicate: .not(.segment("a"))),
                     SegmentDefinition(name: "d", predicate: .segment("a"))]
        XCTAssertEqual(SegmentCompiler.problems(in: cycle).map(\.description), [
            "segment 'a': refers to itself: a -> b -> c -> a",
            "segment 'b': refers to itself: b -> c -> a -> b",
            "segment 'c': refers to itself: c -> a -> b -> c",
        ])
        XCTAssertThrowsError(try SegmentCompiler(definitions: [SegmentDefinition(name: "self", predicate: .segment("self"))])) { error in
            XCTAssertEqual("\(error)", "segment 'self': refers to itself: self -> self")
        }
        XCTAssertThrowsError(try SegmentCompiler(definitions: [SegmentDefinition(name: "x", predicate: .all([])),
                                                               SegmentDefinition(name: "x", predicate: .any([]))])) { error in
            XCTAssertEqual("\(error)", "segment 'x': is defined more than once")
        }
        XCTAssertThrowsError(try SegmentCompiler().compile(.segment("nope"), name: "rules[1].if")) { error in
            XCTAssertEqual("\(error)", "segment 'rules[1].if': refers to unknown segment 'nope' (no segments are defined)")
        }
    }

    func testTestsThatDoNotFitTheirField() {
        func message(_ predicate: ContactPredicate) -> String {
            do {
                _ = try SegmentCompiler().compile(predicate, name: "s")
                return "compiled"
            } catch {
                return error.message
            }
        }
        XCTAssertEqual(message(field(.paymentStatus, .equals(.string("paying")))),
                       "payment_status: 'paying' is not one of prospect, customer, past_due, canceled")
        XCTAssertEqual(message(field(.engagement, .oneOf([.string("high"), .string("hot")]))), "engagement: 'hot' is not one of low, medium, high")
        XCTAssertEqual(message(field(.tier, .greaterThan(3))),
                       "tier: gt compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are (tier takes equals, not, in, not_in, exists)")
        XCTAssertEqual(message(field(.registeredFor, .equals(.object([:])))), "registered_for: '{}' is not a product key")
        XCTAssertEqual(message(field(.campaign, .lessThan(3))),
                       "campaign: lt compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are (campaign takes equals, not, in, not_in, exists)")
        XCTAssertEqual(message(field(.revenue, currency: "usd", .equals(.string("lots")))), "revenue.usd: '\"lots\"' is not a number")
        XCTAssertEqual(message(field(.tier, currency: "usd", .equals(.string("pro")))), "tier.usd: only revenue takes a currency (revenue.usd)")
        XCTAssertEqual(message(field(.doNotContact, .oneOf([.bool(true)]))),
                       "do_not_contact: in does not apply (do_not_contact takes true or false, with equals, not or exists)")
        XCTAssertEqual(message(field(.doNotContact, .equals(.string("maybe")))), "do_not_contact: '\"maybe\"' is not true or false")
        XCTAssertEqual(message(.not(field(.paymentStatus, .equals(.string("customer"))))), "compiled")
        let problems = SegmentCompiler.problems(in: [SegmentDefinition(name: "bad", predicate: .all([field(.engagement, .equals(.string("hot")))]))])
        XCTAssertEqual(problems, [SegmentError(segment: "bad", message: "engagement: 'hot' is not one of low, medium, high")])
    }

    /// Every segment of the shipped examples (deploy/examples/*.yaml) selects the same contacts on both engines.
    func testExampleSegmentsSelectTheSameContactsOnBothEngines() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertFalse(files.isEmpty)
        var compared = 0
        for file in files {
            let path = examples.appendingPathComponent(file).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            // Every ${VARIABLE} the file names, set to a value that matches the fixture's campaigns.
            var environment: [String: String] = [:]
            let regex = try NSRegularExpression(pattern: #"\$\{([A-Z0-9_]+)"#)
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let range = Range(match.range(at: 1), in: text) { environment[String(text[range])] = "c1" }
            }
            guard let configuration = try? ConfigurationLoader.load(path: path, environment: environment,
                                                                    defaultFile: "/nonexistent", readRules: false) else {
                XCTFail("\(file) does not load")
                continue
            }
            for query in configuration.segmentCompiler.queries {
                XCTAssertNotNil(query.postgreSQL, "\(file): \(query.name)")
                _ = try select(query)
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 3, "the examples define segments")
    }

}
