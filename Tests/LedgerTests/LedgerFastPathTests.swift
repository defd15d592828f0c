import Foundation
import TallyTestSupport
import Testing
@testable import Ledger

/// The purchase path's shortcuts give the answers of the plain code they replace: postings
/// folded account by account equal postings folded one by one, balances read twice from the
/// base equal a fresh read, and the spending log's transaction IDs parse as before.
@Suite("Ledger fast paths")
struct LedgerFastPathTests {
    /// What the fold did before: each posting, debit then credit, one balance at a time.
    static func foldOneByOne(_ postings: [Posting], into entries: inout [String: Int64]) -> Bool {
        for posting in postings {
            let (debit, debitOverflow) = (entries["bal/" + posting.debit] ?? 0).subtractingReportingOverflow(posting.amount)
            if debitOverflow { return false }
            entries["bal/" + posting.debit] = debit
            let (credit, creditOverflow) = (entries["bal/" + posting.credit] ?? 0).addingReportingOverflow(posting.amount)
            if creditOverflow { return false }
            entries["bal/" + posting.credit] = credit
        }
        return true
    }

    @Test("postings applied account by account equal postings applied one by one, shared accounts included")
    func postingsByAccount() throws {
        var mix = TestValues(seed: 7)
        let names = ["wallet:u1:USD", "vendor:v1:USD", "fees:USD", "holder:h1:USD", "credit:u1:USD", "lot:l1:USD"]
        for round in 0..<500 {
            // A base with some balances, some of them staged already by an earlier event.
            var base: [String: [UInt8]] = [:]
            var expected: [String: Int64] = [:]
            for name in names where mix.below(2) == 0 {
                let value = Int64(mix.below(2_000_001)) - 1_000_000
                base["bal/" + name] = LedgerState.balanceBytes(value)
                expected["bal/" + name] = value
            }
            var state = LedgerState(base: { base[$0] })
            if mix.below(2) == 0 {
                let name = names[mix.below(names.count)]
                let value = Int64(mix.below(1000))
                state.setBalance(named: name, value)
                expected["bal/" + name] = value
            }
            // Reading before the fold fills the base-read cache, as a decision does.
            for name in names where mix.below(3) == 0 { _ = try state.balance(named: name) }
            var postings: [Posting] = []
            for _ in 0..<(1 + mix.below(6)) {
                let debit = names[mix.below(names.count)]
                var credit = names[mix.below(names.count)]
                while credit == debit { credit = names[mix.below(names.count)] }
                postings.append(Posting(debitName: debit, creditName: credit, amount: Int64(1 + mix.below(5000)), currency: .usd))
            }
            #expect(Self.foldOneByOne(postings, into: &expected))
            try LedgerFold.applyPostings(postings, at: UInt64(round), to: &state)
            for name in names {
                #expect(try state.balance(named: name) == (expected["bal/" + name] ?? 0), "round \(round), \(name)")
            }
            // Only accounts the postings (or the setup) touched are staged, each once.
            let staged = state.stagedChanges.map(\.key)
            #expect(Set(staged).count == staged.count)
            for key in staged {
                #expect(postings.contains { "bal/" + $0.debit == key || "bal/" + $0.credit == key } || state.slots.keys.first == key)
            }
        }
    }

    @Test("an account's changes that overflow leave its balance unchanged")
    func overflowChangesNothing() throws {
        var state = LedgerState(base: { key in key == "bal/a:USD" ? LedgerState.balanceBytes(.max - 10) : nil })
        #expect(try state.addToBalance(key: "bal/a:USD", deltas: [5, 6]) == false)
        #expect(state.stagedChanges.isEmpty)
        #expect(try state.addToBalance(key: "bal/a:USD", deltas: [5, -6, 10]))
        #expect(try state.balance(key: "bal/a:USD") == .max - 1)
        #expect(try state.addToBalance(key: "bal/a:USD", deltas: [1, 1]) == false)
        #expect(try state.balance(key: "bal/a:USD") == .max - 1)
    }

    @Test("the deltas of one account follow posting order, debit before credit")
    func accountDeltas() {
        let postings = [
            Posting(debitName: "a:USD", creditName: "b:USD", amount: 5, currency: .usd),
            Posting(debitName: "b:USD", creditName: "c:USD", amount: 2, currency: .usd),
            Posting(debitName: "c:USD", creditName: "b:USD", amount: 1, currency: .usd),
        ]
        #expect(Array(AccountDeltas(postings: postings, name: "b:USD", index: 0, side: 1)) == [5, -2, 1])
        #expect(Array(AccountDeltas(postings: postings, name: "b:USD", index: 1, side: 0)) == [-2, 1])
        #expect(Array(AccountDeltas(postings: postings, name: "c:USD", index: 0, side: 0)) == [2, -1])
        #expect(Array(AccountDeltas(postings: postings, name: "d:USD", index: 0, side: 0)) == [])
    }

    @Test("a balance read from the base is read there once per state, and staged values win")
    func baseBalanceReadOnce() throws {
        final class Counter { var reads = 0 }
        let counter = Counter()
        var state = LedgerState(base: { key in
            counter.reads += 1
            return key == "bal/w:USD" ? LedgerState.balanceBytes(42) : nil
        })
        #expect(try state.balance(named: "w:USD") == 42)
        // A copy (as the decider holds) shares what was read.
        let copy = state
        #expect(try copy.balance(named: "w:USD") == 42)
        #expect(try state.balance(named: "x:USD") == 0)
        #expect(try state.balance(named: "x:USD") == 0)
        #expect(counter.reads == 2)
        #expect(try state.addToBalance(key: "bal/w:USD", -2))
        #expect(try state.balance(named: "w:USD") == 40)
        #expect(try copy.balance(named: "w:USD") == 42)
        #expect(counter.reads == 2)
        state.setRaw("bal/x:USD", nil)
        #expect(try state.balance(named: "x:USD") == 0)
    }

