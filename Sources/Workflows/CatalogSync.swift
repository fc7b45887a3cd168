import Cryptography
import Foundation
import Outbound

/// Makes Stripe's products and prices match a `Catalog` (`hookyard catalog sync`): `plan()` reads what exists and
/// says what would change, `apply(_:)` makes those changes. A dry run is `plan()` alone: it only reads.
///
/// What it finds and how:
/// - A product by its metadata `hookyard_product = <product key>`, listing every product (active and archived) with
///   `StripeClient.products(metadataKey:)`. The list endpoint reads its own writes; search does not, and would let a
///   second sync duplicate a product created a moment ago. When several products carry the same key (made by hand,
///   say), the oldest active one is used and the others are reported in `CatalogPlan.Product.duplicates`, untouched.
/// - A price by its `lookup_key` with `StripeClient.prices(lookupKeys:)`, active or not.
///
/// What it changes:
/// - A missing product is created with the catalog's name and the metadata key; one whose name differs is renamed;
///   an archived one is reactivated (`active=true`) rather than duplicated.
/// - A missing price is created on the product with `lookup_key`, `transfer_lookup_key=true` and metadata
///   `hookyard_product`, `hookyard_tier`. A price whose amount, currency or interval differs from the tier, which
///   is archived, or which belongs to another product is *replaced*: Stripe prices cannot change, so a new price
///   takes the lookup key over. The old price is never archived or changed: payment links already sent still use it.
/// - Nothing else: tiers and products no longer in the catalog are left alone, `starts_at`, `seats` and `until` are
///   Hookyard's own (they never reach Stripe).
///
/// Re-running is safe. Each write carries an idempotency key derived from what it writes and from the state it
/// changes (the price that held the lookup key; the product's `updated` time), so a request resent after a lost
/// answer within Stripe's 24 hours is answered from Stripe's stored result, and a later run finds the object by
/// listing anyway. A retryable failure (429, 5xx, a dropped connection) is retried up to `attempts` times with the
/// same key. A value type; thread-safe if its `StripeClient` is (all are).
public struct CatalogSync: Sendable {
    /// The product metadata key that marks a Stripe product as the catalog's product of that key.
    public static let productMetadataKey = "hookyard_product"
    /// The price metadata key naming the tier a price was created for (next to `hookyard_product`).
    public static let tierMetadataKey = "hookyard_tier"

    public let catalog: Catalog
    private let stripe: StripeClient
    private let attempts: Int
    private let pause: @Sendable (_ milliseconds: Int64) -> Void

    /// - Parameters:
    ///   - attempts: tries per request while Stripe's failure is retryable (at least 1).
    ///   - pause: waits between tries: Stripe's `Retry-After`, otherwise 500 ms doubled per try, at most 10 s.
    public init(catalog: Catalog, stripe: StripeClient, attempts: Int = 3,
                pause: @escaping @Sendable (_ milliseconds: Int64) -> Void = { Thread.sleep(forTimeInterval: Double($0) / 1000) }) {
        self.catalog = catalog
        self.stripe = stripe
        self.attempts = max(1, attempts)
        self.pause = pause
    }

