import Contacts
import HookyardFoundation
import Workflows
import Yams

/// Reads `catalog:` into a `Catalog`, reporting every problem with file, line and key (`catalog.webinar.tiers.vip.amount`).
///
/// ```yaml
/// catalog:
///   webinar:                                  # product key: letters, digits, '-' and '_'
///     name: Growth webinar
///     starts_at: "2026-12-10T18:00:00Z"       # optional (ISO 8601 or Unix seconds)
///     seats: 100                              # optional
///     tiers:
///       early-bird: {amount: 4900, currency: usd, until: "2026-12-01T00:00:00Z"}
///       regular: {amount: 6900, currency: usd}
///       monthly: {amount: 2900, currency: usd, interval: month, lookup_key: webinar-monthly}
/// ```
public struct CatalogReader: EnvironmentExpandingReader {
    public let file: String
    public let environment: [String: String]
    public var issues: [ConfigurationIssue] = []


    public static let intervals = ["day", "week", "month", "year"]

    public mutating func read(_ node: Node) -> Catalog {
        guard let mapping = node.mapping else {
            issue(node, "catalog", "must be a mapping of product keys to products")
            return Catalog()
        }
        var products: [CatalogProduct] = []
        var lookupKeys: [String: String] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let path = "catalog.\(key)"
            guard ContactPredicateReader.isValidName(key) else {
                issue(keyNode, path, "'\(key)' must be letters, digits, '-' or '_'")
                continue
            }
            guard let product = readProduct(key, value, path) else { continue }
            for tier in product.tiers {
                if let other = lookupKeys[tier.lookupKey] {
                    issue(value, "\(path).tiers.\(tier.key)", "lookup_key '\(tier.lookupKey)' is also \(other)'s")
                }
                lookupKeys[tier.lookupKey] = "\(key)/\(tier.key)"
            }
            products.append(product)
        }
        return Catalog(products: products)
    }

    private mutating func readProduct(_ key: String, _ node: Node, _ path: String) -> CatalogProduct? {
        guard let mapping = node.mapping else {
            issue(node, path, "must be a mapping with name and tiers")
            return nil
        }
        var name: String?
        var startsAt: Int64?
        var seats: Int?
        var tiers: [CatalogTier] = []
        for (fieldNode, value) in mapping {
            let field = fieldNode.string ?? ""
            let fieldPath = "\(path).\(field)"
            switch field {
            case "name": name = scalarText(value, fieldPath)
            case "starts_at": startsAt = time(value, fieldPath)
            case "seats": int(value, fieldPath, min: 1) { seats = $0 }
            case "tiers":
                guard let members = value.mapping, !members.isEmpty else {
                    issue(value, fieldPath, "must be a mapping of tier names to prices")
                    continue
                }
                for (tierNode, tierValue) in members {
                    let tierKey = tierNode.string ?? ""
                    guard ContactPredicateReader.isValidName(tierKey) else {
                        issue(tierNode, "\(fieldPath).\(tierKey)", "'\(tierKey)' must be letters, digits, '-' or '_'")
                        continue
                    }
                    if let tier = readTier(tierKey, product: key, tierValue, "\(fieldPath).\(tierKey)") { tiers.append(tier) }
                }
            default: issue(fieldNode, fieldPath, "unknown key (a product has name, starts_at, seats, tiers)")
            }
        }
        guard let name, !name.isEmpty else {
            issue(node, "\(path).name", "every product needs a name (shown at checkout)")
            return nil
        }
        guard !tiers.isEmpty else {
            if !mapping.keys.contains(where: { $0.string == "tiers" }) { issue(node, "\(path).tiers", "every product needs tiers") }
            return nil
        }
        return CatalogProduct(key: key, name: name, startsAt: startsAt, seats: seats, tiers: tiers)
    }

    private mutating func readTier(_ key: String, product: String, _ node: Node, _ path: String) -> CatalogTier? {
        guard let mapping = node.mapping else {
            issue(node, path, "must be a mapping with amount and currency")
            return nil
        }
        var amount: Int64?
        var currency: String?
        var interval: String?
        var lookupKey: String?
        var until: Int64?
        for (fieldNode, value) in mapping {
            let field = fieldNode.string ?? ""
            let fieldPath = "\(path).\(field)"
            switch field {
            // Stripe's largest amount has twelve digits (IDR); anything longer it refuses.
            case "amount": int(value, fieldPath, min: 0, max: 999_999_999_999) { amount = Int64($0) }
            case "currency":
                guard let text = scalarText(value, fieldPath) else { continue }
                guard text.count == 3, text.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                    issue(value, fieldPath, "'\(text)' is not a three-letter currency code such as usd")
                    continue
                }
                currency = text.lowercased()
            case "interval":
                guard let text = scalarText(value, fieldPath) else { continue }
                guard Self.intervals.contains(text) else {
                    issue(value, fieldPath, "'\(text)' is not one of \(Self.intervals.joined(separator: ", ")) (leave it out for a one-off price)")
                    continue
                }
                interval = text
            case "lookup_key":
                guard let text = scalarText(value, fieldPath), !text.isEmpty, text.count <= 200 else {
                    issue(value, fieldPath, "must be 1 to 200 characters")
                    continue
                }
                lookupKey = text
            case "until": until = time(value, fieldPath)
            default: issue(fieldNode, fieldPath, "unknown key (a tier has amount, currency, interval, lookup_key, until)")
            }
        }
        guard let amount else {
            issue(node, "\(path).amount", "every tier needs an amount in the currency's smallest unit (4900 for 49.00)")
            return nil
        }
        guard let currency else {
            issue(node, "\(path).currency", "every tier needs a currency")
            return nil
        }
        return CatalogTier(key: key, amount: amount, currency: currency, interval: interval,
                           lookupKey: lookupKey ?? "\(product)-\(key)", availableUntil: until)
    }

    /// ISO 8601 text or Unix seconds, as Unix milliseconds.
    private mutating func time(_ node: Node, _ key: String) -> Int64? {
        if let seconds = node.int, node.scalar?.style == .plain {
            // Up to the end of year 9999, as ISO 8601 text can say: milliseconds of it always fit.
            guard (0...253_402_300_799).contains(seconds) else {
                issue(node, key, "\(seconds) is not a time (Unix seconds from 0 to 253402300799, or ISO 8601)")
                return nil
            }
            return Int64(seconds) * 1000
        }
        guard let text = scalarText(node, key) else { return nil }
        guard let milliseconds = ISO8601Timestamp.milliseconds(text) else {
            issue(node, key, "'\(text)' is not a time (ISO 8601 such as 2026-12-10T18:00:00Z, or Unix seconds)")
            return nil
        }
        return milliseconds
    }
}
