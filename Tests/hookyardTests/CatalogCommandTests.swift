import Foundation
import TestSupport
import XCTest

/// `hookyard catalog sync|show`, the real binary against `FakeStripeAPI`.
final class CatalogCommandTests: XCTestCase {
    private var directory: URL!

    override func setUp() {
        directory = DaemonProcess.makeDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private static let yaml = """
        catalog:
          webinar:
            name: Growth webinar
            starts_at: "2026-12-10T18:00:00Z"
            seats: 100
            tiers:
              early-bird: {amount: 4900, currency: usd, until: "2026-12-01T00:00:00Z"}
              regular: {amount: 6900, currency: usd}
              monthly: {amount: 2900, currency: usd, interval: month, lookup_key: webinar-monthly}
        """

    /// Writes the configuration and runs `hookyard <arguments> --config FILE`.
    private func run(_ arguments: [String], yaml: String = yaml, environment: [String: String]) throws -> (status: Int32, output: String) {
        let file = directory.appendingPathComponent("hookyard.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let (status, output) = try DaemonProcess.run(arguments + ["--config", file.path], environment: environment)
        return (status, output)
    }

    private func stripe(_ fake: FakeStripeAPI) -> [String: String] {
        ["STRIPE_API_KEY": fake.apiKey, "STRIPE_API_BASE": fake.baseURL]
    }

    func testSyncCreatesTheCatalogAndASecondSyncChangesNothing() throws {
        let fake = try FakeStripeAPI()

        let first = try run(["catalog", "sync"], environment: stripe(fake))

        XCTAssertEqual(first.status, 0, first.output)
        let product = try XCTUnwrap(fake.products.first)
        let prices = fake.prices.values.sorted { $0.sequence < $1.sequence }
        XCTAssertEqual(prices.map(\.lookupKey), ["webinar-early-bird", "webinar-regular", "webinar-monthly"])
        XCTAssertEqual(first.output, """
            syncing the catalog with Stripe (test mode)
            product webinar: created \(product.id) "Growth webinar"
              webinar/early-bird: created \(prices[0].id) USD 49.00 one-off with lookup key webinar-early-bird
              webinar/regular: created \(prices[1].id) USD 69.00 one-off with lookup key webinar-regular
              webinar/monthly: created \(prices[2].id) USD 29.00 per month with lookup key webinar-monthly
            summary: created 1 product and 3 prices, updated 0 products, replaced 0 prices; up to date: 0 products, 0 prices

            """)

        let writes = fake.requests.count { $0.method == "POST" }
        let second = try run(["catalog", "sync"], environment: stripe(fake))

        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(fake.requests.count { $0.method == "POST" }, writes)
        XCTAssertEqual(fake.products.count, 1)
        XCTAssertEqual(fake.prices.count, 3)
        XCTAssertTrue(second.output.contains("product webinar: up to date (\(product.id))"), second.output)
        XCTAssertTrue(second.output.contains("webinar/regular: up to date (\(prices[1].id), USD 69.00 one-off)"), second.output)
        XCTAssertTrue(second.output.hasSuffix("summary: everything is up to date (1 product, 3 prices)\n"), second.output)
    }

    func testChangedAmountReportsTheReplacedPrice() throws {
        let fake = try FakeStripeAPI()
        XCTAssertEqual(try run(["catalog", "sync"], environment: stripe(fake)).status, 0)
        let old = try XCTUnwrap(fake.prices.values.first { $0.lookupKey == "webinar-regular" })

        let changed = try run(["catalog", "sync"], yaml: Self.yaml.replacingOccurrences(of: "amount: 6900", with: "amount: 7900"),
                              environment: stripe(fake))

        XCTAssertEqual(changed.status, 0, changed.output)
        let new = try XCTUnwrap(fake.prices.values.first { $0.lookupKey == "webinar-regular" })
        XCTAssertTrue(changed.output.contains("webinar/regular: replaced \(old.id) (amount was USD 69.00) with \(new.id) USD 79.00 one-off; "
                                              + "lookup key webinar-regular moved to it, \(old.id) is left as it is"), changed.output)
        XCTAssertTrue(changed.output.contains("summary: created 0 products and 0 prices, updated 0 products, replaced 1 price; "
                                              + "up to date: 1 product, 2 prices"), changed.output)
    }

    func testDryRunReadsStripeAndWritesNothing() throws {
        let fake = try FakeStripeAPI()

        let dry = try run(["catalog", "sync", "--dry-run"], environment: stripe(fake))

        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertEqual(fake.requests.map { "\($0.method) \($0.path)" }, ["GET /v1/products", "GET /v1/prices"])
        XCTAssertTrue(fake.products.isEmpty)
        XCTAssertTrue(dry.output.hasPrefix("dry run against Stripe (test mode): reading only, nothing is written\n"), dry.output)
        XCTAssertTrue(dry.output.contains("product webinar: would create \"Growth webinar\""), dry.output)
        XCTAssertTrue(dry.output.contains("webinar/monthly: would create a price USD 29.00 per month with lookup key webinar-monthly"), dry.output)
        XCTAssertTrue(dry.output.contains("summary: would create 1 product and 3 prices"), dry.output)
    }

    func testWithoutAnAPIKeySyncRefusesAndDryRunPlansAgainstAnEmptyAccount() throws {
        let refused = try run(["catalog", "sync"], environment: [:])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.output.contains("STRIPE_API_KEY is not set, and catalog sync needs it"), refused.output)
        XCTAssertTrue(refused.output.contains("hookyard catalog sync --dry-run"), refused.output)

        let dry = try run(["catalog", "sync", "--dry-run"], environment: [:])
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertTrue(dry.output.hasPrefix("STRIPE_API_KEY is not set: planning against an empty Stripe account"), dry.output)
        XCTAssertTrue(dry.output.contains("webinar/early-bird: would create a price USD 49.00 one-off with lookup key webinar-early-bird"), dry.output)
    }

    func testStripeErrorExitsNonZeroWithStripesMessage() throws {
        let fake = try FakeStripeAPI()
        fake.forceStatus(pathPrefix: "/v1/prices", status: 400, body: #"{"error":{"type":"invalid_request_error","message":"This account cannot create prices in usd."}}"#)
        fake.server.forceStatus(pathPrefix: "/v1/products", status: 200, body: #"{"object":"list","data":[],"has_more":false}"#)

        let failed = try run(["catalog", "sync"], environment: stripe(fake))

        XCTAssertEqual(failed.status, 1, failed.output)
        XCTAssertTrue(failed.output.contains("catalog sync failed while looking up the prices by lookup key: Stripe answered 400: "), failed.output)
        XCTAssertTrue(failed.output.contains("This account cannot create prices in usd."), failed.output)
        XCTAssertFalse(failed.output.contains("summary:"), failed.output)
    }

    func testFailureDuringTheSyncListsWhatWasDoneBeforeIt() throws {
        let fake = try FakeStripeAPI()
        // Listing passes; creating the product works; every price create is refused.
        fake.inject(.status(200, headers: [], body: #"{"object":"list","data":[],"has_more":false}"#),
                    .status(200, headers: [], body: #"{"object":"list","data":[],"has_more":false}"#))
        fake.forceStatus(pathPrefix: "/v1/prices", status: 402, body: #"{"error":{"type":"invalid_request_error","message":"Your account cannot currently make live charges."}}"#)

        let failed = try run(["catalog", "sync"], environment: stripe(fake))

        XCTAssertEqual(failed.status, 1, failed.output)
        let product = try XCTUnwrap(fake.products.first)
        XCTAssertTrue(failed.output.contains("product webinar: created \(product.id) \"Growth webinar\""), failed.output)
        XCTAssertTrue(failed.output.contains("catalog sync failed while creating the price for webinar/early-bird: Stripe answered 402: invalid_request_error: "
                                             + "Your account cannot currently make live charges."), failed.output)
        XCTAssertTrue(failed.output.contains("run `hookyard catalog sync` again"), failed.output)
    }

    func testEmptyCatalogHasNothingToSync() throws {
        let fake = try FakeStripeAPI()
        let result = try run(["catalog", "sync"], yaml: "log_level: info\n", environment: stripe(fake))
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("the catalog is empty"), result.output)
        XCTAssertTrue(result.output.contains("nothing to sync"), result.output)
        XCTAssertTrue(fake.requests.isEmpty)
    }

    func testShowPrintsTheCatalogAsRulesNameIt() throws {
        let shown = try run(["catalog", "show"], environment: [:])
        XCTAssertEqual(shown.status, 0, shown.output)
        let file = directory.appendingPathComponent("hookyard.yaml").path
        XCTAssertEqual(shown.output, """
            catalog (\(file)): 1 product, 3 tiers

            webinar: Growth webinar
              starts at  2026-12-10T18:00:00.000Z
              seats      100
              webinar/early-bird  USD 49.00 one-off       lookup key webinar-early-bird, on sale until 2026-12-01T00:00:00.000Z
              webinar/regular     USD 69.00 one-off       lookup key webinar-regular
              webinar/monthly     USD 29.00 per month     lookup key webinar-monthly

            """)
    }

    func testAnInvalidCatalogIsRefusedWithItsProblems() throws {
        let broken = Self.yaml.replacingOccurrences(of: "currency: usd, interval: month", with: "currency: usd, interval: fortnight")
        for command in [["catalog", "show"], ["catalog", "sync", "--dry-run"]] {
            let result = try run(command, yaml: broken, environment: [:])
            XCTAssertEqual(result.status, 1, "\(command): \(result.output)")
            XCTAssertTrue(result.output.contains("invalid catalog:"), result.output)
            XCTAssertFalse(result.output.contains("Usage:"), "an invalid file is no usage error: \(result.output)")
            XCTAssertTrue(result.output.contains("catalog.webinar.tiers.monthly.interval: 'fortnight' is not one of day, week, month, year"),
                          result.output)
        }
    }
}
