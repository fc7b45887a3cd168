import Outbound
import Foundation
import Store
import StrictJSON
import XCTest
@testable import Workflows

final class JSONValueTests: XCTestCase {
    func testParsesAndSerialisesDeterministically() throws {
        let value = try JSONValue.parse(#"{"b":[1,2.5,"x\u00e9\n"],"a":{"t":true,"n":null},"big":12345678901234}"#)
        XCTAssertEqual(value.serialized(), #"{"a":{"n":null,"t":true},"b":[1,2.5,"xé\n"],"big":12345678901234}"#)
        XCTAssertEqual(value[path: ["b", "1"]], .number(2.5))
        XCTAssertEqual(value[path: ["a", "t"]], .bool(true))
        XCTAssertNil(value[path: ["a", "missing"]])
        XCTAssertNil(value[path: ["b", "7"]])
        XCTAssertEqual(try JSONValue.parse(#""\ud83d\ude00""#), .string("😀"))
    }

    func testRejectsWhatRFC8259Rejects() {
        for text in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "tru", "\"\\x\"", "\"a", "{} {}", "\"\u{01}\"", "1e400"] {
            XCTAssertThrowsError(try JSONValue.parse(text), text)
        }
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xFF, 0x22]), "invalid UTF-8")
    }

    /// A lone surrogate escape is not an error: it reads as U+FFFD, as intake reads it (StrictJSON's grammar).
    func testLoneSurrogateReadsAsReplacementCharacter() throws {
        XCTAssertEqual(try JSONValue.parse("\"\\ud800\""), .string("\u{FFFD}"))
        XCTAssertEqual(try JSONValue.parse("\"a\\udc00b\""), .string("a\u{FFFD}b"))
    }

    /// Random documents round-trip through Foundation's parser to the same value.
    func testAgreesWithFoundationOnRandomDocuments() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> Any {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
            case 0: return Int.random(in: -1_000_000...1_000_000, using: &generator)
            case 1: return ["a", "é", "\"q\"", "line\nbreak", "tab\t", "😀", ""].randomElement(using: &generator)!
            case 2: return Bool.random(using: &generator)
            case 3: return NSNull()
            case 4: return (0..<Int.random(in: 0...4, using: &generator)).map { _ in random(depth + 1) }
            default:
                var object: [String: Any] = [:]
                for index in 0..<Int.random(in: 0...4, using: &generator) { object["k\(index)"] = random(depth + 1) }
                return object
            }
        }
        for _ in 0..<500 {
            let document = ["root": random(0)]
            let data = try JSONSerialization.data(withJSONObject: document)
            let ours = try JSONValue.parse(Array(data))
            let again = try JSONSerialization.jsonObject(with: Data(ours.serialized().utf8)) as! NSDictionary
            XCTAssertEqual(again, document as NSDictionary)
        }
    }
}

final class TemplateTests: XCTestCase {
    let context = JSONValue.object([
        "event": .object(["lead_email": .string("ann@example.com"), "step": .integer(2),
                          "data": .object(["object": .object(["amount_total": .integer(4900)])])]),
        "steps": .object(["link": .object(["url": .string("https://buy.stripe.com/x")])]),
    ])

    func testSinglePlaceholderKeepsItsType() throws {
        XCTAssertEqual(try Template(parsing: "{{ event.data.object.amount_total }}").render(in: context), .integer(4900))
        XCTAssertEqual(try Template(parsing: "{{event.lead_email}}").render(in: context), .string("ann@example.com"))
    }

    func testMixedTextJoinsTexts() throws {
        let template = try Template(parsing: "Pay {{ event.lead_email }} at {{ steps.link.url }} (step {{ event.step }})")
        XCTAssertEqual(try template.render(in: context), .string("Pay ann@example.com at https://buy.stripe.com/x (step 2)"))
        XCTAssertEqual(template.stepsReferenced, ["link"])
        XCTAssertEqual(try Template(parsing: "no placeholders").render(in: context), .string("no placeholders"))
    }

    func testMissingValueNamesThePath() {
        XCTAssertThrowsError(try Template(parsing: "{{ event.first_name }}").render(in: context)) { error in
            XCTAssertEqual((error as? Template.TemplateError)?.message, "{{ event.first_name }} has no value")
        }
    }

