import Journal
import Testing
@testable import Ledger

@Suite("Ledger: the write model's layout version")
struct WriteModelUpgradeTests {
    @Test("an empty journal is marked with this build's layout; a second open finds it current")
    func emptyJournalIsMarked() throws {
        let fixture = try LedgerFixture()
        #expect(try Ledger.upgradeWriteModel(fixture.journal.storage) == .marked)
        #expect(try Ledger.upgradeWriteModel(fixture.journal.storage) == .current)
        #expect(try fixture.ledger.writeModel().isEmpty)
    }

    @Test("a write model of an older layout is folded afresh: what the old fold did not keep is there, the rest unchanged")
    func olderLayoutIsRefolded() async throws {
        let fixture = try LedgerFixture()
        #expect(try Ledger.upgradeWriteModel(fixture.journal.storage) == .marked)
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
