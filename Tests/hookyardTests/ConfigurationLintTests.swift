import Foundation
import Intake
import TestSupport
import XCTest

/// `check-config`'s "did you mean": a path into an Instantly event that names no documented field is a warning with
/// file, line and the closest field; an unknown top-level key is an error that lists the valid keys and the closest.
final class ConfigurationLintTests: TemporaryDirectoryTestCase {
    private static let secrets = ["STRIPE_WEBHOOK_SECRET": "whsec_x", "INSTANTLY_WEBHOOK_SECRET": "instantly-secret-1"]

    private func checkConfig(_ yaml: String) throws -> (status: Int32, output: String, file: String) {
        let file = directory.appendingPathComponent("hookyard.yaml").path
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try DaemonProcess.run(["check-config", "--config", file], environment: Self.secrets)
        return (status, output, file)
    }

    func testMistypedInstantlyFieldInATemplateIsAWarningWithLineAndClosestField() throws {
        let (status, output, file) = try checkConfig("""
            rules:
              - name: lead-to-sale
                on: {source: instantly, event: lead_interested}
                steps:
                  - name: customer
                    action: stripe.find_or_create_customer
                    with:
                      email: "{{ event.lead_emial }}"
                      metadata: {note: "{{ event.lead_emial }} (again: {{ event.lead_emial }})"}
            """)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("configuration OK"), output)
        // One warning per place: the same field twice in one template is named once.
        XCTAssertTrue(output.contains("2 warnings (the daemon starts, but):"), output)
        XCTAssertTrue(output.contains("  warning: \(file):9: rules[0].steps[0].with.metadata.note: event.lead_emial is not"), output)
        XCTAssertTrue(output.contains("  warning: \(file):8: rules[0].steps[0].with.email: event.lead_emial is not a field "
                                      + "Instantly documents for its webhooks; did you mean `lead_email`?"), output)
    }

    func testWherePathsStepConditionsAndOncePerAreCheckedToo() throws {
        let (status, output, file) = try checkConfig("""
            contacts:
              lead_fields: [industry]
            rules:
              - name: outreach
                on:
                  source: instantly
                  event: reply_received
                  where:
                    campaign_idd: abc
                    event.campaign_id: abc
                    industry: agency
                once_per: "{{ event.lead_email }}:{{ event.stepp }}"
                steps:
                  - name: customer
                    action: stripe.find_or_create_customer
                    when: {event.companyName: Acme}
                    with:
                      email: "{{ event.lead_email }}"
                      metadata: {campaign: "{{ event.campaign_name }}", first: "{{ event.firstName || '' }}"}
              - name: paid
                on: {source: stripe, event: checkout.session.completed, where: {data.object.mode: payment}}
                steps:
                  - name: customer
                    action: stripe.find_or_create_customer
                    with: {email: "{{ event.data.object.customer_details.email }}"}
            """)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("5 warnings (the daemon starts, but):"), output)
        XCTAssertTrue(output.contains("warning: \(file):9: rules[0].on.where.campaign_idd: event.campaign_idd is not a field "
                                      + "Instantly documents for its webhooks; did you mean `campaign_id`?"), output)
        XCTAssertTrue(output.contains("warning: \(file):10: rules[0].on.where.event.campaign_id: where: paths start inside the "
                                      + "event, so this reads event.event.campaign_id, which Instantly never sends; write `campaign_id` without event."),
                      output)
        XCTAssertTrue(output.contains("warning: \(file):12: rules[0].once_per: event.stepp is not a field Instantly documents for "
                                      + "its webhooks; did you mean `step`?"), output)
        // A lead field or custom variable (far from every documented field): no guess, the documented list instead.
        XCTAssertTrue(output.contains("warning: \(file):16: rules[0].steps[0].when.event.companyName: event.companyName is not a "
                                      + "field Instantly documents for its webhooks (Instantly's are timestamp, event_type,"), output)
        XCTAssertTrue(output.contains("name it in contacts.lead_fields"), output)
        XCTAssertTrue(output.contains("warning: \(file):19: rules[0].steps[0].with.metadata.first: event.firstName"), output)
        // Declared lead fields, documented fields and Stripe rules are not warned of.
        let warnings = output.split(separator: "\n").filter { $0.contains("warning: ") }
        XCTAssertEqual(warnings.count, 5, output)
        XCTAssertFalse(warnings.contains { $0.contains("industry") || $0.contains("event.data") || $0.contains("event.campaign_name") },
                       output)
    }

    func testUnknownTopLevelKeyListsTheKeysAndTheClosest() throws {
        let (status, output, file) = try checkConfig("""
            listen: 127.0.0.1:8080
            worker:
              count: 2
            """)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("\(file):2: worker: unknown key (the top level has listen, admin_listen, database, log_level, "
                                      + "http, stripe, instantly, workers, outbound, rules, http_targets, contacts, segments, catalog, "
                                      + "alerts, deliverability, retention, reports, mcp); did you mean `workers`?"), output)
    }

    func testUnknownRuleTriggerAndStepKeysNameTheClosest() throws {
        let (status, output, file) = try checkConfig("""
            rules:
              - name: r
                once_pr: x
                on: {source: instantly, event: lead_interested, wher: {step: 1}}
                steps:
                  - name: s
                    action: stripe.find_or_create_customer
                    wiht: {email: "{{ event.lead_email }}"}
            """)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("\(file):3: rules[0].once_pr: unknown key (a rule has name, on, if, once_per, "
                                      + "max_runs_per_day, rollout, max_per_day, steps); did you mean `once_per`?"), output)
        XCTAssertTrue(output.contains("\(file):4: rules[0].on.wher: unknown key (a trigger has source, event, where; or "
                                      + "segment_entered or segment_left); did you mean `where`?"), output)
        XCTAssertTrue(output.contains("\(file):8: rules[0].steps[0].wiht: unknown key (a step has name, action, with, if, "
                                      + "when, unless, after, at); did you mean `with`?"), output)
    }

    /// The lead-to-sale example's Instantly rule reads only documented fields: no warning (the other examples are
    /// checked the same way in their own tests).
    func testLeadToSaleExampleHasNoFieldWarning() throws {
        let environment = Self.secrets.merging(["HOOKYARD_PRICE_ID": "price_1", "INSTANTLY_CUSTOMER_CAMPAIGN_ID": "c-customer",
                                                "INSTANTLY_OUTREACH_CAMPAIGN_IDS": "c-outreach", "INSTANTLY_PAYMENT_CAMPAIGN_ID": "c-payment"]) { _, new in new }
        let (status, output) = try DaemonProcess.run(["check-config", "--config", ScenarioHarnessPaths.example("lead-to-sale")],
                                                     environment: environment)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("lead-to-sale: on instantly"), output)
        XCTAssertFalse(output.contains("warning"), output)
    }

}
