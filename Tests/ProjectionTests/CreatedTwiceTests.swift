import Foundation
import Journal
@testable import Ledger
import Testing
@testable import Projections

/// An event that creates a record which exists already stops the fold at that event. The fold
/// looks a new record up only in its batch's state; one stored by an earlier batch is found by
/// the put that must not overwrite it, and the batch is then folded again up to the event.
@Suite("Records created twice")
struct CreatedTwiceTests {
    static let cases: [(typeName: String, reason: String)] = [
        ("AccountOpened", "account alice opened twice"),
        ("VendorRegistered", "vendor shop registered twice"),
        ("IncentiveIssued", "lot promo issued twice"),
        ("PurchaseCaptured", "transaction {captured} created twice"),
        ("PurchaseAuthorized", "transaction {held} created twice"),
    ]

    /// With batches of 2 events, a catch-up runs as a pipeline (`FoldPipeline`): the record may
    /// be created again in the batch right after the one that created it, folded while that one
    /// is still being written.
    @Test("a record created again stops the fold at that event, stored by an earlier batch or made in the same one",
          arguments: cases.indices, [(true, Projections.batchEvents), (false, Projections.batchEvents), (true, 2), (false, 2)])
    func createdAgain(_ index: Int, batching: (earlierBatch: Bool, batchEvents: Int)) async throws {
        let (typeName, reasonTemplate) = Self.cases[index]
        let earlierBatch = batching.earlierBatch
        let fixture = try ProjectionFixture(batchEvents: batching.batchEvents)
        try await fixture.givenShopAndAlice()
        try await fixture.givenUser("bob", funds: 0)
        try await fixture.run(.issueIncentive(lot: "promo", user: "alice", currency: .usd, amount: 50, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        let captured = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms()))).transaction)
        let held = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms("song-2", url: ProjectionFixture.site + "songs/2")),
            holdSeconds: 120)).transaction)
        if earlierBatch { try fixture.projections.catchUp() }

        let original = try #require(try JournalReader(storage: fixture.journal.storage).events(from: 1, limit: .max)
            .first { $0.typeName == typeName })
        // A good event about another record before it, and one after it.
        let before = try LedgerEvent.walletOpened(WalletOpened(user: "bob", currency: .eur, timeMilliseconds: fixture.clock.now)).draft()
        let after = try LedgerEvent.walletOpened(WalletOpened(user: "bob", currency: Currency(code: "JPY")!, timeMilliseconds: fixture.clock.now)).draft()
        _ = try await fixture.journal.append([before, EventDraft(typeName: original.typeName, payload: original.payload), after])
        let again = fixture.journal.head - 1

        #expect(try fixture.projections.catchUp() == again - 1)
        let failure = try #require(fixture.projections.status.failure)
        #expect(failure.sequence == again)
        #expect(failure.reason == reasonTemplate.replacingOccurrences(of: "{captured}", with: captured)
            .replacingOccurrences(of: "{held}", with: held))
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(reader.sequence == again - 1)
            #expect(try reader.wallets(user: "bob")?.wallets.map(\.currency.code) == ["EUR", "USD"])
            #expect(try reader.purchase(transaction: captured)?.status == .captured)
            #expect(try reader.purchase(transaction: held)?.status == .authorized)
        }
        // A rebuild meets the same event and is not swapped in.
        #expect(throws: ProjectionError.foldFailed(sequence: again, reason: failure.reason)) {
            try fixture.projections.rebuild(progress: nil)
        }
    }

    @Test("of two records created again in one batch, the fold stops at the earlier event, whatever their keys' order")
    func earliestOfTwo() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.givenUser("bob", funds: 0)
        try fixture.projections.catchUp()
        let events = try JournalReader(storage: fixture.journal.storage).events(from: 1, limit: .max)
        // `vendor/shop` sorts after `user/alice`, so the puts meet alice's record first.
        let vendor = try #require(events.first { $0.typeName == "VendorRegistered" })
        let account = try #require(events.first { $0.typeName == "AccountOpened" })
        _ = try await fixture.journal.append([
            EventDraft(typeName: vendor.typeName, payload: vendor.payload),
            EventDraft(typeName: account.typeName, payload: account.payload),
        ])
        let good = fixture.journal.head - 2
        #expect(try fixture.projections.catchUp() == good)
        let failure = try #require(fixture.projections.status.failure)
        #expect(failure.sequence == good + 1)
        #expect(failure.reason == "vendor shop registered twice")
    }
}