    @Test("stored strings read as String(validating:) reads them: ASCII, other UTF-8, and bytes that are not UTF-8")
    func storedStrings() throws {
        var mix = TestValues(seed: 5)
        var payloads: [[UInt8]] = [[], Array("plain ascii of some length, more than eight".utf8), Array("é".utf8), Array("🎵x".utf8),
                                   [0x80], [0xC3], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0x7F]]
        let pieces: [[UInt8]] = [[0x41], [0x7F], [0x00], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x8E, 0xB5], [0x80], [0xC3], [0xFE]]
        for _ in 0..<3_000 {
            var payload: [UInt8] = []
            for _ in 0..<mix.below(40) { payload += mix.below(4) == 0 ? pieces[mix.below(pieces.count)] : [UInt8(0x20 + mix.below(0x5F))] }
            payloads.append(payload)
        }
        for payload in payloads where payload.count < 128 {
            var reader = try ByteReader([0x01, UInt8(payload.count)] + payload, tag: 0x01)
            let expected = payload.withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) }
            if let expected {
                let text = try reader.string()
                #expect(text == expected && Array(text.utf8) == payload)
            } else {
                #expect(throws: RecordCodingError.self) { try reader.string() }
            }
        }
    }

    @Test("records are read from staged changes whatever else is staged, and from the base when their family is not")
    func keyFamilies() throws {
        #expect(LedgerState.KeyFamily.user == LedgerState.KeyFamily.of("user/u1"))
        #expect(LedgerState.KeyFamily.vendor == LedgerState.KeyFamily.of("vendor/v1"))
        #expect(LedgerState.KeyFamily.content == LedgerState.KeyFamily.of("content/v1/c1"))
        #expect(LedgerState.KeyFamily.lots == LedgerState.KeyFamily.of("lots/u1"))
        let stored = UserRecord(channel: .providerSite, referringVendor: nil, representative: nil, members: [:], wallets: [.usd],
                                creditLimits: [:], limits: [], openedAtMilliseconds: 1)
        var changed = stored
        changed.wallets.append(.eur)
        let base: [String: [UInt8]] = ["user/u1": stored.binaryBytes, "lots/u1": Array(#"["l1"]"#.utf8)]
        var state = LedgerState(base: { base[$0] })
        #expect(try state.user("u1") == stored)
        // Another family, then a key sharing the user family's first byte, then the user.
        state.setRecord("txn/t1", Int(1))
        #expect(try state.user("u1") == stored)
        state.setRecord("uses/t1", Int(2))
        #expect(try state.user("u1") == stored)
        state.setRecord("user/u1", changed)
        #expect(try state.user("u1") == changed)
        #expect(try state.incentiveLots(ofUser: "u1") == ["l1"])
        state.setRecord("lots/u1", ["l1", "l2"])
        #expect(try state.incentiveLots(ofUser: "u1") == ["l1", "l2"])
        #expect(try state.incentiveLots(ofUser: "u2") == [])
        // Balances stage through their own path and still mark their family.
        #expect(try state.addToBalance(key: "bal/w:USD", 5))
        #expect(state.stagedFamilies & LedgerState.KeyFamily.of("bal/") != 0)
    }

    /// The spending log's parse before it read bytes.
    static func serverSequenceByStrings(_ transaction: String) -> UInt64? {
        guard transaction.hasPrefix("tx-"), let sequence = UInt64(transaction.dropFirst(3)),
              "tx-" + String(sequence) == transaction
        else { return nil }
        return sequence
    }

    @Test("transaction IDs parse from bytes as they did from strings")
    func serverSequence() {
        var cases = [
            "tx-0", "tx-00", "tx-01", "tx-1", "tx-10", "tx-", "tx", "", "TX-1", "tx-+1", "tx--1", "tx-1 ", " tx-1",
            "tx-18446744073709551615", "tx-18446744073709551616", "tx-99999999999999999999", "tx-000000000000000000001",
            "tx-１", "tx-1\u{301}", "tx\u{301}-1", "t\u{0078}-7", "tx-٣", "tx-12345678901234567890123", "tx-9223372036854775808",
            "a-much-longer-transaction-id-than-any-small-string", "tx-12345678901234567890",
        ]
        var mix = TestValues(seed: 11)
        let alphabet = Array("tx-0123456789+ é1".unicodeScalars)
        for _ in 0..<5_000 {
            var text = mix.below(3) == 0 ? "" : "tx-"
            for _ in 0..<mix.below(24) { text.unicodeScalars.append(alphabet[mix.below(alphabet.count)]) }
            cases.append(text)
            cases.append("tx-" + String(mix.next() >> UInt64(mix.below(64))))
        }
        for text in cases {
            #expect(ServerTransactionID.sequence(of: text) == Self.serverSequenceByStrings(text), "\(text.debugDescription)")
            // Bridged or sliced strings without contiguous UTF-8 take the same answer.
            let bridged = String(Substring(text))
            #expect(ServerTransactionID.sequence(of: bridged) == Self.serverSequenceByStrings(text))
        }
    }
}
