import Contacts
import Foundation
import Outbound
import StrictJSON
import Yams

/// Reads one contact test (a segment's definition under `segments:`, or a rule's `if:`) into a `ContactPredicate`,
/// expanding `${VAR}` from the environment, and reports every problem with file, line and key
/// (`segments.lapsed.any[0].days_since_engagement.gte`).
///
/// ```yaml
/// all:                                  # every test holds; `any:` one of them
///   - payment_status: prospect          # a scalar: equals
///   - engagement: [medium, high]        # a list: in
///   - revenue.usd: {gte: 50000, lt: 100000}   # tests: all of them hold
///   - not: {segment: hot-prospects}     # not: a test; segment: a named segment
///   - campaign: {in: "${OUTREACH_CAMPAIGN_IDS}"}   # a string gives a comma-separated list
/// ```
///
/// Several keys in one mapping must all hold. Fields are `ContactField`'s names (`revenue.<currency>` for one
/// currency) and `lead.<name>` for a kept Instantly lead field (checked against `leadFields` when given); tests are
/// equals, not, in, not_in, gt, gte, lt, lte, exists. Each field test is also checked the way
/// `SegmentCompiler` will compile it (numbers only for revenue and days_since_engagement, the values of
/// payment_status and engagement), so its problem is placed on its own line. Segment references are only checked
/// for their spelling here: whether they exist is the compiler's finding.
public struct ContactPredicateReader: EnvironmentExpandingReader {
    public let file: String
    public let environment: [String: String]
    public var issues: [ConfigurationIssue] = []
    /// `contacts.lead_fields`: the names `lead.<name>` may use. `nil`: not checked here (a rule's `if:` is checked
    /// when it is compiled, by a `SegmentCompiler` that knows them).
    public var leadFields: Set<String>? = nil

    public static let tests = ["equals", "not", "in", "not_in", "gt", "gte", "lt", "lte", "exists"]
    public static let combinators = ["all", "any", "not", "segment"]


    /// Whether `name` can name a segment (or a rule): letters, digits, `-` and `_`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// The predicate at `node`, or `nil` when it has problems (recorded in `issues`, each at its own line).
    /// - Parameter key: where `node` is (`segments.lapsed`, `rules[0].if`), the prefix of every issue's key.
    public mutating func read(_ node: Node, key: String) -> ContactPredicate? {
        guard let mapping = node.mapping else {
            issue(node, key, "must be a mapping: a field and its test, or all, any, not, segment")
            return nil
        }
        guard !mapping.isEmpty else {
            issue(node, key, "is empty (to match every contact, write all: [])")
            return nil
        }
        var parts: [ContactPredicate] = []
        var failed = false
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            let path = "\(key).\(name)"
            if let part = readMember(name, keyNode: keyNode, value: value, path: path) { parts.append(part) } else { failed = true }
        }
        guard !failed else { return nil }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    private mutating func readMember(_ name: String, keyNode: Node, value: Node, path: String) -> ContactPredicate? {
        switch name {
        case "all", "any":
            guard let sequence = value.sequence else {
                issue(value, path, "must be a list of tests")
                return nil
            }
            var parts: [ContactPredicate] = []
            var failed = false
            for (index, item) in sequence.enumerated() {
                if let part = read(item, key: "\(path)[\(index)]") { parts.append(part) } else { failed = true }
            }
            guard !failed else { return nil }
            return name == "all" ? .all(parts) : .any(parts)
        case "not":
            return read(value, key: path).map(ContactPredicate.not)
        case "segment":
            guard let text = scalarText(value, path) else { return nil }
            guard Self.isValidName(text) else {
                issue(value, path, "'\(text)' is not a segment name (letters, digits, '-' or '_')")
                return nil
            }
            return .segment(text)
        default:
            return readField(name, keyNode: keyNode, value: value, path: path)
        }
    }

    private mutating func readField(_ name: String, keyNode: Node, value: Node, path: String) -> ContactPredicate? {
        let dot = name.firstIndex(of: ".")
        let fieldName = dot.map { String(name[..<$0]) } ?? name
        if fieldName == "lead", let dot {
            return readLeadField(String(name[name.index(after: dot)...]), keyNode: keyNode, value: value, path: path)
        }
        guard let field = ContactField(rawValue: fieldName) else {
            issue(keyNode, path, "unknown field '\(name)' (fields: \(ContactField.allCases.map(\.rawValue).joined(separator: ", ")), "
                + "lead.<name>; or \(Self.combinators.joined(separator: ", ")))")
            return nil
        }
        var currency: String?
        if let dot {
            let code = String(name[name.index(after: dot)...])
            guard field == .revenue else {
                issue(keyNode, path, "only revenue takes a currency (revenue.usd)")
                return nil
            }
            guard !code.isEmpty, code.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                issue(keyNode, path, "'\(code)' is not a currency code (revenue.usd)")
                return nil
            }
            currency = code.lowercased()
        }

