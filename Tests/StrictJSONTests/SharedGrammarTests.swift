import Foundation
import StrictJSON
import XCTest

/// Intake's scanner and the workers' parser read JSON by one grammar (issue 13, items 6 and 20): the same bodies
/// are accepted, with the same values.
final class SharedGrammarTests: XCTestCase {
    /// The scanner's members as the parser's values (numbers decoded; nested values compared as such).
    private func agree(_ text: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        let scanned = Result { () throws(JSONValue.ParseError) in try JSONObjectScanner.scan(text) }
        let parsed = Result { () throws(JSONValue.ParseError) in try JSONValue.parse(text) }
        switch (scanned, parsed) {
        case (.success(let members), .success(.object(let object))):
            XCTAssertEqual(Set(members.keys), Set(object.keys), file: file, line: line)
            for (key, member) in members {
                let value = object[key]!
                switch member {
                case .string(let string): XCTAssertEqual(value, .string(string), file: file, line: line)
                case .number(let number): XCTAssertEqual(JSONValue.decodeNumber(number), value, file: file, line: line)
                case .bool(let flag): XCTAssertEqual(value, .bool(flag), file: file, line: line)
                case .null: XCTAssertEqual(value, .null, file: file, line: line)
                case .nested:
                    if case .object = value {} else if case .array = value {} else { XCTFail("\(key) is \(value)", file: file, line: line) }
                }
            }
        case (.failure(let scanError), .failure(let parseError)):
            // Where the top level is an object, both read the same way and stop at the same byte for the same reason.
            if text.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") {
                XCTAssertEqual(scanError, parseError, "same error", file: file, line: line)
            }
        case (.failure(let scanError), .success(let value)):
            if case .object = value { XCTFail("intake refuses what the workers parse: \(scanError)", file: file, line: line) }
        case (.success, _):
            XCTFail("intake accepts what the workers refuse: \(parsed)", file: file, line: line)
        }
    }

    func testLoneSurrogatesDecodeAsReplacementCharacterInBoth() throws {
        let body = Array(#"{"reply_text_snippet":"Yes \ud83d","low":"\udc00x","pair":"\ud83d\ude00","twoHighs":"\ud83d\ud83d\ude00","highThenOther":"\ud800\u0041","end":"\ud83d"}"#.utf8)
        let members = try JSONObjectScanner.scan(body)
        let value = try JSONValue.parse(body)
        let expected: [String: String] = [
            "reply_text_snippet": "Yes \u{FFFD}", "low": "\u{FFFD}x", "pair": "😀", "twoHighs": "\u{FFFD}😀",
            "highThenOther": "\u{FFFD}A", "end": "\u{FFFD}",
        ]
        for (key, text) in expected {
            XCTAssertEqual(members[key], .string(text), key)
            XCTAssertEqual(value[key], .string(text), key)
        }
        // The same inside nested values, which intake only validates.
        XCTAssertEqual(try JSONValue.parse(Array(#"{"a":[{"b":"\ud83d"}]}"#.utf8))[path: ["a", "0", "b"]], .string("\u{FFFD}"))
        XCTAssertEqual(try JSONObjectScanner.scan(Array(#"{"a":[{"b":"\ud83d"}]}"#.utf8))["a"], .nested)
    }

    func testNULAndControlEscapesAreKept() throws {
        let body = Array(#"{"id":"evt_1\u0000x","t":"a\u001fb\u007f"}"#.utf8)
        XCTAssertEqual(try JSONObjectScanner.scan(body)["id"], .string("evt_1\u{0}x"))
        XCTAssertEqual(try JSONValue.parse(body)["id"], .string("evt_1\u{0}x"))
        XCTAssertEqual(try JSONValue.parse(body)["t"], .string("a\u{1f}b\u{7f}"))
    }

    func testInvalidUTF8IsRefusedByBoth() {
        for bytes: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let body = Array(#"{"a":""#.utf8) + bytes + Array(#""}"#.utf8)
            XCTAssertNil(JSONObjectScanner.topLevelMembers(body), "\(bytes)")
            XCTAssertThrowsError(try JSONValue.parse(body), "\(bytes)")
            agree(body)
        }
    }

    func testNumbersBeyondADoubleAreRefusedByBoth() throws {
        for text in [#"{"a":1e400}"#, #"{"a":-1e309}"#, #"{"a":{"b":[1E+999]}}"#, "{\"a\":" + String(repeating: "9", count: 400) + "}"] {
            XCTAssertNil(JSONObjectScanner.topLevelMembers(Array(text.utf8)), text)
            XCTAssertThrowsError(try JSONValue.parse(text), text)
            agree(Array(text.utf8))
        }
        XCTAssertEqual(try JSONValue.parse(#"{"a":9223372036854775807}"#)["a"], .integer(.max))
        XCTAssertEqual(try JSONValue.parse(#"{"a":9223372036854775808}"#)["a"], .number(9223372036854775808))
        XCTAssertEqual(try JSONValue.parse(#"{"a":1e-400}"#)["a"], .number(0))
    }

    func testDepthLimitIsTheSame() {
        for depth in [JSONObjectScanner.maxDepth - 1, JSONObjectScanner.maxDepth, JSONObjectScanner.maxDepth + 1] {
            // The top-level object is one level.
            let text = "{\"a\":" + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}"
            agree(Array(text.utf8))
            XCTAssertEqual(JSONObjectScanner.topLevelMembers(Array(text.utf8)) != nil, depth <= JSONObjectScanner.maxDepth, "\(depth)")
        }
    }

    func testAssortedDocumentsAgree() {
        let cases = [
            "{}", " { } ", #"{"a":1,"a":"2"}"#, #"{"a":-0}"#, #"{"a":-0.0e-0}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":[1,]}"#,
            #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{"a":"\u12G4"}"#, "{\"a\":\"\t\"}", #"{"a":true}x"#, "[]", "1", "\"s\"", "",
            #"{"k\u0000":1}"#, #"{"a":"\/\b\f\n\r\t\"\\"}"#, "{\"a\":\u{7F}}", #"{"a":nul}"#, #"{"a" 1}"#, #"{"a":1 "b":2}"#,
            #"{"a":{"b":{"c":[true,false,null,"x",1.5e3]}}}"#, "\u{FEFF}{}", "{\"a\":\"zoë 日本 😀\"}",
        ]
        for text in cases { agree(Array(text.utf8)) }
    }

    /// The fuzzer's committed seeds (Fuzz/corpus/json-differential: Stripe and Instantly payloads, issue 13's cases)
    /// agree here too, so `swift test` replays them without `make fuzz`.
    func testFuzzSeedCorpusAgrees() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/corpus/json-differential").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for file in files {
            agree(Array(try Data(contentsOf: directory.appendingPathComponent(file))))
        }
        let snippet = try Data(contentsOf: directory.appendingPathComponent("instantly-reply-lone-surrogate.json"))
        XCTAssertEqual(try JSONObjectScanner.scan(Array(snippet))["reply_text_snippet"], .string("Sounds great, let's talk \u{FFFD}"))
    }

    func testRandomDocumentsAgree() {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["{", "}", "[", "]", ",", ":", "\"k\"", "\"v\\n\"", "1", "-0.5", "2e3", "1e999", "true", "null", " ",
                      "\"é\"", "\"\\ud83d\"", "\"\\udc00\\ud800\"", "\"\\u0000\"", "9223372036854775808"]
        for _ in 0..<5000 {
            let text = "{" + (0..<Int.random(in: 0..<14, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            agree(Array(text.utf8))
        }
    }
}
