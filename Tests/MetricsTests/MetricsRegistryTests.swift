import Dispatch
import Metrics
import TestSupport
import XCTest

final class MetricsRegistryTests: XCTestCase {
    func testCountersRenderSortedWithHelpAndType() throws {
        let registry = MetricsRegistry()
        let b = registry.counter("b_total", help: "B things.", labelNames: ["source", "status"])
        let a = registry.counter("a_total", help: "A things.")
        b.increment(labels: ["stripe", "200"])
        b.increment(by: 2, labels: ["instantly", "401"])
        b.increment(labels: ["stripe", "200"])
        a.increment(by: 0.5)
        XCTAssertEqual(registry.render(), """
            # HELP a_total A things.
            # TYPE a_total counter
            a_total 0.5
            # HELP b_total B things.
            # TYPE b_total counter
            b_total{source="instantly",status="401"} 2
            b_total{source="stripe",status="200"} 2

            """)
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.value("b_total", ["source": "stripe", "status": "200"]), 2)
        XCTAssertEqual(parsed.order, ["a_total", "b_total"])
    }

    func testLabelValuesAndHelpAreEscaped() throws {
        let registry = MetricsRegistry()
        let counter = registry.counter("weird_total", help: "Back\\slash and\nnewline.", labelNames: ["value"])
        let nasty = "a\"b\\c\nd é"
        counter.increment(labels: [nasty])
        let text = registry.render()
        XCTAssertTrue(text.contains(#"weird_total{value="a\"b\\c\nd é"} 1"#), text)
        XCTAssertTrue(text.contains(#"# HELP weird_total Back\\slash and\nnewline."#), text)
        let parsed = try ExpositionParser(text)
        XCTAssertEqual(parsed.value("weird_total", ["value": nasty]), 1)
        XCTAssertEqual(parsed.families["weird_total"]?.help, #"Back\\slash and\nnewline."#)
    }

    func testHistogramBucketsAreCumulativeWithSumAndCount() throws {
        let registry = MetricsRegistry()
        let histogram = registry.histogram("latency_seconds", help: "Latency.", labelNames: ["source"], buckets: [0.1, 1, 10])
        for value in [0.05, 0.1, 0.5, 2, 20, 30] { histogram.observe(value, labels: ["stripe"]) }
        histogram.observe(.nan, labels: ["stripe"])
        XCTAssertEqual(registry.render(), """
            # HELP latency_seconds Latency.
            # TYPE latency_seconds histogram
            latency_seconds_bucket{source="stripe",le="0.1"} 2
            latency_seconds_bucket{source="stripe",le="1"} 3
            latency_seconds_bucket{source="stripe",le="10"} 4
            latency_seconds_bucket{source="stripe",le="+Inf"} 6
            latency_seconds_sum{source="stripe"} 52.65
            latency_seconds_count{source="stripe"} 6

            """)
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.value("latency_seconds_count", ["source": "stripe"]), 6)
        XCTAssertEqual(histogram.snapshot(labels: ["stripe"]).count, 6)
    }

    func testGaugesSetAndCollectedAtScrape() throws {
        let registry = MetricsRegistry()
        let gauge = registry.gauge("info", help: "Info.", labelNames: ["version"])
        gauge.set(1, labels: ["1.2.3"])
        _ = registry.gauge("jobs", help: "Jobs.", labelNames: ["state"]) {
            [(labels: ["queued"], value: 3), (labels: ["dead"], value: 1)]
        }
        _ = registry.gauge("empty", help: "Nothing yet.")
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.value("info", ["version": "1.2.3"]), 1)
        XCTAssertEqual(parsed.value("jobs", ["state": "queued"]), 3)
        XCTAssertEqual(parsed.families["jobs"]?.samples.map { $0.labels["state"] }, ["dead", "queued"])
        XCTAssertEqual(parsed.families["empty"]?.samples.count, 0)
    }

    func testValuesFormat() {
        XCTAssertEqual(Exposition.format(3), "3")
        XCTAssertEqual(Exposition.format(0.25), "0.25")
        XCTAssertEqual(Exposition.format(.infinity), "+Inf")
        XCTAssertEqual(Exposition.format(-.infinity), "-Inf")
        XCTAssertEqual(Exposition.format(.nan), "NaN")
        XCTAssertEqual(Exposition.format(1e20), "1e+20")
        XCTAssertTrue(Exposition.isValidName("hookyard_jobs:rate5m"))
        XCTAssertFalse(Exposition.isValidName("9lives"))
        XCTAssertFalse(Exposition.isValidName("a:b", allowColon: false))
        XCTAssertFalse(Exposition.isValidName("a-b"))
    }

    func testConcurrentRecordingLosesNothing() throws {
        let registry = MetricsRegistry()
        let counter = registry.counter("hits_total", help: "Hits.", labelNames: ["worker"])
        let histogram = registry.histogram("seconds", help: "Seconds.", buckets: [0.5, 1])
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            for step in 0..<10_000 {
                counter.increment(labels: [String(index % 2)])
                histogram.observe(step.isMultiple(of: 2) ? 0.25 : 0.75)
                if step.isMultiple(of: 1000) { _ = registry.render() }
            }
        }
        let parsed = try ExpositionParser(registry.render())
        XCTAssertEqual(parsed.value("hits_total", ["worker": "0"]), 40_000)
        XCTAssertEqual(parsed.value("hits_total", ["worker": "1"]), 40_000)
        XCTAssertEqual(parsed.value("seconds_bucket", ["le": "0.5"]), 40_000)
        XCTAssertEqual(parsed.value("seconds_count"), 80_000)
        XCTAssertEqual(parsed.value("seconds_sum"), 40_000)
    }

    func testHookyardMetricsRenderStrictly() throws {
        let metrics = HookyardMetrics(version: "0.1.0") { [(labels: ["queued"], value: 0)] }
        metrics.webhooksReceived.increment(labels: ["stripe", "checkout.session.completed", "200"])
        metrics.intakeDuration.observe(0.002, labels: ["stripe"])
        metrics.outboundDuration.observe(0.2, labels: ["stripe"])
        let parsed = try ExpositionParser(metrics.registry.render())
        XCTAssertEqual(parsed.value("hookyard_build_info", ["version": "0.1.0"]), 1)
        XCTAssertEqual(parsed.families["hookyard_jobs"]?.type, "gauge")
        // 12 families (the two claim counters among them), then the alerts (raised, active), connection evictions and
        // the three deliverability rates.
        XCTAssertEqual(parsed.families.count, 18)
        XCTAssertEqual(parsed.families["hookyard_job_claims_total"]?.type, "counter")
        XCTAssertEqual(parsed.families["hookyard_jobs_claimed_total"]?.type, "counter")
        for family in ["hookyard_job_claims_total", "hookyard_jobs_claimed_total",
                       "hookyard_alerts_raised_total", "hookyard_alerts_active", "hookyard_http_connections_evicted_total",
                       "hookyard_deliverability_bounce_rate",
                       "hookyard_deliverability_unsubscribe_rate", "hookyard_deliverability_reply_rate"] {
            XCTAssertEqual(parsed.families[family]?.samples.count, 0, family)
        }
    }
}

/// The parser must itself be strict, or the tests that lean on it prove nothing.
final class ExpositionParserTests: XCTestCase {
    func testRejectsMalformedText() {
        let bad = [
            "a 1\n",  // no TYPE
            "# TYPE a counter\na 1",  // no final newline
            "# TYPE a counter\na{b=\"x\"}  1\n",  // two spaces
            "# TYPE a counter\na{b=x} 1\n",  // unquoted
            "# TYPE a counter\na{b=\"x\\t\"} 1\n",  // bad escape
            "# TYPE a counter\na{b=\"x\",b=\"y\"} 1\n",  // repeated label
            "# TYPE a counter\na{9b=\"x\"} 1\n",  // bad label name
            "# TYPE a counter\na one\n",  // bad value
            "# TYPE a counter\na 1\n# TYPE a counter\n",  // second TYPE
            "# TYPE a banana\n",  // bad type
            "# TYPE a counter\n# TYPE b counter\na 1\nb 1\na 2\n",  // interleaved
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",  // not cumulative
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  // +Inf != count
            "# TYPE a counter\n\na 1\n",  // empty line
        ]
        for text in bad {
            XCTAssertThrowsError(try ExpositionParser(text), text.debugDescription)
        }
        XCTAssertNoThrow(try ExpositionParser("# HELP a An a.\n# TYPE a gauge\na{b=\"\\\"\"} -Inf\na NaN 1700000000\n"))
    }
}
