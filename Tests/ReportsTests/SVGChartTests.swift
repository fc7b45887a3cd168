import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Reports

/// The charts of the report page: escaping, determinism, accessibility, geometry and number formatting.
final class SVGChartTests: XCTestCase {
    /// Every chart kind, each with a label that tries to break out of the SVG.
    private let hostile = "<script>alert(\"x\")</script> & 'co'"

    /// A funnel stage with any label (the model's stages carry fixed labels).
    private func stage(_ label: String, _ count: Int) -> FunnelStage {
        var stage = FunnelStage(stage: .sent, count: count)
        stage.label = label
        return stage
    }

    private func allCharts(label: String) -> [String] {
        let bar = ChartBar(label: label, value: 5, valueLabel: "USD 5.00")
        return [
            SVGChart.horizontalBars([bar], title: label, axisLabel: label),
            SVGChart.funnel([stage(label, 10), stage("Paid", 2)], title: label),
            SVGChart.histogram([bar], title: label, xAxisLabel: label, yAxisLabel: label),
            SVGChart.groupedBars([ChartGroup(label: label, bars: [bar, bar])], series: [label, "Treated"], title: label,
                                 xAxisLabel: label, yAxisLabel: label),
            SVGChart.empty(title: label),
        ]
    }

    func testUserTextIsEscapedEverywhere() throws {
        for svg in allCharts(label: hostile) {
            XCTAssertFalse(svg.contains("<script"), svg)
            XCTAssertFalse(svg.contains("\"x\""), svg)
            XCTAssertTrue(svg.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;"), svg)
            // The document parses as XML: the escaping leaves no stray markup.
            let parser = XMLParser(data: Data(svg.utf8))
            XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "") in \(svg)")
        }
    }

    func testChartsAreAccessibleAndDeterministic() {
        let first = allCharts(label: "Spring launch")
        XCTAssertEqual(first, allCharts(label: "Spring launch"))
        for svg in first {
            XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 "), svg)
            XCTAssertTrue(svg.contains("role=\"img\" aria-label=\"Spring launch\""), svg)
            XCTAssertTrue(svg.contains("><title>Spring launch</title>"), svg)
            XCTAssertFalse(svg.contains("script"), svg)
            XCTAssertFalse(svg.contains("href"), svg)
        }
    }

    func testHorizontalBarsScaleToTheRoundedAxis() {
        // Largest value 80 -> axis 0...80 in four steps of 20.
        let svg = SVGChart.horizontalBars([ChartBar(label: "alpha", value: 80, valueLabel: "80"),
                                           ChartBar(label: "beta", value: 20, valueLabel: "20", tooltip: "beta: 20 orders")],
                                          title: "Orders", axisLabel: "Orders")
        // Label column: max(60, 5 chars * 7.2 + 12) = 60; value column max(50, 2 * 7.2 + 12) = 50: the plot runs
        // from 60 to 670 (610 px); rows of 30 px from y 10, bars inset 6 px.
        XCTAssertTrue(svg.contains("<rect x=\"60\" y=\"16\" width=\"610\" height=\"18\""), svg)  // 80/80 of 610
        XCTAssertTrue(svg.contains("<rect x=\"60\" y=\"46\" width=\"152.5\" height=\"18\""), svg)  // 20/80 of 610
        XCTAssertTrue(svg.contains("<title>alpha: 80</title>"), svg)
        XCTAssertTrue(svg.contains("<title>beta: 20 orders</title>"), svg)
        for tick in ["0", "20", "40", "60", "80"] { XCTAssertTrue(svg.contains(">\(tick)</text>"), "\(tick) in \(svg)") }
    }

    func testNegativeAndZeroValuesDrawNoBarButKeepTheirLabel() {
        let svg = SVGChart.horizontalBars([ChartBar(label: "refunded", value: -300, valueLabel: "USD -3.00"),
                                           ChartBar(label: "nothing", value: 0, valueLabel: "USD 0.00")],
                                          title: "Revenue", axisLabel: "USD")
        XCTAssertFalse(svg.contains("fill=\"#2563eb\""), svg)
        XCTAssertTrue(svg.contains(">USD -3.00</text>"), svg)
        XCTAssertTrue(svg.contains(">USD 0.00</text>"), svg)
    }

    func testFunnelPrintsCountsAndConversionBetweenStages() {
        let svg = SVGChart.funnel([stage("Emails sent", 12_400), stage("Clicked", 310), stage("Paid", 31),
                                   stage("Renewed", 0), stage("After", 0)], title: "Funnel")
        XCTAssertTrue(svg.contains(">12,400</text>"), svg)
        XCTAssertTrue(svg.contains(">2.5% of emails sent</text>"), svg)  // 310 / 12,400
        XCTAssertTrue(svg.contains(">10.0% of previous · 0.3% of emails sent</text>"), svg)  // 31 / 310, 31 / 12,400
        XCTAssertTrue(svg.contains(">0.0% of previous · 0.0% of emails sent</text>"), svg)
        XCTAssertTrue(svg.contains(">n/a of previous · 0.0% of emails sent</text>"), svg)  // after a stage of 0
        XCTAssertTrue(svg.contains("<title>Paid: 31 (10.0% of clicked, 0.3% of emails sent)</title>"), svg)
    }

