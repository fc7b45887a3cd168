import Foundation

/// One bar of a chart: what it is called, how long it is, the text printed beside it and its tooltip.
///
/// `value` only sets the bar's length (negative values draw no bar); `valueLabel` is what a reader sees, already
/// formatted by the caller (money, percentages). All strings are user data as far as the charts are concerned:
/// they are XML-escaped on output.
public struct ChartBar: Sendable, Equatable {
    public var label: String
    public var value: Double
    public var valueLabel: String
    /// The `<title>` shown on hover; empty means "label: valueLabel".
    public var tooltip: String

    public init(label: String, value: Double, valueLabel: String, tooltip: String = "") {
        self.label = label
        self.value = value
        self.valueLabel = valueLabel
        self.tooltip = tooltip
    }

    var tooltipText: String { tooltip.isEmpty ? "\(label): \(valueLabel)" : tooltip }
}

/// One group of a grouped bar chart: a label under the group and one bar per series, in series order.
public struct ChartGroup: Sendable, Equatable {
    public var label: String
    public var bars: [ChartBar]

    public init(label: String, bars: [ChartBar]) {
        self.label = label
        self.bars = bars
    }
}

/// Renders charts as standalone inline SVG: pure functions from plain values to a string, for the report page.
///
/// Contract: the output is deterministic (same input, same bytes: no random ids, no clock, no locale), every piece
/// of text is XML-escaped, and each chart is accessible (`role="img"`, an `aria-label` and a `<title>` naming it).
/// Charts scale with their container (`viewBox`, `width="100%"`); no script, no external font or stylesheet.
/// Empty data draws a chart saying "No data". Stateless and thread-safe.
public enum SVGChart {
    /// The series colours, in order (blue, amber, green, purple, red, teal): distinguishable in grey print too.
    public static let palette = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2"]
    static let textColor = "#1f2937"
    static let mutedColor = "#6b7280"
    static let gridColor = "#e5e7eb"
    static let width = 720.0

    /// Horizontal bars, one per row, longest value spanning the plot; labels on the left (shortened with "…" past
    /// 34 characters, the full text in the tooltip), the value printed after each bar, an x axis with ticks.
    /// - Parameters:
    ///   - title: what the chart shows, for screen readers and the tooltip of the whole chart.
    ///   - axisLabel: the caption under the x axis (e.g. "Net revenue, USD").
    ///   - tickLabel: formats an axis tick value (same units as `value`).
    public static func horizontalBars(_ bars: [ChartBar], title: String, axisLabel: String,
                                      tickLabel: (Double) -> String = { number($0) }) -> String {
        guard !bars.isEmpty else { return empty(title: title) }
        let labels = bars.map { shortened($0.label, to: 34) }
        let labelWidth = min(260, max(60, Double(labels.map(\.count).max() ?? 0) * 7.2 + 12))
        let valueWidth = min(160, max(50, Double(bars.map(\.valueLabel.count).max() ?? 0) * 7.2 + 12))
        let left = labelWidth, right = width - valueWidth
        let rowHeight = 30.0, top = 10.0
        let plotHeight = Double(bars.count) * rowHeight
        let height = top + plotHeight + 52
        let scale = Axis(maximum: bars.map(\.value).max() ?? 0)
        var svg = SVGWriter(width: width, height: height, title: title)
        svg.xTicks(scale, left: left, right: right, top: top, bottom: top + plotHeight, label: tickLabel)
        for (index, bar) in bars.enumerated() {
            let y = top + Double(index) * rowHeight
            let length = scale.fraction(bar.value) * (right - left)
            svg.open("g", ["class": "bar"])
            svg.element("title", text: bar.tooltipText)
            svg.text(labels[index], x: left - 8, y: y + rowHeight / 2 + 4.5, anchor: "end")
            if length > 0 {
                svg.rect(x: left, y: y + 6, width: length, height: rowHeight - 12, fill: palette[0])
            }
            svg.text(bar.valueLabel, x: left + length + 6, y: y + rowHeight / 2 + 4.5, anchor: "start", weight: "600")
            svg.close("g")
        }
        svg.line(x1: left, y1: top, x2: left, y2: top + plotHeight, stroke: mutedColor)
        svg.text(axisLabel, x: (left + right) / 2, y: height - 8, anchor: "middle", fill: mutedColor)
        return svg.finish()
    }

