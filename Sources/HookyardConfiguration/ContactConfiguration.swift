import Contacts
import Foundation
import Store
import Workflows
import Yams

extension HookyardConfiguration {
    /// The `contacts:` section: how events are read into contacts, how engagement is weighed, and the limits on the
    /// rules contacts start. A value type; thread-safe.
    public struct ContactSettings: Sendable {
        public var engagement = EngagementPolicy()
        /// Stripe price id or product id -> tier name.
        public var tiers: [String: String] = [:]
        /// Instantly campaign id -> product-interest name.
        public var campaignInterest: [String: String] = [:]
        /// In configuration order; the first match wins.
        public var linkInterest: [LinkInterest] = []
        /// An Instantly webhook about a lead within this long after Hookyard's own write to that lead does not start
        /// the rule that wrote again.
        public var loopGuardSeconds = 300
        /// Most flows one rule starts for one contact per day.
        public var maxRuleRunsPerDay = 3
        /// The Instantly lead fields (top-level payload keys such as `industry`, `companyName`) kept per contact, in
        /// configuration order; `lead.<name>` in segments may name only these.
        public var leadFields: [String] = []
        /// `contacts.maintenance_interval`: time between the contact maintenance passes (re-scoring, segments by time,
        /// payload pruning); the first comes a minute after start, or one interval when that is shorter.
        public var maintenanceIntervalMilliseconds: Int64 = 600_000
        /// The bounds of `maintenance_interval`: a second (tests, small installations) to a day (segments on
        /// `days_since_engagement` must move at least daily).
        public static let maintenanceIntervalBounds: ClosedRange<Int64> = 1_000...86_400_000

        /// The extractor these settings describe, without a catalog.
        public var eventReader: ContactEventReader { eventReader(catalog: Catalog()) }

        /// The extractor these settings describe. A price whose id and product `tiers` does not map gets the tier
        /// of the catalog tier with its `lookup_key`, and its product sets the contact's product interest.
        public func eventReader(catalog: Catalog) -> ContactEventReader {
            var lookupTiers: [String: String] = [:]
            var lookupProducts: [String: String] = [:]
            for product in catalog.products {
                for tier in product.tiers {
                    lookupTiers[tier.lookupKey] = tier.key
                    lookupProducts[tier.lookupKey] = product.key
                }
            }
            return ContactEventReader(tiers: tiers, campaignInterest: campaignInterest, linkInterest: linkInterest,
                                      leadFields: leadFields, lookupKeyTiers: lookupTiers, lookupKeyProducts: lookupProducts)
        }
    }
}

extension HookyardConfiguration {
    /// What the workflow engine needs of these settings.
    public var contactPolicy: ContactPolicy {
        ContactPolicy(reader: contacts.eventReader(catalog: catalog), engagement: contacts.engagement, segments: segmentCompiler.queries,
                      loopGuardMilliseconds: Int64(contacts.loopGuardSeconds) * 1000, maxRuleRunsPerDay: contacts.maxRuleRunsPerDay)
    }

    /// `retention.payload_days` in milliseconds; `nil` when payloads are kept forever (0).
    public var retentionMilliseconds: Int64? {
        retentionPayloadDays > 0 ? Int64(retentionPayloadDays) * 86_400_000 : nil
    }
}

extension ConfigurationLoader {
    /// Reads `contacts:` and `segments:` into `configuration` (settings, segments and their compiler).
    ///
    /// Both expand `${VAR}`, like the rules. With `strict` (every command that reads the rules: `serve`,
    /// `check-config`), every problem is an issue that fails the load. Without it (read-only commands such as
    /// `contacts list --segment`, which need the segments but must keep working in a shell that lacks the daemon's
    /// environment, as `stats` works without the rules' variables), problems do not fail the load: they are kept in
    /// `ignoredIssues`, a setting with a problem keeps its default, and a segment with a problem is left out together
    /// with every segment that refers to it.
    public static func readContacts(contacts: Node?, segments: Node?, file: String, environment: [String: String], strict: Bool,
                             into configuration: inout HookyardConfiguration, issues: inout [ConfigurationIssue]) {
        var reader = ContactConfigurationReader(file: file, environment: environment)
        if let contacts { configuration.contacts = reader.readContacts(contacts) }
        let leadFields = Set(configuration.contacts.leadFields)
        if let segments { configuration.segments = reader.readSegments(segments, leadFields: leadFields) }
        if strict { issues += reader.issues } else { configuration.ignoredIssues += reader.issues }
        do {
            configuration.segmentCompiler = try SegmentCompiler(definitions: configuration.segments, leadFields: leadFields)
        } catch {
            // readSegments returns only segments that compile together; keep the compiler consistent regardless.
            configuration.segments = []
            configuration.segmentCompiler = SegmentCompiler(leadFields: leadFields)
            let issue = ConfigurationIssue(origin: file, line: nil, key: "segments.\(error.segment)", message: error.message)
            if strict { issues.append(issue) } else { configuration.ignoredIssues.append(issue) }
        }
    }
}

