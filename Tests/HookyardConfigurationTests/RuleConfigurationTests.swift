import Foundation
import Jobs
import Workflows
import XCTest
@testable import HookyardConfiguration

final class RuleConfigurationTests: ConfigurationTestCase {


    static let exampleEnvironment = [
        "HOOKYARD_PRICE_ID": "price_123", "INSTANTLY_OUTREACH_CAMPAIGN_IDS": "c-out-1, c-out-2",
        "INSTANTLY_PAYMENT_CAMPAIGN_ID": "c-pay", "INSTANTLY_CUSTOMER_CAMPAIGN_ID": "c-customer",
    ]

    /// The shipped example loads with its variables set, and says which ones are missing otherwise.
    func testShippedExample() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/examples/lead-to-sale.yaml").standardized.path
        let configuration = try ConfigurationLoader.load(path: path, environment: Self.exampleEnvironment, defaultFile: "/nonexistent")
        XCTAssertEqual(configuration.rules.map(\.name), ["lead-to-sale", "payment-to-customer"])
        let lead = configuration.rules[0]
        XCTAssertEqual(lead.trigger.eventTypes, ["lead_interested"])
        XCTAssertEqual(lead.trigger.conditions.first, Condition(path: ["event", "campaign_id"], test: .oneOf([.string("c-out-1"), .string("c-out-2")])))
        XCTAssertEqual(lead.steps.map(\.action), ["stripe.find_or_create_customer", "stripe.create_payment_link",
                                                  "instantly.set_lead_variables", "instantly.move_lead"])
        XCTAssertEqual(lead.steps[1].arguments["price"], .value(.string("price_123")))

