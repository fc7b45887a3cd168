/// A strict parser of the Prometheus text exposition format 0.0.4, for tests: it rejects anything the format does
/// not allow instead of skipping it.
///
/// Checks: every line is `# HELP name text`, `# TYPE name type`, another comment, or a sample
/// `name{label="value",...} value [timestamp]`; names match `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels without `:`);
/// label values use only the escapes `\\`, `\"`, `\n`; no label repeats; values are floats, `+Inf`, `-Inf` or
/// `NaN`; each family has at most one HELP and one TYPE, the TYPE before its first sample, and its samples in one
/// block; histogram buckets are cumulative per series, end with `le="+Inf"`, and that bucket equals `_count`.
public struct ExpositionParser {
    public struct Sample: Equatable, Sendable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public struct Family: Sendable {
        public var name: String
        public var type: String
        public var help: String?
        public var samples: [Sample]
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public private(set) var families: [String: Family] = [:]
    /// Families in the order they appeared.
    public private(set) var order: [String] = []

    public init(_ text: String) throws(ParseError) {
        guard text.isEmpty || text.hasSuffix("\n") else { throw ParseError(line: 0, message: "text must end with a newline") }
        var finished: Set<String> = []
        var current: String?
        var helps: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = index + 1
            let line = String(rawLine)
            func fail(_ message: String) -> ParseError { ParseError(line: number, message: "\(message): \(line)") }
            if line.isEmpty { throw fail("empty line") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 2, parts[0] == "#" else { throw fail("comment must start with '# '") }
                switch parts[1] {
                case "HELP":
                    guard parts.count >= 3, Self.isName(parts[2]) else { throw fail("bad HELP") }
                    let name = parts[2]
                    guard helps[name] == nil else { throw fail("second HELP for \(name)") }
                    let help = parts.count == 4 ? parts[3] : ""
                    try Self.checkEscapes(help, allowQuote: false, line: number)
                    helps[name] = help
                    families[name]?.help = help
                case "TYPE":
                    guard parts.count == 4, Self.isName(parts[2]),
                          ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else { throw fail("bad TYPE") }
                    let name = parts[2]
                    guard families[name] == nil else { throw fail("second TYPE for \(name), or TYPE after its samples") }
                    families[name] = Family(name: name, type: parts[3], help: helps[name], samples: [])
                    order.append(name)
                    if let current, current != name { finished.insert(current) }
                    current = name
                default:
                    continue  // another comment
                }
                continue
            }
            let sample = try Self.parseSample(line, number: number)
            guard let family = Self.family(of: sample.name, in: families) else {
                throw fail("sample without a TYPE line before it")
            }
            guard !finished.contains(family) else { throw fail("samples of \(family) are not in one block") }
            if let current, current != family { finished.insert(current) }
            current = family
            families[family]!.samples.append(sample)
        }
        for family in families.values where family.type == "histogram" { try Self.checkHistogram(family) }
    }

