import Synchronization

/// A set of metric families rendered together in the Prometheus text exposition format (version 0.0.4).
///
/// Create the metrics once at start (`counter`, `gauge`, `histogram`), keep the returned objects, and record on
/// them from any thread. `render()` writes every family sorted by name, and every sample of a family sorted by its
/// label values, so two scrapes of the same state are byte for byte the same.
///
/// Thread-safe. Registering two families with one name is a programmer error and traps.
public final class MetricsRegistry: Sendable {
    /// Guards the list of families; recording never takes this lock, only registration and `render()`.
    private let families = Mutex<[String: any MetricFamily]>([:])

    public init() {}

    /// A new counter registered under `name`. - Precondition: `name` and `labelNames` are valid and unused.
    public func counter(_ name: String, help: String, labelNames: [String] = []) -> Counter {
        register(Counter(name: name, help: help, labelNames: labelNames))
    }

    /// A new gauge registered under `name`, set with `Gauge.set`. `collect`, when given, is called at every
    /// scrape (on the scraping thread) and its samples replace the set values: use it for values read from
    /// elsewhere, such as queue depth from the database.
    public func gauge(_ name: String, help: String, labelNames: [String] = [],
                      collect: (@Sendable () -> [(labels: [String], value: Double)])? = nil) -> Gauge {
        register(Gauge(name: name, help: help, labelNames: labelNames, collect: collect))
    }

    /// A new histogram with fixed upper bounds `buckets` (sorted, finite; `+Inf` is implied).
    public func histogram(_ name: String, help: String, labelNames: [String] = [],
                          buckets: [Double] = Histogram.defaultBuckets) -> Histogram {
        register(Histogram(name: name, help: help, labelNames: labelNames, buckets: buckets))
    }

    private func register<Family: MetricFamily>(_ family: Family) -> Family {
        families.withLock { families in
            precondition(families[family.name] == nil, "metric \(family.name) registered twice")
            families[family.name] = family
        }
        return family
    }

    /// Every family in the text exposition format 0.0.4, `# HELP` and `# TYPE` first, families sorted by name.
    /// - Complexity: O(samples · log samples); gauges with a `collect` closure run it.
    public func render() -> String {
        let sorted = families.withLock { $0.values.sorted { $0.name < $1.name } }
        var out = ""
        for family in sorted {
            out += "# HELP \(family.name) \(Exposition.escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.type)\n"
            family.render(into: &out)
        }
        return out
    }
}

/// One named metric with its samples.
protocol MetricFamily: Sendable {
    var name: String { get }
    var help: String { get }
    /// `counter`, `gauge` or `histogram`.
    var type: String { get }
    /// Appends the sample lines (not the HELP and TYPE lines).
    func render(into out: inout String)
}

/// Names, escaping and number formatting of the text exposition format.
public enum Exposition {
    /// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*` (label names must in addition not contain `:`).
    public static func isValidName(_ name: String, allowColon: Bool = true) -> Bool {
        guard let first = name.utf8.first, !isDigit(first) else { return false }
        return name.utf8.allSatisfy { byte in
            isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_") || (allowColon && byte == UInt8(ascii: ":"))
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// A label value with `\`, `"` and newline escaped.
    public static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
        else { return value }
        var out = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// HELP text with `\` and newline escaped.
    public static func escapeHelp(_ text: String) -> String {
        text.replacingBackslashesAndNewlines()
    }

    /// A sample value: whole numbers without a fraction, `+Inf`, `-Inf`, `NaN`.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// `{a="x",b="y"}` (or nothing without labels), `extra` appended last (the histogram's `le`).
    static func labels(_ names: [String], _ values: [String], extra: (String, String)? = nil) -> String {
        var pairs = zip(names, values).map { "\($0)=\"\(escapeLabelValue($1))\"" }
        if let extra { pairs.append("\(extra.0)=\"\(extra.1)\"") }
        return pairs.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}"
    }

    static func lexicographic(_ a: [String], _ b: [String]) -> Bool { a.lexicographicallyPrecedes(b) }
}

extension String {
    fileprivate func replacingBackslashesAndNewlines() -> String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

func checkNames(_ name: String, _ labelNames: [String]) {
    precondition(Exposition.isValidName(name), "invalid metric name \(name)")
    for label in labelNames {
        precondition(Exposition.isValidName(label, allowColon: false) && !label.hasPrefix("__") && label != "le",
                     "invalid label name \(label) for \(name)")
    }
    precondition(Set(labelNames).count == labelNames.count, "duplicate label name for \(name)")
}