    func testGroupedBarsUseOneColourPerSeriesAndALegend() {
        let svg = SVGChart.groupedBars([ChartGroup(label: "welcome", bars: [ChartBar(label: "control", value: 0.1, valueLabel: "10.0%"),
                                                                             ChartBar(label: "treated", value: 0.25, valueLabel: "25.0%")])],
                                       series: ["Control", "Treated"], title: "Conversion", xAxisLabel: "Rule",
                                       yAxisLabel: "Converted", maximum: 1, tickLabel: { SVGChart.percent($0) })
        XCTAssertTrue(svg.contains(">Control</text>") && svg.contains(">Treated</text>"), svg)
        XCTAssertTrue(svg.contains("fill=\"\(SVGChart.palette[0])\"") && svg.contains("fill=\"\(SVGChart.palette[1])\""), svg)
        XCTAssertTrue(svg.contains(">100.0%</text>"), svg)  // the axis top is the given maximum
        // Plot 220 px high: 25% is 55 px, 10% is 22 px.
        XCTAssertTrue(svg.contains("height=\"55\""), svg)
        XCTAssertTrue(svg.contains("height=\"22\""), svg)
    }

    func testEmptyDataSaysSo() {
        for svg in [SVGChart.horizontalBars([], title: "t", axisLabel: "a"), SVGChart.funnel([], title: "t"),
                    SVGChart.histogram([], title: "t", xAxisLabel: "x", yAxisLabel: "y"),
                    SVGChart.groupedBars([ChartGroup(label: "g", bars: [])], series: [], title: "t", xAxisLabel: "x", yAxisLabel: "y")] {
            XCTAssertTrue(svg.contains(">No data in this period</text>"), svg)
        }
    }

    func testLongLabelsAreShortenedWithTheFullTextInTheTooltip() {
        let long = "An extraordinarily long campaign name that goes on and on"
        let svg = SVGChart.horizontalBars([ChartBar(label: long, value: 1, valueLabel: "1")], title: "t", axisLabel: "a")
        XCTAssertTrue(svg.contains(">An extraordinarily long campaign…</text>"), svg)
        XCTAssertTrue(svg.contains("<title>\(long): 1</title>"), svg)
    }

    func testAxisRounding() {
        func ticks(_ value: Double, whole: Bool = false) -> [Double] { Axis(maximum: value, wholeNumbers: whole).ticks }
        XCTAssertEqual(ticks(80), [0, 20, 40, 60, 80])
        XCTAssertEqual(ticks(557), [0, 100, 200, 300, 400, 500, 600])
        XCTAssertEqual(ticks(1_480), [0, 250, 500, 750, 1_000, 1_250, 1_500])
        XCTAssertEqual(ticks(130), [0, 25, 50, 75, 100, 125, 150])
        XCTAssertEqual(ticks(230), [0, 50, 100, 150, 200, 250])
        XCTAssertEqual(ticks(1), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        XCTAssertEqual(Axis(maximum: 0.37).maximum, 0.4, accuracy: 1e-12)
        XCTAssertEqual(Axis(maximum: 0).maximum, 1)
        // Counts: whole ticks only.
        XCTAssertEqual(ticks(7, whole: true), [0, 2, 4, 6, 8])
        XCTAssertEqual(ticks(3, whole: true), [0, 1, 2, 3])
        XCTAssertEqual(ticks(0, whole: true), [0, 1, 2, 3, 4])
        XCTAssertEqual(ticks(44, whole: true), [0, 10, 20, 30, 40, 50])
        XCTAssertEqual(ticks(18, whole: true), [0, 5, 10, 15, 20])
        XCTAssertEqual(ticks(0.5, whole: true), [0, 1])
    }

    func testNumberFormatting() {
        XCTAssertEqual(SVGChart.number(1_234_567), "1,234,567")
        XCTAssertEqual(SVGChart.number(2.5), "2.5")
        XCTAssertEqual(SVGChart.number(-1_000), "-1,000")
        XCTAssertEqual(SVGChart.percent(0.1234), "12.3%")
        XCTAssertEqual(SVGChart.percent(0.00049), "0.0%")
        XCTAssertEqual(SVGChart.percent(1), "100.0%")
        XCTAssertEqual(SVGChart.fixed(-0.004, decimals: 2), "0.00")
        XCTAssertEqual(SVGChart.fixed(1234.5, decimals: 2), "1,234.50")
        XCTAssertEqual(SVGChart.fixed(-3.25, decimals: 1), "-3.3")
        XCTAssertEqual(SVGChart.number(coordinate: 12.34), "12.3")
        XCTAssertEqual(SVGChart.number(coordinate: -0.04), "0")
    }
}