    /// A funnel: one centred bar per stage, its width proportional to the stage's count (the largest is full
    /// width), the count printed on the right with, below it, the stage's share of the previous stage and of the
    /// first ("42.0% of previous · 3.1% of sent"; "n/a" after a stage of 0).
    public static func funnel(_ stages: [FunnelStage], title: String) -> String {
        guard !stages.isEmpty else { return empty(title: title) }
        let labelWidth = min(200, max(80, Double(stages.map(\.label.count).max() ?? 0) * 7.2 + 16))
        let left = labelWidth, right = width - 230
        let rowHeight = 44.0, top = 8.0
        let height = top + Double(stages.count) * rowHeight + 4
        let largest = Double(stages.map(\.count).max() ?? 0)
        var svg = SVGWriter(width: width, height: height, title: title)
        let centre = (left + right) / 2
        for (index, stage) in stages.enumerated() {
            let y = top + Double(index) * rowHeight
            let barWidth = largest > 0 ? max(2, Double(stage.count) / largest * (right - left)) : 2
            let conversion = index == 0 ? nil : conversionText(stage.count, of: stages[index - 1].count)
            svg.open("g", ["class": "stage"])
            var tip = "\(stage.label): \(number(Double(stage.count)))"
            if let conversion {
                tip += " (\(conversion) of \(stages[index - 1].label.lowercased())"
                if index > 1 { tip += ", \(conversionText(stage.count, of: stages[0].count)) of \(stages[0].label.lowercased())" }
                tip += ")"
            }
            svg.element("title", text: tip)
            svg.text(shortened(stage.label, to: 26), x: left - 10, y: y + 22, anchor: "end", weight: "600")
            svg.rect(x: centre - barWidth / 2, y: y + 6, width: barWidth, height: 26,
                     fill: palette[0], opacity: 1 - 0.12 * Double(min(index, 5)))
            svg.text(number(Double(stage.count)), x: right + 10, y: y + 22, anchor: "start", weight: "600")
            if let conversion {
                let first = stages[0].label.lowercased()
                let shares = index == 1 ? "\(conversion) of \(first)"
                    : "\(conversion) of previous · \(conversionText(stage.count, of: stages[0].count)) of \(first)"
                svg.text(shares, x: right + 10, y: y + 36, anchor: "start", fill: mutedColor, size: 11)
            }
            svg.close("g")
        }
        return svg.finish()
    }

    /// Vertical bars over ordered buckets (a histogram): bucket labels under the bars, counts on top, a y axis
    /// with gridlines.
    public static func histogram(_ bars: [ChartBar], title: String, xAxisLabel: String, yAxisLabel: String) -> String {
        groupedBars(bars.map { ChartGroup(label: $0.label, bars: [$0]) }, series: [], title: title,
                    xAxisLabel: xAxisLabel, yAxisLabel: yAxisLabel, wholeNumbers: true)
    }

