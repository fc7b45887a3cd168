import Foundation
import XCTest
@testable import Intake
import StrictJSON

final class JSONObjectScannerTests: XCTestCase {
    private func members(_ text: String) -> [String: JSONObjectScanner.Value]? {
        JSONObjectScanner.topLevelMembers(Array(text.utf8))
    }

    func testTopLevelScalarsAndNestedValues() {
        let result = members(#" {"id":"evt_1","n":-1.5e+3,"ok":true,"no":false,"z":null,"o":{"a":[1,{"b":"c"}]},"a":[]} "#)
        XCTAssertEqual(result?["id"], .string("evt_1"))
        XCTAssertEqual(result?["n"], .number("-1.5e+3"))
        XCTAssertEqual(result?["ok"], .bool(true))
        XCTAssertEqual(result?["no"], .bool(false))
        XCTAssertEqual(result?["z"], .null)
        XCTAssertEqual(result?["o"], .nested)
        XCTAssertEqual(result?["a"], .nested)
        XCTAssertEqual(members("{}")?.count, 0)
    }

    func testEscapesAreDecoded() {
        let result = members(#"{"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0041","k\u0065y":"v"}"#)
        XCTAssertEqual(result?["s"], .string("a\"b\\c/d\n\té😀A"))
        XCTAssertEqual(result?["key"], .string("v"))
        XCTAssertEqual(members("{\"u\":\"zoë 日本\"}")?["u"], .string("zoë 日本"))
    }

    func testLastDuplicateKeyWins() {
        XCTAssertEqual(members(#"{"id":"a","id":"b"}"#)?["id"], .string("b"))
    }

    func testInvalidDocumentsAreRejected() {
        let invalid = [
            "", " ", "[]", "\"s\"", "1", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":1}x",
            "{\"a\":1}{}", "{a:1}", "{'a':1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}",
            "{\"a\":+1}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}",
            "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":{\"b\"}}", "{\"a\":\"unterminated}", "{\"a\":NaN}",
        ]
        for text in invalid { XCTAssertNil(members(text), text) }
        XCTAssertNil(JSONObjectScanner.topLevelMembers([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]), "invalid UTF-8")
        XCTAssertNil(JSONObjectScanner.topLevelMembers([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D]), "overlong")
        XCTAssertNil(JSONObjectScanner.topLevelMembers([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D]), "surrogate")
    }

    func testDeepNestingIsRejectedWithoutCrashing() {
        let deep = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        XCTAssertNil(members(deep))
        let fine = "{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        XCTAssertEqual(members(fine)?["a"], .nested)
    }

    func testAgreesWithJSONSerializationOnRandomDocuments() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["{", "}", "[", "]", ",", ":", "\"k\"", "\"v\\n\"", "1", "-0.5", "2e3", "true", "null", " ", "\"é\""]
        for _ in 0..<5000 {
            let text = "{" + (0..<Int.random(in: 0..<12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            let ours = members(text) != nil
            // Foundation accepts a trailing comma (`{"k":null,}`), which RFC 8259 does not: there the scanner must
            // reject, and Foundation is no oracle.
            if text.range(of: #",\s*[}\]]"#, options: .regularExpression) != nil {
                XCTAssertFalse(ours, text)
                continue
            }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any]
            XCTAssertEqual(ours, foundation, text)
        }
    }
}
