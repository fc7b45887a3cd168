import HookyardConfiguration
import ArgumentParser
import Outbound
import Workflows

/// `hookyard catalog sync|show`: the products and prices under `catalog:`, and making Stripe match them.
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Show the configured catalog, or create in Stripe what is missing from it.",
        subcommands: [Sync.self, Show.self])

    /// `hookyard catalog sync [--dry-run]`: `CatalogSync` against the configured Stripe account, one line per product
    /// and tier, then a summary. Exits 1 with Stripe's message when a request fails (what was done before stays done).
    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create in Stripe the products and prices of catalog: that are missing; never duplicates.",
            discussion: """
                Products are found by their metadata hookyard_product, prices by their lookup_key. A tier whose amount, \
                currency or interval changed gets a new price that takes the lookup key over; the old price is left as \
                it is, so payment links already sent keep working. Running it again changes nothing. Needs \
                STRIPE_API_KEY; --dry-run only reads, and without a key plans against an empty account.
                """)
        @OptionGroup var options: ConfigurationOptions
        @Flag(help: "Show what would be created or changed; write nothing.") var dryRun = false

        func run() throws {
            guard let (settings, catalog) = try configuredCatalog(options, whenEmpty: ": nothing to sync") else { return }
            let live = !settings.stripe.apiKey.isEmpty
            guard live || dryRun else { throw CatalogCommandError.noAPIKey }
            let mode = settings.stripe.isTestKey ? "test mode" : "live mode"
            switch (live, dryRun) {
            case (false, _):
                print("STRIPE_API_KEY is not set: planning against an empty Stripe account (nothing is read or written); with the key, the plan shows what your account lacks")
            case (true, true): print("dry run against Stripe (\(mode)): reading only, nothing is written")
            case (true, false): print("syncing the catalog with Stripe (\(mode))")
            }
            // Without a key, an empty account: no made-up prices for the lookup keys.
            let stripe = StripeClient(transport: live ? Serve.providers(settings, limiters: Limiters(settings)).stripe
                                                      : DryRunProviderTransport(provider: "Stripe", catalogPrices: false))
            let sync = CatalogSync(catalog: catalog, stripe: stripe)
            let plan = try sync.plan()
            if dryRun {
                for line in CatalogReport.lines(plan) { print(line) }
                print(CatalogReport.summary(plan, applied: false))
                return
            }
            let result: CatalogSyncResult
            do {
                result = try sync.apply(plan)
            } catch {
                if let completed = error.completed {
                    for line in CatalogReport.lines(completed, plan: plan) { print(line) }
                }
                throw error
            }
            for line in CatalogReport.lines(result, plan: plan) { print(line) }
            print(CatalogReport.summary(plan, applied: true))
        }
    }

    /// `hookyard catalog show`: the catalog as configured (Stripe is not asked).
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the configured catalog: products, tiers (as rules name them), amounts, lookup keys, times and seats.")
        @OptionGroup var options: ConfigurationOptions

        func run() throws {
            guard let (settings, catalog) = try configuredCatalog(options, whenEmpty: "") else { return }
            let tiers = catalog.products.reduce(0) { $0 + $1.tiers.count }
            print("catalog (\(settings.file ?? "built-in defaults")): \(catalog.products.count) product\(catalog.products.count == 1 ? "" : "s"), "
                  + "\(tiers) tier\(tiers == 1 ? "" : "s")")
            let width = catalog.tierReferences.map(\.count).max() ?? 0
            for product in catalog.products {
                print("")
                print("\(product.key): \(product.name)")
                if let startsAt = product.startsAt { print("  starts at  \(isoTime(startsAt))") }
                if let seats = product.seats { print("  seats      \(seats)") }
                for tier in product.tiers {
                    var line = "  " + column("\(product.key)/\(tier.key)", width + 2) + column(CatalogReport.price(tier), 24)
                        + "lookup key \(tier.lookupKey)"
                    if let until = tier.availableUntil { line += ", on sale until \(isoTime(until))" }
                    print(line)
                }
            }
        }
    }
}

/// The catalog of a configuration loaded without its rules, or an error listing the problems in `catalog:`
/// (a read-only load keeps them aside in `ignoredIssues` instead of failing).
/// The configuration (without its rules) and its catalog; `nil`, after saying so, when the catalog is empty.
/// - Throws: `ValidationError` listing the catalog's problems.
private func configuredCatalog(_ options: ConfigurationOptions, whenEmpty note: String) throws -> (HookyardConfiguration, Catalog)? {
    let settings = try options.load(rules: false)
    let problems = settings.ignoredIssues.filter { $0.key == "catalog" || $0.key.hasPrefix("catalog.") }
    guard problems.isEmpty else {
        throw ValidationError("invalid catalog:\n" + problems.map(\.description).joined(separator: "\n"))
    }
    guard !settings.catalog.products.isEmpty else {
        print("the catalog is empty (no products under catalog: in \(settings.file ?? "the configuration"))\(note)")
        return nil
    }
    return (settings, settings.catalog)
}

/// Why `catalog sync` refused to start. The description says what to do.
enum CatalogCommandError: Error, CustomStringConvertible {
    case noAPIKey

    var description: String {
        switch self {
        case .noAPIKey:
            "STRIPE_API_KEY is not set, and catalog sync needs it to read and write products and prices. Set STRIPE_API_KEY "
                + "(or STRIPE_API_KEY_FILE, or the systemd credential STRIPE_API_KEY), or run `hookyard catalog sync --dry-run` "
                + "to see what it would create."
        }
    }
}