    /// Vertical bars in groups: one group per `groups` entry, one bar per series inside it (colours from
    /// `palette`), values printed on top of each bar, a legend naming `series` when there are two or more.
    /// - Parameters:
    ///   - maximum: the top of the y axis; `nil` fits the largest value (use 1 for shares, so 100% is the top).
    ///   - wholeNumbers: the values are counts: ticks are whole numbers.
    ///   - tickLabel: formats a y tick value.
    public static func groupedBars(_ groups: [ChartGroup], series: [String], title: String, xAxisLabel: String,
                                   yAxisLabel: String, maximum: Double? = nil, wholeNumbers: Bool = false,
                                   tickLabel: (Double) -> String = { number($0) }) -> String {
        guard !groups.isEmpty, groups.contains(where: { !$0.bars.isEmpty }) else { return empty(title: title) }
        let barsPerGroup = max(1, groups.map(\.bars.count).max() ?? 1)
        let legendHeight = series.count > 1 ? 26.0 : 0
        let left = 64.0, right = width - 12, top = 22.0 + legendHeight
        let plotHeight = 220.0
        let bottom = top + plotHeight
        let height = bottom + 62
        let scale = Axis(maximum: maximum ?? groups.flatMap(\.bars).map(\.value).max() ?? 0, wholeNumbers: wholeNumbers)
        var svg = SVGWriter(width: width, height: height, title: title)
        if series.count > 1 {
            var x = left
            for (index, name) in series.enumerated() {
                svg.rect(x: x, y: 6, width: 12, height: 12, fill: palette[index % palette.count])
                svg.text(name, x: x + 18, y: 16.5, anchor: "start")
                x += 18 + Double(name.count) * 7.2 + 24
            }
        }
        svg.yTicks(scale, left: left, right: right, top: top, bottom: bottom, label: tickLabel)
        let slot = (right - left) / Double(groups.count)
        let barWidth = min(56, slot * 0.8 / Double(barsPerGroup))
        let labelLimit = max(4, Int(slot / 6.6))
        for (groupIndex, group) in groups.enumerated() {
            let groupLeft = left + slot * Double(groupIndex) + (slot - barWidth * Double(barsPerGroup)) / 2
            for (index, bar) in group.bars.enumerated() {
                let x = groupLeft + barWidth * Double(index)
                let barHeight = scale.fraction(bar.value) * plotHeight
                svg.open("g", ["class": "bar"])
                svg.element("title", text: bar.tooltipText)
                if barHeight > 0 {
                    svg.rect(x: x + 1, y: bottom - barHeight, width: barWidth - 2, height: barHeight,
                             fill: palette[(series.isEmpty ? 0 : index) % palette.count])
                }
                svg.text(bar.valueLabel, x: x + barWidth / 2, y: bottom - barHeight - 5, anchor: "middle",
                         weight: "600", size: barsPerGroup > 2 ? 10 : 12)
                svg.close("g")
            }
            svg.text(shortened(group.label, to: labelLimit), x: left + slot * (Double(groupIndex) + 0.5), y: bottom + 18,
                     anchor: "middle")
        }
        svg.line(x1: left, y1: bottom, x2: right, y2: bottom, stroke: mutedColor)
        svg.text(xAxisLabel, x: (left + right) / 2, y: height - 10, anchor: "middle", fill: mutedColor)
        svg.text(yAxisLabel, x: 14, y: (top + bottom) / 2, anchor: "middle", fill: mutedColor,
                 transform: "rotate(-90 14 \(number(coordinate: (top + bottom) / 2)))")
        return svg.finish()
    }

    /// A chart frame saying "No data", so a section keeps its place and says why it is empty.
    static func empty(title: String) -> String {
        var svg = SVGWriter(width: width, height: 60, title: title)
        svg.rect(x: 0.5, y: 0.5, width: width - 1, height: 59, fill: "#f9fafb", stroke: gridColor)
        svg.text("No data in this period", x: width / 2, y: 35, anchor: "middle", fill: mutedColor)
        return svg.finish()
    }

    /// "42.0%" (`part` of `whole`, one decimal), or "n/a" when `whole` is 0.
    static func conversionText(_ part: Int, of whole: Int) -> String {
        whole > 0 ? percent(Double(part) / Double(whole)) : "n/a"
    }

    /// A share (0.123) as a percentage with one decimal ("12.3%"), rounded half away from zero.
    public static func percent(_ share: Double) -> String {
        "\(fixed(share * 100, decimals: 1))%"
    }

    /// A count or axis value: thousands separated by commas, up to one decimal when not whole ("12,345", "2.5").
    /// Any Double is accepted: values beyond 64 bits are printed from the Double's own digits, never converted.
    public static func number(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        guard tenths.truncatingRemainder(dividingBy: 10) == 0 else { return fixed(value, decimals: 1) }
        guard let whole = Int64(exactly: tenths / 10) else { return fixed(value, decimals: 0) }
        return grouped(whole)
    }