    /// The family a sample belongs to: its own name, or for histograms and summaries the name without its suffix.
    static func family(of name: String, in families: [String: Family]) -> String? {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let family = families[base], family.type == "histogram" || (family.type == "summary" && suffix != "_bucket") {
                return base
            }
        }
        if let family = families[name], family.type != "histogram" { return name }
        return nil
    }

    public static func isName(_ name: String, label: Bool = false) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
                || (!label && scalar == ":")
        }
    }

    static func checkEscapes(_ text: String, allowQuote: Bool, line: Int) throws(ParseError) {
        var iterator = text.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            if scalar == "\\" {
                guard let next = iterator.next(), next == "\\" || next == "n" || (allowQuote && next == "\"") else {
                    throw ParseError(line: line, message: "invalid escape in \(text)")
                }
            }
        }
    }

    static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard !text.isEmpty, text.allSatisfy({ "0123456789.eE+-".contains($0) }), let value = Double(text), value.isFinite else {
                return nil
            }
            return value
        }
    }

    static func parseSample(_ line: String, number: Int) throws(ParseError) -> Sample {
        func fail(_ message: String) -> ParseError { ParseError(line: number, message: "\(message): \(line)") }
        let scalars = Array(line.unicodeScalars)
        var position = 0
        var name = ""
        while position < scalars.count, scalars[position] != "{", scalars[position] != " " {
            name.unicodeScalars.append(scalars[position]); position += 1
        }
        guard isName(name) else { throw fail("invalid metric name '\(name)'") }
        var labels: [String: String] = [:]
        if position < scalars.count, scalars[position] == "{" {
            position += 1
            while true {
                guard position < scalars.count else { throw fail("unterminated label set") }
                if scalars[position] == "}" { position += 1; break }
                var label = ""
                while position < scalars.count, scalars[position] != "=" { label.unicodeScalars.append(scalars[position]); position += 1 }
                guard isName(label, label: true), !label.hasPrefix("__") else { throw fail("invalid label name '\(label)'") }
                guard position + 1 < scalars.count, scalars[position + 1] == "\"" else { throw fail("label value must be quoted") }
                position += 2
                var value = ""
                var closed = false
                while position < scalars.count {
                    let scalar = scalars[position]
                    position += 1
                    if scalar == "\"" { closed = true; break }
                    if scalar == "\\" {
                        guard position < scalars.count else { break }
                        switch scalars[position] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw fail("invalid escape in label value")
                        }
                        position += 1
                    } else {
                        value.unicodeScalars.append(scalar)
                    }
                }
                guard closed else { throw fail("unterminated label value") }
                guard labels.updateValue(value, forKey: label) == nil else { throw fail("label \(label) repeated") }
                guard position < scalars.count else { throw fail("unterminated label set") }
                if scalars[position] == "," { position += 1 } else if scalars[position] != "}" { throw fail("expected ',' or '}'") }
            }
        }
        guard position < scalars.count, scalars[position] == " " else { throw fail("expected one space before the value") }
        position += 1
        var rest = ""
        rest.unicodeScalars.append(contentsOf: scalars[position...])
        let fields = rest.split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(fields.count), let value = parseValue(fields[0]) else { throw fail("invalid value") }
        if fields.count == 2, Int64(fields[1]) == nil { throw fail("invalid timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    static func checkHistogram(_ family: Family) throws(ParseError) {
        func fail(_ message: String) -> ParseError { ParseError(line: 0, message: "\(family.name): \(message)") }
        var buckets: [[String: String]: [(Double, Double)]] = [:]
        var counts: [[String: String]: Double] = [:]
        var sums: Set<[String: String]> = []
        for sample in family.samples {
            var series = sample.labels
            if sample.name == family.name + "_bucket" {
                guard let le = series.removeValue(forKey: "le"), let bound = parseValue(Substring(le)) else { throw fail("bucket without a valid le") }
                buckets[series, default: []].append((bound, sample.value))
            } else if sample.name == family.name + "_count" {
                counts[series] = sample.value
            } else if sample.name == family.name + "_sum" {
                sums.insert(series)
            }
        }
        for (series, list) in buckets {
            guard zip(list, list.dropFirst()).allSatisfy({ $0.0 < $1.0 && $0.1 <= $1.1 }) else {
                throw fail("buckets of \(series) not increasing and cumulative")
            }
            guard let last = list.last, last.0 == .infinity else { throw fail("buckets of \(series) do not end with le=\"+Inf\"") }
            guard counts[series] == last.1 else { throw fail("+Inf bucket of \(series) differs from _count") }
            guard sums.contains(series) else { throw fail("no _sum for \(series)") }
        }
        guard Set(counts.keys) == Set(buckets.keys) else { throw fail("_count without buckets or buckets without _count") }
    }

    /// The value of the sample named `name` with exactly `labels`, if present.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        guard let family = Self.family(of: name, in: families) else { return nil }
        return families[family]?.samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