/// Reads the `contacts:` and `segments:` sections, reporting every problem with file, line and key
/// (`contacts.engagement.weights.opened`, `segments.lapsed.any[0]`).
///
/// ```yaml
/// contacts:
///   engagement: {window_days: 30, weights: {opened: 1, clicked: 3}, high: 10, medium: 3, opens_can_make_high: false}
///   tiers: {price_123: pro, "${STARTER_PRODUCT_ID}": starter}   # a key may list several ids, comma-separated
///   product_interest:
///     campaigns: {"<campaign id>": course}
///     links: {"*example.com/course*": course}                    # in order; the first match wins
///   loop_guard_seconds: 300
///   max_rule_runs_per_day: 3
///   lead_fields: [industry, companyName]                         # Instantly lead fields kept per contact
///   maintenance_interval: 10m                                    # time between maintenance passes, 1s...1d
/// segments:
///   hot-prospects: {all: [{payment_status: prospect}, {engagement: high}]}
/// ```
public struct ContactConfigurationReader: EnvironmentExpandingReader {
    public let file: String
    public let environment: [String: String]
    public var issues: [ConfigurationIssue] = []


    // MARK: contacts

    public mutating func readContacts(_ node: Node) -> HookyardConfiguration.ContactSettings {
        var settings = HookyardConfiguration.ContactSettings()
        guard let mapping = node.mapping else {
            issue(node, "contacts", "must be a mapping")
            return settings
        }
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            let path = "contacts.\(name)"
            switch name {
            case "engagement": settings.engagement = readEngagement(value, key: path)
            case "tiers": settings.tiers = readIDMap(value, key: path)
            case "product_interest":
                guard let members = value.mapping else {
                    issue(value, path, "must be a mapping with campaigns and links")
                    continue
                }
                for (memberKey, memberValue) in members {
                    let member = memberKey.string ?? ""
                    switch member {
                    case "campaigns": settings.campaignInterest = readIDMap(memberValue, key: "\(path).campaigns")
                    case "links": settings.linkInterest = readLinks(memberValue, key: "\(path).links")
                    default: issue(memberKey, "\(path).\(member)", "unknown key (product_interest has campaigns, links)")
                    }
                }
            case "loop_guard_seconds": int(value, path, min: 0) { settings.loopGuardSeconds = $0 }
            case "max_rule_runs_per_day": int(value, path, min: 1) { settings.maxRuleRunsPerDay = $0 }
            case "lead_fields": settings.leadFields = readLeadFields(value, key: path)
            case "maintenance_interval":
                guard let text = scalarText(value, path) else { continue }
                let bounds = HookyardConfiguration.ContactSettings.maintenanceIntervalBounds
                guard let milliseconds = StepSchedule.duration(text), bounds.contains(milliseconds) else {
                    issue(value, path, "'\(text)' is not a duration from 1s to 1d such as 30s, 10m or 1h")
                    continue
                }
                settings.maintenanceIntervalMilliseconds = milliseconds
            default:
                issue(keyNode, path, "unknown key (contacts has engagement, tiers, product_interest, loop_guard_seconds, max_rule_runs_per_day, lead_fields, maintenance_interval)")
            }
        }
        return settings
    }

    private mutating func readEngagement(_ node: Node, key: String) -> EngagementPolicy {
        var policy = EngagementPolicy()
        guard let mapping = node.mapping else {
            issue(node, key, "must be a mapping")
            return policy
        }
        var thresholdsNode: Node?
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            let path = "\(key).\(name)"
            switch name {
            case "window_days": int(value, path, min: 1) { policy.windowDays = $0 }
            case "high":
                thresholdsNode = keyNode
                number(value, path, min: 0) { policy.high = $0 }
            case "medium": number(value, path, min: 0) { policy.medium = $0 }
            case "opens_can_make_high":
                guard let flag = value.bool else {
                    issue(value, path, "must be true or false")
                    continue
                }
                policy.opensCanMakeHigh = flag
            case "weights":
                guard let weights = value.mapping else {
                    issue(value, path, "must be a mapping of activities to weights")
                    continue
                }
                for (activityNode, weight) in weights {
                    let activityName = activityNode.string ?? ""
                    guard let activity = ContactActivity(rawValue: activityName) else {
                        issue(activityNode, "\(path).\(activityName)",
                              "unknown activity (\(ContactActivity.allCases.map(\.rawValue).joined(separator: ", ")))")
                        continue
                    }
                    number(weight, "\(path).\(activityName)", min: 0) { policy.weights[activity] = $0 }
                }
            default:
                issue(keyNode, path, "unknown key (engagement has window_days, weights, high, medium, opens_can_make_high)")
            }
        }
        if policy.high < policy.medium {
            issue(thresholdsNode ?? node, "\(key).high", "must not be below \(key).medium (\(ConfigurationLoader.format(policy.medium)))")
        }
        return policy
    }

    /// `{id: name}` where a key may hold several comma-separated ids (as a `${VAR}` list gives); both expand `${VAR}`.
    private mutating func readIDMap(_ node: Node, key: String) -> [String: String] {
        guard let mapping = node.mapping else {
            issue(node, key, "must be a mapping of ids to names")
            return [:]
        }
        var result: [String: String] = [:]
        for (keyNode, value) in mapping {
            let raw = keyNode.string ?? ""
            let path = "\(key).\(raw)"
            guard let ids = scalarText(keyNode, path), let name = scalarText(value, path) else { continue }
            guard !name.isEmpty else {
                issue(value, path, "names nothing")
                continue
            }
            let list = ids.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if list.isEmpty { issue(keyNode, path, "names no id") }
            for id in list {
                if let earlier = result[id], earlier != name {
                    issue(keyNode, path, "'\(id)' is mapped to both '\(earlier)' and '\(name)'")
                }
                result[id] = name
            }
        }
        return result
    }

    /// A list of names, or one comma-separated string (as a `${VAR}` gives); each at most once.
    private mutating func readLeadFields(_ node: Node, key: String) -> [String] {
        var names: [(name: String, node: Node)] = []
        if node.mapping != nil {
            issue(node, key, "must be a list of Instantly lead field names, such as [industry, companyName]")
            return []
        } else if let sequence = node.sequence {
            for item in sequence {
                guard let text = scalarText(item, key) else { continue }
                names.append((text.trimmingCharacters(in: .whitespaces), item))
            }
        } else if let text = scalarText(node, key) {
            names = text.split(separator: ",").map { (String($0).trimmingCharacters(in: .whitespaces), node) }
        } else {
            return []
        }
        var result: [String] = []
        for (name, item) in names {
            guard !name.isEmpty else {
                issue(item, key, "names an empty lead field")
                continue
            }
            guard !result.contains(name) else {
                issue(item, key, "'\(name)' is listed more than once")
                continue
            }
            result.append(name)
        }
        return result
    }

    private mutating func readLinks(_ node: Node, key: String) -> [LinkInterest] {
        guard let mapping = node.mapping else {
            issue(node, key, "must be a mapping of URL patterns to product names")
            return []
        }
        var links: [LinkInterest] = []
        for (keyNode, value) in mapping {
            let raw = keyNode.string ?? ""
            let path = "\(key).\(raw)"
            guard let pattern = scalarText(keyNode, path), let product = scalarText(value, path) else { continue }
            guard !pattern.isEmpty, !product.isEmpty else {
                issue(keyNode, path, "needs a pattern and a product name")
                continue
            }
            links.append(LinkInterest(pattern: pattern, product: product))
        }
        return links
    }

    // MARK: segments

    /// The segments that compile, in configuration order. Each problem is an issue: a field or test at its own
    /// line, an unknown reference or a cycle at the segment's name. A segment with a problem is left out, as is
    /// every segment that refers to one left out (without an issue of its own).
    /// - Parameter leadFields: `contacts.lead_fields`, the names `lead.<name>` may use.
    public mutating func readSegments(_ node: Node, leadFields: Set<String> = []) -> [SegmentDefinition] {
        guard let mapping = node.mapping else {
            issue(node, "segments", "must be a mapping of segment names to tests")
            return []
        }
        var read: [(definition: SegmentDefinition, keyNode: Node, ok: Bool)] = []
        var names: Set<String> = []
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            let path = "segments.\(name)"
            guard ContactPredicateReader.isValidName(name) else {
                issue(keyNode, path, "'\(name)' must be letters, digits, '-' or '_'")
                continue
            }
            guard names.insert(name).inserted else {
                issue(keyNode, path, "is defined more than once")
                continue
            }
            var predicateReader = ContactPredicateReader(file: file, environment: environment, leadFields: leadFields)
            let predicate = predicateReader.read(value, key: path)
            issues += predicateReader.issues
            // A segment that did not read stands in as "everyone" so references to it are not reported as unknown.
            read.append((SegmentDefinition(name: name, predicate: predicate ?? .all([])), keyNode, predicate != nil))
        }
        var broken = Set(read.filter { !$0.ok }.map(\.definition.name))
        for problem in SegmentCompiler.problems(in: read.map(\.definition), leadFields: leadFields) {
            let keyNode = read.first(where: { $0.definition.name == problem.segment })?.keyNode
            issue(keyNode, "segments.\(problem.segment)", problem.message)
            broken.insert(problem.segment)
        }
        var definitions = read.map(\.definition).filter { !broken.contains($0.name) }
        while true {
            let failing = Set(SegmentCompiler.problems(in: definitions, leadFields: leadFields).map(\.segment))
            if failing.isEmpty { return definitions }
            definitions.removeAll { failing.contains($0.name) }
        }
    }

    // MARK: Values

}

extension HookyardConfiguration {
    /// `contact` with only the segments configured now (memberships of a segment since removed are left out), as
    /// `hookyard contacts` and the MCP tools show them.
    public func current(_ contact: Contact) -> Contact {
        contact.keepingSegments(Set(segments.map(\.name)))
    }
}