    /// Reads the account and says, per product and tier, what `apply` would do. Sends only `GET`s.
    /// - Throws: `CatalogSyncError` naming the listing that failed, with Stripe's message.
    public func plan() throws(CatalogSyncError) -> CatalogPlan {
        guard !catalog.products.isEmpty else { return CatalogPlan(products: []) }
        let found: [StripeProduct]
        do {
            found = try retrying { () throws(ProviderFailure) in try stripe.products(metadataKey: Self.productMetadataKey) }
        } catch {
            throw CatalogSyncError(action: "listing the products", failure: error)
        }
        let lookupKeys = catalog.products.flatMap { $0.tiers.map(\.lookupKey) }
        let prices: [StripePrice]
        do {
            prices = try retrying { () throws(ProviderFailure) in try stripe.prices(lookupKeys: lookupKeys) }
        } catch {
            throw CatalogSyncError(action: "looking up the prices by lookup key", failure: error)
        }
        var priceByKey: [String: StripePrice] = [:]
        for price in prices { if let key = price.lookupKey, priceByKey[key] == nil { priceByKey[key] = price } }

        return CatalogPlan(products: catalog.products.map { product in
            // Stripe lists newest first: the last active one is the oldest active one.
            let candidates = found.filter { $0.metadata[Self.productMetadataKey] == product.key }
            let chosen = candidates.last(where: \.active) ?? candidates.last
            let change: CatalogPlan.ProductChange
            if let chosen {
                let rename = chosen.name != product.name
                change = rename || !chosen.active ? .update(chosen, rename: rename, reactivate: !chosen.active) : .upToDate(chosen)
            } else {
                change = .create
            }
            let tiers = product.tiers.map { tier in
                CatalogPlan.Tier(tier: tier, change: Self.tierChange(tier, existing: priceByKey[tier.lookupKey], productID: chosen?.id))
            }
            return CatalogPlan.Product(product: product, change: change,
                                       duplicates: candidates.filter { $0.id != chosen?.id }.map(\.id).reversed(), tiers: tiers)
        })
    }

    /// Makes the changes `plan` lists, product by product, each product before its prices. Stops at the first
    /// failure: what was done before it stays done, and the next run picks up from there.
    /// - Returns: every product and tier of the plan with its Stripe id, created or not.
    /// - Throws: `CatalogSyncError` naming the write that failed, with Stripe's message and what was completed.
    @discardableResult
    public func apply(_ plan: CatalogPlan) throws(CatalogSyncError) -> CatalogSyncResult {
        var result = CatalogSyncResult(products: [])
        for planned in plan.products {
            let product = planned.product
            let productID: String
            do {
                switch planned.change {
                case .upToDate(let existing):
                    productID = existing.id
                case .create:
                    let key = Self.idempotencyKey("product", [product.key], ["create", product.key, product.name])
                    productID = try retrying { () throws(ProviderFailure) in
                        try stripe.createProduct(name: product.name, metadata: [(Self.productMetadataKey, product.key)], idempotencyKey: key)
                    }.id
                case .update(let existing, let rename, let reactivate):
                    let name = rename ? product.name : nil
                    let active: Bool? = reactivate ? true : nil
                    let key = Self.idempotencyKey("product", [product.key], ["update", existing.id, existing.updated.map(String.init) ?? "",
                                                                              existing.name, String(existing.active),
                                                                              name ?? "", active.map(String.init) ?? ""])
                    productID = try retrying { () throws(ProviderFailure) in
                        try stripe.updateProduct(id: existing.id, name: name, active: active, idempotencyKey: key)
                    }.id
                }
            } catch {
                throw CatalogSyncError(action: planned.change.isCreate ? "creating the product \(product.key)" : "updating the product \(product.key)",
                                       failure: error, completed: result)
            }
            result.products.append(CatalogSyncResult.Product(key: product.key, id: productID, change: planned.change, tiers: []))
            for planned in planned.tiers {
                let tier = planned.tier
                let priceID: String
                switch planned.change {
                case .upToDate(let existing):
                    priceID = existing.id
                case .create, .replace:
                    let replaced = planned.change.replacedPrice?.id ?? ""
                    let key = Self.idempotencyKey("price", [product.key, tier.key],
                                                  [productID, String(tier.amount), tier.currency, tier.interval ?? "", tier.lookupKey, replaced])
                    do {
                        priceID = try retrying { () throws(ProviderFailure) in
                            try stripe.createPrice(product: productID, unitAmount: tier.amount, currency: tier.currency, interval: tier.interval,
                                                   lookupKey: tier.lookupKey, transferLookupKey: true,
                                                   metadata: [(Self.productMetadataKey, product.key), (Self.tierMetadataKey, tier.key)],
                                                   idempotencyKey: key)
                        }.id
                    } catch {
                        throw CatalogSyncError(action: "creating the price for \(product.key)/\(tier.key)", failure: error, completed: result)
                    }
                }
                result.products[result.products.count - 1].tiers.append(CatalogSyncResult.Tier(key: tier.key, priceID: priceID, change: planned.change))
            }
        }
        return result
    }

