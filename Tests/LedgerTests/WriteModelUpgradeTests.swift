import Foundation
import Journal
import TallyTestSupport
import Testing
@testable import Ledger

@Suite("Ledger: the write model's layout version")
struct WriteModelUpgradeTests {
    @Test("an empty journal is marked with this build's layout; a second open finds it current; a ledger marks its empty journal at once")
    func emptyJournalIsMarked() throws {
        let directory = TemporaryDirectory("tally-layout")
        let journal = try Journal.open(Journal.Configuration(directory: directory.path))
        defer { journal.close() }
        #expect(try Ledger.writeModelLayout(journal.storage) == 1, "no marker yet")
        #expect(try Ledger.upgradeWriteModel(journal.storage) == .marked)
        #expect(try Ledger.upgradeWriteModel(journal.storage) == .current)
        let fixture = try LedgerFixture()
        #expect(try Ledger.writeModelLayout(fixture.journal.storage) == Ledger.writeModelVersion)
        #expect(try fixture.ledger.writeModel().isEmpty)
    }

    @Test("a write model of an older layout is folded afresh: what the old fold did not keep is there, the rest unchanged")
    func olderLayoutIsRefolded() async throws {
        let fixture = try LedgerFixture()
        #expect(try Ledger.upgradeWriteModel(fixture.journal.storage) == .current)
        try await fixture.givenShopAndAlice(funds: 1_000)
        let transaction = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200)))).transaction)
        try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: transaction, reason: "no"))
        try await fixture.run(.resolveDispute(dispute: "d1", refund: false, representative: "rep-1"))
        let live = try fixture.ledger.writeModel()
        #expect(live["rejected/" + transaction] != nil)
        // What a layout-1 build left: no record of the rejection, and no marker.
        try fixture.journal.storage.write { writer in
            try writer.deleteState(Array(("rejected/" + transaction).utf8))
            try writer.setMetadata(Ledger.writeModelVersionName, Array("1".utf8))
        }
        #expect(try fixture.ledger.writeModel()["rejected/" + transaction] == nil)
        let head = fixture.journal.head
        let upgrade = try Ledger.upgradeWriteModel(fixture.journal.storage)
        #expect(upgrade == .refolded(from: 1, events: head, entries: live.count))
        #expect(try fixture.ledger.writeModel() == live)
        #expect(try Ledger.replay(fixture.journal.storage) == live)
        #expect(try Ledger.upgradeWriteModel(fixture.journal.storage) == .current)
        // And the rule that needed the record holds again.
        try await fixture.reject(.openDispute(dispute: "d2", user: "alice", transaction: transaction, reason: "again"), .disputeAlreadyDecided)
    }

    @Test("a layout-4 or layout-5 write model is marked current without a fold: its records are what this build writes for them",
          arguments: [4, 5])
    func olderLayoutIsRemarked(layout: Int) async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200))))
        // A whole refund, the only kind those layouts met, keeps the record's old bytes.
        let refunded = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300)))).transaction)
        try await fixture.run(.refund(vendor: "shop", transaction: refunded, reason: "whole"))
        let live = try fixture.ledger.writeModel()
        try fixture.journal.storage.write { try $0.setMetadata(Ledger.writeModelVersionName, Array(String(layout).utf8)) }
        #expect(try Ledger.upgradeWriteModel(fixture.journal.storage) == .remarked(from: layout))
        #expect(try Ledger.writeModelLayout(fixture.journal.storage) == Ledger.writeModelVersion)
        #expect(try fixture.ledger.writeModel() == live)
        #expect(try Ledger.replay(fixture.journal.storage) == live)
        #expect(try Ledger.upgradeWriteModel(fixture.journal.storage) == .current)
        #expect(live["txn/" + refunded]?.first == 0xA4)
    }

    @Test("a vendor record without thresholds by currency has layout 4's bytes; with them, its own tag and every cut refused")
    func vendorRecordLayouts() throws {
        let plain = VendorRecord(name: "Shop", sites: ["https://shop.example/"], feeBasisPoints: 500,
                                 settlement: SettlementPolicy(thresholdAmount: 10_000, periodSeconds: 86_400),
                                 lastSettledAtMilliseconds: 7, settledThroughSequence: 1)
        var withThresholds = plain
        withThresholds.settlement.currencyThresholds = ["JPY": 100_000, "EUR": 5_000]
        let plainBytes = plain.binaryBytes, longer = withThresholds.binaryBytes
        // Layout 4: tag 0xA2, name, sites, fee, threshold, period, two integers; nothing after them.
        var layout4 = ByteWriter(tag: 0xA2)
        layout4.string("Shop"); layout4.array(["https://shop.example/"]) { $0.string($1) }; layout4.signed(500)
        layout4.optionalSigned(10_000); layout4.optionalUnsigned(86_400); layout4.unsigned(7); layout4.unsigned(1)
        #expect(plainBytes == layout4.bytes)
        #expect(longer.first == RecordTag.vendorWithThresholds && Array(longer.dropFirst().prefix(plainBytes.count - 1)) == Array(plainBytes.dropFirst()))
        #expect(try VendorRecord.decodeStored(longer) == withThresholds)
        #expect(try VendorRecord.decodeStored(plainBytes) == plain)
        // Any cut of the longer record, an empty list, or codes out of order or repeated: refused.
        for length in 1..<longer.count {
            #expect(throws: RecordCodingError.self, "cut to \(length)") { try VendorRecord.decodeStored(Array(longer.prefix(length))) }
        }
        for tail: [(String, Int64)] in [[], [("JPY", 1), ("EUR", 1)], [("EUR", 1), ("EUR", 2)]] {
            var writer = ByteWriter(tag: RecordTag.vendorWithThresholds)
            writer.bytes += plainBytes.dropFirst()
            writer.array(tail) { $0.string($1.0); $0.signed($1.1) }
            #expect(throws: RecordCodingError.self) { try VendorRecord.decodeStored(writer.bytes) }
        }
        // Layout 4's tag followed by thresholds is a record with bytes after its end.
        var trailing = ByteWriter(tag: RecordTag.vendor)
        trailing.bytes += plainBytes.dropFirst()
        trailing.thresholds(["EUR": 1])
        #expect(throws: RecordCodingError.self) { try VendorRecord.decodeStored(trailing.bytes) }
    }

    @Test("a layout from a newer build, or a damaged marker, is refused and nothing is written")
    func newerOrDamagedIsRefused() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let before = try fixture.ledger.writeModel()
        for marker in [String(Ledger.writeModelVersion + 1), "two", "", "-3", "0"] {
            try fixture.journal.storage.write { try $0.setMetadata(Ledger.writeModelVersionName, Array(marker.utf8)) }
            #expect(throws: Ledger.WriteModelError.self, "marker \(marker)") { try Ledger.upgradeWriteModel(fixture.journal.storage) }
            #expect(try fixture.ledger.writeModel() == before)
            let stored = try fixture.journal.storage.read { try $0.metadata(Ledger.writeModelVersionName) }
            #expect(stored == Array(marker.utf8))
        }
    }
}

