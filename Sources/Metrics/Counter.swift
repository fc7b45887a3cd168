import Synchronization

/// A monotonically increasing count per combination of label values.
///
/// Thread-safe; one lock acquisition per `increment`.
public final class Counter: MetricFamily, Sendable {
    public let name: String
    public let help: String
    public let labelNames: [String]
    var type: String { "counter" }
    /// Values by label values (in `labelNames` order).
    private let values = Mutex<[[String]: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        checkNames(name, labelNames)
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    /// Adds `amount` (which must not be negative) to the series named by `labels`, one value per label name.
    public func increment(by amount: Double = 1, labels: [String] = []) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) label values")
        precondition(amount >= 0, "\(name): a counter only goes up")
        values.withLock { $0[labels, default: 0] += amount }
    }

    /// The current value of one series (0 if never incremented).
    public func value(labels: [String] = []) -> Double { values.withLock { $0[labels] ?? 0 } }

    func render(into out: inout String) {
        let samples = values.withLock { $0 }.sorted { Exposition.lexicographic($0.key, $1.key) }
        for (labels, value) in samples {
            out += "\(name)\(Exposition.labels(labelNames, labels)) \(Exposition.format(value))\n"
        }
    }
}

/// A value that goes up and down per combination of label values, either set by the program or collected at
/// scrape time by a closure.
///
/// Thread-safe.
public final class Gauge: MetricFamily, Sendable {
    public let name: String
    public let help: String
    public let labelNames: [String]
    var type: String { "gauge" }
    private let values = Mutex<[[String]: Double]>([:])
    private let collect: (@Sendable () -> [(labels: [String], value: Double)])?

    init(name: String, help: String, labelNames: [String], collect: (@Sendable () -> [(labels: [String], value: Double)])?) {
        checkNames(name, labelNames)
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.collect = collect
    }

    public func set(_ value: Double, labels: [String] = []) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) label values")
        values.withLock { $0[labels] = value }
    }

    public func value(labels: [String] = []) -> Double { values.withLock { $0[labels] ?? 0 } }

    func render(into out: inout String) {
        var samples = values.withLock { $0 }
        for sample in collect?() ?? [] where sample.labels.count == labelNames.count { samples[sample.labels] = sample.value }
        for (labels, value) in samples.sorted(by: { Exposition.lexicographic($0.key, $1.key) }) {
            out += "\(name)\(Exposition.labels(labelNames, labels)) \(Exposition.format(value))\n"
        }
    }
}
