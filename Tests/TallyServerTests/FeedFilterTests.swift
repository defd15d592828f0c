import Foundation
import Journal
import TallyCrypto
import TallyTestSupport
import Testing
@testable import TallyServer

/// The byte search that lets a vendor's change feed skip other vendors' events unparsed.
@Suite("vendor feed pre-filter")
struct FeedFilterTests {
    @Test("an ID is found only as a whole JSON string, wherever it stands")
    func wholeStringsOnly() {
        let id = "v_0123abcd"
        func holds(_ text: String) -> Bool { AuditController.contains(Array(text.utf8), quoted: id) }
        #expect(holds(#""v_0123abcd""#))
        #expect(holds(#"{"vendor":"v_0123abcd","x":1}"#))
        #expect(holds(#"{"a":"""#  + #","issuer":"v_0123abcd"}"#))
        #expect(!holds(#"{"vendor":"v_0123abcde"}"#))       // a longer ID
        #expect(!holds(#"{"vendor":"xv_0123abcd"}"#))
        #expect(!holds(#"{"vendor":v_0123abcd}"#))          // not a string
        #expect(!holds(#""v_0123abc"#))                      // cut short at the end
        #expect(!holds(""))
    }

    @Test("agrees with a naive search on random bytes made of quotes and the ID's own characters")
    func agreesWithNaiveSearch() {
        var random = TestValues(seed: 0xFEED)
        let alphabet = Array(#""v_01a"#.utf8)
        for _ in 0..<3000 {
            let id = String(decoding: (0..<(1 + random.below(4))).map { _ in random.pick(Array("v_01a".utf8)) }, as: UTF8.self)
            var bytes = (0..<random.below(40)).map { _ in random.pick(alphabet) }
            if random.bool() {
                let at = random.below(bytes.count + 1)
                bytes.insert(contentsOf: Array(("\"" + id + "\"").utf8), at: at)
            }
            let needle = Array(("\"" + id + "\"").utf8)
            let naive = bytes.count >= needle.count
                && (0...(bytes.count - needle.count)).contains { Array(bytes[$0..<$0 + needle.count]) == needle }
            #expect(AuditController.contains(bytes, quoted: id) == naive, "\(String(decoding: bytes, as: UTF8.self)) / \(id)")
        }
    }

    @Test("a referral event in the referring vendor's feed names neither the user nor the purchases it counted")
    func referralEvents() throws {
        let harness = try APIHarness()
        let pseudonyms = harness.api.pseudonyms
        for (type, payload) in [
            ("ReferralRewarded", #"{"amount":25,"currency":"USD","postings":[],"qualifyingTransactions":["tx-254"],"timeMilliseconds":1,"user":"u_1","vendor":"v1"}"#),
            ("ReferralReversed", #"{"amount":25,"currency":"USD","postings":[],"transaction":"tx-254","timeMilliseconds":2,"user":"u_1","vendor":"v1"}"#),
        ] {
            let stored = StoredEvent(sequence: 9, hash: SHA256.hash([1]), typeName: type, payload: Array(payload.utf8))
            let data = try #require(try AuditController.feedData(stored, vendor: "v1", pseudonyms: pseudonyms))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
            #expect(object["qualifyingTransactions"] == nil, "\(type)")
            #expect(object["transaction"] == nil, "\(type)")
            #expect(object["user"] == nil, "\(type)")
            #expect(object["customer"] as? String == pseudonyms.pseudonym(user: "u_1", vendor: "v1"), "\(type)")
            #expect(object["amount"] as? Int == 25, "\(type)")
        }
    }
}
