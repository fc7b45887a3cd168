import Foundation
import Outbound
import Synchronization
import TestSupport
import XCTest
@testable import Workflows

/// `CatalogSync` against `FakeStripeAPI` in the states an account can be in: empty, already synced, with a changed
/// amount, a renamed or archived product, a lookup key on someone else's price, and after a lost answer.
final class CatalogSyncTests: XCTestCase {
    /// The pauses `CatalogSync` asked for between tries, in milliseconds (the tests do not sleep).
    private final class Pauses: Sendable {
        let recorded = Mutex<[Int64]>([])
        var all: [Int64] { recorded.withLock { $0 } }
    }

    private static func catalog(regular: Int64 = 6900, webinarName: String = "Growth webinar", monthlyInterval: String? = "month") -> Catalog {
        Catalog(products: [
            CatalogProduct(key: "webinar", name: webinarName, startsAt: 1_796_925_600_000, seats: 100, tiers: [
                CatalogTier(key: "early-bird", amount: 4900, currency: "usd", lookupKey: "webinar-early-bird", availableUntil: 1_796_083_200_000),
                CatalogTier(key: "regular", amount: regular, currency: "usd", lookupKey: "webinar-regular"),
                CatalogTier(key: "monthly", amount: 2900, currency: "usd", interval: monthlyInterval, lookupKey: "webinar-monthly"),
            ]),
            CatalogProduct(key: "course", name: "Swift course", tiers: [
                CatalogTier(key: "full", amount: 19900, currency: "eur", lookupKey: "course-full"),
            ]),
        ])
    }

    private func sync(_ fake: FakeStripeAPI, _ catalog: Catalog = catalog(), attempts: Int = 3, pauses: Pauses = Pauses()) -> CatalogSync {
        let transport = LiveProviderTransport(provider: "Stripe", baseURL: fake.baseURL, apiKey: fake.apiKey,
                                              limiter: RateLimiter(requestsPerSecond: 1000), userAgent: "hookyard/test")
        return CatalogSync(catalog: catalog, stripe: StripeClient(transport: transport), attempts: attempts,
                           pause: { milliseconds in pauses.recorded.withLock { $0.append(milliseconds) } })
    }

    private func posts(_ fake: FakeStripeAPI) -> [FakeAPIServer.Recorded] { fake.requests.filter { $0.method == "POST" } }

    /// The price holding each lookup key now.
    private func holders(_ fake: FakeStripeAPI) -> [String: FakeStripeAPI.Price] {
        Dictionary(uniqueKeysWithValues: fake.prices.values.compactMap { price in price.lookupKey.map { ($0, price) } })
    }

    @discardableResult
    private func syncOnce(_ fake: FakeStripeAPI, _ catalog: Catalog = catalog()) throws -> CatalogSyncResult {
        let sync = sync(fake, catalog)
        return try sync.apply(try sync.plan())
    }

    func testEmptyAccountGetsEveryProductAndPrice() throws {
        let fake = try FakeStripeAPI()
        let sync = sync(fake)
        let plan = try sync.plan()
        XCTAssertEqual(plan.products.map(\.change), [.create, .create])
        XCTAssertEqual(plan.products.flatMap(\.tiers).map(\.change), [.create, .create, .create, .create])
        XCTAssertEqual(plan.writeCount, 6)
        XCTAssertTrue(posts(fake).isEmpty, "planning only reads")

        let result = try sync.apply(plan)

        XCTAssertEqual(fake.products.map(\.name), ["Growth webinar", "Swift course"])
        XCTAssertEqual(fake.products.map(\.metadata), [["hookyard_product": "webinar"], ["hookyard_product": "course"]])
        let byKey = holders(fake)
        XCTAssertEqual(Set(byKey.keys), ["webinar-early-bird", "webinar-regular", "webinar-monthly", "course-full"])
        let monthly = try XCTUnwrap(byKey["webinar-monthly"])
        XCTAssertEqual(monthly.product, fake.products[0].id)
        XCTAssertEqual(monthly.unitAmount, 2900)
        XCTAssertEqual(monthly.recurringInterval, "month")
        XCTAssertEqual(monthly.metadata, ["hookyard_product": "webinar", "hookyard_tier": "monthly"])
        XCTAssertNil(byKey["webinar-regular"]?.recurringInterval)
        XCTAssertEqual(byKey["course-full"]?.currency, "eur")
        XCTAssertEqual(byKey["course-full"]?.product, fake.products[1].id)
        XCTAssertEqual(result.products.map(\.id), fake.products.map(\.id))
        XCTAssertEqual(result.products[0].tiers.map(\.priceID),
                       ["webinar-early-bird", "webinar-regular", "webinar-monthly"].map { byKey[$0]!.id })
        let keys = posts(fake).compactMap { $0.headers["Idempotency-Key"] }
        XCTAssertEqual(keys.count, 6)
        XCTAssertEqual(Set(keys).count, 6, "each write has its own key")
        XCTAssertTrue(keys.allSatisfy { $0.hasPrefix("hookyard-catalog-") }, "\(keys)")
    }

