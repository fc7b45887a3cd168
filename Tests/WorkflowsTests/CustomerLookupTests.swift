import Foundation
import Logging
import Outbound
import Store
import StrictJSON
import TestSupport
import XCTest
@testable import Workflows

/// `stripe.find_or_create_customer` against the fake Stripe API, whose email filter is case-sensitive and whose search
/// index lags, as Stripe's: one person is one customer whatever case their address arrives in.
final class CustomerLookupTests: XCTestCase {
    var directory: URL!
    var store: SQLiteWorkflowStore!
    var fake: FakeStripeAPI!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("customers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("db").path
        try SQLiteEventWriter(path: path, logger: TestLog.logger()).close()
        store = try SQLiteWorkflowStore(path: path)
        fake = try FakeStripeAPI()
    }

    override func tearDown() {
        store.close()
        fake = nil
        try? FileManager.default.removeItem(at: directory)
    }

    private func findOrCreate(_ email: String, flow: String, metadata: [String: String] = [:]) throws -> (id: String, created: Bool) {
        let transport = LiveProviderTransport(provider: "Stripe", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                              limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test")
        let context = ActionContext(stripe: StripeClient(transport: transport),
                                    instantly: InstantlyClient(transport: DryRunProviderTransport(provider: "Instantly")),
                                    store: store, eventID: 1, rule: "r", idempotencyKey: "hookyard-flow%3A\(flow)%3Acustomer",
                                    now: { 1_764_000_000_000 })
        var values: [String: JSONValue] = ["email": .string(email)]
        if !metadata.isEmpty { values["metadata"] = .object(metadata.mapValues(JSONValue.string)) }
        let output = try ActionRunner().run("stripe.find_or_create_customer", Arguments(values: values), in: context)
        let object = try XCTUnwrap(output.objectValue)
        guard case .string(let id)? = object["customer_id"], case .bool(let created)? = object["created"] else {
            throw TestClientError("unexpected output \(output)")
        }
        return (id, created)
    }

    func testACustomerCreatedWithCapitalsIsFoundByTheLowerCaseAddressAndNoSecondIsCreated() throws {
        // As the examples' rules do: hookyard_email from the event's address, in whatever case it came.
        let first = try findOrCreate("Pat.Case@Example.COM", flow: "one", metadata: ["hookyard_email": "Pat.Case@Example.COM"])
        XCTAssertTrue(first.created)
        let later = try findOrCreate("pat.case@example.com", flow: "two")
        XCTAssertEqual(later.id, first.id)
        XCTAssertFalse(later.created)
        XCTAssertEqual(fake.customers.count, 1, "one person, one customer")
        let customer = try XCTUnwrap(fake.customers.first)
        XCTAssertEqual(customer.email, "pat.case@example.com", "created with the normalised address")
        XCTAssertEqual(customer.metadata["hookyard_email"], "pat.case@example.com")
        // The create carried a key derived from the address and fields, not from the job.
        let create = try XCTUnwrap(fake.requests.first { $0.method == "POST" })
        XCTAssertEqual(create.headers["Idempotency-Key"],
                       StripeFindOrCreateCustomer.customerCreationKey(email: "pat.case@example.com", name: nil,
                                                        metadata: [("hookyard_email", "pat.case@example.com")]))
    }

    func testACustomerMadeElsewhereIsFoundAsReceivedThenThroughSearchOnceIndexed() throws {
        let made = fake.addCustomer(email: "Lou.Other@Example.com")
        // The address as received finds it (Stripe's filter is exact); it gains hookyard_email.
        let received = try findOrCreate("Lou.Other@Example.com", flow: "one")
        XCTAssertEqual(received.id, made.id)
        XCTAssertEqual(fake.customers.first?.metadata["hookyard_email"], "lou.other@example.com")
        // Another spelling misses both list lookups; search by hookyard_email finds it once the index caught up.
        fake.indexCustomersForSearch()
        let shouted = try findOrCreate("LOU.OTHER@example.com", flow: "two")
        XCTAssertEqual(shouted.id, made.id)
        XCTAssertFalse(shouted.created)
        XCTAssertEqual(fake.customers.count, 1)
        let paths = fake.requests.filter { $0.method == "GET" }.map(\.target).suffix(3)
        XCTAssertEqual(Array(paths), [
            "/v1/customers?email=lou.other%40example.com&limit=1",
            "/v1/customers?email=LOU.OTHER%40example.com&limit=1",
            "/v1/customers/search?query=metadata%5B%27hookyard_email%27%5D%3A%27lou.other%40example.com%27&limit=1",
        ])
    }

    func testSearchDoesNotSeeACustomerUntilItIsIndexedAsAtStripe() throws {
        // Created through the API (as Hookyard creates them), with a spelling no later list lookup matches.
        let transport = LiveProviderTransport(provider: "Stripe", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                              limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test")
        let client = StripeClient(transport: transport)
        let created = try client.createCustomer(email: "Mo@Example.com", name: nil, metadata: [("hookyard_email", "mo@example.com")],
                                                idempotencyKey: "k1")
        XCTAssertNil(try client.searchCustomer(metadataKey: "hookyard_email", value: "mo@example.com"), "not indexed yet")
        fake.indexCustomersForSearch()
        XCTAssertEqual(try client.searchCustomer(metadataKey: "hookyard_email", value: "mo@example.com")?.id, created.id)
        XCTAssertNil(try client.findCustomer(email: "mo@example.com"), "the list filter is case-sensitive")
        XCTAssertEqual(try client.findCustomer(email: "Mo@Example.com")?.id, created.id)
    }

    func testTheSearchQueryEscapesQuotesAndBackslashes() throws {
        let made = fake.addCustomer(email: nil, metadata: ["hookyard_email": #"o'ne\il@example.com"#])
        fake.addCustomer(email: nil, metadata: ["hookyard_email": "oneil@example.com"])
        let transport = LiveProviderTransport(provider: "Stripe", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                              limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test")
        let found = try StripeClient(transport: transport).searchCustomer(metadataKey: "hookyard_email", value: #"o'ne\il@example.com"#)
        XCTAssertEqual(found?.id, made.id)
    }
}
