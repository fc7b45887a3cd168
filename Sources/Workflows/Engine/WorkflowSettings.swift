import Outbound
import StrictJSON
import Synchronization

/// What the engine runs by, swapped as a whole on a configuration reload: the rules, the contact policy and the
/// catalog (with its JSON, `catalog.` in templates). Jobs read it once when they start.
///
/// Thread-safe: each part behind a lock of its own.
final class WorkflowSettings: Sendable {
    private let rules: Mutex<[Rule]>
    private let contactPolicy: Mutex<ContactPolicy>
    /// The catalog and its JSON, swapped together.
    private let catalogState: Mutex<(catalog: Catalog, json: JSONValue)>

    init(rules: [Rule], contacts: ContactPolicy, catalog: Catalog) {
        self.rules = Mutex(rules)
        self.contactPolicy = Mutex(contacts)
        self.catalogState = Mutex((catalog, catalog.json))
    }

    /// Replaces the rules, and the contact policy and catalog when given.
    func update(rules newRules: [Rule], contacts: ContactPolicy?, catalog: Catalog?) {
        rules.withLock { $0 = newRules }
        if let contacts { contactPolicy.withLock { $0 = contacts } }
        if let catalog { catalogState.withLock { $0 = (catalog, catalog.json) } }
    }

    var currentRules: [Rule] { rules.withLock { $0 } }
    var currentContactPolicy: ContactPolicy { contactPolicy.withLock { $0 } }
    var currentCatalog: Catalog { catalogState.withLock { $0.catalog } }
    var catalogJSON: JSONValue { catalogState.withLock { $0.json } }
}