    func testSecondRunFindsEverythingAndWritesNothing() throws {
        let fake = try FakeStripeAPI()
        try syncOnce(fake)
        let writes = posts(fake).count

        let plan = try sync(fake).plan()

        XCTAssertTrue(plan.isUpToDate, "\(plan)")
        XCTAssertEqual(plan.products.map { $0.change.existing?.id }, fake.products.map(\.id))
        let result = try sync(fake).apply(plan)
        XCTAssertEqual(posts(fake).count, writes)
        XCTAssertEqual(fake.products.count, 2)
        XCTAssertEqual(fake.prices.count, 4)
        XCTAssertEqual(result.products.flatMap(\.tiers).map(\.priceID).sorted(), fake.prices.keys.sorted())
    }

    func testChangedAmountGetsANewPriceThatTakesTheLookupKeyAndTheOldPriceIsLeftAlone() throws {
        let fake = try FakeStripeAPI()
        try syncOnce(fake)
        let old = try XCTUnwrap(holders(fake)["webinar-regular"])

        let sync = sync(fake, Self.catalog(regular: 7900))
        let plan = try sync.plan()
        let regular = try XCTUnwrap(plan.products[0].tiers.first { $0.tier.key == "regular" })
        guard case .replace(let replaced, let reasons) = regular.change else { return XCTFail("\(regular.change)") }
        XCTAssertEqual(replaced.id, old.id)
        XCTAssertEqual(reasons, [.amount(6900)])
        XCTAssertEqual(plan.writeCount, 1)
        let before = fake.requests.count
        try sync.apply(plan)

        let new = try XCTUnwrap(holders(fake)["webinar-regular"])
        XCTAssertNotEqual(new.id, old.id)
        XCTAssertEqual(new.unitAmount, 7900)
        XCTAssertEqual(new.product, old.product)
        var kept = try XCTUnwrap(fake.prices[old.id])
        XCTAssertNil(kept.lookupKey)
        kept.lookupKey = old.lookupKey
        XCTAssertEqual(kept, old, "the old price is otherwise untouched, still active")
        let sent = fake.requests[before...]
        XCTAssertEqual(sent.map { "\($0.method) \($0.path)" }, ["POST /v1/prices"])
        XCTAssertTrue(sent.first?.body.contains("transfer_lookup_key=true") ?? false)
        XCTAssertTrue(try self.sync(fake, Self.catalog(regular: 7900)).plan().isUpToDate)
    }

    /// Content-only keys would replay the first price's creation here, leaving the key on the second price.
    func testChangingAnAmountBackCreatesAgainInsteadOfReplayingTheFirstPrice() throws {
        let fake = try FakeStripeAPI()
        try syncOnce(fake)
        let first = try XCTUnwrap(holders(fake)["webinar-regular"])
        try syncOnce(fake, Self.catalog(regular: 7900))
        try syncOnce(fake, Self.catalog(regular: 6900))

        let third = try XCTUnwrap(holders(fake)["webinar-regular"])
        XCTAssertNotEqual(third.id, first.id)
        XCTAssertEqual(third.unitAmount, 6900)
        XCTAssertEqual(fake.prices.values.count { $0.metadata["hookyard_tier"] == "regular" }, 3)
        XCTAssertTrue(try sync(fake).plan().isUpToDate)
    }

