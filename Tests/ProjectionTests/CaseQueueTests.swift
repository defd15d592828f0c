import Ledger
@testable import Projections
import Testing

/// Read model 7: customer service's cases, the fundings and disputes, and the queues of those
/// still waiting for someone (`open/funds`, `open/disputes`).
@Suite("Customer-service cases")
struct CaseQueueTests {
    static let usd = ProjectionFixture.usd

    /// Alice and Bob with offline funds waiting and two of Alice's purchases disputed.
    static func givenWaitingCases(_ fixture: ProjectionFixture) async throws -> (purchases: [String], sequences: [String: UInt64]) {
        try await fixture.givenShopAndAlice()
        try await fixture.givenUser("bob", funds: 0)
        var sequences: [String: UInt64] = [:]
        for (funding, user, method) in [("chk-1", "alice", FundingMethod.check), ("mo-1", "bob", .moneyOrder)] {
            let added = try await fixture.run(.addFunds(funding: funding, user: user, currency: usd, amount: 700, method: method))
            sequences[funding] = added.sequences?.lowerBound
        }
        var purchases: [String] = []
        for index in 1...3 {
            let bought = try await fixture.run(.purchase(
                user: "alice", vendor: "shop",
                content: .inline(ProjectionFixture.terms("song-\(index)", price: 100 * Int64(index), url: ProjectionFixture.site + "songs/\(index)"))))
            purchases.append(try #require(bought.transaction))
        }
        for (dispute, transaction) in [("d-1", purchases[0]), ("d-2", purchases[2])] {
            let opened = try await fixture.run(.openDispute(dispute: dispute, user: "alice", transaction: transaction, reason: "never arrived"))
            sequences[dispute] = opened.sequences?.lowerBound
        }
        return (purchases, sequences)
    }

    @Test("pending offline funds and open disputes wait in the order they came; online funds never wait")
    func queues() async throws {
        let fixture = try ProjectionFixture()
        let (purchases, sequences) = try await Self.givenWaitingCases(fixture)
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let funds = try reader.pendingFundings()
            #expect(funds.fundings.map(\.funding) == ["chk-1", "mo-1"])
            #expect(funds.nextAfter == nil)
            let check = try #require(funds.fundings.first)
            #expect(check == FundingCase(
                funding: "chk-1", user: "alice", currency: Self.usd, amount: 700, method: .check, throughVendor: nil,
                status: .pending, addedAtMilliseconds: check.addedAtMilliseconds, settledAtMilliseconds: nil,
                sequence: try #require(sequences["chk-1"]), updatedAtSequence: try #require(sequences["chk-1"])))
            // Alice's card funds were credited at once: a case, never in the queue.
            #expect(try reader.funding("f-alice")?.status == .completed)
            #expect(try reader.funding("nobody") == nil)

            let disputes = try reader.openDisputes()
            #expect(disputes.disputes.map(\.dispute) == ["d-1", "d-2"])
            let first = try #require(disputes.disputes.first)
            #expect(first.transaction == purchases[0] && first.user == "alice" && first.vendor == "shop")
            // The reserve is what the vendor keeps: the price less the 5 % fee and the 10 % royalty.
            #expect(first.price == 100 && first.reserved == 85 && !first.unauthorized && first.reason == "never arrived")
            #expect(first.status == .open && first.decidedBy == nil && first.refunded == nil && first.resolvedAtMilliseconds == nil)
            #expect(first.sequence == sequences["d-1"])
        }
    }