    /// What to do with a tier, given the price that holds its lookup key (if any) and the id of its product (`nil`
    /// while the product is still to be created).
    static func tierChange(_ tier: CatalogTier, existing: StripePrice?, productID: String?) -> CatalogPlan.TierChange {
        guard let existing else { return .create }
        var reasons: [CatalogPlan.ReplaceReason] = []
        if productID == nil || existing.product != productID { reasons.append(.otherProduct(existing.product)) }
        if !existing.active { reasons.append(.inactive) }
        if existing.unitAmount.map(Int64.init) != tier.amount { reasons.append(.amount(existing.unitAmount.map(Int64.init))) }
        if existing.currency?.lowercased() != tier.currency { reasons.append(.currency(existing.currency)) }
        if existing.recurringInterval != tier.interval { reasons.append(.interval(existing.recurringInterval)) }
        return reasons.isEmpty ? .upToDate(existing) : .replace(existing, reasons: reasons)
    }

    /// `hookyard-catalog-<kind>-<names joined by '-'>-<16 hex digits of SHA-256 over the fields>`: the same write
    /// always sends the same key, a different write a different one. Names too long for Stripe's 255-character limit
    /// are replaced by a hash of them.
    static func idempotencyKey(_ kind: String, _ names: [String], _ fields: [String]) -> String {
        let digest = Crypto.hex(Crypto.sha256(Array(([kind] + names + fields).joined(separator: "\u{1F}").utf8)))
        let key = "hookyard-catalog-\(kind)-\(names.joined(separator: "-"))-\(digest.prefix(16))"
        return key.utf8.count <= 255 ? key : "hookyard-catalog-\(kind)-\(digest)"
    }

    /// Runs `body`, again after a pause while it fails retryably and tries remain.
    private func retrying<T>(_ body: () throws(ProviderFailure) -> T) throws(ProviderFailure) -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch {
                guard error.retryable, attempt < attempts else { throw error }
                pause(error.retryAfterMilliseconds ?? min(10_000, 500 << Int64(attempt - 1)))
                attempt += 1
            }
        }
    }
}

/// What `CatalogSync.plan()` found and would change, in catalog order. A value; thread-safe.
public struct CatalogPlan: Sendable, Equatable {
    /// A catalog product with what happens to it and to its tiers.
    public struct Product: Sendable, Equatable {
        public var product: CatalogProduct
        public var change: ProductChange
        /// Other Stripe products with the same `hookyard_product` value, oldest first: not used, not changed.
        public var duplicates: [String]
        public var tiers: [Tier]

        public init(product: CatalogProduct, change: ProductChange, duplicates: [String] = [], tiers: [Tier]) {
            self.product = product
            self.change = change
            self.duplicates = duplicates
            self.tiers = tiers
        }
    }

    /// What happens to a catalog product's Stripe product.
    public enum ProductChange: Sendable, Equatable {
        /// Exists with the catalog's name and is active.
        case upToDate(StripeProduct)
        /// No product carries the metadata key: one is created.
        case create
        /// Exists, but its name differs (`rename`) or it is archived (`reactivate`): one update fixes both.
        case update(StripeProduct, rename: Bool, reactivate: Bool)

        /// The product as it is in Stripe now, `nil` when it is to be created.
        public var existing: StripeProduct? {
            switch self {
            case .upToDate(let product), .update(let product, _, _): product
            case .create: nil
            }
        }

        var isCreate: Bool { existing == nil }

        /// Whether `apply` sends a write for it.
        public var writes: Bool {
            if case .upToDate = self { return false }
            return true
        }
    }

