import Contacts
import Foundation
import Outbound
import Store
import XCTest
import Yams
@testable import HookyardConfiguration

final class ContactConfigurationTests: ConfigurationTestCase {


    /// The error text of a load that must fail.
    private func problems(_ yaml: String, environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try load(yaml, environment: environment)
            XCTFail("the configuration loaded", file: file, line: line)
            return ""
        } catch {
            return error.description
        }
    }

    private func field(_ field: ContactField, currency: String? = nil, _ test: ContactPredicate.Test) -> ContactPredicate {
        .field(field, currency: currency, test)
    }

    func testFullSections() throws {
        let configuration = try load("""
            contacts:
              engagement:
                window_days: 14
                weights: {sent: 0, opened: 0.5, clicked: 3, replied: 10, meeting_booked: 12}
                high: 8
                medium: 2.5
                opens_can_make_high: true
              tiers: {price_123: pro, "prod_abc, prod_def": starter, "${PREMIUM_PRICE}": premium}
              product_interest:
                campaigns: {"7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f": course}
                links:
                  "*example.com/course*": course
                  "*example.com/*": site
              loop_guard_seconds: 120
              max_rule_runs_per_day: 5
              maintenance_interval: 90s
            retention:
              payload_days: 0
            segments:
              hot-prospects:
                all:
                  - payment_status: prospect
                  - engagement: high
              big-spenders:
                revenue.USD: {gte: 50000}
              lapsed:
                any:
                  - days_since_engagement: {gte: 30}
                  - not: {segment: hot-prospects}
              outreach:
                campaign: {in: "${OUTREACH_IDS}"}
                tier: [pro, premium]
                do_not_contact: false
                revenue: {gt: 0, lte: 1e6}
            """, environment: ["PREMIUM_PRICE": "price_999", "OUTREACH_IDS": "c-1, c-2"])

        let contacts = configuration.contacts
        var weights = EngagementPolicy.defaultWeights
        weights[.opened] = 0.5
        weights[.meetingBooked] = 12
        XCTAssertEqual(contacts.engagement, EngagementPolicy(windowDays: 14, weights: weights, high: 8, medium: 2.5, opensCanMakeHigh: true))
        XCTAssertEqual(contacts.tiers, ["price_123": "pro", "prod_abc": "starter", "prod_def": "starter", "price_999": "premium"])
        XCTAssertEqual(contacts.campaignInterest, ["7c1e5a8e-2b4f-4d8a-9f3e-1a2b3c4d5e6f": "course"])
        XCTAssertEqual(contacts.linkInterest, [LinkInterest(pattern: "*example.com/course*", product: "course"),
                                               LinkInterest(pattern: "*example.com/*", product: "site")])
        XCTAssertEqual(contacts.loopGuardSeconds, 120)
        XCTAssertEqual(contacts.maxRuleRunsPerDay, 5)
        XCTAssertEqual(contacts.maintenanceIntervalMilliseconds, 90_000)
        XCTAssertEqual(contacts.eventReader.tiers["prod_def"], "starter")
        XCTAssertEqual(configuration.retentionPayloadDays, 0)

        XCTAssertEqual(configuration.segments, [
            SegmentDefinition(name: "hot-prospects", predicate: .all([field(.paymentStatus, .equals(.string("prospect"))),
                                                                      field(.engagement, .equals(.string("high")))])),
            SegmentDefinition(name: "big-spenders", predicate: field(.revenue, currency: "usd", .greaterThanOrEqual(50000))),
            SegmentDefinition(name: "lapsed", predicate: .any([field(.daysSinceEngagement, .greaterThanOrEqual(30)),
                                                               .not(.segment("hot-prospects"))])),
            SegmentDefinition(name: "outreach", predicate: .all([
                field(.campaign, .oneOf([.string("c-1"), .string("c-2")])),
                field(.tier, .oneOf([.string("pro"), .string("premium")])),
                field(.doNotContact, .equals(.bool(false))),
                .all([field(.revenue, .greaterThan(0)), field(.revenue, .lessThanOrEqual(1_000_000))]),
            ])),
        ])
        XCTAssertEqual(configuration.segmentCompiler.queries.map(\.name), ["hot-prospects", "big-spenders", "lapsed", "outreach"])
        XCTAssertEqual(configuration.segmentCompiler.query(segment: "lapsed")?.parameters, [.now, .integer(30), .text("prospect"), .text("high")])
        XCTAssertTrue(configuration.ignoredIssues.isEmpty)
    }

    func testDefaultsWhenAbsent() throws {
        let configuration = try load("listen: 127.0.0.1:8081\n")
        XCTAssertEqual(configuration.contacts.engagement, EngagementPolicy())
        XCTAssertEqual(configuration.contacts.engagement.windowDays, 30)
        XCTAssertEqual(configuration.contacts.engagement.high, 10)
        XCTAssertEqual(configuration.contacts.engagement.medium, 3)
        XCTAssertFalse(configuration.contacts.engagement.opensCanMakeHigh)
        XCTAssertEqual(configuration.contacts.tiers, [:])
        XCTAssertEqual(configuration.contacts.campaignInterest, [:])
        XCTAssertEqual(configuration.contacts.linkInterest, [])
        XCTAssertEqual(configuration.contacts.loopGuardSeconds, 300)
        XCTAssertEqual(configuration.contacts.maxRuleRunsPerDay, 3)
        XCTAssertEqual(configuration.contacts.maintenanceIntervalMilliseconds, 600_000)
        XCTAssertEqual(configuration.retentionPayloadDays, 30)
        XCTAssertEqual(configuration.segments, [])
        XCTAssertEqual(configuration.segmentCompiler.queries, [])
        // Present but partial: the rest keeps its defaults.
        let partial = try load("contacts:\n  engagement:\n    weights: {opened: 2}\n")
        XCTAssertEqual(partial.contacts.engagement.weights[.opened], 2)
        XCTAssertEqual(partial.contacts.engagement.weights[.replied], 10)
        XCTAssertEqual(partial.contacts.engagement.high, 10)
    }

    /// The shipped example states the defaults, and its commented examples load once uncommented.
    func testShippedExample() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/hookyard.example.yaml").standardized
        let example = try ConfigurationLoader.load(path: url.path, environment: [:], defaultFile: "/nonexistent")
        let defaults = try load("")
        XCTAssertEqual(example.contacts.engagement, defaults.contacts.engagement)
        XCTAssertEqual(example.contacts.loopGuardSeconds, defaults.contacts.loopGuardSeconds)
        XCTAssertEqual(example.contacts.maxRuleRunsPerDay, defaults.contacts.maxRuleRunsPerDay)
        XCTAssertEqual(example.contacts.maintenanceIntervalMilliseconds, defaults.contacts.maintenanceIntervalMilliseconds)
        XCTAssertEqual(example.retentionPayloadDays, defaults.retentionPayloadDays)
        XCTAssertEqual(example.reportLookbackMilliseconds, defaults.reportLookbackMilliseconds)
        XCTAssertEqual(example.segments, [])

        // Uncomment the contacts and segments examples: lines "  # key:" / "#   ..." after "contacts:".
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines: [String] = []
        var inContacts = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == "contacts:" { inContacts = true }
            if line.hasPrefix("# Workflow rules") { inContacts = false }
            guard inContacts else { lines.append(line); continue }
            if line.hasPrefix("  # tiers:") || line.hasPrefix("  # product_interest:") || line.hasPrefix("  #   ") && !line.hasPrefix("  #   #") {
                lines.append("  " + line.dropFirst(4))
            } else if line.hasPrefix("# segments:") || line.hasPrefix("#   ") {
                lines.append(String(line.dropFirst(2)))
            } else {
                lines.append(line)
            }
        }
        let uncommented = try load(lines.joined(separator: "\n"), environment: ["HOOKYARD_PRICE_ID": "price_env"])
        XCTAssertEqual(uncommented.contacts.tiers, ["price_123": "pro", "prod_abc": "starter", "price_env": "pro"])
        XCTAssertEqual(uncommented.contacts.campaignInterest, ["00000000-0000-0000-0000-000000000000": "course"])
        XCTAssertEqual(uncommented.contacts.linkInterest, [LinkInterest(pattern: "*example.com/course*", product: "course")])
        XCTAssertEqual(uncommented.segments.map(\.name), ["hot-prospects", "big-spenders", "lapsed-customers"])
    }

    func testUnknownFieldsAndTestsCarryLineAndKey() {
        let text = problems("""
            segments:
              a:
                all:
                  - payment_status: prospect
                  - colour: blue
              b:
                revenue.usd: {within: [1, 2]}
              c:
                tier.usd: pro
              "bad name":
                tier: pro
              d:
                not: [tier, pro]
              e: {}
            """)
        let fields = ContactField.allCases.map(\.rawValue).joined(separator: ", ")
        XCTAssertTrue(text.contains("hookyard.yaml:5: segments.a.all[1].colour: unknown field 'colour' (fields: \(fields), lead.<name>; or all, any, not, segment)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:7: segments.b.revenue.usd.within: unknown test 'within' (equals, not, in, not_in, gt, gte, lt, lte, exists)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:9: segments.c.tier.usd: only revenue takes a currency (revenue.usd)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:10: segments.bad name: 'bad name' must be letters, digits, '-' or '_'"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:13: segments.d.not: must be a mapping: a field and its test, or all, any, not, segment"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:14: segments.e: is empty (to match every contact, write all: [])"), text)
        XCTAssertFalse(text.contains("unknown segment"), "a segment that did not read is not also reported as unknown: \(text)")
    }

    func testTestsThatDoNotFitTheirFieldAreRejectedOnTheirLine() {
        let text = problems("""
            segments:
              a:
                payment_status: paying
              b:
                any:
                  - engagement: {in: [high, hot]}
                  - tier: {gt: 3}
                  - days_since_engagement: {gte: soon}
                  - do_not_contact: {exists: maybe}
            """)
        XCTAssertTrue(text.contains("hookyard.yaml:3: segments.a.payment_status: 'paying' is not one of prospect, customer, past_due, canceled"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:6: segments.b.any[0].engagement.in: 'hot' is not one of low, medium, high"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:7: segments.b.any[1].tier.gt: gt compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:8: segments.b.any[2].days_since_engagement.gte: must be a number"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:9: segments.b.any[3].do_not_contact.exists: must be true or false"), text)
    }

    func testUnknownReferencesAndCyclesAtTheSegmentsLine() {
        let text = problems("""
            segments:
              a:
                segment: b
              b:
                any:
                  - segment: a
                  - tier: pro
              c:
                not: {segment: ghost}
              d:
                segment: c
              e:
                segment: e
            """)
        XCTAssertTrue(text.contains("hookyard.yaml:2: segments.a: refers to itself: a -> b -> a"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:4: segments.b: refers to itself: b -> a -> b"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:8: segments.c: refers to unknown segment 'ghost' (defined: a, b, c, d, e)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:12: segments.e: refers to itself: e -> e"), text)
        XCTAssertFalse(text.contains("segments.d"), "d only refers to a broken segment: \(text)")
    }

    func testContactsSectionProblems() {
        let text = problems("""
            contacts:
              engagement:
                window_days: 0
                weights: {opened: 1, forwarded: 2, clicked: -1}
                high: 2
                medium: 5
                opens_can_make_high: sometimes
                decay: 3
              tiers: {price_1: pro, price_2: ""}
              product_interest:
                campaigns: [a, b]
                pages: {}
              loop_guard_seconds: -5
              max_rule_runs_per_day: 0
              colour: red
            retention:
              payload_days: -1
              events_days: 3
            """)
        XCTAssertTrue(text.contains("hookyard.yaml:15: contacts.colour: unknown key (contacts has engagement, tiers, product_interest, "
                                    + "loop_guard_seconds, max_rule_runs_per_day, lead_fields, maintenance_interval)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:3: contacts.engagement.window_days: must be at least 1"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:4: contacts.engagement.weights.forwarded: unknown activity (sent, opened, clicked, replied, bounced, unsubscribed, meeting_booked)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:4: contacts.engagement.weights.clicked: must be at least 0"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:5: contacts.engagement.high: must not be below contacts.engagement.medium (5)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:7: contacts.engagement.opens_can_make_high: must be true or false"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:8: contacts.engagement.decay: unknown key"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:9: contacts.tiers.price_2: names nothing"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:11: contacts.product_interest.campaigns: must be a mapping of ids to names"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:12: contacts.product_interest.pages: unknown key (product_interest has campaigns, links)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:13: contacts.loop_guard_seconds: must be at least 0"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:14: contacts.max_rule_runs_per_day: must be at least 1"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:15: contacts.colour: unknown key"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:17: retention.payload_days: must be at least 0"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:18: retention.events_days: unknown key"), text)
    }

    /// `contacts.maintenance_interval`: a duration from a second to a day, also from `${VAR}`; anything else is refused
    /// on its line.
    func testMaintenanceInterval() throws {
        XCTAssertEqual(try load("contacts:\n  maintenance_interval: 1s\n").contacts.maintenanceIntervalMilliseconds, 1_000)
        XCTAssertEqual(try load("contacts:\n  maintenance_interval: 1d\n").contacts.maintenanceIntervalMilliseconds, 86_400_000)
        XCTAssertEqual(try load("contacts:\n  maintenance_interval: ${MAINTAIN_EVERY:-15m}\n").contacts.maintenanceIntervalMilliseconds, 900_000)
        for value in ["0s", "1d1s", "500", "soon", "[1m]"] {
            let text = problems("contacts:\n  maintenance_interval: \(value)\n")
            XCTAssertTrue(text.contains("hookyard.yaml:2: contacts.maintenance_interval: "), text)
        }
        XCTAssertTrue(problems("contacts:\n  maintenance_interval: 2d\n")
            .contains("contacts.maintenance_interval: '2d' is not a duration from 1s to 1d such as 30s, 10m or 1h"))
    }

    /// A missing variable fails a full load; a read-only load leaves the segment (and those built on it) out.
    func testEnvironmentInFullAndReadOnlyLoads() throws {
        let yaml = """
            segments:
              outreach:
                campaign: {in: "${OUTREACH_IDS}"}
              engaged-outreach:
                all: [{segment: outreach}, {engagement: high}]
              customers:
                payment_status: customer
            contacts:
              tiers: {"${PRO_PRICE}": pro}
            """
        let text = problems(yaml)
        XCTAssertTrue(text.contains("hookyard.yaml:3: segments.outreach.campaign.in: environment variable OUTREACH_IDS is not set"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:9: contacts.tiers.${PRO_PRICE}: environment variable PRO_PRICE is not set"), text)

        let readOnly = try load(yaml, readRules: false)
        XCTAssertEqual(readOnly.segments.map(\.name), ["customers"])
        XCTAssertEqual(readOnly.segmentCompiler.queries.map(\.name), ["customers"])
        XCTAssertEqual(readOnly.ignoredIssues.count, 2, "\(readOnly.ignoredIssues)")
        XCTAssertEqual(readOnly.contacts.tiers, [:])

        let full = try load(yaml, environment: ["OUTREACH_IDS": "c-1,c-2", "PRO_PRICE": "price_p"])
        XCTAssertEqual(full.segments.map(\.name), ["outreach", "engaged-outreach", "customers"])
        XCTAssertEqual(full.contacts.tiers, ["price_p": "pro"])
    }

    func testLeadFieldsAndRegistrationsInSegments() throws {
        let configuration = try load("""
            contacts:
              lead_fields: [industry, companyName]
            segments:
              retail:
                lead.industry: [Retail, "E-commerce"]
              named:
                lead.companyName: {exists: true, not: Acme}
              attendees:
                registered_for: webinar
              not-yet:
                registered_for: {not_in: "${PRODUCTS}"}
            """, environment: ["PRODUCTS": "webinar, course"])
        XCTAssertEqual(configuration.contacts.leadFields, ["industry", "companyName"])
        XCTAssertEqual(configuration.contacts.eventReader.leadFields, ["industry", "companyName"])
        XCTAssertEqual(configuration.segments, [
            SegmentDefinition(name: "retail", predicate: .leadField("industry", .oneOf([.string("Retail"), .string("E-commerce")]))),
            SegmentDefinition(name: "named", predicate: .all([.leadField("companyName", .exists(true)),
                                                              .leadField("companyName", .notEquals(.string("Acme")))])),
            SegmentDefinition(name: "attendees", predicate: field(.registeredFor, .equals(.string("webinar")))),
            SegmentDefinition(name: "not-yet", predicate: field(.registeredFor, .noneOf([.string("webinar"), .string("course")]))),
        ])
        XCTAssertEqual(configuration.segmentCompiler.leadFields, ["industry", "companyName"])
        XCTAssertEqual(configuration.segmentCompiler.query(segment: "retail")?.parameters,
                       [.text("industry"), .text("Retail"), .text("industry"), .text("E-commerce")])
        // A comma-separated string (as ${VAR} gives) is a list too.
        XCTAssertEqual(try load("contacts:\n  lead_fields: \"${FIELDS}\"\n", environment: ["FIELDS": "industry, jobTitle"])
            .contacts.leadFields, ["industry", "jobTitle"])
    }

    func testLeadFieldsNotConfiguredAreRejectedWithFileAndLine() {
        let text = problems("""
            contacts:
              lead_fields: [industry, companyName]
            segments:
              by-title:
                all:
                  - engagement: high
                  - lead.jobTitle: CTO
              by-industry:
                lead.industry: {gt: 3}
              by-product:
                registered_for: {gte: 1}
            rules:
              - name: titled
                on: {source: instantly, event: reply_received}
                if:
                  lead.seniority: senior
                steps:
                  - name: add
                    action: instantly.add_lead
                    with: {email: "{{ event.lead_email }}", campaign: c-1}
            """)
        XCTAssertTrue(text.contains("hookyard.yaml:7: segments.by-title.all[1].lead.jobTitle: 'jobTitle' is not one of contacts.lead_fields (configured: companyName, industry)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:9: segments.by-industry.lead.industry.gt: gt compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are (lead.industry takes equals, not, in, not_in, exists)"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:11: segments.by-product.registered_for.gte: gte compares numbers"), text)
        XCTAssertTrue(text.contains("hookyard.yaml:16: rules[0].if: lead.seniority: 'seniority' is not one of contacts.lead_fields (configured: companyName, industry)"), text)

        let none = problems("segments:\n  s:\n    lead.industry: Retail\n")
        XCTAssertTrue(none.contains("hookyard.yaml:3: segments.s.lead.industry: 'industry' is not one of contacts.lead_fields (none are configured)"), none)
        let listed = problems("""
            contacts:
              lead_fields: [industry, "", industry]
            """)
        XCTAssertTrue(listed.contains("hookyard.yaml:2: contacts.lead_fields: names an empty lead field"), listed)
        XCTAssertTrue(listed.contains("hookyard.yaml:2: contacts.lead_fields: 'industry' is listed more than once"), listed)
        let mapping = problems("contacts:\n  lead_fields: {industry: true}\n")
        XCTAssertTrue(mapping.contains("hookyard.yaml:2: contacts.lead_fields: must be a list of Instantly lead field names, such as [industry, companyName]"), mapping)
    }

    /// `contact.register` must name a product of `catalog:`; a template is checked when the step runs.
    func testRegisterNamesACatalogProduct() throws {
        let yaml = """
            catalog:
              webinar:
                name: Growth webinar
                seats: 100
                tiers:
                  regular: {amount: 4900, currency: usd}
            rules:
              - name: register
                on: {source: stripe, event: checkout.session.completed}
                steps:
                  - name: register
                    action: contact.register
                    with:
                      email: "{{ event.data.object.customer_details.email }}"
                      product: webnar
                      reference: "{{ event.data.object.id }}"
                  - name: by-template
                    action: contact.register
                    with: {email: "{{ event.data.object.customer_email }}", product: "{{ event.data.object.metadata.product }}"}
                  - name: fine
                    action: contact.register
                    with: {email: "{{ event.data.object.customer_email }}", product: webinar, seats: 50}
            """
        let text = problems(yaml)
        XCTAssertTrue(text.contains("hookyard.yaml:15: rules[0].steps[0].with.product: no catalog product 'webnar' (catalog: webinar)"), text)
        XCTAssertFalse(text.contains("steps[1]"), text)
        XCTAssertFalse(text.contains("steps[2]"), text)
        let withoutCatalog = problems("""
            rules:
              - name: register
                on: {source: stripe, event: checkout.session.completed}
                steps:
                  - name: register
                    action: contact.register
                    with: {email: "{{ event.data.object.customer_email }}", product: webinar, tickets: 2}
            """)
        XCTAssertTrue(withoutCatalog.contains("rules[0].steps[0].with.tickets: contact.register has no argument 'tickets' (it takes: email, product, reference, seats)"), withoutCatalog)
        let fixed = try load(yaml.replacingOccurrences(of: "product: webnar", with: "product: webinar"))
        XCTAssertEqual(fixed.rules.first?.steps.map(\.action), ["contact.register", "contact.register", "contact.register"])
    }

    /// Catalog lookup keys reach the event reader the workflow engine uses: tiers and products by lookup key.
    func testCatalogLookupKeysReachTheEventReader() throws {
        let configuration = try load("""
            contacts:
              tiers: {price_explicit: gold}
            catalog:
              coaching:
                name: Coaching
                tiers:
                  pro: {amount: 9900, currency: usd, interval: month, lookup_key: coaching-pro}
                  basic: {amount: 4900, currency: usd, interval: month}
            """)
        let reader = configuration.contactPolicy.reader
        XCTAssertEqual(reader.tiers, ["price_explicit": "gold"])
        XCTAssertEqual(reader.lookupKeyTiers, ["coaching-pro": "pro", "coaching-basic": "basic"])
        XCTAssertEqual(reader.lookupKeyProducts, ["coaching-pro": "coaching", "coaching-basic": "coaching"])
    }

    /// The reader the rules use for `if:`: issues keyed under the rule, a predicate the compiler takes.
    func testPredicateReaderForARuleCondition() throws {
        let root = try XCTUnwrap(try Yams.compose(yaml: """
            if:
              segment: big-spenders
              last_campaign: "${CAMPAIGN}"
            bad:
              engagement: {gte: 2}
            """))
        var reader = ContactPredicateReader(file: "rules.yaml", environment: ["CAMPAIGN": "c-7"])
        let predicate = try XCTUnwrap(reader.read(try XCTUnwrap(root["if"]), key: "rules[0].if"))
        XCTAssertEqual(predicate, .all([.segment("big-spenders"), field(.lastCampaign, .equals(.string("c-7")))]))
        XCTAssertEqual(reader.issues, [])
        let compiler = try SegmentCompiler(definitions: [SegmentDefinition(name: "big-spenders", predicate: field(.revenue, .greaterThan(0)))])
        XCTAssertEqual(try compiler.compile(predicate, name: "rules[0].if").parameters, [.integer(0), .text("c-7")])

        XCTAssertNil(reader.read(try XCTUnwrap(root["bad"]), key: "rules[1].if"))
        XCTAssertEqual(reader.issues.map(\.description), [
            "rules.yaml:5: rules[1].if.engagement.gte: gte compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are (engagement takes equals, not, in, not_in, exists)",
        ])
    }
}
