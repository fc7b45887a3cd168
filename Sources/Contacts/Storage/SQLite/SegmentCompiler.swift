import Store
import StrictJSON

/// Compiles the configuration's segments, and rules' contact conditions, into SQL over the contacts tables
/// (schema migration 5): each to one boolean expression over `contacts` aliased `c`, to be used as
/// `SELECT ... FROM contacts c WHERE <sql>`, with every value bound as a `?` parameter (`SegmentQuery.parameters`,
/// in order), never spliced into the text. Each condition is written in both engines' dialects from the one parsed
/// predicate (`SegmentQuery.sql` for SQLite, `SegmentQuery.postgreSQL`), with the same placeholders in the same order.
///
/// Every expression it produces is two-valued: it is 0 or 1, never NULL, so `not:` is the exact complement. A NULL
/// column equals nothing; `not` and `not_in` hold for it. `days_since_engagement` of a contact who never engaged is
/// larger than any number (`gte: 30` holds, `lt: 7` does not); `exists` on it means "engaged at least once".
/// `revenue` (net, smallest units, every currency or `revenue.<currency>`) is 0 without payments; `exists` on it
/// means "has a payment row". Bounds that are not whole numbers are rounded in the direction that keeps their
/// meaning for these whole-number fields (`gt: 2.5` is `> 2`, `gte: 2.5` is `>= 3`), so only integers are bound.
///
/// `registered_for` is a membership test over `contact_registrations`, like `campaign` over `contact_leads`.
/// `lead.<name>` reads `contact_lead_fields` as a text field; with `leadFields` given, a name outside it is rejected.
///
/// `segment: name` inlines that segment's expression (and its parameters). Construction rejects duplicate names,
/// unknown references, circular references and tests that do not fit their field.
///
/// A value type; thread-safe.
public struct SegmentCompiler: Sendable {
    /// As given, in order.
    public let definitions: [SegmentDefinition]
    /// One per definition, in definition order.
    public let queries: [SegmentQuery]
    /// The lead fields `lead.<name>` may name (`contacts.lead_fields`); `nil`: any name (nothing is checked).
    public let leadFields: Set<String>?
    private let byName: [String: SegmentQuery]

    /// A compiler without segments (`segment:` references are all unknown).
    /// - Parameter leadFields: the names `lead.<name>` may use; `nil` accepts any.
    public init(leadFields: Set<String>? = nil) {
        definitions = []
        queries = []
        self.leadFields = leadFields
        byName = [:]
    }

