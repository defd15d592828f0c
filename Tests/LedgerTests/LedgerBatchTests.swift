import Journal
import Testing
@testable import Ledger

@Suite("Ledger: batches")
struct LedgerBatchTests {
    @Test("a batch decides each command in order in one commit; refusals change nothing; a repeated key replays")
    func mixedBatch() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 250)
        let head = fixture.journal.head
        let buy = { (price: Int64) in LedgerCommand.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: price))) }
        let results = try await fixture.ledger.executeBatch([
            (buy(100), "a"),
            (buy(100), "b"),
            (buy(100), "c"),                      // only 50 left: refused
            (buy(100), "a"),                      // same key, same request: the first answer
            (buy(7), "a"),                        // same key, other request: conflict
            (.openAccount(user: "x", channel: .providerSite), "k"),  // not a vendor command
        ])
        #expect(results.count == 6)
        let first = try results[0].get()
        let second = try results[1].get()
        #expect(first.sequences == (head + 1)...(head + 1))
        #expect(second.sequences == (head + 2)...(head + 2))
        #expect(first.receipts.count == 1)
        guard case .failure(let funds) = results[2] else { Issue.record("expected a refusal"); return }
        #expect(funds.rule == .insufficientFunds)
        #expect(funds.headroom == 50)
        let replay = try results[3].get()
        #expect(replay.replayed && replay.events == first.events)
        guard case .failure(let conflict) = results[4], case .failure(let notVendor) = results[5] else { Issue.record("expected refusals"); return }
        #expect(conflict.rule == .idempotencyConflict)
        #expect(notVendor.rule == .invalidIdentifier)
        #expect(fixture.journal.head == head + 2)
        #expect(try fixture.wallet("alice") == 50)
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }
}