    /// `value` with exactly `decimals` decimals and comma-separated thousands, independent of the locale. Any Double
    /// is accepted: one too large for 64-bit arithmetic is printed whole from its own digits (its fraction is below
    /// a Double's precision there), infinity as "∞" and NaN as "n/a"; nothing traps.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : value < 0 ? "-∞" : "∞" }
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        guard let scaled = Int64(exactly: (abs(value) * factor).rounded()) else { return hugeWhole(value) }
        let whole = grouped(scaled / Int64(factor))
        let negative = value < 0 && scaled != 0
        guard decimals > 0 else { return (negative ? "-" : "") + whole }
        let fraction = String(scaled % Int64(factor))
        return (negative ? "-" : "") + whole + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }

    /// A finite Double beyond `Int64` as its whole digits with commas ("92,233,720,368,547,758,080"): `%.0f` of
    /// the POSIX printf, which prints every integer digit of a Double exactly.
    static func hugeWhole(_ value: Double) -> String {
        let digits = String(format: "%.0f", value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }

    /// `value` with commas between thousands ("-1,234,567").
    public static func grouped(_ value: Int64) -> String {
        value < 0 ? "-" + grouped(value.magnitude) : grouped(value.magnitude)
    }

    /// A magnitude with commas between thousands ("1,234,567").
    static func grouped(_ value: UInt64) -> String {
        let digits = String(value)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    /// `text` cut to `limit` characters, ending in "…" (after no space) when cut.
    static func shortened(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        var kept = text.prefix(max(1, limit - 1))
        while kept.count > 1, kept.last?.isWhitespace == true { kept.removeLast() }
        return kept + "…"
    }

    /// An SVG coordinate: at most one decimal, no exponent, "-0" never printed.
    static func number(coordinate value: Double) -> String {
        // Coordinates are bounded by the layout; a value that is not (NaN, beyond 64 bits) is drawn at 0, not trapped on.
        let tenths = Int64(exactly: (value * 10).rounded()) ?? 0
        if tenths % 10 == 0 { return String(tenths / 10) }
        return (tenths < 0 ? "-" : "") + "\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }
}

/// A linear axis from 0 in round steps (1, 2, 2.5 or 5 times a power of ten; 1, 2 or 5 for whole numbers, never
/// below 1): the smallest step that reaches the largest value in at most six intervals, so bars use most of the
/// plot and there are two to seven ticks.
struct Axis {
    let maximum: Double
    let step: Double

    init(maximum value: Double, wholeNumbers: Bool = false) {
        guard value > 0, value.isFinite else {
            maximum = wholeNumbers ? 4 : 1
            step = wholeNumbers ? 1 : 0.25
            return
        }
        // A power of ten at or below a sixth of the value: the first candidate steps are its multiples.
        var power = 1.0
        while power * 10 <= value / 6 { power *= 10 }
        while power > value / 6 { power /= 10 }
        if wholeNumbers { power = max(1, power) }
        let multiples: [Double] = wholeNumbers ? [1, 2, 5] : [1, 2, 2.5, 5]
        var chosen = 10 * power
        search: for scale in [power, 10 * power, 100 * power] {
            for multiple in multiples where (value / (multiple * scale)).rounded(.up) <= 6 {
                chosen = multiple * scale
                break search
            }
        }
        let top = (value / chosen).rounded(.up) * chosen
        // Near the top of Double's range a round step overflows to infinity: then a plain axis in four steps.
        let finite = top.isFinite && chosen.isFinite
        step = finite ? chosen : value / 4
        maximum = finite ? top : value
    }

    /// Where `value` falls on the axis, 0...1 (negative values clamp to 0).
    func fraction(_ value: Double) -> Double { value > 0 ? min(1, value / maximum) : 0 }

    var ticks: [Double] {
        (0...Int((maximum / step).rounded())).map { Double($0) * step }
    }
}

/// Accumulates one SVG document; every attribute value and text node goes through `escape`.
struct SVGWriter {
    private var out: String

    init(width: Double, height: Double, title: String) {
        let w = SVGChart.number(coordinate: width), h = SVGChart.number(coordinate: height)
        out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(w) \(h)\" width=\"100%\" role=\"img\""
            + " aria-label=\"\(Self.escape(title))\" class=\"chart\" font-size=\"12\" fill=\"\(SVGChart.textColor)\">"
        out += "<title>\(Self.escape(title))</title>"
    }

    static func escape(_ text: String) -> String { Markup.escape(text) }

    mutating func open(_ name: String, _ attributes: [String: String] = [:]) {
        out += "<\(name)"
        for key in attributes.keys.sorted() { out += " \(key)=\"\(Self.escape(attributes[key]!))\"" }
        out += ">"
    }

    mutating func close(_ name: String) { out += "</\(name)>" }

    mutating func element(_ name: String, text: String) {
        out += "<\(name)>\(Self.escape(text))</\(name)>"
    }

    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil,
                       opacity: Double = 1) {
        let c = SVGChart.number(coordinate:)
        out += "<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(width))\" height=\"\(c(height))\" fill=\"\(fill)\""
        if let stroke { out += " stroke=\"\(stroke)\"" }
        if opacity < 1 { out += " fill-opacity=\"\(SVGChart.number(coordinate: opacity * 100))%\"" }
        out += "/>"
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String) {
        let c = SVGChart.number(coordinate:)
        out += "<line x1=\"\(c(x1))\" y1=\"\(c(y1))\" x2=\"\(c(x2))\" y2=\"\(c(y2))\" stroke=\"\(stroke)\"/>"
    }

    mutating func text(_ content: String, x: Double, y: Double, anchor: String, fill: String? = nil,
                       weight: String? = nil, size: Double? = nil, transform: String? = nil) {
        let c = SVGChart.number(coordinate:)
        out += "<text x=\"\(c(x))\" y=\"\(c(y))\" text-anchor=\"\(anchor)\""
        if let fill { out += " fill=\"\(fill)\"" }
        if let weight { out += " font-weight=\"\(weight)\"" }
        if let size { out += " font-size=\"\(c(size))\"" }
        if let transform { out += " transform=\"\(transform)\"" }
        out += ">\(Self.escape(content))</text>"
    }

    /// Vertical gridlines with tick labels under a horizontal plot.
    mutating func xTicks(_ axis: Axis, left: Double, right: Double, top: Double, bottom: Double, label: (Double) -> String) {
        for tick in axis.ticks {
            let x = left + tick / axis.maximum * (right - left)
            line(x1: x, y1: top, x2: x, y2: bottom, stroke: SVGChart.gridColor)
            text(label(tick), x: x, y: bottom + 16, anchor: "middle", fill: SVGChart.mutedColor, size: 11)
        }
    }

    /// Horizontal gridlines with tick labels left of a vertical plot.
    mutating func yTicks(_ axis: Axis, left: Double, right: Double, top: Double, bottom: Double, label: (Double) -> String) {
        for tick in axis.ticks {
            let y = bottom - tick / axis.maximum * (bottom - top)
            line(x1: left, y1: y, x2: right, y2: y, stroke: SVGChart.gridColor)
            text(label(tick), x: left - 6, y: y + 4, anchor: "end", fill: SVGChart.mutedColor, size: 11)
        }
    }

    mutating func finish() -> String {
        out += "</svg>"
        return out
    }
}

/// Escaping for the markup the report page writes. Stateless.
enum Markup {
    /// `text` with `&`, `<`, `>`, `"` and `'` replaced by entities: safe in text nodes and quoted attributes, in
    /// SVG and in HTML.
    static func escape(_ text: String) -> String {
        guard text.contains(where: { "&<>\"'".contains($0) }) else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 16)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