    /// Compiles every definition. - Throws: the first of `problems(in:leadFields:)`.
    /// - Parameter leadFields: the names `lead.<name>` may use (`contacts.lead_fields`); `nil` accepts any.
    public init(definitions: [SegmentDefinition], leadFields: Set<String>? = nil) throws(SegmentError) {
        if let problem = Self.problems(in: definitions, leadFields: leadFields).first { throw problem }
        var compiled: [String: Fragment] = [:]
        let predicates = Dictionary(definitions.map { ($0.name, $0.predicate) }, uniquingKeysWith: { first, _ in first })
        var queries: [SegmentQuery] = []
        for definition in definitions {
            let fragment = try Self.fragment(definition.predicate, segment: definition.name,
                                             leadFields: leadFields) { name throws(SegmentError) in
                try Self.resolve(name, predicates: predicates, compiled: &compiled, from: definition.name, leadFields: leadFields)
            }
            compiled[definition.name] = fragment
            queries.append(SegmentQuery(name: definition.name, sql: fragment.sql, postgreSQL: fragment.postgreSQL,
                                        parameters: fragment.parameters))
        }
        self.definitions = definitions
        self.queries = queries
        self.leadFields = leadFields
        byName = Dictionary(queries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The compiled segment named `name`, or `nil` when there is none.
    public func query(segment name: String) -> SegmentQuery? { byName[name] }

    /// Compiles a condition that is not a segment (a rule's `if:`); `segment:` references resolve to this
    /// compiler's segments.
    /// - Parameter name: names the result and the errors (`SegmentQuery.name`, `SegmentError.segment`).
    /// - Throws: `SegmentError` for an unknown segment or a test that does not fit its field.
    public func compile(_ predicate: ContactPredicate, name: String) throws(SegmentError) -> SegmentQuery {
        let byName = self.byName
        let fragment = try Self.fragment(predicate, segment: name, leadFields: leadFields) { reference throws(SegmentError) in
            guard let query = byName[reference] else {
                throw SegmentError(segment: name, message: Self.unknownReference(reference, known: byName.keys))
            }
            guard let postgreSQL = query.postgreSQL else {
                throw SegmentError(segment: name, message: "segment '\(reference)' has no PostgreSQL form")
            }
            return Fragment(sql: query.sql, postgreSQL: postgreSQL, parameters: query.parameters)
        }
        return SegmentQuery(name: name, sql: fragment.sql, postgreSQL: fragment.postgreSQL, parameters: fragment.parameters)
    }

    /// Every problem in `definitions`, where it lies: a duplicate name, an unknown reference or a test that does not
    /// fit its field in the segment that contains it; a circular reference in each segment on the cycle. A segment
    /// that only refers to a broken one is not reported itself. Empty when `init(definitions:leadFields:)` succeeds.
    public static func problems(in definitions: [SegmentDefinition], leadFields: Set<String>? = nil) -> [SegmentError] {
        let names = Set(definitions.map(\.name))
        var graph: [String: [String]] = [:]
        // Per definition, so problems come in definition order.
        var found = Array(repeating: [SegmentError](), count: definitions.count)
        for (index, definition) in definitions.enumerated() {
            if definition.name.isEmpty { found[index].append(SegmentError(segment: "", message: "a segment needs a name")) }
            guard graph[definition.name] == nil else {
                found[index].append(SegmentError(segment: definition.name, message: "is defined more than once"))
                continue
            }
            var references: [String] = []
            collect(definition.predicate, segment: definition.name, leadFields: leadFields, references: &references,
                    problems: &found[index])
            for reference in references where !names.contains(reference) {
                found[index].append(SegmentError(segment: definition.name, message: unknownReference(reference, known: names)))
            }
            graph[definition.name] = references.filter(names.contains)
        }
        var checked: Set<String> = []
        for (index, definition) in definitions.enumerated() where checked.insert(definition.name).inserted {
            if let cycle = cycle(from: definition.name, graph: graph) {
                found[index].append(SegmentError(segment: definition.name, message: "refers to itself: \(cycle.joined(separator: " -> "))"))
            }
        }
        return found.flatMap { $0 }
    }

    // MARK: Checking

    /// References in order, and the leaves that do not compile.
    private static func collect(_ predicate: ContactPredicate, segment: String, leadFields: Set<String>?,
                                references: inout [String], problems: inout [SegmentError]) {
        switch predicate {
        case .all(let parts), .any(let parts):
            for part in parts {
                collect(part, segment: segment, leadFields: leadFields, references: &references, problems: &problems)
            }
        case .not(let inner):
            collect(inner, segment: segment, leadFields: leadFields, references: &references, problems: &problems)
        case .segment(let name):
            references.append(name)
        case .field(let field, let currency, let test):
            do {
                _ = try leaf(field, currency: currency, test)
            } catch {
                problems.append(SegmentError(segment: segment, message: error.message))
            }
        case .leadField(let name, let test):
            do {
                _ = try leadField(name, test, allowed: leadFields)
            } catch {
                problems.append(SegmentError(segment: segment, message: error.message))
            }
        }
    }

    /// The shortest path from `start` back to itself, `start` first and last; `nil` when there is none.
    private static func cycle(from start: String, graph: [String: [String]]) -> [String]? {
        var previous: [String: String] = [:]
        var queue = [start]
        var visited: Set<String> = []
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for next in graph[node] ?? [] {
                if next == start {
                    var between: [String] = []
                    var current = node
                    while current != start {
                        between.append(current)
                        current = previous[current]!
                    }
                    return [start] + Array(between.reversed()) + [start]
                }
                if visited.insert(next).inserted {
                    previous[next] = node
                    queue.append(next)
                }
            }
        }
        return nil
    }

    private static func unknownReference(_ name: String, known: some Collection<String>) -> String {
        let list = known.sorted().joined(separator: ", ")
        return "refers to unknown segment '\(name)'" + (list.isEmpty ? " (no segments are defined)" : " (defined: \(list))")
    }

    /// The compiled fragment of a defined segment, compiling it first when needed. Only called on acyclic
    /// definitions (`problems(in:)` ran), so the recursion ends.
    private static func resolve(_ name: String, predicates: [String: ContactPredicate], compiled: inout [String: Fragment],
                                from segment: String, leadFields: Set<String>?) throws(SegmentError) -> Fragment {
        if let done = compiled[name] { return done }
        guard let predicate = predicates[name] else {
            throw SegmentError(segment: segment, message: unknownReference(name, known: predicates.keys))
        }
        let fragment = try fragment(predicate, segment: name, leadFields: leadFields) { reference throws(SegmentError) in
            try resolve(reference, predicates: predicates, compiled: &compiled, from: name, leadFields: leadFields)
        }
        compiled[name] = fragment
        return fragment
    }

    // MARK: SQL

    /// SQL text in both dialects and its parameters, in the order of their `?`s (the same in both).
    struct Fragment: Equatable {
        /// SQLite's dialect.
        var sql: String
        /// PostgreSQL's dialect.
        var postgreSQL: String
        var parameters: [SegmentQuery.Parameter]

        /// `postgreSQL` defaults to `sql`, for text both engines read alike.
        init(sql: String, postgreSQL: String? = nil, parameters: [SegmentQuery.Parameter] = []) {
            self.sql = sql
            self.postgreSQL = postgreSQL ?? sql
            self.parameters = parameters
        }

        /// A constant truth value: 1/0 in SQLite, TRUE/FALSE in PostgreSQL (where an integer is not a boolean).
        init(truth: Bool) {
            self.init(sql: truth ? "1" : "0", postgreSQL: truth ? "TRUE" : "FALSE")
        }

        /// The same text transformation applied to both dialects; parameters unchanged.
        func map(_ transform: (String) -> String) -> Fragment {
            Fragment(sql: transform(sql), postgreSQL: transform(postgreSQL), parameters: parameters)
        }

        /// `(a OP b OP …)` in both dialects, parameters concatenated in order.
        static func joined(_ pieces: [Fragment], with separator: String) -> Fragment {
            Fragment(sql: "(" + pieces.map(\.sql).joined(separator: separator) + ")",
                     postgreSQL: "(" + pieces.map(\.postgreSQL).joined(separator: separator) + ")",
                     parameters: pieces.flatMap(\.parameters))
        }
    }

    /// A leaf that does not compile: the message names the field, the test and what it accepts.
    struct LeafError: Error {
        var message: String
    }

    private static func fragment(_ predicate: ContactPredicate, segment: String, leadFields: Set<String>?,
                                 reference: (String) throws(SegmentError) -> Fragment) throws(SegmentError) -> Fragment {
        switch predicate {
        case .all(let parts):
            return try join(parts, with: "AND", empty: true, segment: segment, leadFields: leadFields, reference: reference)
        case .any(let parts):
            return try join(parts, with: "OR", empty: false, segment: segment, leadFields: leadFields, reference: reference)
        case .not(let inner):
            let fragment = try fragment(inner, segment: segment, leadFields: leadFields, reference: reference)
            return fragment.map { "NOT (\($0))" }
        case .segment(let name):
            return try reference(name).map { "(\($0))" }
        case .field(let field, let currency, let test):
            do {
                return try leaf(field, currency: currency, test)
            } catch {
                throw SegmentError(segment: segment, message: error.message)
            }
        case .leadField(let name, let test):
            do {
                return try leadField(name, test, allowed: leadFields)
            } catch {
                throw SegmentError(segment: segment, message: error.message)
            }
        }
    }

    private static func join(_ parts: [ContactPredicate], with connective: String, empty: Bool, segment: String,
                             leadFields: Set<String>?,
                             reference: (String) throws(SegmentError) -> Fragment) throws(SegmentError) -> Fragment {
        guard !parts.isEmpty else { return Fragment(truth: empty) }
        var pieces: [Fragment] = []
        for part in parts {
            pieces.append(try fragment(part, segment: segment, leadFields: leadFields, reference: reference))
        }
        return Fragment.joined(pieces, with: " \(connective) ")
    }

    /// The column of each field that is one.
    private static func column(_ field: ContactField) -> String? {
        switch field {
        case .email: "c.email"
        case .paymentStatus: "c.payment_status"
        case .engagement: "c.engagement"
        case .tier: "c.tier"
        case .productInterest: "c.product_interest"
        case .interestStatus: "c.interest_status"
        case .subscriptionStatus: "c.subscription_status"
        case .firstCampaign: "c.first_campaign"
        case .lastCampaign: "c.last_campaign"
        case .campaign, .registeredFor, .revenue, .daysSinceEngagement, .doNotContact, .opens, .clicks, .replies: nil
        }
    }

    static func leaf(_ field: ContactField, currency: String?, _ test: ContactPredicate.Test) throws(LeafError) -> Fragment {
        let name = field.rawValue + (currency.map { ".\($0)" } ?? "")
        if currency != nil, field != .revenue {
            throw LeafError(message: "\(name): only revenue takes a currency (revenue.usd)")
        }
        if let column = column(field) { return try textColumn(Fragment(sql: column), name: field.rawValue, field: field, test) }
        switch field {
        case .campaign:
            return try membership(test, name: "campaign", rows: "SELECT 1 FROM contact_leads l WHERE l.contact_id = c.id",
                                  column: "l.campaign_id", noun: "a campaign id")
        case .registeredFor:
            return try membership(test, name: "registered_for",
                                  rows: "SELECT 1 FROM contact_registrations r WHERE r.contact_id = c.id",
                                  column: "r.product", noun: "a product key")
        case .revenue:
            var filter = ""
            var parameters: [SegmentQuery.Parameter] = []
            if let currency {
                guard !currency.isEmpty else { throw LeafError(message: "\(name): the currency is empty") }
                filter = " AND p.currency = ?"
                parameters.append(.text(currency.lowercased()))
            }
            // PostgreSQL-specific: `sum()` is NULL without rows (SQLite's `TOTAL()` is 0.0) and exact (numeric).
            let total = Fragment(sql: "(SELECT TOTAL(p.amount) FROM contact_payments p WHERE p.contact_id = c.id\(filter))",
                                 postgreSQL: "(SELECT coalesce(sum(p.amount), 0) FROM contact_payments p WHERE p.contact_id = c.id\(filter))",
                                 parameters: parameters)
            let any = Fragment(sql: "EXISTS (SELECT 1 FROM contact_payments p WHERE p.contact_id = c.id\(filter))",
                               parameters: parameters)
            return try numeric(name: name, total, infiniteWhenNull: nil, exists: any, test)
        case .daysSinceEngagement:
            let days = Fragment(sql: "((? - c.last_engagement_at) / 86400000)", parameters: [.now])
            return try numeric(name: name, days, infiniteWhenNull: "c.last_engagement_at",
                               exists: Fragment(sql: "(c.last_engagement_at IS NOT NULL)"), test)
        case .doNotContact:
            return try doNotContact(test)
        case .opens, .clicks, .replies:
            let column = ["opens": "c.opened", "clicks": "c.clicked", "replies": "c.replied"][field.rawValue]!
            return try numeric(name: name, Fragment(sql: column), infiniteWhenNull: nil, exists: Fragment(truth: true), test)
        default:
            preconditionFailure("\(field) has a column")
        }
    }

    /// `lead.<name>`: the lead field's latest value as text, NULL when never seen. A name outside `allowed`
    /// (when given) is an error naming the configured ones.
    static func leadField(_ name: String, _ test: ContactPredicate.Test, allowed: Set<String>?) throws(LeafError) -> Fragment {
        guard !name.isEmpty else { throw LeafError(message: "lead.: names no lead field (lead.industry)") }
        if let allowed, !allowed.contains(name) {
            let configured = allowed.isEmpty ? "none are configured" : "configured: \(allowed.sorted().joined(separator: ", "))"
            throw LeafError(message: "lead.\(name): '\(name)' is not one of contacts.lead_fields (\(configured))")
        }
        let column = Fragment(sql: "(SELECT f.value FROM contact_lead_fields f WHERE f.contact_id = c.id AND f.name = ?)",
                              parameters: [.text(name)])
        return try textColumn(column, name: "lead.\(name)", field: nil, test)
    }

    /// The tests a text field takes, for error messages.
    private static let textTests = "equals, not, in, not_in, exists"

    /// A text value: `column` is an expression (with its own parameters, repeated wherever it is used); `name` is
    /// the field as written, for messages; `field` (when it is one) restricts values and normalises emails.
    private static func textColumn(_ column: Fragment, name: String, field: ContactField?,
                                   _ test: ContactPredicate.Test) throws(LeafError) -> Fragment {
        func value(_ json: JSONValue) throws(LeafError) -> SegmentQuery.Parameter? {
            var text: String
            switch json {
            case .null: return nil
            case .string(let string): text = string
            case .bool, .integer, .number: text = json.text
            case .array, .object: throw LeafError(message: "\(name): '\(json)' is not a single value")
            }
            let allowed: [String]? = switch field {
            case .paymentStatus: PaymentStatus.allCases.map(\.rawValue)
            case .engagement: EngagementLevel.allCases.map(\.rawValue)
            default: nil
            }
            if let allowed, !allowed.contains(text) {
                throw LeafError(message: "\(name): '\(text)' is not one of \(allowed.joined(separator: ", "))")
            }
            if field == .email { text = ContactObservation.normalise(email: text) }
            return .text(text)
        }
        /// `column IS ?` (or `IS NULL`): 0 or 1, never NULL.
        func compare(_ json: JSONValue, negated: Bool) throws(LeafError) -> Fragment {
            let operation = negated ? "IS NOT" : "IS"
            guard let parameter = try value(json) else {
                return column.map { "\($0) \(operation) NULL" }
            }
            // PostgreSQL-specific: SQLite's null-safe `IS` / `IS NOT` are `IS NOT DISTINCT FROM` / `IS DISTINCT FROM`.
            let postgreSQLOperation = negated ? "IS DISTINCT FROM" : "IS NOT DISTINCT FROM"
            return Fragment(sql: "\(column.sql) \(operation) ?", postgreSQL: "\(column.postgreSQL) \(postgreSQLOperation) ?",
                            parameters: column.parameters + [parameter])
        }
        func chain(_ values: [JSONValue], negated: Bool) throws(LeafError) -> Fragment {
            guard !values.isEmpty else { return Fragment(truth: negated) }
            var pieces: [Fragment] = []
            for json in values { pieces.append(try compare(json, negated: negated)) }
            return Fragment.joined(pieces, with: negated ? " AND " : " OR ")
        }
        switch test {
        case .equals(let json):
            return try compare(json, negated: false).map { "(\($0))" }
        case .notEquals(let json):
            return try compare(json, negated: true).map { "(\($0))" }
        case .oneOf(let values): return try chain(values, negated: false)
        case .noneOf(let values): return try chain(values, negated: true)
        case .exists(let flag):
            return column.map { "(\($0) IS \(flag ? "NOT " : "")NULL)" }
        case .greaterThan, .greaterThanOrEqual, .lessThan, .lessThanOrEqual:
            throw LeafError(message: "\(name): \(testName(test)) compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are (\(name) takes \(textTests))")
        }
    }

    /// A set-membership field: `rows` selects the contact's rows of a table (one per campaign, per product), and
    /// `column` the value tested. `field: x` holds when x is one of them; `exists` when there is any.
    private static func membership(_ test: ContactPredicate.Test, name: String, rows membership: String, column: String,
                                   noun: String) throws(LeafError) -> Fragment {
        func ids(_ values: [JSONValue]) throws(LeafError) -> [SegmentQuery.Parameter] {
            var parameters: [SegmentQuery.Parameter] = []
            for json in values {
                switch json {
                case .string, .integer: parameters.append(.text(json.text))
                default: throw LeafError(message: "\(name): '\(json)' is not \(noun)")
                }
            }
            return parameters
        }
        func member(of values: [JSONValue], negated: Bool) throws(LeafError) -> Fragment {
            let parameters = try ids(values)
            guard !parameters.isEmpty else { return Fragment(truth: negated) }
            let list = parameters.count == 1 ? "= ?" : "IN (" + Array(repeating: "?", count: parameters.count).joined(separator: ", ") + ")"
            return Fragment(sql: "\(negated ? "NOT " : "")EXISTS (\(membership) AND \(column) \(list))", parameters: parameters)
        }
        switch test {
        case .equals(.null), .exists(false): return Fragment(sql: "NOT EXISTS (\(membership))")
        case .notEquals(.null), .exists(true): return Fragment(sql: "EXISTS (\(membership))")
        case .equals(let json): return try member(of: [json], negated: false)
        case .notEquals(let json): return try member(of: [json], negated: true)
        case .oneOf(let values): return try member(of: values, negated: false)
        case .noneOf(let values): return try member(of: values, negated: true)
        case .greaterThan, .greaterThanOrEqual, .lessThan, .lessThanOrEqual:
            throw LeafError(message: "\(name): \(testName(test)) compares numbers, which only revenue, days_since_engagement, opens, clicks and replies are (\(name) takes \(textTests))")
        }
    }

    /// A whole-number expression. `infiniteWhenNull`: a column whose NULL makes the value larger than any number.
    private static func numeric(name: String, _ expression: Fragment, infiniteWhenNull: String?, exists: Fragment,
                                _ test: ContactPredicate.Test) throws(LeafError) -> Fragment {
        func number(_ json: JSONValue) throws(LeafError) -> Double {
            let parsed: Double? = switch json {
            case .integer(let value): Double(value)
            case .number(let value): value
            case .string(let text): Double(text)
            default: nil
            }
            guard let parsed, parsed.isFinite else { throw LeafError(message: "\(name): '\(json)' is not a number") }
            return parsed
        }
        func whole(_ value: Double) -> Int64? {
            value.rounded() == value ? clamp(value) : nil
        }
        /// `expression op ?` guarded for NULL; `holdsWhenInfinite` says what the test gives for "larger than any".
        func compare(_ operation: String, _ parameters: [SegmentQuery.Parameter], holdsWhenInfinite: Bool) -> Fragment {
            let comparison = Fragment(sql: "\(expression.sql) \(operation)",
                                      postgreSQL: "\(expression.postgreSQL) \(operation)",
                                      parameters: expression.parameters + parameters)
            guard let nullable = infiniteWhenNull else { return comparison.map { "(\($0))" } }
            return holdsWhenInfinite
                ? comparison.map { "(\(nullable) IS NULL OR \($0))" }
                : comparison.map { "(\(nullable) IS NOT NULL AND \($0))" }
        }
        func list(_ values: [JSONValue], negated: Bool) throws(LeafError) -> Fragment {
            var parameters: [SegmentQuery.Parameter] = []
            for json in values {
                if let value = whole(try number(json)) { parameters.append(.integer(value)) }
            }
            guard !parameters.isEmpty else { return Fragment(truth: negated) }
            let marks = Array(repeating: "?", count: parameters.count).joined(separator: ", ")
            return compare("\(negated ? "NOT IN" : "IN") (\(marks))", parameters, holdsWhenInfinite: negated)
        }
        switch test {
        case .exists(let flag):
            return flag ? exists : exists.map { "NOT \($0)" }
        case .equals(let json): return try list([json], negated: false)
        case .notEquals(let json): return try list([json], negated: true)
        case .oneOf(let values): return try list(values, negated: false)
        case .noneOf(let values): return try list(values, negated: true)
        case .greaterThan(let bound):
            return compare("> ?", [.integer(clamp(try finite(bound, name).rounded(.down)))], holdsWhenInfinite: true)
        case .greaterThanOrEqual(let bound):
            return compare(">= ?", [.integer(clamp(try finite(bound, name).rounded(.up)))], holdsWhenInfinite: true)
        case .lessThan(let bound):
            return compare("< ?", [.integer(clamp(try finite(bound, name).rounded(.up)))], holdsWhenInfinite: false)
        case .lessThanOrEqual(let bound):
            return compare("<= ?", [.integer(clamp(try finite(bound, name).rounded(.down)))], holdsWhenInfinite: false)
        }
    }

    private static func finite(_ value: Double, _ name: String) throws(LeafError) -> Double {
        guard value.isFinite else { throw LeafError(message: "\(name): \(value) is not a finite number") }
        return value
    }

    private static func clamp(_ value: Double) -> Int64 {
        if value >= 9.2e18 { return Int64.max }
        if value <= -9.2e18 { return Int64.min }
        return Int64(value)
    }

    private static func doNotContact(_ test: ContactPredicate.Test) throws(LeafError) -> Fragment {
        func flag(_ json: JSONValue) throws(LeafError) -> Bool {
            switch json {
            case .bool(let value): return value
            case .string("true"): return true
            case .string("false"): return false
            default: throw LeafError(message: "do_not_contact: '\(json)' is not true or false")
            }
        }
        func holds(_ value: Bool) -> Fragment {
            // PostgreSQL-specific: a boolean is not an integer; the parameter stays 0 or 1 for both dialects.
            Fragment(sql: "((c.do_not_contact IS NOT NULL) = ?)", postgreSQL: "((c.do_not_contact IS NOT NULL) = (? <> 0))",
                     parameters: [.integer(value ? 1 : 0)])
        }
        switch test {
        case .equals(let json): return holds(try flag(json))
        case .notEquals(let json): return holds(!(try flag(json)))
        case .exists(let value): return holds(value)
        case .oneOf, .noneOf, .greaterThan, .greaterThanOrEqual, .lessThan, .lessThanOrEqual:
            throw LeafError(message: "do_not_contact: \(testName(test)) does not apply (do_not_contact takes true or false, with equals, not or exists)")
        }
    }

    private static func testName(_ test: ContactPredicate.Test) -> String {
        switch test {
        case .equals: "equals"
        case .notEquals: "not"
        case .oneOf: "in"
        case .noneOf: "not_in"
        case .greaterThan: "gt"
        case .greaterThanOrEqual: "gte"
        case .lessThan: "lt"
        case .lessThanOrEqual: "lte"
        case .exists: "exists"
        }
    }
}