    /// A tier with what happens to its price.
    public struct Tier: Sendable, Equatable {
        public var tier: CatalogTier
        public var change: TierChange

        public init(tier: CatalogTier, change: TierChange) {
            self.tier = tier
            self.change = change
        }
    }

    /// What happens to the price a tier's lookup key finds.
    public enum TierChange: Sendable, Equatable {
        /// The price with the lookup key is active, on the product, with the tier's amount, currency and interval.
        case upToDate(StripePrice)
        /// No price has the lookup key: one is created.
        case create
        /// A price has the lookup key but differs for these reasons: a new price is created and takes the lookup key
        /// over; the old one stays as it is (links already sent keep working).
        case replace(StripePrice, reasons: [ReplaceReason])

        /// Whether `apply` sends a write for it.
        public var writes: Bool {
            if case .upToDate = self { return false }
            return true
        }

        /// The price that holds the lookup key and is to lose it, if any.
        public var replacedPrice: StripePrice? {
            if case .replace(let price, _) = self { return price }
            return nil
        }
    }

    /// Why the price holding a tier's lookup key cannot serve the tier. Each carries the old price's value.
    public enum ReplaceReason: Sendable, Equatable {
        /// It belongs to another product (the id; `nil` if Stripe did not say), or the tier's product is new.
        case otherProduct(String?)
        /// It is archived.
        case inactive
        /// Its unit amount differs (`nil`: a tiered or custom-amount price).
        case amount(Int64?)
        case currency(String?)
        /// Its recurring interval differs (`nil`: one-off).
        case interval(String?)
    }

    public var products: [Product]

    public init(products: [Product]) {
        self.products = products
    }

    /// Product creates and updates plus price creates: how many writes `apply` sends.
    public var writeCount: Int {
        products.reduce(0) { count, product in
            count + (product.change.writes ? 1 : 0) + product.tiers.count(where: \.change.writes)
        }
    }

    /// Nothing to write.
    public var isUpToDate: Bool { writeCount == 0 }
}

/// What `CatalogSync.apply` did: every product and tier of the plan with its Stripe id and the change made (an
/// `upToDate` change: nothing was sent). Also the completed part of a sync that stopped (`CatalogSyncError`). A
/// value; thread-safe.
public struct CatalogSyncResult: Sendable, Equatable {
    /// A catalog product after the sync, with its tiers handled so far (all of them unless the sync stopped).
    public struct Product: Sendable, Equatable {
        public var key: String
        /// The `prod_...` id, new for a created product.
        public var id: String
        public var change: CatalogPlan.ProductChange
        public var tiers: [Tier]
    }

    /// A tier after the sync: the price that serves it now.
    public struct Tier: Sendable, Equatable {
        public var key: String
        /// The `price_...` id that now holds the tier's lookup key, new for a created or replacing price.
        public var priceID: String
        public var change: CatalogPlan.TierChange
    }

    public var products: [Product]
}

/// A catalog sync that Stripe stopped: what it was doing, Stripe's failure and what was already done. The
/// description says all three and what to do next. A value; thread-safe.
public struct CatalogSyncError: Error, Sendable, CustomStringConvertible {
    /// `listing the products`, `creating the price for webinar/regular`, ...
    public var action: String
    public var failure: ProviderFailure
    /// What `apply` finished before the failure; `nil` when planning failed (nothing was written).
    public var completed: CatalogSyncResult?

    public init(action: String, failure: ProviderFailure, completed: CatalogSyncResult? = nil) {
        self.action = action
        self.failure = failure
        self.completed = completed
    }

    public var description: String {
        let next = completed == nil
            ? "Nothing was changed in Stripe."
            : "The changes before it were made. Fix the cause and run `hookyard catalog sync` again: it finds what exists and makes only what is missing."
        return "catalog sync failed while \(action): \(failure.message). \(next)"
    }
}