        var environment = Self.exampleEnvironment
        environment["LEAD_TO_SALE_TRIGGERS"] = "lead_interested, link_clicked"
        environment["HOOKYARD_PRICE_ID"] = nil
        XCTAssertThrowsError(try ConfigurationLoader.load(path: path, environment: environment, defaultFile: "/nonexistent")) { error in
            XCTAssertTrue("\(error)".contains("lead-to-sale.yaml:39: rules[0].steps[1].with.price: environment variable HOOKYARD_PRICE_ID is not set"), "\(error)")
        }
        environment["HOOKYARD_PRICE_ID"] = "price_9"
        let triggers = try ConfigurationLoader.load(path: path, environment: environment, defaultFile: "/nonexistent")
        XCTAssertEqual(triggers.rules[0].trigger.eventTypes, ["lead_interested", "email_link_clicked"])
    }

    func testProblemsCarryLineAndKey() {
        let yaml = """
            rules:
              - name: r
                on:
                  source: instantly
                  event: lead_interested
                  where:
                    campaign_id: {within: [a]}
                steps:
                  - {name: one, action: record_purchase, with: {reference: r, amount: 1, currency: usd}}
              - name: s
                on: {source: paypal, event: x}
                steps: []
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("hookyard.yaml:7: rules[0].on.where.campaign_id.within: unknown test 'within'"), text)
            XCTAssertTrue(text.contains("hookyard.yaml:11: rules[1].on.source: 'paypal' is not one of stripe, instantly"), text)
        }
        let semantic = """
            rules:
              - name: r
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: one
                    action: stripe.create_paymentlink
                    with: {price: p}
                  - name: two
                    action: stripe.create_payment_link
                    with:
                      price: "{{ steps.nothing.url }}"
                      colour: red
            """
        XCTAssertThrowsError(try load(semantic)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("hookyard.yaml:6: rules[0].steps[0].action: unknown action 'stripe.create_paymentlink'"), text)
            XCTAssertTrue(text.contains("hookyard.yaml:11: rules[0].steps[1].with.price: 'steps.nothing.url' names step 'nothing', which does not run before this one"), text)
            XCTAssertTrue(text.contains("hookyard.yaml:12: rules[0].steps[1].with.colour: stripe.create_payment_link has no argument 'colour'"), text)
        }
    }

    /// Metadata Stripe would refuse at run time is refused by the configuration check, with file, line and key:
    /// keys over 40 characters or with square brackets, more than 50 keys (a tier link adds hookyard_product and
    /// hookyard_tier), literal values over 500 characters (issue 13, item 17).
    func testStripeMetadataOverStripesLimitsIsRefusedWithLineAndKey() throws {
        let longKey = String(repeating: "k", count: 41)
        let longValue = String(repeating: "v", count: 501)
        let yaml = """
            rules:
              - name: r
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: customer
                    action: stripe.find_or_create_customer
                    with:
                      email: "{{ event.lead_email }}"
                      metadata:
                        \(longKey): x
                        "lead[email]": "{{ event.lead_email }}"
                  - name: link
                    action: stripe.create_payment_link
                    with:
                      price: price_1
                      metadata:
                        note: \(longValue)
                        rendered: "{{ event.lead_email }}"
                        long_before_rendering: "{{ event.lead_email }}\(longValue)"
            """
        XCTAssertThrowsError(try load(yaml)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("hookyard.yaml:10: rules[0].steps[0].with.metadata.\(longKey): Stripe refuses metadata keys over 40 characters (this one has 41)"), text)
            XCTAssertTrue(text.contains("hookyard.yaml:11: rules[0].steps[0].with.metadata.lead[email]: Stripe refuses metadata keys containing '[' or ']'"), text)
            XCTAssertTrue(text.contains("hookyard.yaml:17: rules[0].steps[1].with.metadata.note: Stripe refuses metadata values over 500 characters (this one has 501)"), text)
            XCTAssertTrue(text.contains("hookyard.yaml:19: rules[0].steps[1].with.metadata.long_before_rendering: Stripe refuses metadata values over 500 characters (this one has 501 before its placeholders are filled)"), text)
            XCTAssertFalse(text.contains("with.metadata.rendered"), "a template's value is only known when the step runs: \(text)")
        }

        func keys(_ count: Int) -> String { (1...count).map { "            key_\($0): v" }.joined(separator: "\n") }
        func configuration(linkKeys: Int) -> String { """
            catalog:
              launch:
                name: Launch
                tiers:
                  solo: {amount: 100, currency: usd}
            rules:
              - name: r
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: customer
                    action: stripe.find_or_create_customer
                    with:
                      email: "{{ event.lead_email }}"
                      metadata:
            \(keys(50))
                  - name: link
                    action: stripe.create_payment_link
                    with:
                      tier: launch/solo
                      metadata:
            \(keys(linkKeys))
            """
        }
        XCTAssertThrowsError(try load(configuration(linkKeys: 49))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("rules[0].steps[1].with.metadata: Stripe refuses more than 50 metadata keys (this link would have 51: the 49 given, plus hookyard_product and hookyard_tier for its tier)"), text)
            XCTAssertFalse(text.contains("steps[0]"), "50 keys are allowed: \(text)")
        }
        XCTAssertNoThrow(try load(configuration(linkKeys: 48)))
    }

    func testWorkerAndProviderSettings() throws {
        let configuration = try load("""
            workers: {count: 2, retry_base_ms: 100, retry_cap_ms: 1000, max_attempts: 3}
            stripe: {api_base: "http://127.0.0.1:1", max_rps: 7.5}
            """, environment: ["HOOKYARD_MAX_ATTEMPTS": "5", "INSTANTLY_MAX_RPS": "2", "STRIPE_API_KEY": "sk_test_x",
                               "INSTANTLY_API_BASE": "http://127.0.0.1:2"])
        XCTAssertEqual(configuration.workers.count, 2)
        XCTAssertEqual(configuration.workers.retryPolicy, RetryPolicy(baseMilliseconds: 100, capMilliseconds: 1000, maxAttempts: 5))
        XCTAssertEqual(configuration.stripe.effectiveRequestsPerSecond, 7.5)
        XCTAssertEqual(configuration.instantly.maxRequestsPerSecond, 2)
        XCTAssertEqual(configuration.instantly.apiBase, "http://127.0.0.1:2")
        XCTAssertTrue(configuration.stripe.isTestKey)

        // The documented defaults: 4 workers, retries from 2 s up to 1 h over 10 attempts, Instantly at 5 requests/s,
        // outbound connect timeout 5 s and total 30 s, the providers' real API bases.
        let defaults = try load("")
        XCTAssertEqual(defaults.workers.count, 4)
        XCTAssertEqual(defaults.workers.retryPolicy, RetryPolicy(baseMilliseconds: 2_000, capMilliseconds: 3_600_000, maxAttempts: 10))
        XCTAssertEqual(defaults.instantly.maxRequestsPerSecond, 5)
        XCTAssertEqual(defaults.outbound.connectTimeoutMilliseconds, 5_000)
        XCTAssertEqual(defaults.outbound.timeoutMilliseconds, 30_000)
        XCTAssertEqual(defaults.stripe.apiBase, "https://api.stripe.com")
        XCTAssertEqual(defaults.instantly.apiBase, "https://api.instantly.ai")
        // The retry environment variables win over the file.
        XCTAssertEqual(try load("workers: {retry_base_ms: 100, retry_cap_ms: 1000}",
                                environment: ["HOOKYARD_RETRY_BASE_MS": "250", "HOOKYARD_RETRY_CAP_MS": "9000"]).workers.retryPolicy,
                       RetryPolicy(baseMilliseconds: 250, capMilliseconds: 9_000, maxAttempts: 10))

        XCTAssertEqual(try load("").stripe.effectiveRequestsPerSecond, 25)
        XCTAssertEqual(try load("", environment: ["STRIPE_API_KEY": "sk_live_x"]).stripe.effectiveRequestsPerSecond, 80)
        XCTAssertEqual(try load("", environment: ["STRIPE_API_KEY": "rk_test_x"]).stripe.effectiveRequestsPerSecond, 25)
        XCTAssertThrowsError(try load("", environment: ["STRIPE_MAX_RPS": "fast"])) { error in
            XCTAssertTrue("\(error)".contains("environment: STRIPE_MAX_RPS: 'fast' is not a number of at least 0.01"), "\(error)")
        }
        XCTAssertThrowsError(try load("stripe: {api_base: \"https://api.stripe.com/\"}")) { error in
            XCTAssertTrue("\(error)".contains("must be an http(s) URL without a trailing slash"), "\(error)")
        }
    }

    func testScheduledStepsRolloutAndCaps() throws {
        let configuration = try load("""
            segments:
              paid: {payment_status: customer}
            rules:
              - name: webinar
                on: {source: instantly, event: lead_interested}
                rollout: 10%
                max_per_day: 50
                steps:
                  - name: welcome
                    action: instantly.add_lead
                    with: {email: "{{ event.lead_email }}", campaign: c1}
                  - name: nudge
                    action: instantly.add_lead
                    after: 3d
                    unless: {segment: paid}
                    with: {email: "{{ event.lead_email }}", campaign: c2}
                  - name: reminder
                    action: instantly.add_lead
                    at: "{{ event.starts_at }} - 2h"
                    when: {event.industry: agency, steps.nudge.created: true}
                    with: {email: "{{ event.lead_email }}", campaign: c3}
            """)
        let rule = try XCTUnwrap(configuration.rules.first)
        XCTAssertEqual(rule.rolloutPercent, 10)
        XCTAssertEqual(rule.maxPerDay, 50)
        XCTAssertEqual(rule.steps[1].schedule, .after(milliseconds: 3 * 86_400_000))
        XCTAssertNotNil(rule.steps[1].unless)
        XCTAssertEqual(rule.steps[2].schedule, .at(try Template(parsing: "{{ event.starts_at }}"), offsetMilliseconds: -7_200_000))
        XCTAssertEqual(rule.steps[2].skipConditions.map(\.description).sorted(), [#"event.industry = "agency""#, "steps.nudge.created = true"])
        XCTAssertTrue(rule.steps[2].conditions.isEmpty)
    }

    func testScheduleProblemsCarryLineAndKey() {
        do {
            _ = try load("""
                rules:
                  - name: bad
                    on: {source: instantly, event: lead_interested}
                    rollout: 120%
                    steps:
                      - name: a
                        action: instantly.add_lead
                        after: soon
                        with: {email: x, campaign: c}
                      - name: b
                        action: instantly.add_lead
                        after: 1d
                        at: "{{ event.starts_at }}"
                        with: {email: x, campaign: c}
                      - name: c
                        action: instantly.add_lead
                        at: "{{ event.starts_at }} - tomorrow"
                        with: {email: x, campaign: c}
                      - name: d
                        action: instantly.add_lead
                        at: "{{ contact.first_seen_at }} + 1d"
                        unless: {colour: blue}
                        with: {email: x, campaign: c}
                """)
            XCTFail("accepted")
        } catch {
            let text = error.description
            XCTAssertTrue(text.contains(":4: rules[0].rollout: '120%' is not a share of contacts"), text)
            XCTAssertTrue(text.contains(":8: rules[0].steps[0].after: 'soon' is not a wait such as 30m, 2h, 3d or 1w"), text)
            XCTAssertTrue(text.contains("rules[0].steps[1]: a step has after or at, not both"), text)
            XCTAssertTrue(text.contains("rules[0].steps[2].at: '- tomorrow' after the time must be an offset"), text)
            XCTAssertTrue(text.contains("rules[0].steps[3].unless.colour"), text)
        }
        XCTAssertThrowsError(try load("""
            rules:
              - name: bad
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: a
                    action: instantly.add_lead
                    when: {steps.nowhere.x: 1}
                    with: {email: x, campaign: c}
            """)) { error in
            XCTAssertTrue("\(error)".contains("rules[0].steps[0].when: 'steps.nowhere.x' names step 'nowhere', which does not run before this one"), "\(error)")
        }
    }

    func testCatalog() throws {
        let configuration = try load("""
            catalog:
              webinar:
                name: Growth webinar
                starts_at: "2026-12-10T18:00:00Z"
                seats: 100
                tiers:
                  early-bird: {amount: 4900, currency: USD, until: 1796000000}
                  monthly: {amount: 2900, currency: usd, interval: month, lookup_key: webinar-monthly}
            rules:
              - name: remind
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: remind
                    action: instantly.add_lead
                    at: "{{ catalog.webinar.starts_at }} - 2d"
                    with: {email: "{{ event.lead_email }}", campaign: c}
                  - name: link
                    action: stripe.create_payment_link
                    with: {tier: [webinar/early-bird, webinar/monthly], seat_limit: 1}
            """)
        let webinar = try XCTUnwrap(configuration.catalog.product("webinar"))
        XCTAssertEqual(webinar.startsAt, 1_796_925_600_000)
        XCTAssertEqual(webinar.seats, 100)
        XCTAssertEqual(webinar.tiers.map(\.lookupKey), ["webinar-early-bird", "webinar-monthly"])
        XCTAssertEqual(webinar.tiers[0].currency, "usd")
        XCTAssertEqual(webinar.tiers[0].availableUntil, 1_796_000_000_000)
        XCTAssertEqual(configuration.catalog.tier("webinar/monthly")?.tier.interval, "month")
        XCTAssertEqual(configuration.catalog.json[path: ["webinar", "starts_at"]], .integer(1_796_925_600))
        let fromEnvironment = try load("""
            catalog:
              webinar:
                name: Growth webinar
                seats: ${SEATS:-40}
                tiers: {regular: {amount: "${REGULAR_AMOUNT}", currency: usd}}
            """, environment: ["REGULAR_AMOUNT": "7900"])
        XCTAssertEqual(fromEnvironment.catalog.product("webinar")?.seats, 40)
        XCTAssertEqual(fromEnvironment.catalog.tier("webinar/regular")?.tier.amount, 7900)
        XCTAssertThrowsError(try load("""
            catalog:
              webinar: {name: W, seats: "${SEATS}", tiers: {regular: {amount: 1, currency: usd}}}
            """, environment: ["SEATS": "many"])) { error in
            XCTAssertTrue("\(error)".contains("catalog.webinar.seats: 'many' must be a whole number"), "\(error)")
        }
        XCTAssertThrowsError(try load("""
            catalog:
              webinar:
                name: Growth webinar
                tiers: {regular: {amount: 4900, currency: usd}}
            rules:
              - name: offer
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: link
                    action: stripe.create_payment_link
                    with: {tier: [webinar/regular, webinar/vip]}
            """)) { error in
            XCTAssertTrue("\(error)".contains(":11: rules[0].steps[0].with.tier: 'webinar/vip' is not a catalog tier (known: webinar/regular)"), "\(error)")
        }
        XCTAssertThrowsError(try load("""
            rules:
              - name: offer
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: both
                    action: stripe.create_payment_link
                    with: {tier: webinar/regular, price: price_1}
            """)) { error in
            XCTAssertTrue("\(error)".contains("rules[0].steps[0].with: stripe.create_payment_link takes price or tier, not both"), "\(error)")
        }

        do {
            _ = try load("""
                catalog:
                  webinar:
                    tiers:
                      vip: {amount: 4900, currency: dollars, interval: fortnight}
                      basic: {currency: usd, lookup_key: same}
                      other: {amount: 1, currency: usd, lookup_key: same}
                """)
            XCTFail("accepted")
        } catch {
            let text = error.description
            XCTAssertTrue(text.contains(":4: catalog.webinar.tiers.vip.currency: 'dollars' is not a three-letter currency code"), text)
            XCTAssertTrue(text.contains("catalog.webinar.tiers.vip.interval: 'fortnight' is not one of day, week, month, year"), text)
            XCTAssertTrue(text.contains("catalog.webinar.tiers.basic.amount: every tier needs an amount"), text)
            XCTAssertTrue(text.contains("catalog.webinar.name: every product needs a name"), text)
        }
    }
}
