import Foundation
import PropertyBased
import Testing
@testable import Ledger

/// `StringIndex`, the table of the write model's staged keys and of the fold's accounts and
/// records by name, answers as a dictionary from each string to the order it was added in would.
@Suite("String index")
struct StringIndexTests {
    /// Strings that share prefixes, lengths around the 8-byte steps of the hash and the 15
    /// bytes a small string holds, and non-ASCII text.
    static func name(_ code: Int) -> String {
        switch code % 5 {
        case 0: return "wallet:u\(code):USD"
        case 1: return String(repeating: "x", count: code % 40)
        case 2: return "vendor:v\(code / 7)"
        case 3: return "Zürich-\(code % 97)-€"
        default: return "tx-\(code)"
        }
    }

    @Test("random additions and lookups agree with a dictionary, across growth and removeAll")
    func agreesWithDictionary() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...5_000).array(of: 1...600)) { codes in
            var index = StringIndex()
            var expected: [String: Int] = [:]
            for (step, code) in codes.enumerated() {
                let key = Self.name(code)
                // A string built afresh, not the same object, must be found by its bytes.
                let probe = String(decoding: Array(key.utf8), as: UTF8.self)
                let hash = StringIndex.hash(probe)
                #expect(hash == StringIndex.hash(key))
                #expect(index.index(of: probe, hash: hash) == expected[key])
                if expected[key] == nil {
                    #expect(index.append(key, hash: StringIndex.hash(key)) == expected.count)
                    expected[key] = expected.count
                }
                if step == codes.count / 2, code % 3 == 0 {
                    index.removeAll()
                    expected.removeAll()
                }
            }
            #expect(index.count == expected.count)
            for (key, position) in expected {
                #expect(index.index(of: key) == position)
                #expect(index.keys[position] == key)
            }
            #expect(index.index(of: "absent, never added") == nil)
        }
    }

    @Test("a bridged string that is not stored as contiguous UTF-8 hashes as its bytes do")
    func bridgedString() {
        let bridged = NSString(string: "wallet:ü:EUR, and some more text") as String
        #expect(StringIndex.hash(bridged) == StringIndex.hash("wallet:ü:EUR, and some more text"))
        var index = StringIndex()
        index.reserveCapacity(100)
        index.append(bridged, hash: StringIndex.hash(bridged))
        #expect(index.index(of: "wallet:ü:EUR, and some more text") == 0)
    }
}