    func testRenamedProductIsRenamedInPlace() throws {
        let fake = try FakeStripeAPI()
        try syncOnce(fake)
        let product = fake.products[0]

        let sync = sync(fake, Self.catalog(webinarName: "Growth webinar 2026"))
        let plan = try sync.plan()
        guard case .update(let existing, rename: true, reactivate: false) = plan.products[0].change else {
            return XCTFail("\(plan.products[0].change)")
        }
        XCTAssertEqual(existing.id, product.id)
        XCTAssertEqual(plan.writeCount, 1, "the prices stay: they belong to the same product")
        try sync.apply(plan)

        XCTAssertEqual(fake.products.map(\.name), ["Growth webinar 2026", "Swift course"])
        XCTAssertEqual(fake.products[0].id, product.id)
        XCTAssertEqual(posts(fake).last?.path, "/v1/products/\(product.id)")
        XCTAssertEqual(posts(fake).last?.body, "name=Growth%20webinar%202026")
    }

    func testArchivedProductIsReactivatedNotDuplicated() throws {
        let fake = try FakeStripeAPI()
        let archived = fake.addProduct(name: "Growth webinar", active: false, metadata: ["hookyard_product": "webinar"])

        let sync = sync(fake)
        let plan = try sync.plan()
        XCTAssertEqual(plan.products[0].change, .update(StripeProduct(id: archived.id, name: "Growth webinar", active: false,
                                                                      metadata: archived.metadata, updated: archived.updated),
                                                        rename: false, reactivate: true))
        try sync.apply(plan)

        XCTAssertEqual(fake.products.filter { $0.metadata["hookyard_product"] == "webinar" }.map(\.id), [archived.id])
        XCTAssertTrue(fake.products[0].active)
        XCTAssertEqual(posts(fake).first { $0.path == "/v1/products/\(archived.id)" }?.body, "active=true")
        XCTAssertEqual(holders(fake)["webinar-regular"]?.product, archived.id)
    }

    func testPriceOnAnotherProductAndArchivedPricesAreReplacedOnOurProduct() throws {
        let fake = try FakeStripeAPI()
        let ours = fake.addProduct(name: "Growth webinar", metadata: ["hookyard_product": "webinar"])
        let someoneElses = fake.addProduct(name: "Old webinar")
        fake.addPrice(id: "price_foreign", unitAmount: 4900, product: someoneElses.id, lookupKey: "webinar-early-bird")
        fake.addPrice(id: "price_archived", unitAmount: 6900, product: ours.id, lookupKey: "webinar-regular", active: false)
        fake.addPrice(id: "price_yearly", unitAmount: 2900, recurringInterval: "year", product: ours.id, lookupKey: "webinar-monthly")

        let sync = sync(fake)
        let plan = try sync.plan()
        XCTAssertEqual(plan.products[0].change.existing?.id, ours.id)
        let reasons = plan.products[0].tiers.map { tier -> [CatalogPlan.ReplaceReason] in
            if case .replace(_, let reasons) = tier.change { return reasons }
            return []
        }
        XCTAssertEqual(reasons, [[.otherProduct(someoneElses.id)], [.inactive], [.interval("year")]])
        try sync.apply(plan)

        for key in ["webinar-early-bird", "webinar-regular", "webinar-monthly"] {
            XCTAssertEqual(holders(fake)[key]?.product, ours.id, key)
            XCTAssertEqual(holders(fake)[key]?.active, true, key)
        }
        XCTAssertEqual(fake.prices["price_foreign"]?.product, someoneElses.id, "someone else's price is left alone")
        XCTAssertEqual(fake.prices["price_archived"]?.active, false)
        XCTAssertTrue(try self.sync(fake).plan().isUpToDate)
    }