        if let mapping = value.mapping {
            guard !mapping.isEmpty else {
                issue(value, path, "names no test (\(Self.tests.joined(separator: ", ")))")
                return nil
            }
            var parts: [ContactPredicate] = []
            var failed = false
            for (operatorNode, operand) in mapping {
                let operatorName = operatorNode.string ?? ""
                let operatorPath = "\(path).\(operatorName)"
                guard let test = readTest(operatorName, operatorNode: operatorNode, operand: operand, path: operatorPath),
                      check(field, currency: currency, test, node: operatorNode, key: operatorPath)
                else {
                    failed = true
                    continue
                }
                parts.append(.field(field, currency: currency, test))
            }
            guard !failed else { return nil }
            return parts.count == 1 ? parts[0] : .all(parts)
        }
        let test: ContactPredicate.Test
        if value.sequence != nil {
            guard let values = listValue(value, path) else { return nil }
            test = .oneOf(values)
        } else {
            guard let scalar = scalarValue(value, path) else { return nil }
            test = .equals(scalar)
        }
        guard check(field, currency: currency, test, node: keyNode, key: path) else { return nil }
        return .field(field, currency: currency, test)
    }

    /// `lead.<name>: value`, `[values]` or `{tests}`, like a text field.
    private mutating func readLeadField(_ leadName: String, keyNode: Node, value: Node, path: String) -> ContactPredicate? {
        // The name first, once, at the key's line (the compiler would report it for each test).
        do {
            _ = try SegmentCompiler(leadFields: leadFields).compile(.leadField(leadName, .exists(true)), name: path)
        } catch {
            issue(keyNode, path, error.message.hasPrefix("lead.\(leadName): ") ? String(error.message.dropFirst("lead.\(leadName): ".count)) : error.message)
            return nil
        }
        var tests: [(test: ContactPredicate.Test, node: Node, key: String)] = []
        if let mapping = value.mapping {
            guard !mapping.isEmpty else {
                issue(value, path, "names no test (\(Self.tests.joined(separator: ", ")))")
                return nil
            }
            var failed = false
            for (operatorNode, operand) in mapping {
                let operatorName = operatorNode.string ?? ""
                let operatorPath = "\(path).\(operatorName)"
                guard let test = readTest(operatorName, operatorNode: operatorNode, operand: operand, path: operatorPath) else {
                    failed = true
                    continue
                }
                tests.append((test, operatorNode, operatorPath))
            }
            guard !failed else { return nil }
        } else if value.sequence != nil {
            guard let values = listValue(value, path) else { return nil }
            tests.append((.oneOf(values), keyNode, path))
        } else {
            guard let scalar = scalarValue(value, path) else { return nil }
            tests.append((.equals(scalar), keyNode, path))
        }
        var parts: [ContactPredicate] = []
        var failed = false
        for (test, node, key) in tests {
            do {
                _ = try SegmentCompiler(leadFields: leadFields).compile(.leadField(leadName, test), name: key)
                parts.append(.leadField(leadName, test))
            } catch {
                // The compiler's message starts with the field, which the key already names.
                let prefix = "lead.\(leadName): "
                issue(node, key, error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message)
                failed = true
            }
        }
        guard !failed else { return nil }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    private mutating func readTest(_ name: String, operatorNode: Node, operand: Node, path: String) -> ContactPredicate.Test? {
        switch name {
        case "equals": return scalarValue(operand, path).map(ContactPredicate.Test.equals)
        case "not": return scalarValue(operand, path).map(ContactPredicate.Test.notEquals)
        case "in": return listValue(operand, path).map(ContactPredicate.Test.oneOf)
        case "not_in": return listValue(operand, path).map(ContactPredicate.Test.noneOf)
        case "gt": return number(operand, path).map(ContactPredicate.Test.greaterThan)
        case "gte": return number(operand, path).map(ContactPredicate.Test.greaterThanOrEqual)
        case "lt": return number(operand, path).map(ContactPredicate.Test.lessThan)
        case "lte": return number(operand, path).map(ContactPredicate.Test.lessThanOrEqual)
        case "exists":
            switch scalarValue(operand, path) {
            case .bool(let flag)?: return .exists(flag)
            case .string("true")?: return .exists(true)
            case .string("false")?: return .exists(false)
            case nil: return nil
            default:
                issue(operand, path, "must be true or false")
                return nil
            }
        default:
            issue(operatorNode, path, "unknown test '\(name)' (\(Self.tests.joined(separator: ", ")))")
            return nil
        }
    }

    /// Whether the test fits its field as `SegmentCompiler` sees it; if not, an issue at `node`.
    private mutating func check(_ field: ContactField, currency: String?, _ test: ContactPredicate.Test, node: Node,
                                key: String) -> Bool {
        do {
            _ = try SegmentCompiler().compile(.field(field, currency: currency, test), name: key)
            return true
        } catch {
            // The compiler's message starts with the field, which the key already names.
            let prefix = field.rawValue + (currency.map { ".\($0)" } ?? "") + ": "
            let message = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
            issue(node, key, message)
            return false
        }
    }

    // MARK: Values

    /// A YAML plain boolean, number or null as itself; other text with `${VAR}` expanded.
    private mutating func scalarValue(_ node: Node, _ key: String) -> JSONValue? {
        if node.scalar?.style == .plain, let value = EnvironmentExpansion.plainValue(node) { return value }
        return scalarText(node, key).map(JSONValue.string)
    }

    /// A list from a YAML list or a comma-separated string (as `${VAR}` gives).
    private mutating func listValue(_ node: Node, _ key: String) -> [JSONValue]? {
        if let sequence = node.sequence {
            var values: [JSONValue] = []
            var failed = false
            for item in sequence {
                if let value = scalarValue(item, key) { values.append(value) } else { failed = true }
            }
            return failed ? nil : values
        }
        guard let value = scalarValue(node, key) else { return nil }
        if case .string(let text) = value {
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map(JSONValue.string)
        }
        return [value]
    }

    private mutating func number(_ node: Node, _ key: String) -> Double? {
        let value = scalarValue(node, key)
        switch value {
        case .integer(let number)?: return Double(number)
        case .number(let number)? where number.isFinite: return number
        case .string(let text)?:
            if let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite { return number }
        case nil: return nil
        default: break
        }
        issue(node, key, "must be a number")
        return nil
    }

}