/// The lines `catalog sync` prints: one per product and tier, then a summary. Stateless.
enum CatalogReport {
    /// What the plan would do (`--dry-run`).
    static func lines(_ plan: CatalogPlan) -> [String] {
        plan.products.flatMap { planned in
            var lines = ["product \(planned.product.key): " + productPlan(planned)]
            lines += duplicateNote(planned)
            lines += planned.tiers.map { "  \(planned.product.key)/\($0.tier.key): " + tierPlan($0) }
            return lines
        }
    }

    /// What was done: every product and tier `result` covers (all of them, or those before a failure).
    static func lines(_ result: CatalogSyncResult, plan: CatalogPlan) -> [String] {
        zip(result.products, plan.products).flatMap { done, planned in
            var lines = ["product \(done.key): " + productDone(done, planned.product)]
            lines += duplicateNote(planned)
            lines += zip(done.tiers, planned.tiers).map { tierDone, tierPlanned in
                "  \(done.key)/\(tierDone.key): " + tierApplied(tierDone, tierPlanned.tier)
            }
            return lines
        }
    }

    static func summary(_ plan: CatalogPlan, applied: Bool) -> String {
        let products = plan.products.map(\.change)
        let tiers = plan.products.flatMap(\.tiers).map(\.change)
        let productsCreated = products.count { $0.existing == nil }
        let productsUpdated = products.count { $0.writes && $0.existing != nil }
        let pricesCreated = tiers.count { if case .create = $0 { true } else { false } }
        let pricesReplaced = tiers.count { $0.replacedPrice != nil }
        guard !plan.isUpToDate else {
            return "summary: everything is up to date (\(count(products.count, "product")), \(count(tiers.count, "price")))"
        }
        return "summary: \(applied ? "created" : "would create") \(count(productsCreated, "product")) and \(count(pricesCreated, "price")), "
            + "\(applied ? "updated" : "update") \(count(productsUpdated, "product")), \(applied ? "replaced" : "replace") \(count(pricesReplaced, "price")); "
            + "up to date: \(count(products.count { !$0.writes }, "product")), \(count(tiers.count { !$0.writes }, "price"))"
    }

    /// `USD 49.00 one-off` or `USD 29.00 per month`.
    static func price(_ tier: CatalogTier) -> String {
        formatAmount(tier.amount, currency: tier.currency) + (tier.interval.map { " per \($0)" } ?? " one-off")
    }

    private static func productPlan(_ planned: CatalogPlan.Product) -> String {
        switch planned.change {
        case .upToDate(let existing): "up to date (\(existing.id))"
        case .create: "would create \"\(planned.product.name)\""
        case .update(let existing, let rename, let reactivate): "would " + update(existing, planned.product, rename: rename, reactivate: reactivate)
        }
    }

    private static func productDone(_ done: CatalogSyncResult.Product, _ product: CatalogProduct) -> String {
        switch done.change {
        case .upToDate: "up to date (\(done.id))"
        case .create: "created \(done.id) \"\(product.name)\""
        case .update(let existing, let rename, let reactivate): update(existing, product, rename: rename, reactivate: reactivate, past: true)
        }
    }

    private static func update(_ existing: StripeProduct, _ product: CatalogProduct, rename: Bool, reactivate: Bool, past: Bool = false) -> String {
        var parts: [String] = []
        if rename { parts.append("\(past ? "renamed" : "rename") \(existing.id) \"\(existing.name)\" → \"\(product.name)\"") }
        if reactivate { parts.append("\(past ? "reactivated" : "reactivate") \(rename ? "it" : existing.id) (was archived)") }
        return parts.joined(separator: " and ")
    }

    private static func duplicateNote(_ planned: CatalogPlan.Product) -> [String] {
        guard !planned.duplicates.isEmpty, let used = planned.change.existing?.id else { return [] }
        return ["  note: \(planned.duplicates.joined(separator: ", ")) also carry hookyard_product=\(planned.product.key); "
                + "\(used) is used, the others are left alone"]
    }

    private static func tierPlan(_ planned: CatalogPlan.Tier) -> String {
        let tier = planned.tier
        switch planned.change {
        case .upToDate(let existing): return "up to date (\(existing.id), \(price(tier)))"
        case .create: return "would create a price \(price(tier)) with lookup key \(tier.lookupKey)"
        case .replace(let old, let reasons):
            return "would replace \(old.id) (\(describe(reasons, old))) with a new price \(price(tier)); lookup key \(tier.lookupKey) "
                + "moves to it, \(old.id) is left as it is"
        }
    }

    private static func tierApplied(_ done: CatalogSyncResult.Tier, _ tier: CatalogTier) -> String {
        switch done.change {
        case .upToDate: return "up to date (\(done.priceID), \(price(tier)))"
        case .create: return "created \(done.priceID) \(price(tier)) with lookup key \(tier.lookupKey)"
        case .replace(let old, let reasons):
            return "replaced \(old.id) (\(describe(reasons, old))) with \(done.priceID) \(price(tier)); lookup key \(tier.lookupKey) "
                + "moved to it, \(old.id) is left as it is"
        }
    }

    private static func describe(_ reasons: [CatalogPlan.ReplaceReason], _ old: StripePrice) -> String {
        reasons.map { reason in
            switch reason {
            case .otherProduct(let product): "on another product \(product ?? "(unknown)")"
            case .inactive: "archived"
            case .amount(let amount?): "amount was " + formatAmount(amount, currency: old.currency ?? "")
            case .amount(nil): "not a fixed amount"
            case .currency(let currency): "currency was \(currency?.uppercased() ?? "none")"
            case .interval(let interval): "was " + (interval.map { "per \($0)" } ?? "one-off")
            }
        }.joined(separator: ", ")
    }

    private static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }
}
