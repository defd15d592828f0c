import Foundation
import TallyTestSupport
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
            #expect(throws: Never.self, "\(text)") { _ = try JSONKeyScanner.scan(Array(text.utf8)) }
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [])) != nil, "\(text)")
        }
        for text in Self.invalid {
            #expect(throws: JSONKeyScanner.Malformed.self, "\(text)") { _ = try JSONKeyScanner.scan(Array(text.utf8)) }
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [])) == nil, "\(text)")
        }
        for text in Self.trailingCommas {
            #expect(throws: JSONKeyScanner.Malformed.self, "\(text)") { _ = try JSONKeyScanner.scan(Array(text.utf8)) }
            do {
                _ = try JSONKeyScanner.scan(Array(text.utf8))
            } catch {
                #expect(error.reason.hasPrefix("a trailing comma"), "\(text): \(error.reason)")
            }
        }
        #expect(throws: JSONKeyScanner.Malformed.self) { _ = try JSONKeyScanner.scan([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]) }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONKeyScanner.Malformed.self) { _ = try JSONKeyScanner.scan(Array(deep.utf8)) }
    }

    /// The repeated member's path, or nil when the scan accepts `text`; records anything else.
    static func duplicate(_ text: String) -> String? {
        do {
            _ = try JSONKeyScanner.scan(Array(text.utf8))
            return nil
        } catch {
            #expect(error.duplicate != nil, "\(text): \(error.reason)")
            return error.duplicate
        }
    }

    @Test("a member named twice in one object is refused with its path; the same name in different objects is not a repetition")
    func duplicateMembers() {
        #expect(Self.duplicate(#"{"a":1,"a":2}"#) == "a")
        #expect(Self.duplicate(#"{"a":1,"\u0061":null}"#) == "a", "an escape spells the same name")
        #expect(Self.duplicate(#"{"a":{"b":1,"c":2,"b":{}}}"#) == "a.b")
        #expect(Self.duplicate(#"{"a":[{"b":1},{"b":2,"b":3}]}"#) == "a[].b")
        #expect(Self.duplicate("{\"é\":1,\"e\u{301}\":2}") == "é", "canonically equivalent names are one name to Swift's decoder")
        #expect(Self.duplicate(#"{"a":[{"b":1},{"b":2}],"c":{"b":1,"a":[]},"b":{"b":{"b":0}}}"#) == nil)
    }

    /// A random object of up to `depth` levels: members with distinct names, values that are
    /// numbers, objects or arrays of objects.
    indirect enum Value {
        case number(Int)
        case object([(String, Value)])
        case array([Value])

        static func object(_ random: inout TestValues, depth: Int) -> Value {
            let names = ["a", "b", "c", "d", "e", "f"].shuffled(using: &random).prefix(1 + random.below(4))
            return .object(names.map { name in
                switch depth > 0 ? random.below(3) : 0 {
                case 0: return (name, .number(random.below(100)))
                case 1: return (name, object(&random, depth: depth - 1))
                default: return (name, .array((0..<(1 + random.below(2))).map { _ in object(&random, depth: depth - 1) }))
                }
            })
        }

        var json: String {
            switch self {
            case .number(let value): return String(value)
            case .object(let members): return "{" + members.map { "\"\($0.0)\":\($0.1.json)" }.joined(separator: ",") + "}"
            case .array(let elements): return "[" + elements.map(\.json).joined(separator: ",") + "]"
            }
        }

        /// Every object's path (`a.b`, `a[]`), this one's as "".
        func objectPaths(_ path: String = "") -> [String] {
            switch self {
            case .number: return []
            case .object(let members):
                return [path] + members.flatMap { $0.1.objectPaths(path.isEmpty ? $0.0 : path + "." + $0.0) }
            case .array(let elements): return elements.flatMap { $0.objectPaths(path + "[]") }
            }
        }

        /// The object at `target` with its first member repeated last (with another value).
        func repeating(at target: String, _ path: String = "") -> (Value, String?) {
            switch self {
            case .number: return (self, nil)
            case .object(var members):
                if path == target {
                    let name = members[0].0
                    members.append((name, .number(7)))
                    return (.object(members), path.isEmpty ? name : path + "." + name)
                }
                var found: String?
                for index in members.indices where found == nil {
                    let (value, repeated) = members[index].1.repeating(at: target, path.isEmpty ? members[index].0 : path + "." + members[index].0)
                    members[index].1 = value
                    found = repeated
                }
                return (.object(members), found)
            case .array(var elements):
                var found: String?
                for index in elements.indices where found == nil {
                    (elements[index], found) = elements[index].repeating(at: target, path + "[]")
                }
                return (.array(elements), found)
            }
        }
    }

    @Test("random objects: accepted as they are; with one member repeated in any one object, refused with that member's path")
    func randomRepetitions() {
        for seed in UInt64(0)..<400 {
            var random = TestValues(seed: seed)
            let value = Value.object(&random, depth: 3)
            #expect(Self.duplicate(value.json) == nil, "seed \(seed): \(value.json)")
            let target = random.pick(value.objectPaths())
            let (repeated, path) = value.repeating(at: target)
            #expect(path != nil, "seed \(seed): no object at \(target)")
            #expect(Self.duplicate(repeated.json) == path, "seed \(seed): \(repeated.json)")
        }
    }

    @Test("reports whether the value is an object, and every key path with array elements as []")
    func paths() throws {
        let body = #"{"purchaseToken":"t","inline":{"access":{"views":3,"hours":null},"royalties":[{"holder":"h","basisPoints":1},{"x\/y":2}]},"e\u0301":[[{"k":1}]]}"#
        let scan = try JSONKeyScanner.scan(Array(body.utf8))
        #expect(scan.isObject)
        #expect(scan.paths == [
            "purchaseToken", "inline", "inline.access", "inline.access.views", "inline.access.hours", "inline.royalties",
            "inline.royalties[].holder", "inline.royalties[].basisPoints", "inline.royalties[].x/y", "e\u{301}", "e\u{301}[][].k",
        ])
        #expect(try JSONKeyScanner.scan(Array("[1]".utf8)).isObject == false)
        #expect(try JSONKeyScanner.scan(Array(" \"s\"".utf8)).isObject == false)
    }

    @Test("finds the first number that is not a plain Int64 (a fraction, an exponent, beyond 64 bits) and the first beyond Int64, with their paths")
    func numbers() throws {
        func scan(_ text: String) throws -> JSONKeyScanner.Scan { try JSONKeyScanner.scan(Array(text.utf8)) }
        let plain = try scan(#"{"a":0,"b":-0,"c":9223372036854775807,"d":-9223372036854775808,"e":[1,2]}"#)
        #expect(plain.nonInteger == nil)
        #expect(plain.beyondInt64 == nil)
        for (number, other) in [("1.5", true), ("1e2", true), ("1.0", true), ("-0.0", true), ("2E-1", true),
                                ("9223372036854775808", false), ("18446744073709551615", false),
                                ("18446744073709551616", true), ("-9223372036854775809", true)] {
            let found = try scan(#"{"x":1,"inline":{"royalties":[{"basisPoints":\#(number)}]},"y":2.5}"#)
            let target = other ? found.nonInteger : found.beyondInt64
            #expect(target?.path == "inline.royalties[].basisPoints", "\(number)")
            #expect(target?.text == number, "\(number)")
            if !other { #expect(found.nonInteger?.path == "y", "the first non-integer is still found after \(number)") }
        }
    }
}
