import Foundation
import Journal
import TallyTestSupport
import Testing
@testable import Ledger

/// The hand-written reader of the purchase events must give exactly what `JSONDecoder` gives,
/// or decline (and then `JSONDecoder` decides).
@Suite("Event JSON reader")
struct EventJSONReaderTests {
    static let alphabet: [String] = ["a", "Z", "0", "-", "/", "\"", "\\", "é", "字", "🎵", "\n", "\t", "\u{01}", " ", "_", ":"]

    static func text(_ random: inout TestValues) -> String {
        (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
    }

    static func access(_ random: inout TestValues) -> AccessTerms {
        AccessTerms(
            views: Bool.random(using: &random) ? Int.random(in: 1...1_000_000, using: &random) : nil,
            hours: Bool.random(using: &random) ? Int.random(in: 1...876_000, using: &random) : nil,
            days: Bool.random(using: &random) ? Int.random(in: 1...36_500, using: &random) : nil,
            expiresAtMilliseconds: Bool.random(using: &random) ? UInt64.random(in: 0...253_402_300_799_999, using: &random) : nil)
    }

    static func captured(_ random: inout TestValues) -> PurchaseCaptured {
        let currency = [Currency.usd, Currency.eur, Currency(code: "JPY")!].randomElement(using: &random)!
        let price = Int64.random(in: 1...1_000_000_000_000_000, using: &random)
        let terms = ContentTerms(
            content: text(&random), title: text(&random), price: price, currency: currency, description: text(&random), url: text(&random),
            access: access(&random), incentiveIDs: (0..<Int.random(in: 0...3, using: &random)).map { _ in text(&random) },
            royalties: (0..<Int.random(in: 0...3, using: &random)).map { _ in RoyaltyShare(holder: text(&random), basisPoints: Int64.random(in: 1...10_000, using: &random)) })
        let postings = (0..<Int.random(in: 1...4, using: &random)).map { index in
            Posting(debitName: "wallet:u\(index):\(currency.code)", creditName: "vendor:v\(index):\(currency.code)",
                    amount: Int64.random(in: 1...Int64.max, using: &random), currency: currency)
        }
        return PurchaseCaptured(
            transaction: text(&random), user: text(&random), member: Bool.random(using: &random) ? text(&random) : nil, vendor: text(&random),
            terms: terms, oneStep: Bool.random(using: &random),
            sources: [FundingSource(account: text(&random), amount: Int64.random(in: Int64.min...Int64.max, using: &random))],
            fee: Int64.random(in: 0...price, using: &random), royalties: [RoyaltyPayment(holder: text(&random), amount: Int64.random(in: 0...price, using: &random))],
            rounding: royaltyRoundingRule, entitlement: access(&random), postings: postings,
            idempotency: Bool.random(using: &random) ? IdempotencyMark(vendor: text(&random), key: text(&random), requestDigest: text(&random)) : nil,
            timeMilliseconds: UInt64.random(in: 0...UInt64.max, using: &random))
    }

    @Test("random purchase events: the reader gives exactly the event, as JSONDecoder does")
    func roundTrip() throws {
        var random = TestValues(seed: 20261125)
        for _ in 0..<500 {
            let event = Self.captured(&random)
            let payload = EventJSON.purchaseCaptured(event)
            let fast = try EventJSONReader.purchaseCaptured(payload)
            let slow = try JSONDecoder().decode(PurchaseCaptured.self, from: Data(payload))
            #expect(fast == event)
            #expect(slow == event)
            let held = PurchaseAuthorized(
                transaction: event.transaction, user: event.user, member: event.member, vendor: event.vendor, terms: event.terms,
                holdExpiresAtMilliseconds: event.timeMilliseconds / 2, sources: event.sources, postings: event.postings,
                idempotency: event.idempotency, timeMilliseconds: event.timeMilliseconds)
            let heldPayload = EventJSON.purchaseAuthorized(held)
            #expect(try EventJSONReader.purchaseAuthorized(heldPayload) == held)
            #expect(try LedgerEvent(typeName: "PurchaseAuthorized", payload: heldPayload) == .purchaseAuthorized(held))
        }
    }

    @Test("what the reader declines, JSONDecoder decides: fractions, duplicates, bad postings, escapes, broken JSON")
    func declines() throws {
        var random = TestValues(seed: 7)
        let event = Self.captured(&random)
        let text = String(decoding: EventJSON.purchaseCaptured(event), as: UTF8.self)
        let feeField = "\"fee\":\(event.fee)"
        let variants: [String] = [
            text.replacingOccurrences(of: feeField, with: "\"fee\":\(event.fee).0"),
            text.replacingOccurrences(of: feeField, with: feeField + "," + feeField),
            text.replacingOccurrences(of: "\"oneStep\":", with: "\"oneStep\":1,\"x\":"),
            text.replacingOccurrences(of: "\"transaction\":\"", with: "\"transaction\":\"\\u00e9\\ud83c\\udfb5"),
            text.replacingOccurrences(of: "\"transaction\":\"", with: "\"transaction\":\"\\ud83c"),
            text.replacingOccurrences(of: "\"amount\":", with: "\"amount\":-"),
            String(text.dropLast()),
            text + " ",
            text + "x",
        ]
        for variant in variants {
            let payload = Array(variant.utf8)
            let slow = try? JSONDecoder().decode(PurchaseCaptured.self, from: Data(payload))
            let combined = try? LedgerEvent(typeName: "PurchaseCaptured", payload: payload)
            #expect(combined == slow.map { .purchaseCaptured($0) }, "\(variant.prefix(80))")
            if let fast = try? EventJSONReader.purchaseCaptured(payload) {
                #expect(slow == fast, "the reader accepted what JSONDecoder reads differently: \(variant.prefix(80))")
            }
        }
        var invalid = Array(text.utf8)
        if let quote = invalid.firstIndex(of: UInt8(ascii: "\"")) { invalid.insert(0xFF, at: quote + 1) }
        #expect(throws: (any Error).self) { try EventJSONReader.purchaseCaptured(invalid) }
    }
}