    func testSeveralProductsWithTheKeyUseTheOldestActiveOneAndReportTheOthers() throws {
        let fake = try FakeStripeAPI()
        let archived = fake.addProduct(name: "Growth webinar", active: false, metadata: ["hookyard_product": "webinar"])
        let oldest = fake.addProduct(name: "Growth webinar", metadata: ["hookyard_product": "webinar"])
        let newer = fake.addProduct(name: "Growth webinar", metadata: ["hookyard_product": "webinar"])

        let plan = try sync(fake).plan()

        XCTAssertEqual(plan.products[0].change.existing?.id, oldest.id)
        XCTAssertEqual(plan.products[0].duplicates, [archived.id, newer.id])
        XCTAssertEqual(plan.products[0].tiers.map(\.change), [.create, .create, .create])
    }

    /// A create whose answer is lost and which is sent again, by libcurl and then by the sync's own retry, with the
    /// same idempotency key: Stripe answers the first result and nothing is created twice.
    func testLostAnswerIsReplayedByItsIdempotencyKey() throws {
        let fake = try FakeStripeAPI()
        let pauses = Pauses()
        let sync = sync(fake, attempts: 3, pauses: pauses)
        let plan = try sync.plan()
        fake.inject(.dropAfterProcessing, .dropAfterProcessing)

        let result = try sync.apply(plan)

        let creates = fake.requests.filter { $0.method == "POST" && $0.path == "/v1/products" }
        XCTAssertGreaterThanOrEqual(creates.count, 4, "2 catalog products, the first sent again after each lost answer")
        let webinarCreates = creates.filter { $0.body.contains("hookyard_product%5D=webinar") }
        XCTAssertGreaterThanOrEqual(webinarCreates.count, 2)
        XCTAssertEqual(Set(webinarCreates.map { $0.headers["Idempotency-Key"] }).count, 1)
        XCTAssertEqual(fake.products.map(\.metadata), [["hookyard_product": "webinar"], ["hookyard_product": "course"]])
        XCTAssertEqual(result.products[0].id, fake.products[0].id)
        XCTAssertEqual(fake.prices.count, 4)
        XCTAssertEqual(pauses.all, [500], "one retry of its own, after libcurl's resend was lost too")
    }

    /// A sync stopped by a lost answer (no retries left) is finished by the next run, which finds the price that was
    /// created by listing and creates only the rest.
    func testSyncStoppedByALostAnswerIsFinishedByTheNextRunWithoutDuplicates() throws {
        let fake = try FakeStripeAPI()
        let webinar = fake.addProduct(name: "Growth webinar", metadata: ["hookyard_product": "webinar"])
        fake.addProduct(name: "Swift course", metadata: ["hookyard_product": "course"])
        let sync = sync(fake, attempts: 1)
        let plan = try sync.plan()
        fake.inject(.dropAfterProcessing, .dropAfterProcessing)  // the first price create, and libcurl's resend

        XCTAssertThrowsError(try sync.apply(plan)) { error in
            guard let error = error as? CatalogSyncError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.action, "creating the price for webinar/early-bird")
            XCTAssertTrue(error.failure.retryable)
            XCTAssertEqual(error.completed?.products.map(\.id), [webinar.id])
            XCTAssertEqual(error.completed?.products.first?.tiers, [])
            XCTAssertTrue(error.description.contains("run `hookyard catalog sync` again"), error.description)
        }
        XCTAssertEqual(fake.prices.count, 1, "the lost create did happen")

