// Differential libFuzzer target for JSON (issue 13, item 20): intake's `JSONObjectScanner` and the workers'
// `JSONValue.parse` must accept exactly the same bodies (whose top level is an object) and decode the same values.
// Built by scripts/fuzz.sh with the StrictJSON sources into one module: see docs/security.md, "Fuzzing".
//
// Checked on every input (any bytes):
//   - neither crashes;
//   - both accept or both refuse; when both refuse a body that starts with `{`, they stop at the same byte for the
//     same reason;
//   - accepted: the same keys, and each top-level string, number, boolean and null the scanner returns is the value
//     the parser gives (numbers through `JSONValue.decodeNumber`), nested values are arrays or objects;
//   - every decoded string is valid Unicode (Swift strings always are) and survives serialisation: parsing
//     `JSONValue.serialized()` gives the same value back.

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// Numbers compare by what they decode to; `serialized()` writes some fractions as integers (`2.0` as `2`).
func sameAfterRoundTrip(_ left: JSONValue, _ right: JSONValue) -> Bool {
    switch (left, right) {
    case (.integer(let a), .number(let b)), (.number(let b), .integer(let a)): return Double(a) == b
    case (.number(let a), .number(let b)): return a == b
    case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy(sameAfterRoundTrip)
    case (.object(let a), .object(let b)):
        return a.count == b.count && a.allSatisfy { key, value in b[key].map { sameAfterRoundTrip(value, $0) } ?? false }
    default: return left == right
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONDifferential(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let scanned = Result { () throws(JSONValue.ParseError) in try JSONObjectScanner.scan(body) }
    let parsed = Result { () throws(JSONValue.ParseError) in try JSONValue.parse(body) }
    let startsWithObject = body.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{")
    switch (scanned, parsed) {
    case (.success(let members), .success(let value)):
        guard case .object(let object) = value else { fatalError("the scanner accepted a non-object: \(value)") }
        check(Set(members.keys) == Set(object.keys), "keys differ: \(members.keys.sorted()) vs \(object.keys.sorted())")
        for (key, member) in members {
            let decoded = object[key]!
            switch member {
            case .string(let text): check(decoded == .string(text), "\(key): scanner \(text.debugDescription), parser \(decoded)")
            case .number(let text):
                check(JSONValue.decodeNumber(text) == decoded, "\(key): scanner \(text), parser \(decoded)")
            case .bool(let flag): check(decoded == .bool(flag), "\(key): scanner \(flag), parser \(decoded)")
            case .null: check(decoded == .null, "\(key): scanner null, parser \(decoded)")
            case .nested:
                switch decoded {
                case .array, .object: break
                default: fatalError("\(key): scanner nested, parser \(decoded)")
                }
            }
        }
        let again = try? JSONValue.parse(value.serialized())
        check(again.map { sameAfterRoundTrip($0, value) } ?? false, "serialising and parsing again changed \(value) into \(String(describing: again))")
    case (.failure(let scanError), .failure(let parseError)):
        if startsWithObject { check(scanError == parseError, "different errors: scanner \(scanError), parser \(parseError)") }
    case (.failure(let scanError), .success(let value)):
        if case .object = value { fatalError("intake refuses what the workers parse (\(scanError)): \(value)") }
    case (.success, .failure(let parseError)):
        fatalError("intake accepts what the workers refuse: \(parseError)")
    }
    return 0
}