@Suite("Ledger: the write model's balances checked against the postings")
struct BalanceCheckTests {
    @Test("every balance equals its postings; a changed, missing, stray or damaged balance is named")
    func checkBalances() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200))))
        let storage = fixture.journal.storage
        #expect(try Ledger.checkBalances(storage) == nil)
        let wallet = LedgerAccount.wallet(user: "alice", currency: .usd).name
        let key = Array(("bal/" + wallet).utf8)
        let good = try #require(try storage.read { try $0.state(key) })
        func damaged(_ value: [UInt8]?) throws -> Ledger.BalanceMismatch? {
            try storage.write { writer in
                if let value { try writer.putState(key, value) } else { try writer.deleteState(key) }
            }
            defer { _ = try? storage.write { try $0.putState(key, good) } }
            return try Ledger.checkBalances(storage)
        }
        let changed = try #require(try damaged(withUnsafeBytes(of: Int64(900).bigEndian) { Array($0) }))
        #expect(changed.account == wallet)
        #expect(changed.fromPostings == 800)
        #expect(changed.inWriteModel == 900)
        #expect(changed.throughSequence == fixture.journal.head)
        let missing = try #require(try damaged(nil))
        #expect(missing.account == wallet && missing.inWriteModel == nil && missing.fromPostings == 800)
        let short = try #require(try damaged([1, 2, 3]))
        #expect(short.account == wallet && short.inWriteModel == nil)
        #expect(try Ledger.checkBalances(storage) == nil, "restored")
        // A balance the postings never gave.
        try storage.write { try $0.putState(Array("bal/wallet:nobody:USD".utf8), withUnsafeBytes(of: Int64(5).bigEndian) { Array($0) }) }
        let stray = try #require(try Ledger.checkBalances(storage))
        #expect(stray.account == "wallet:nobody:USD" && stray.fromPostings == 0 && stray.inWriteModel == 5)
        try storage.write { try $0.deleteState(Array("bal/wallet:nobody:USD".utf8)) }
        #expect(try Ledger.checkBalances(storage) == nil)
    }

    @Test("summed a few events per snapshot while purchases go on: no false mismatch, and a changed balance is still found")
    func checkBalancesInChunks() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100_000)
        let storage = fixture.journal.storage
        // Three events per read transaction, and a purchase appended between every two of
        // them, the last included: the balances the final snapshot reads are those of events
        // the earlier snapshots did not see. The check runs on a thread of its own, which
        // waits for each purchase.
        let fixtureBox = UncheckedBox(fixture)
        let head = fixture.journal.head
        let (result, appended) = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var appended = 0
                continuation.resume(with: Result {
                    let mismatch = try Ledger.checkBalances(storage, chunk: 3, stop: {
                        let done = DispatchSemaphore(value: 0)
                        let landed = UncheckedBox(Flag())
                        Task {
                            landed.value.set = (try? await fixtureBox.value.run(.purchase(
                                user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 7))))) != nil
                            done.signal()
                        }
                        done.wait()
                        if landed.value.set { appended += 1 }
                        return false
                    })
                    return (mismatch, appended)
                })
            }
        }
        #expect(result == nil)
        #expect(appended >= 2 && fixture.journal.head == head + UInt64(appended), "a purchase after every snapshot (\(appended))")
        #expect(try Ledger.checkBalances(storage, chunk: 3) == nil)
        let vendor = LedgerAccount.vendorPayable(vendor: "shop", currency: .usd).name
        let key = Array(("bal/" + vendor).utf8)
        let good = try #require(try storage.read { try $0.state(key) })
        try storage.write { try $0.putState(key, withUnsafeBytes(of: (LedgerState.storedBalance(good)! + 1).bigEndian) { Array($0) }) }
        let changed = try #require(try Ledger.checkBalances(storage, chunk: 3))
        #expect(changed.account == vendor && changed.throughSequence == fixture.journal.head)
        #expect(changed.inWriteModel == changed.fromPostings + 1)
        // Asked to stop between snapshots, it reports nothing.
        #expect(try Ledger.checkBalances(storage, chunk: 3, stop: { true }) == nil)
    }
}

/// Hands a non-Sendable test fixture to a thread that uses it only while the test waits.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Set by a task the setting thread waits for (a semaphore orders the two).
private final class Flag {
    var set = false
}
