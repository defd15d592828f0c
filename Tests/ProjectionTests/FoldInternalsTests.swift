import Foundation
import Testing
@testable import Projections

/// The fold's fast paths hold to what they replace: account names split by bytes as
/// `split(separator: ":")` splits them, and a batch's puts come in LMDB's byte-wise key order.
@Suite("Fold internals")
struct FoldInternalsTests {
    /// The reference: the kind is the first `:`-separated part, the ID the second when there are
    /// at least three (what the fold did with `split` before).
    static func reference(_ name: String) -> (kind: String, id: String) {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        return (String(parts[0]), parts.count > 2 ? String(parts[1]) : "")
    }

    static let kinds: [String: AccountName.Kind] = [
        "wallet": .wallet, "holds": .holds, "pending": .pending, "credit": .credit, "lot": .lot, "vendor": .vendor,
        "reserve": .reserve, "holder": .holder, "fees": .fees, "incentives": .incentives, "funding": .funding,
        "settlement": .settlement,
    ]

    static func check(_ name: String) {
        let account = AccountName(name)
        let expected = reference(name)
        #expect(account.id == expected.id, "id of \(name.debugDescription)")
        #expect(account.kindText == expected.kind, "kind text of \(name.debugDescription)")
        #expect(account.kind == (kinds[expected.kind] ?? .other), "kind of \(name.debugDescription)")
        #expect(account.name == name)
    }

    @Test("account names split as split(separator:) splits them")
    func accountNames() {
        let chosen = [
            "wallet:alice:USD", "fees:USD", "fees", "", ":", "::", ":::", "wallet::USD", "wallet:alice:", "lot:l1:EUR:extra",
            "holder:h1:USD", "reserve:v1:USD", "settlement:USD", "walletx:a:USD", "Wallet:a:USD", "wallet:a",
            // Not ASCII: a `:` followed by a combining mark is one Character, not a separator.
            "wallet:\u{301}alice:USD", "wallet:al\u{301}ice:USD", "wallet\u{301}:a:USD", "wallet:a:\u{301}USD", "é:ü:€",
            "wallet\r\n:a:b", "wallet:a\r\n:b",
        ]
        for name in chosen { Self.check(name) }
        var generator = SystemRandomNumberGenerator()
        let alphabet: [String] = ["wallet", "fees", "lot", "a", "b", ":", ":", "\u{301}", "é", "\r", "\n", "USD", "-", "0"]
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...8, using: &generator)
            Self.check((0..<count).map { _ in alphabet.randomElement(using: &generator)! }.joined())
        }
    }

    @Test("a batch puts its entries in byte-wise key order, prefixes first")
    func putOrder() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<50 {
            var batch = WriteBatch()
            var keys: [[UInt8]] = []
            let prefixes: [[UInt8]] = [[], Array("bh/wallet:u1:USD".utf8), Array("bh/wallet:u1".utf8), [0], [0xFF, 0]]
            for _ in 0..<(round * 7) {
                var key = prefixes.randomElement(using: &generator)!
                for _ in 0..<Int.random(in: 0...20, using: &generator) {
                    key.append([0, 1, 0x7F, 0x80, 0xFF, UInt8(ascii: "a")].randomElement(using: &generator)!)
                }
                guard !keys.contains(key) else { continue }
                keys.append(key)
                batch.append(key: key, value: [UInt8(truncatingIfNeeded: keys.count)])
            }
            let expected = keys.sorted { $0.lexicographicallyPrecedes($1) }
            #expect(batch.keysInPutOrder == expected)
            #expect(batch.count == keys.count)
        }
        // Keys built in parts: a text, a text pair, a zero byte and a big-endian number.
        var batch = WriteBatch()
        batch.append(key: { $0.append("bh/", "fees:USD"); $0.number(258) }, value: [1])
        batch.append(key: { $0.append("bh/fees:USD") }, value: [2])
        #expect(batch.keysInPutOrder == [
            Array("bh/fees:USD".utf8), Array("bh/fees:USD".utf8) + [0, 0, 0, 0, 0, 0, 0, 1, 2],
        ])
    }

    @Test("the batch bound doubles after a full batch spread over many users, up to 4 times the configured size, and returns after a concentrated one")
    func batchBoundAdapts() throws {
        let fixture = try ProjectionFixture()
        let batches = EventBatches(journal: fixture.journal.storage, limit: 1000)
        #expect(batches.limit == 1000)
        batches.adapt(folded: 999, usersTouched: 999)
        #expect(batches.limit == 1000, "a short batch (the live tail) changes nothing")
        batches.adapt(folded: 1000, usersTouched: 400)
        #expect(batches.limit == 2000, "fewer than 4 events per user: doubles")
        batches.adapt(folded: 2000, usersTouched: 400)
        #expect(batches.limit == 2000, "5 events per user: kept")
        batches.adapt(folded: 2000, usersTouched: 1000)
        batches.adapt(folded: 4000, usersTouched: 2000)
        #expect(batches.limit == 4000, "never past 4 times the configured size")
        batches.adapt(folded: 4000, usersTouched: 249)
        #expect(batches.limit == 1000, "more than 16 events per user: back to the configured size")
        // Any sequence of batches keeps the bound between the configured size and 4 times it.
        var random = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let folded = Bool.random(using: &random) ? batches.limit : Int.random(in: 0...batches.limit, using: &random)
            batches.adapt(folded: folded, usersTouched: Int.random(in: 0...max(folded, 1), using: &random))
            #expect((1000...4000).contains(batches.limit))
        }
    }
}
