import Outbound
import StrictJSON

/// What Hookyard sells, as configured under `catalog:`: products, each with pricing tiers. `hookyard catalog sync`
/// makes Stripe match it; rules name a tier (`product/tier`), never a raw price id, and templates read
/// `catalog.<product>.…` (a start time for `at:`, seats, amounts). A value type; thread-safe.
public struct Catalog: Sendable, Equatable {
    public var products: [CatalogProduct]

    public init(products: [CatalogProduct] = []) {
        self.products = products
    }

    public func product(_ key: String) -> CatalogProduct? { products.first { $0.key == key } }

    /// The tier named `product/tier`, or `nil`.
    public func tier(_ reference: String) -> (product: CatalogProduct, tier: CatalogTier)? {
        let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let product = product(parts[0]), let tier = product.tiers.first(where: { $0.key == parts[1] }) else {
            return nil
        }
        return (product, tier)
    }

    /// The first of `references` (`product/tier`, in order of preference) on sale at `time` (its `until` not yet
    /// reached): `[webinar/early-bird, webinar/regular]` is the early-bird tier until its date, then the regular one.
    /// - Throws: `CatalogError` naming an unknown reference, or saying that every tier's sale has ended.
    public func tierOnSale(_ references: [String], at time: Int64) throws(CatalogError) -> (product: CatalogProduct, tier: CatalogTier) {
        guard !references.isEmpty else { throw CatalogError(message: "names no tier") }
        var resolved: [(product: CatalogProduct, tier: CatalogTier)] = []
        for reference in references {
            guard let found = tier(reference) else { throw CatalogError(message: unknownTier(reference)) }
            resolved.append(found)
        }
        if let onSale = resolved.first(where: { ($0.tier.availableUntil ?? .max) > time }) { return onSale }
        throw CatalogError(message: "every tier named has ended (\(references.joined(separator: ", "))); add a tier without until: after them")
    }

    /// The product keys for error messages: `catalog: webinar, course`, or that there is no catalog.
    public var productsDescription: String {
        products.isEmpty ? "no catalog: is configured" : "catalog: " + products.map(\.key).joined(separator: ", ")
    }

    /// The message for a tier reference the catalog does not have, naming those it has.
    public func unknownTier(_ reference: String) -> String {
        let known = tierReferences
        return "'\(reference)' is not a catalog tier (\(known.isEmpty ? "catalog: is empty" : "known: " + known.joined(separator: ", ")))"
    }

    /// Every `product/tier` reference, for error messages.
    public var tierReferences: [String] { products.flatMap { product in product.tiers.map { "\(product.key)/\($0.key)" } } }

    /// The catalog as templates read it: `catalog.<product>.name|starts_at|seats|tiers.<tier>.amount|currency|interval|lookup_key`.
    public var json: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: products.map { product in
            var object: [String: JSONValue] = [
                "name": .string(product.name),
                "tiers": .object(Dictionary(uniqueKeysWithValues: product.tiers.map { tier in
                    (tier.key, JSONValue.object([
                        "amount": .integer(tier.amount), "currency": .string(tier.currency),
                        "interval": tier.interval.map(JSONValue.string) ?? .null, "lookup_key": .string(tier.lookupKey),
                        "available_until": tier.availableUntil.map { .integer($0 / 1000) } ?? .null,
                    ]))
                })),
            ]
            object["starts_at"] = product.startsAt.map { .integer($0 / 1000) } ?? .null
            object["seats"] = product.seats.map { .integer(Int64($0)) } ?? .null
            return (product.key, JSONValue.object(object))
        }))
    }
}

/// A tier reference that the catalog cannot satisfy, with what to do.
public struct CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// One product of the catalog. Found in Stripe by its metadata `hookyard_product = key`.
public struct CatalogProduct: Sendable, Equatable {
    public var key: String
    public var name: String
    /// When an event or course starts (Unix milliseconds); templates read it as Unix seconds.
    public var startsAt: Int64?
    /// How many places there are (payment links for it carry the limit).
    public var seats: Int?
    public var tiers: [CatalogTier]

    public init(key: String, name: String, startsAt: Int64? = nil, seats: Int? = nil, tiers: [CatalogTier]) {
        self.key = key
        self.name = name
        self.startsAt = startsAt
        self.seats = seats
        self.tiers = tiers
    }
}

/// One price of a product. Found in Stripe by its `lookup_key`; Stripe prices cannot change, so a changed amount is a
/// new price that takes over the lookup key.
public struct CatalogTier: Sendable, Equatable {
    public var key: String
    /// In the currency's smallest unit.
    public var amount: Int64
    /// Lower-case ISO code.
    public var currency: String
    /// `day`, `week`, `month` or `year` for a subscription; `nil` for a one-off price.
    public var interval: String?
    public var lookupKey: String
    /// The tier is on sale until then (Unix milliseconds), as an early-bird price; `nil`: no end.
    public var availableUntil: Int64?

    public init(key: String, amount: Int64, currency: String, interval: String? = nil, lookupKey: String, availableUntil: Int64? = nil) {
        self.key = key
        self.amount = amount
        self.currency = currency
        self.interval = interval
        self.lookupKey = lookupKey
        self.availableUntil = availableUntil
    }
}