    @Test("a page of a queue ends where the next begins, and the last page has no cursor")
    func pages() async throws {
        let fixture = try ProjectionFixture()
        let (_, sequences) = try await Self.givenWaitingCases(fixture)
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let first = try reader.pendingFundings(limit: 1)
            #expect(first.fundings.map(\.funding) == ["chk-1"])
            #expect(first.nextAfter == sequences["chk-1"])
            let second = try reader.pendingFundings(after: first.nextAfter, limit: 1)
            #expect(second.fundings.map(\.funding) == ["mo-1"])
            #expect(second.nextAfter == nil)
            #expect(try reader.pendingFundings(after: sequences["mo-1"]).fundings.isEmpty)
            #expect(try reader.pendingFundings(after: .max).fundings.isEmpty)

            let disputes = try reader.openDisputes(limit: 1)
            #expect(disputes.disputes.map(\.dispute) == ["d-1"])
            #expect(try reader.openDisputes(after: disputes.nextAfter, limit: 1).disputes.map(\.dispute) == ["d-2"])
        }
    }

    @Test("each user's fundings and disputes, and each vendor's disputes, newest first, paged, each as it stands; no one else's")
    func perUser() async throws {
        let fixture = try ProjectionFixture()
        _ = try await Self.givenWaitingCases(fixture)
        try await fixture.run(.clearFunds(funding: "chk-1"))
        try await fixture.run(.resolveDispute(dispute: "d-2", refund: false, representative: "rep-1"))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let alice = try reader.fundings(user: "alice")
            #expect(alice.fundings.map(\.funding) == ["chk-1", "f-alice"])
            #expect(alice.fundings.map(\.status) == [.cleared, .completed])
            #expect(alice.nextBefore == nil)
            #expect(try reader.fundings(user: "bob").fundings.map(\.funding) == ["mo-1"])
            #expect(try reader.fundings(user: "nobody").fundings.isEmpty)
            // Narrowed to a status: only those that stand at it, however old.
            #expect(try reader.fundings(user: "alice", status: .completed).fundings.map(\.funding) == ["f-alice"])
            #expect(try reader.fundings(user: "alice", status: .pending).fundings.isEmpty)
            #expect(try reader.fundings(user: "bob", status: .pending).fundings.map(\.funding) == ["mo-1"])
            let narrowed = try reader.fundings(user: "alice", limit: 1, status: .completed)
            #expect(narrowed.fundings.map(\.funding) == ["f-alice"] && narrowed.nextBefore == nil)

            let first = try reader.disputes(user: "alice", limit: 1)
            #expect(first.disputes.map(\.dispute) == ["d-2"])
            #expect(first.disputes.first?.status == .rejected)
            let second = try reader.disputes(user: "alice", before: first.nextBefore, limit: 1)
            #expect(second.disputes.map(\.dispute) == ["d-1"])
            #expect(second.disputes.first?.status == .open)
            #expect(second.nextBefore == nil)
            #expect(try reader.disputes(user: "bob").disputes.isEmpty)
            // The vendor's sales' disputes, the same newest first; a vendor with no sales has none.
            #expect(try reader.disputes(vendor: "shop").disputes.map(\.dispute) == ["d-2", "d-1"])
            #expect(try reader.disputes(vendor: "elsewhere").disputes.isEmpty)
        }
    }

    @Test("a case leaves its queue once settled, keeps its record, and the read models equal a fresh fold", arguments: [1, 3, 64])
    func settled(batchEvents: Int) async throws {
        let fixture = try ProjectionFixture(batchEvents: batchEvents)
        let (purchases, _) = try await Self.givenWaitingCases(fixture)
        try fixture.projections.catchUp()
        fixture.clock.advance(seconds: 5)
        try await fixture.run(.clearFunds(funding: "chk-1"))
        try await fixture.run(.failFunds(funding: "mo-1"))
        try await fixture.run(.resolveDispute(dispute: "d-1", refund: true, representative: "rep-1"))
        // Added and cleared, opened and resolved between two catch-ups: folded in one go.
        try await fixture.run(.addFunds(funding: "chk-2", user: "bob", currency: Self.usd, amount: 50, method: .check))
        try await fixture.run(.clearFunds(funding: "chk-2"))
        try await fixture.run(.openDispute(dispute: "d-3", user: "alice", transaction: purchases[1], reason: "wrong song"))
        try await fixture.run(.resolveDispute(dispute: "d-3", refund: false, representative: "rep-2"))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(try reader.pendingFundings().fundings.isEmpty)
            let cleared = try #require(try reader.funding("chk-1"))
            #expect(cleared.status == .cleared && cleared.settledAtMilliseconds == fixture.clock.now && cleared.updatedAtSequence > cleared.sequence)
            #expect(try reader.funding("mo-1")?.status == .failed)
            #expect(try reader.funding("chk-2")?.status == .cleared)

            #expect(try reader.openDisputes().disputes.map(\.dispute) == ["d-2"])
            let refunded = try #require(try reader.dispute("d-1"))
            #expect(refunded.status == .refunded && refunded.decidedBy == "customerService" && refunded.representative == "rep-1")
            #expect(refunded.refunded == 100 && refunded.resolvedAtMilliseconds == fixture.clock.now)
            let rejected = try #require(try reader.dispute("d-3"))
            #expect(rejected.status == .rejected && rejected.refunded == 0 && rejected.representative == "rep-2")
        }
        try await fixture.run(.resolveDispute(dispute: "d-2", refund: false, representative: "rep-1"))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(try reader.openDisputes().disputes.isEmpty)
        }
        let live = try fixture.projections.canonicalDump()
        #expect(!live.contains("open/"), "a settled case left a queue entry behind")
        #expect(live.contains("dsp/d-3 = "))
        #expect(live == (try fixture.freshDump()))
    }

    @Test("each payout has a record and is listed with the user's, newest first, paged; its history entry says where the money went",
          arguments: [1, 64])
    func payouts(batchEvents: Int) async throws {
        let fixture = try ProjectionFixture(batchEvents: batchEvents)
        try await fixture.givenShopAndAlice()
        try await fixture.givenUser("bob", funds: 300)
        let first = try await fixture.run(.returnFunds(payout: "p-1", user: "alice", currency: Self.usd, amount: 100, method: .card, representative: "rep-1"))
        try fixture.projections.catchUp()
        fixture.clock.advance(seconds: 5)
        let second = try await fixture.run(.returnFunds(payout: "p-2", user: "alice", currency: Self.usd, amount: 50, method: .bankDebit, representative: "rep-2"))
        try await fixture.run(.returnFunds(payout: "p-3", user: "bob", currency: Self.usd, amount: 300, method: .check, representative: "rep-1"))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let latest = try #require(try reader.payout("p-2"))
            #expect(latest == PayoutCase(
                payout: "p-2", user: "alice", currency: Self.usd, amount: 50, method: .bankDebit, representative: "rep-2",
                returnedAtMilliseconds: fixture.clock.now, sequence: try #require(second.sequences?.lowerBound)))
            #expect(try reader.payout("nobody") == nil)

            let page = try reader.payouts(user: "alice", limit: 1)
            #expect(page.payouts.map(\.payout) == ["p-2"])
            #expect(page.nextBefore == second.sequences?.lowerBound)
            let rest = try reader.payouts(user: "alice", before: page.nextBefore)
            #expect(rest.payouts.map(\.payout) == ["p-1"])
            #expect(rest.payouts.first?.sequence == first.sequences?.lowerBound)
            #expect(rest.nextBefore == nil)
            #expect(try reader.payouts(user: "bob").payouts.map(\.payout) == ["p-3"])
            #expect(try reader.payouts(user: "carol").payouts.isEmpty)

            let history = try reader.walletHistory(user: "bob", currency: Self.usd)
            let entry = try #require(history.entries.first)
            #expect(entry.eventType == "FundsReturned" && entry.amount == -300 && entry.counterparty == "funding")
        }
        #expect(try fixture.projections.canonicalDump() == (try fixture.freshDump()))
    }

    @Test("a payout request waits in its queue until paid or declined; the user's list keeps each as it stands; the wallet's history shows it set aside and given back",
          arguments: [1, 64])
    func payoutRequests(batchEvents: Int) async throws {
        let fixture = try ProjectionFixture(batchEvents: batchEvents)
        try await fixture.givenShopAndAlice()
        let first = try await fixture.run(.requestPayout(payout: "q-1", user: "alice", currency: Self.usd, amount: 300, method: .bankDebit))
        try fixture.projections.catchUp()
        fixture.clock.advance(seconds: 5)
        try await fixture.run(.requestPayout(payout: "q-2", user: "alice", currency: Self.usd, amount: 200, method: .card))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(try reader.requestedPayouts().requests.map(\.payout) == ["q-1", "q-2"])
            let page = try reader.requestedPayouts(limit: 1)
            #expect(page.nextAfter == first.sequences?.lowerBound)
            #expect(try reader.requestedPayouts(after: page.nextAfter).requests.map(\.payout) == ["q-2"])
            #expect(try reader.caseBacklog().requestedPayouts == 2)
            let wallet = try #require(try reader.wallets(user: "alice")?.wallets.first)
            #expect(wallet.balance == 10_000 - 500 && wallet.outgoing == 500)
        }
        fixture.clock.advance(seconds: 5)
        try await fixture.run(.completePayout(payout: "q-1", representative: "rep-1"))
        let declined = try await fixture.run(.declinePayout(payout: "q-2", representative: "rep-2", reason: "card closed"))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(try reader.requestedPayouts().requests.isEmpty)
            let paid = try #require(try reader.payoutRequest("q-1"))
            #expect(paid.status == .paid && paid.representative == "rep-1" && paid.reason == nil && paid.decidedAtMilliseconds == fixture.clock.now)
            #expect(try reader.payout("q-1")?.amount == 300)
            let gone = try #require(try reader.payoutRequest("q-2"))
            #expect(gone.status == .declined && gone.reason == "card closed" && gone.updatedAtSequence == declined.sequences?.lowerBound)
            #expect(try reader.payoutRequests(user: "alice").requests.map(\.payout) == ["q-2", "q-1"])
            #expect(try reader.payoutRequests(user: "bob").requests.isEmpty)
            let wallet = try #require(try reader.wallets(user: "alice")?.wallets.first)
            #expect(wallet.balance == 10_000 - 300 && wallet.outgoing == 0)
            let entries = try reader.walletHistory(user: "alice", currency: Self.usd, limit: 3).entries
            #expect(entries.map(\.amount) == [200, -200, -300] && entries.allSatisfy { $0.counterparty == "payout" })
        }
        let live = try fixture.projections.canonicalDump()
        #expect(!live.contains("open/payouts"), "a decided request left a queue entry behind")
        #expect(live == (try fixture.freshDump()))
    }
}
