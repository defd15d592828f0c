import Foundation
import Ledger
import TallyTestSupport
import Testing
@testable import TallyServer

extension TestValues {
    mutating func purchaseBody() -> PurchaseBody {
        PurchaseBody(
            purchaseToken: text(), content: maybe { $0.text() },
            inline: maybe {
                ContentBody(
                    content: $0.text(), title: $0.text(), price: $0.signed(), currency: $0.pick([Currency.usd, .eur]),
                    description: $0.maybe { $0.text() }, url: $0.text(),
                    access: $0.maybe {
                        AccessBody(views: $0.maybe { Int($0.signed()) }, hours: $0.maybe { _ in 48 }, days: nil,
                                   expiresAtMilliseconds: $0.maybe { $0.pick([0, UInt64.max, 1_764_000_000_000]) })
                    },
                    incentiveIDs: $0.maybe { $0.list { $0.text() } },
                    royalties: $0.maybe { $0.list { RoyaltyShareBody(holder: $0.text(), basisPoints: $0.signed()) } })
            },
            holdSeconds: maybe { $0.pick([0, 60, UInt64.max]) })
    }
}

/// The purchase body's hand-written reader may only decline: whatever it reads must equal what
/// the generic strict path reads, and it must read the plain bodies vendors send.
@Suite("Purchase body fast path")
struct FastBodyTests {
    static func generic(_ bytes: [UInt8]) -> PurchaseBody? {
        try? RequestBodies.decodeGeneric(PurchaseBody.self, from: bytes)
    }

    @Test("bodies written by JSONEncoder, with nulls and escapes: the fast reader reads them, and as the generic path does")
    func agreement() throws {
        var values = TestValues(seed: 3)
        let encoder = JSONEncoder()
        for round in 0..<400 {
            let body = values.purchaseBody()
            var bytes = Array(try encoder.encode(body))
            if round % 3 == 0 {
                // Explicit nulls for the absent optionals, and whitespace.
                var text = String(decoding: bytes, as: UTF8.self)
                if body.content == nil { text = text.replacingOccurrences(of: "{", with: "{ \"content\" : null ,", options: [], range: text.range(of: "{")) }
                bytes = Array(text.utf8)
            }
            let fast = PurchaseBody.fastDecode(bytes)
            #expect(fast == body, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
            #expect(Self.generic(bytes) == body, "round \(round)")
        }
    }

    @Test("anything unusual is declined, and the generic path decides")
    func declines() throws {
        let plain = #"{"purchaseToken":"t","inline":{"content":"c","title":"T","price":5,"currency":"USD","url":"https://a/b"}}"#
        #expect(PurchaseBody.fastDecode(Array(plain.utf8)) != nil)
        let declined = [
            #"{"purchaseToken":"t","purchaseToken":"u"}"#,             // a repeated key
            #"{"purchaseToken":"t","extra":1}"#,                        // an unknown key
            #"{"purchaseToken":null}"#,                                 // null for a required field
            #"{"purchaseToken":5}"#,                                    // a wrong type
            #"{"purchaseToken":"t","holdSeconds":-1}"#,                 // a negative hold
            #"{"purchaseToken":"t","holdSeconds":1.0}"#,                // a fraction
            #"{"purchaseToken":"t","holdSeconds":1e3}"#,                // an exponent
            #"{"purchaseToken":"t","holdSeconds":18446744073709551616}"#, // beyond UInt64
            #"{"purchaseToken":"t","holdSeconds":01}"#,                 // a leading zero
            #"{"purchaseToken":"t","inline":{"content":"c","title":"T","price":9223372036854775808,"currency":"USD","url":"u"}}"#,
            #"{"purchaseToken":"t","inline":{"content":"c","title":"T","price":5,"currency":"XXX","url":"u"}}"#,
            #"{"purchaseToken":"t","inline":{"content":"c","title":"T","price":5,"currency":"USD"}}"#, // no url
            #"{"purchaseToken":"t","inline":{"content":"c","title":"T","price":5,"currency":"USD","url":"u","royalties":[{"holder":"h"}]}}"#,
            #"{"purchaseToken":"t","inline":{"content":"c","title":"T","price":5,"currency":"USD","url":"u","access":{"weeks":1}}}"#,
            #"{"purchaseToken":"t",}"#, #"{"purchaseToken":"t"} x"#, "", "[]", #"{"purchaseToken":"\ud800"}"#,
        ]
        for text in declined {
            #expect(PurchaseBody.fastDecode(Array(text.utf8)) == nil, "\(text)")
        }
        #expect(PurchaseBody.fastDecode(Array(#"{"purchaseToken":"t","inline":{"content":"c","title":"T","price":-9223372036854775808,"currency":"USD","url":"u"}}"#.utf8))?.inline?.price == .min)
        // Through RequestBodies.decode, the refusals keep their precise errors.
        #expect(throws: APIError.self) { try RequestBodies.decode(PurchaseBody.self, from: Array(#"{"purchaseToken":"t","extra":1}"#.utf8)) }
        do {
            _ = try RequestBodies.decode(PurchaseBody.self, from: Array(#"{"purchaseToken":"t","extra":1}"#.utf8))
        } catch let error as APIError {
            #expect(error.problem.field == "extra")
        }
    }
}
