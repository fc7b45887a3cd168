import Synchronization

/// Observations counted into fixed buckets per combination of label values, with their sum and count.
///
/// Thread-safe; one lock acquisition per `observe`. Rendered with cumulative `_bucket{le="..."}` lines ending at
/// `le="+Inf"`, then `_sum` and `_count`.
public final class Histogram: MetricFamily, Sendable {
    /// 1 ms to 10 s, for request latencies in seconds.
    public static let defaultBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public let name: String
    public let help: String
    public let labelNames: [String]
    /// Upper bounds, sorted, without `+Inf`.
    public let buckets: [Double]
    var type: String { "histogram" }

    struct Series {
        /// Per bucket (not cumulative); the last slot counts observations above every bound.
        var counts: [UInt64]
        var sum: Double = 0
    }

    private let series = Mutex<[[String]: Series]>([:])

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        checkNames(name, labelNames)
        precondition(!buckets.isEmpty && buckets.allSatisfy(\.isFinite) && zip(buckets, buckets.dropFirst()).allSatisfy { $0 < $1 },
                     "\(name): buckets must be finite and strictly increasing")
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.buckets = buckets
    }

    /// Records one observation (NaN is ignored).
    public func observe(_ value: Double, labels: [String] = []) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) label values")
        guard !value.isNaN else { return }
        let index = buckets.firstIndex { value <= $0 } ?? buckets.count
        let slots = buckets.count + 1
        series.withLock { series in
            series[labels, default: Series(counts: Array(repeating: 0, count: slots))].counts[index] += 1
            series[labels]!.sum += value
        }
    }

    /// Observations of one series so far: (count, sum).
    public func snapshot(labels: [String] = []) -> (count: UInt64, sum: Double) {
        series.withLock { series in
            guard let one = series[labels] else { return (0, 0) }
            return (one.counts.reduce(0, +), one.sum)
        }
    }

    func render(into out: inout String) {
        let samples = series.withLock { $0 }.sorted { Exposition.lexicographic($0.key, $1.key) }
        for (labels, one) in samples {
            var cumulative: UInt64 = 0
            for (bound, count) in zip(buckets, one.counts) {
                cumulative += count
                out += "\(name)_bucket\(Exposition.labels(labelNames, labels, extra: ("le", Exposition.format(bound)))) \(cumulative)\n"
            }
            cumulative += one.counts[buckets.count]
            out += "\(name)_bucket\(Exposition.labels(labelNames, labels, extra: ("le", "+Inf"))) \(cumulative)\n"
            out += "\(name)_sum\(Exposition.labels(labelNames, labels)) \(Exposition.format(one.sum))\n"
            out += "\(name)_count\(Exposition.labels(labelNames, labels)) \(cumulative)\n"
        }
    }
}