        let next = try self.sync(fake).plan()
        XCTAssertEqual(next.products[0].tiers.map(\.change), [.upToDate(try XCTUnwrap(StripePrice.from(fake.prices.values.first!))),
                                                               .create, .create])
        try self.sync(fake).apply(next)
        XCTAssertEqual(fake.prices.count, 4)
        XCTAssertEqual(fake.products.count, 2)
    }

    func testFailureWhilePlanningSaysWhatFailedAndThatNothingChanged() throws {
        let fake = try FakeStripeAPI()
        fake.forceStatus(pathPrefix: "/v1/prices", status: 403, body: #"{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_***' does not have the required permissions for this endpoint."}}"#)
        let pauses = Pauses()

        XCTAssertThrowsError(try sync(fake, pauses: pauses).plan()) { error in
            let description = "\(error)"
            XCTAssertTrue(description.hasPrefix("catalog sync failed while looking up the prices by lookup key: Stripe answered 403:"), description)
            XCTAssertTrue(description.contains("does not have the required permissions"), description)
            XCTAssertTrue(description.hasSuffix("Nothing was changed in Stripe."), description)
        }
        XCTAssertEqual(pauses.all, [], "a 403 is not retried")
        XCTAssertTrue(posts(fake).isEmpty)
    }

    func testRetryableFailuresAreTriedAgainWithGrowingPauses() throws {
        let fake = try FakeStripeAPI()
        fake.forceStatus(pathPrefix: "/v1/products", status: 500)
        let pauses = Pauses()

        XCTAssertThrowsError(try sync(fake, attempts: 3, pauses: pauses).plan())
        XCTAssertEqual(pauses.all, [500, 1000])
        XCTAssertEqual(fake.requestCount(path: "/v1/products"), 3)

        fake.clearForcedStatus()
        fake.inject(.status(429, headers: [("Retry-After", "1")], body: #"{"error":{"type":"rate_limit_error","message":"Too many requests"}}"#))
        let plan = try sync(fake, attempts: 3, pauses: pauses).plan()
        XCTAssertEqual(pauses.all, [500, 1000, 1000], "Stripe's Retry-After (1 s) wins over the first try's 500 ms")
        XCTAssertEqual(plan.writeCount, 6)
    }

    func testEmptyCatalogSendsNothing() throws {
        let fake = try FakeStripeAPI()
        let sync = sync(fake, Catalog())
        let plan = try sync.plan()
        XCTAssertTrue(plan.isUpToDate)
        XCTAssertEqual(try sync.apply(plan), CatalogSyncResult(products: []))
        XCTAssertTrue(fake.requests.isEmpty)
    }

    func testIdempotencyKeysAreStableAndFitStripesLimit() {
        let key = CatalogSync.idempotencyKey("price", ["webinar", "regular"], ["prod_1", "6900", "usd", "", "webinar-regular", ""])
        XCTAssertEqual(key, CatalogSync.idempotencyKey("price", ["webinar", "regular"], ["prod_1", "6900", "usd", "", "webinar-regular", ""]))
        XCTAssertTrue(key.hasPrefix("hookyard-catalog-price-webinar-regular-"), key)
        XCTAssertEqual(key.count, "hookyard-catalog-price-webinar-regular-".count + 16)
        XCTAssertNotEqual(key, CatalogSync.idempotencyKey("price", ["webinar", "regular"], ["prod_1", "7900", "usd", "", "webinar-regular", ""]))
        XCTAssertNotEqual(key, CatalogSync.idempotencyKey("price", ["webinar", "regular"], ["prod_1", "6900", "usd", "", "webinar-regular", "price_1"]))
        let long = CatalogSync.idempotencyKey("price", [String(repeating: "p", count: 200), String(repeating: "t", count: 200)], ["x"])
        XCTAssertLessThanOrEqual(long.count, 255)
        XCTAssertEqual(long.count, "hookyard-catalog-price-".count + 64)
    }
}

private extension StripePrice {
    /// The price as `StripeClient` reads the fake's JSON for it.
    static func from(_ price: FakeStripeAPI.Price) -> StripePrice? {
        StripePrice(id: price.id, active: price.active, currency: price.currency, unitAmount: price.unitAmount, product: price.product,
                    type: price.recurringInterval == nil ? "one_time" : "recurring", recurringInterval: price.recurringInterval,
                    lookupKey: price.lookupKey, metadata: price.metadata)
    }
}
