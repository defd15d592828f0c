import Foundation
import Testing
@testable import TallyServer

/// The request-body scan that replaced the first of two parses: it must accept exactly valid
/// JSON and report the key paths the reflection check compares.
@Suite("Request body scan")
struct JSONKeyScannerTests {
    static let valid = [
        #"{}"#, #"[]"#, #" {"a":1} "#, #"{"a":-0}"#, #"{"a":1.5e-3,"b":-2E+10,"c":0.0}"#,
        #"{"a":"\u00e9\ud83c\udfb5\n\"\\\/"}"#, #"{"a":[1,[2,{"b":null}],true,false]}"#,
        "{\"é\":\"ü 🎵\"}", #"{"a":{"b":{"c":{"d":[]}}}}"#, "\t{\r\n\"a\" : [ ] }\n",
    ]
    static let invalid = [
        "", " ", "{", "}", #"{"a"}"#, #"{"a":}"#, #"{a:1}"#, #"{'a':1}"#,
        #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":1e}"#, #"{"a":+1}"#, #"{"a":--1}"#,
        #"{"a":tru}"#, #"{"a":nul}"#, #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{"a":"\ud800"}"#,
        #"{"a":"\udc00"}"#, "{\"a\":\"tab\there\"}", #"{"a":1}{"#, #"{"a":1} x"#, #"{"a":"open}"#,
        #"{"a":NaN}"#, #"{"a":Infinity}"#,
    ]

    /// Foundation's parser accepts a trailing comma; RFC 8259 does not, and neither does Tally.
    static let trailingCommas = [#"{"a":1,}"#, #"[1,]"#, #"{"a":[1,2,],"b":2}"#]

    @Test("accepts valid JSON and refuses invalid JSON, as JSONSerialization does (and trailing commas, which it accepts)")
    func validity() throws {
        for text in Self.valid {
            #expect(throws: Never.self, "\(text)") { _ = try JSONKeyScanner.keyPaths(of: Array(text.utf8)) }
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [])) != nil, "\(text)")
        }
        for text in Self.invalid {
            #expect(throws: JSONKeyScanner.Malformed.self, "\(text)") { _ = try JSONKeyScanner.keyPaths(of: Array(text.utf8)) }
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [])) == nil, "\(text)")
        }
        for text in Self.trailingCommas {
            #expect(throws: JSONKeyScanner.Malformed.self, "\(text)") { _ = try JSONKeyScanner.keyPaths(of: Array(text.utf8)) }
            do {
                _ = try JSONKeyScanner.keyPaths(of: Array(text.utf8))
            } catch {
                #expect(error.reason.hasPrefix("a trailing comma"), "\(text): \(error.reason)")
            }
        }
        #expect(throws: JSONKeyScanner.Malformed.self) { _ = try JSONKeyScanner.keyPaths(of: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]) }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONKeyScanner.Malformed.self) { _ = try JSONKeyScanner.keyPaths(of: Array(deep.utf8)) }
    }

    @Test("reports whether the value is an object, and every key path with array elements as []")
    func paths() throws {
        let body = #"{"purchaseToken":"t","inline":{"access":{"views":3,"hours":null},"royalties":[{"holder":"h","basisPoints":1},{"x\/y":2}]},"e\u0301":[[{"k":1}]]}"#
        let scan = try JSONKeyScanner.keyPaths(of: Array(body.utf8))
        #expect(scan.isObject)
        #expect(scan.paths == [
            "purchaseToken", "inline", "inline.access", "inline.access.views", "inline.access.hours", "inline.royalties",
            "inline.royalties[].holder", "inline.royalties[].basisPoints", "inline.royalties[].x/y", "e\u{301}", "e\u{301}[][].k",
        ])
        #expect(try JSONKeyScanner.keyPaths(of: Array("[1]".utf8)).isObject == false)
        #expect(try JSONKeyScanner.keyPaths(of: Array(" \"s\"".utf8)).isObject == false)
    }
}
