import Foundation
import Hummingbird
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

    @Test("bodies with a few bytes changed: whatever the fast readers read, the generic path reads the same")
    func damagedBodies() throws {
        var values = TestValues(seed: 11)
        let encoder = JSONEncoder()
        var read = 0
        for round in 0..<3_000 {
            let purchase = values.damaged(Array(try encoder.encode(values.purchaseBody())))
            if let fast = PurchaseBody.fastDecode(purchase) {
                read += 1
                #expect(fast == Self.generic(purchase), "round \(round): \(String(decoding: purchase, as: UTF8.self))")
            }
            let batch = values.damaged(Array(try encoder.encode(values.batchBody())))
            if let fast = BatchPurchaseBody.fastDecode(batch) {
                read += 1
                #expect(fast == BatchFastPathTests.generic(batch), "round \(round): \(String(decoding: batch, as: UTF8.self))")
            }
        }
        // Some damage leaves a body valid (a changed digit, a byte inside a string): those are
        // read, and compared above.
        #expect(read > 100)
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

extension TestValues {
    mutating func batchBody() -> BatchPurchaseBody {
        BatchPurchaseBody(purchases: list {
            let single = $0.purchaseBody()
            return BatchPurchaseItem(idempotencyKey: $0.text(), purchaseToken: single.purchaseToken, content: single.content, inline: single.inline)
        })
    }

    mutating func problem() -> ProblemDocument {
        ProblemDocument(
            rule: pick(["insufficient-funds", "limit-exceeded", "content-url"]), title: text(), status: pick([.conflict, .unprocessableContent, .badRequest]),
            detail: maybe { $0.text() }, field: maybe { $0.text() }, headroom: maybe { $0.signed() })
    }

    mutating func vendorPurchase() -> VendorPurchaseView {
        VendorPurchaseView(
            transaction: text(), customer: text(), vendor: text(), content: text(), title: text(), url: text(), currency: pick(["USD", "EUR"]),
            amount: signed(), status: pick(["captured", "held"]), fee: maybe { $0.signed() },
            royalties: maybe { $0.list { RoyaltyView(holder: $0.text(), amount: $0.signed()) } }, vendorNet: maybe { $0.signed() },
            holdExpiresAtMilliseconds: maybe { $0.unsigned() }, timeMilliseconds: maybe { $0.unsigned() }, sequence: maybe { $0.unsigned() },
            refunded: maybe { $0.signed() }, vendorData: maybe { VendorData(reference: $0.text(), parameters: $0.maybe { ["k": $0.text()] }) })
    }
}

/// The batch route's hand-written body reader may only decline, and its hand-written reply must
/// be `JSONResponse.encoder`'s bytes.
@Suite("Batch purchase body and reply fast paths")
struct BatchFastPathTests {
    static func generic(_ bytes: [UInt8]) -> BatchPurchaseBody? {
        try? RequestBodies.decodeGeneric(BatchPurchaseBody.self, from: bytes)
    }

    @Test("batch bodies written by JSONEncoder: the fast reader reads them, and as the generic path does")
    func agreement() throws {
        var values = TestValues(seed: 5)
        let encoder = JSONEncoder()
        for round in 0..<300 {
            let body = values.batchBody()
            let bytes = Array(try encoder.encode(body))
            #expect(BatchPurchaseBody.fastDecode(bytes) == body, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
            #expect(Self.generic(bytes) == body, "round \(round)")
        }
    }

    @Test("anything unusual in a batch is declined, and the generic path decides with its precise error")
    func declines() throws {
        let item = #"{"idempotencyKey":"k","purchaseToken":"t","content":"c"}"#
        #expect(BatchPurchaseBody.fastDecode(Array(#"{"purchases":[\#(item),\#(item)]}"#.utf8))?.purchases.count == 2)
        #expect(BatchPurchaseBody.fastDecode(Array(#"{"purchases":[]}"#.utf8)) == BatchPurchaseBody(purchases: []))
        let declined = [
            #"{"purchases":[\#(item)],"purchases":[]}"#,                              // a repeated key
            #"{"purchases":[\#(item)],"extra":1}"#,                                    // an unknown key
            #"{"purchases":{}}"#, #"{"purchases":null}"#, #"{}"#, "[]", "",            // wrong types, missing
            #"{"purchases":[{"purchaseToken":"t","content":"c"}]}"#,                  // no idempotency key
            #"{"purchases":[{"idempotencyKey":"k","content":"c"}]}"#,                 // no token
            #"{"purchases":[{"idempotencyKey":"k","purchaseToken":"t","holdSeconds":5}]}"#, // not a batch field
            #"{"purchases":[{"idempotencyKey":5,"purchaseToken":"t"}]}"#,
            #"{"purchases":[\#(item),]}"#, #"{"purchases":[\#(item)]} x"#, #"{"purchases":[1]}"#,
        ]
        for text in declined {
            #expect(BatchPurchaseBody.fastDecode(Array(text.utf8)) == nil, "\(text)")
        }
        do {
            _ = try RequestBodies.decode(BatchPurchaseBody.self, from: Array(#"{"purchases":[{"idempotencyKey":"k","purchaseToken":"t","holdSeconds":5}]}"#.utf8))
            Issue.record("an unknown item field was accepted")
        } catch let error as APIError {
            #expect(error.problem.field == "purchases[0].holdSeconds")
        }
    }

    @Test("the batch reply and problem documents are JSONResponse.encoder's bytes, on 300 random replies")
    func reply() throws {
        var values = TestValues(seed: 9)
        for round in 0..<300 {
            let results = values.list {
                BatchItemResult(status: $0.pick([201, 409, 422]), purchase: $0.maybe { $0.vendorPurchase() }, problem: $0.maybe { $0.problem() })
            }
            let reply = BatchPurchaseResult(results: results, accepted: Int(values.below(1001)), rejected: Int(values.below(1001)))
            var writer = JSONWriter()
            reply.writeJSON(to: &writer)
            #expect(writer.bytes == Array(try JSONResponse.encoder.encode(reply)), "round \(round)")
        }
    }
}

@Suite("Header lookup")
struct HeaderValueTests {
    @Test("a header field's value: absent, given once, given twice (joined as HTTPFields joins it)")
    func value() {
        var fields: HTTPFields = [.contentType: "application/json"]
        #expect(fields.value(of: .tallyKey) == nil)
        fields.append(HTTPFields.Element(name: .tallyKey, value: "key-1"))
        #expect(fields.value(of: .tallyKey) == "key-1")
        #expect(fields.value(of: HTTPFields.Element.Name("tally-key")!) == "key-1")
        fields.append(HTTPFields.Element(name: .tallyKey, value: "key-2"))
        #expect(fields.value(of: .tallyKey) == "key-1, key-2")
        #expect(fields.value(of: .tallyKey) == fields[.tallyKey])
    }
}
