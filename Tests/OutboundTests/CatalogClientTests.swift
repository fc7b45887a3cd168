import Foundation
import TestSupport
import XCTest
@testable import Outbound

/// The Stripe calls behind `hookyard catalog sync`, sent to `FakeStripeAPI`: exact paths and bodies, batching and
/// pagination, and the fake's lookup-key rules they rely on.
final class CatalogClientTests: XCTestCase {
    private func client(_ fake: FakeStripeAPI) -> StripeClient {
        StripeClient(transport: LiveProviderTransport(provider: "Stripe", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                                      limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test"))
    }

    func testPricesByLookupKeyAsksTenKeysPerRequestWithEncodedBracketsAndIncludesInactivePrices() throws {
        let fake = try FakeStripeAPI()
        fake.addPrice(id: "price_k3", unitAmount: 300, lookupKey: "k3")
        fake.addPrice(id: "price_k11", unitAmount: 1100, lookupKey: "k11", active: false)
        fake.addPrice(id: "price_other", unitAmount: 1, lookupKey: "unrelated")
        let keys = (1...12).map { "k\($0)" } + ["k3"]  // a duplicate is asked for once

        let prices = try client(fake).prices(lookupKeys: keys)

        XCTAssertEqual(Set(prices.map(\.id)), ["price_k3", "price_k11"])
        let k11 = try XCTUnwrap(prices.first { $0.id == "price_k11" })
        XCTAssertFalse(k11.active)
        XCTAssertEqual(k11.lookupKey, "k11")
        XCTAssertEqual(k11.unitAmount, 1100)
        XCTAssertEqual(fake.requests.map(\.target), [
            "/v1/prices?" + (1...10).map { "lookup_keys%5B%5D=k\($0)" }.joined(separator: "&") + "&limit=100",
            "/v1/prices?lookup_keys%5B%5D=k11&lookup_keys%5B%5D=k12&limit=100",
        ])
        XCTAssertEqual(fake.requests.map(\.method), ["GET", "GET"])
    }

    func testPricesWithoutLookupKeysSendsNothing() throws {
        let fake = try FakeStripeAPI()
        XCTAssertEqual(try client(fake).prices(lookupKeys: []), [])
        XCTAssertTrue(fake.requests.isEmpty)
    }

    func testProductsPagesThroughTheWholeListAndKeepsArchivedOnesWithTheMetadataKey() throws {
        let fake = try FakeStripeAPI()
        let first = fake.addProduct(name: "Webinar", metadata: ["hookyard_product": "webinar"])
        for number in 1...150 { fake.addProduct(name: "Unrelated \(number)") }
        let archived = fake.addProduct(name: "Course", active: false, metadata: ["hookyard_product": "course"])
        fake.addProduct(name: "Other tool's", metadata: ["other": "x"])

        let products = try client(fake).products(metadataKey: "hookyard_product")

        XCTAssertEqual(products, [
            StripeProduct(id: archived.id, name: "Course", active: false, metadata: ["hookyard_product": "course"], updated: archived.updated),
            StripeProduct(id: first.id, name: "Webinar", active: true, metadata: ["hookyard_product": "webinar"], updated: first.updated),
        ])
        // 153 products, newest first: 100, then 53 after the 100th (prod_54).
        XCTAssertEqual(fake.requests.map(\.target), ["/v1/products?limit=100", "/v1/products?limit=100&starting_after=prod_54"])
    }

    func testWritesSendTheirFieldsInOrderWithTheIdempotencyKey() throws {
        let fake = try FakeStripeAPI()
        let stripe = client(fake)

        let product = try stripe.createProduct(name: "Growth webinar", metadata: [("hookyard_product", "webinar")],
                                               idempotencyKey: "key-product")
        XCTAssertEqual(product, StripeProduct(id: "prod_1", name: "Growth webinar", active: true, metadata: ["hookyard_product": "webinar"],
                                              updated: fake.products[0].updated))
        let price = try stripe.createPrice(product: product.id, unitAmount: 2900, currency: "usd", interval: "month",
                                           lookupKey: "webinar-monthly", metadata: [("hookyard_product", "webinar"), ("hookyard_tier", "monthly")],
                                           idempotencyKey: "key-price")
        XCTAssertEqual(price, StripePrice(id: "price_1", active: true, currency: "usd", unitAmount: 2900, product: "prod_1", type: "recurring",
                                          recurringInterval: "month", lookupKey: "webinar-monthly",
                                          metadata: ["hookyard_product": "webinar", "hookyard_tier": "monthly"]))
        let oneOff = try stripe.createPrice(product: product.id, unitAmount: 4900, currency: "usd", interval: nil, lookupKey: "webinar-regular",
                                            transferLookupKey: false, metadata: [], idempotencyKey: "key-one-off")
        XCTAssertEqual(oneOff.type, "one_time")
        let renamed = try stripe.updateProduct(id: product.id, name: "Growth webinar 2026", active: true, idempotencyKey: "key-update")
        XCTAssertEqual(renamed.name, "Growth webinar 2026")
        _ = try stripe.updateProduct(id: product.id, active: false, idempotencyKey: "key-archive")
        XCTAssertFalse(fake.products[0].active)

        let writes = fake.requests
        XCTAssertEqual(writes.map { "\($0.method) \($0.target)" }, ["POST /v1/products", "POST /v1/prices", "POST /v1/prices",
                                                                     "POST /v1/products/prod_1", "POST /v1/products/prod_1"])
        XCTAssertEqual(writes.map(\.body), [
            "name=Growth%20webinar&metadata%5Bhookyard_product%5D=webinar",
            "product=prod_1&unit_amount=2900&currency=usd&recurring%5Binterval%5D=month&lookup_key=webinar-monthly"
                + "&transfer_lookup_key=true&metadata%5Bhookyard_product%5D=webinar&metadata%5Bhookyard_tier%5D=monthly",
            "product=prod_1&unit_amount=4900&currency=usd&lookup_key=webinar-regular",
            "name=Growth%20webinar%202026&active=true",
            "active=false",
        ])
        XCTAssertEqual(writes.map { $0.headers["Idempotency-Key"] }, ["key-product", "key-price", "key-one-off", "key-update", "key-archive"])
        XCTAssertEqual(writes.map { $0.headers["Content-Type"] }, Array(repeating: "application/x-www-form-urlencoded", count: 5))
    }

    func testATakenLookupKeyIsRefusedWithoutTransferAndMovedWithIt() throws {
        let fake = try FakeStripeAPI()
        let stripe = client(fake)
        let product = try stripe.createProduct(name: "Webinar", metadata: [], idempotencyKey: "p")
        let old = try stripe.createPrice(product: product.id, unitAmount: 4900, currency: "usd", interval: nil, lookupKey: "webinar-regular",
                                         transferLookupKey: false, metadata: [], idempotencyKey: "old")

        let refusal = expectFailure { () throws(ProviderFailure) in
            try stripe.createPrice(product: product.id, unitAmount: 5900, currency: "usd", interval: nil, lookupKey: "webinar-regular",
                                   transferLookupKey: false, metadata: [], idempotencyKey: "no-transfer")
        }
        XCTAssertEqual(refusal?.status, 400)
        XCTAssertEqual(refusal?.retryable, false)
        XCTAssertTrue(refusal?.message.contains("A price (`\(old.id)`) already uses that lookup key.") ?? false, refusal?.message ?? "")

        let new = try stripe.createPrice(product: product.id, unitAmount: 5900, currency: "usd", interval: nil, lookupKey: "webinar-regular",
                                         transferLookupKey: true, metadata: [], idempotencyKey: "transfer")
        XCTAssertEqual(try stripe.prices(lookupKeys: ["webinar-regular"]).map(\.id), [new.id])
        let kept = try stripe.retrievePrice(id: old.id)
        XCTAssertNil(kept.lookupKey)
        XCTAssertTrue(kept.active)
        XCTAssertEqual(kept.unitAmount, 4900)
    }

    func testFakeRejectsWhatStripeRejects() throws {
        let fake = try FakeStripeAPI()
        let transport = LiveProviderTransport(provider: "Stripe", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                              limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test")
        func post(_ path: String, _ body: String) -> String {
            do {
                _ = try transport.send(ProviderRequest(method: "POST", path: path, contentType: "application/x-www-form-urlencoded",
                                                       body: Array(body.utf8), idempotencyKey: UUID().uuidString))
                return "accepted"
            } catch {
                return error.message
            }
        }
        XCTAssertTrue(post("/v1/products", "name=A&colour=red").contains("Received unknown parameter: colour"))
        XCTAssertTrue(post("/v1/products", "metadata%5Bk%5D=v").contains("Missing required param: name."))
        XCTAssertTrue(post("/v1/prices", "product=prod_404&unit_amount=1&currency=usd").contains("No such product: 'prod_404'"))
        XCTAssertEqual(post("/v1/products", "name=A"), "accepted")
        XCTAssertTrue(post("/v1/prices", "product=prod_1&unit_amount=1&currency=usd&recurring%5Binterval%5D=fortnight")
            .contains("Invalid recurring[interval]"))
        XCTAssertTrue(post("/v1/prices", "product=prod_1&unit_amount=1&currency=usd&lookup_keys=x").contains("Received unknown parameter: lookup_keys"))
        XCTAssertTrue(post("/v1/prices", "product=prod_1&unit_amount=1").contains("Missing required param: currency."))
        let tooMany = expectFailure { () throws(ProviderFailure) in
            try transport.send(ProviderRequest(method: "GET", path: "/v1/prices?" + (1...11).map { "lookup_keys%5B%5D=k\($0)" }.joined(separator: "&")))
        }
        XCTAssertTrue(tooMany?.message.contains("at most 10") ?? false, tooMany?.message ?? "")
    }

    func testDryRunAnswersEmptyListsExceptCatalogPricesByLookupKey() throws {
        let workflows = StripeClient(transport: DryRunProviderTransport(provider: "Stripe"))
        let found = try workflows.prices(lookupKeys: ["webinar-regular", "webinar-vip"])
        XCTAssertEqual(found.map(\.lookupKey), ["webinar-regular", "webinar-vip"], "a tier's price is there, as if the catalog were synced")
        XCTAssertEqual(found.map(\.active), [true, true])
        XCTAssertTrue(found[0].id.hasPrefix("dry_run_price_"))
        XCTAssertEqual(try workflows.prices(lookupKeys: ["webinar-regular"]).first?.id, found[0].id, "the same id every time")
        XCTAssertEqual(try workflows.activePaymentLinks(), [])

        let transport = DryRunProviderTransport(provider: "Stripe", catalogPrices: false)
        let stripe = StripeClient(transport: transport)
        XCTAssertEqual(try stripe.prices(lookupKeys: ["webinar-regular"]), [])
        XCTAssertEqual(try stripe.products(metadataKey: "hookyard_product"), [])
        XCTAssertEqual(transport.requests.map(\.path), ["/v1/prices?lookup_keys%5B%5D=webinar-regular&limit=100", "/v1/products?limit=100"])
    }
}