    func testFirstOfTakesTheFirstPathWithAValue() throws {
        let template = try Template(parsing: "{{ steps.team-link.url || steps.link.url }}")
        XCTAssertEqual(template.paths, [["steps", "team-link", "url"], ["steps", "link", "url"]])
        XCTAssertEqual(template.stepsReferenced, ["team-link", "link"])
        XCTAssertEqual(try template.render(in: context), .string("https://buy.stripe.com/x"))
        XCTAssertEqual(try Template(parsing: "{{ event.data.object.amount_total || event.step }}").render(in: context), .integer(4900),
                       "the first keeps its type")
        XCTAssertEqual(try Template(parsing: "at {{ event.nothing || event.step }}").render(in: context), .string("at 2"))
        XCTAssertEqual(try Template(parsing: "{{ event.trial_end || '' }}").render(in: context), .string(""))
        XCTAssertEqual(try Template(parsing: #"ends {{ event.a || event.step || "never" }}"#).render(in: context), .string("ends 2"))
        XCTAssertEqual(try Template(parsing: "{{ event.a || 'none yet' }}").render(in: context), .string("none yet"))
        XCTAssertThrowsError(try Template(parsing: "{{ event.a || 'x' || event.b }}"))
        XCTAssertThrowsError(try Template(parsing: "{{ 'x' }}"), "a text alone is no placeholder")
        XCTAssertThrowsError(try Template(parsing: "{{ event.a || event.b }}").render(in: context)) { error in
            XCTAssertEqual((error as? Template.TemplateError)?.message, "{{ event.a || event.b }}: none has a value")
        }
    }

    func testMalformedTemplatesAreRejected() {
        for text in ["{{ event.x", "{{ }}", "{{ lead_email }}", "{{ event..x }}", "{{ steps.link }}", "{{ event.a b }}", "{{ env.X }}",
                     "{{ event.a || }}", "{{ event.a || env.b }}", "{{ event.a | event.b }}"] {
            XCTAssertThrowsError(try Template(parsing: text), text)
        }
    }
}

final class ConditionTests: XCTestCase {
    let event = JSONValue.object(["event": .object(["campaign_id": .string("c1"), "is_first": .bool(true), "step": .integer(1),
                                                    "unibox_url": .null])])

    func testTests() {
        func holds(_ path: String, _ test: Condition.Test) -> Bool {
            Condition(path: path.split(separator: ".").map(String.init), test: test).holds(in: event)
        }
        XCTAssertTrue(holds("event.campaign_id", .equals(.string("c1"))))
        XCTAssertFalse(holds("event.campaign_id", .equals(.string("c2"))))
        XCTAssertTrue(holds("event.is_first", .equals(.string("true"))))
        XCTAssertTrue(holds("event.step", .equals(.string("1"))))
        XCTAssertTrue(holds("event.step", .equals(.number(1.0))))
        XCTAssertTrue(holds("event.campaign_id", .oneOf([.string("c0"), .string("c1")])))
        XCTAssertFalse(holds("event.campaign_id", .noneOf([.string("c1")])))
        XCTAssertFalse(holds("event.missing", .oneOf([.string("c1")])))
        XCTAssertTrue(holds("event.missing", .noneOf([.string("c1")])))
        XCTAssertTrue(holds("event.campaign_id", .exists(true)))
        XCTAssertFalse(holds("event.unibox_url", .exists(true)))
        XCTAssertTrue(holds("event.unibox_url", .exists(false)))
        XCTAssertTrue(holds("event.campaign_id", .notEquals(.string("c2"))))
    }

    func testAListIsTestedByItsItems() {
        let context = JSONValue.object(["contact": .object(["segments": .array([.string("hot"), .string("agencies")]), "campaigns": .array([])])])
        func holds(_ path: String, _ test: Condition.Test) -> Bool {
            Condition(path: path.split(separator: ".").map(String.init), test: test).holds(in: context)
        }
        XCTAssertTrue(holds("contact.segments", .equals(.string("agencies"))))
        XCTAssertFalse(holds("contact.segments", .equals(.string("customers"))))
        XCTAssertFalse(holds("contact.segments", .notEquals(.string("agencies"))))
        XCTAssertTrue(holds("contact.segments", .notEquals(.string("customers"))))
        XCTAssertTrue(holds("contact.segments", .oneOf([.string("x"), .string("hot")])))
        XCTAssertFalse(holds("contact.segments", .noneOf([.string("x"), .string("hot")])))
        XCTAssertFalse(holds("contact.campaigns", .equals(.string("c1"))), "an empty list has no item that matches")
        XCTAssertTrue(holds("contact.campaigns", .noneOf([.string("c1")])))
        XCTAssertTrue(holds("contact.campaigns", .exists(true)), "an empty list is still a value")
    }

    func testTriggerNeedsTypeAndEveryCondition() {
        let trigger = Trigger(source: .instantly, eventTypes: ["lead_interested"],
                              conditions: [Condition(path: ["event", "campaign_id"], test: .oneOf([.string("c1")]))])
        let body = JSONValue.object(["campaign_id": .string("c1")])
        XCTAssertTrue(trigger.matches(type: "lead_interested", event: body))
        XCTAssertFalse(trigger.matches(type: "reply_received", event: body))
        XCTAssertFalse(trigger.matches(type: "lead_interested", event: .object(["campaign_id": .string("c2")])))
    }

    /// What `hookyard explain` and `dry_run_rule` say when a trigger does not match: the source, the type, or the
    /// first `where:` that fails with the value the event had; the same verdict `matches` gives.
    func testTriggerEvaluationSaysWhyNot() {
        let trigger = Trigger(source: .instantly, eventTypes: ["lead_interested"],
                              conditions: [Condition(path: ["event", "lead_email"], test: .exists(true)),
                                           Condition(path: ["event", "campaign_id"], test: .oneOf([.string("c1")]))])
        let matching = JSONValue.object(["campaign_id": .string("c1"), "lead_email": .string("a@example.com")])
        let matched = trigger.evaluate(source: .instantly, type: "lead_interested", event: matching)
        XCTAssertTrue(matched.matched)
        XCTAssertNil(matched.reason)
        XCTAssertEqual(matched.conditions.map(\.holds), [true, true])

        XCTAssertEqual(trigger.evaluate(source: .stripe, type: "lead_interested", event: matching).reason,
                       "listens to instantly events, this is stripe")
        XCTAssertEqual(trigger.evaluate(source: .instantly, type: "reply_received", event: matching).reason,
                       "listens to lead_interested, not reply_received")
        let other = JSONValue.object(["campaign_id": .string("c2"), "lead_email": .string("a@example.com")])
        let failed = trigger.evaluate(source: .instantly, type: "lead_interested", event: other)
        XCTAssertFalse(failed.matched)
        XCTAssertEqual(failed.reason, "where: event.campaign_id in [\"c1\"] does not hold (the event has \"c2\")")
        XCTAssertEqual(failed.conditions.map(\.holds), [true, false])
        XCTAssertEqual(trigger.matches(type: "lead_interested", event: other), failed.matched)
        XCTAssertEqual(Trigger.segment("vip", entered: true).evaluate(source: .instantly, type: "lead_interested", event: matching).reason,
                       "starts on segment_entered: vip, not on events")
    }

    func testOncePerKeyIsTrimmedAndLowerCasedAndNilWhenEmpty() throws {
        var rule = Rule(name: "r", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [])
        rule.oncePer = try Template(parsing: "{{ event.lead_email }}")
        XCTAssertEqual(rule.oncePerKey(in: .object(["lead_email": .string(" Ada@Example.com ")])), "ada@example.com")
        XCTAssertNil(rule.oncePerKey(in: .object(["lead_email": .string("  ")])))
        XCTAssertNil(rule.oncePerKey(in: .object([:])))
    }
}

final class RuleValidatorTests: XCTestCase {
    private func step(_ name: String, _ action: String, _ arguments: [String: String]) -> Step {
        Step(name: name, action: action, arguments: arguments.mapValues { .template(try! Template(parsing: $0)) })
    }

    func testValidRuleHasNoProblems() {
        let rule = Rule(name: "r", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [
            step("customer", "stripe.find_or_create_customer", ["email": "{{ event.lead_email }}"]),
            step("link", "stripe.create_payment_link", ["price": "price_1", "prefilled_email": "{{ event.lead_email }}"]),
            step("set", "instantly.set_lead_variables", ["email": "{{ event.lead_email }}", "campaign": "{{ event.campaign_id }}"])
                .with(variables: "{{ steps.link.url }}"),
        ])
        XCTAssertEqual(RuleValidator.problems(in: [rule]), [])
    }

    func testReportsEachProblemWithItsKey() {
        let rule = Rule(name: "r", trigger: Trigger(source: .instantly, eventTypes: ["lead_interested"]), steps: [
            step("a", "stripe.create_paymentlink", ["price": "p"]),
            step("b", "stripe.create_payment_link", ["prize": "p"]),
            step("c", "instantly.move_lead", ["email": "{{ steps.later.x }}", "from_campaign": "{{ steps.b.link }}", "to_campaign": "t"]),
            step("later", "record_purchase", ["reference": "r", "amount": "1", "currency": "usd"]),
        ])
        let problems = RuleValidator.problems(in: [rule, rule]).map(\.description)
        XCTAssertTrue(problems.contains { $0.hasPrefix("rules[0].steps[0].action: unknown action 'stripe.create_paymentlink'") }, "\(problems)")
        XCTAssertTrue(problems.contains("rules[0].steps[1].with.prize: stripe.create_payment_link has no argument 'prize' (it takes: price, tier, quantity, metadata, prefilled_email, seat_limit)"), "\(problems)")
        XCTAssertTrue(problems.contains("rules[0].steps[1].with: stripe.create_payment_link needs price (a price id) or tier (product/tier from catalog:)"), "\(problems)")
        XCTAssertTrue(problems.contains("rules[0].steps[2].with.email: 'steps.later.x' names step 'later', which does not run before this one"), "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasPrefix("rules[0].steps[2].with.from_campaign: step 'b' (stripe.create_payment_link) has no output 'link'") }, "\(problems)")
        XCTAssertTrue(problems.contains("rules[1].name: another rule is already named 'r'"), "\(problems)")
    }
}

extension Step {
    func with(variables template: String) -> Step {
        var copy = self
        copy.arguments["variables"] = .map(["payment_link": .template(try! Template(parsing: template))])
        return copy
    }
}
