import Journal
import Testing
@testable import Ledger

@Suite("Ledger: disputes and incentives")
struct LedgerDisputeIncentiveTests {
    @Test("a dispute reserves the vendor's share; customer service refunds it all, fee and royalty included")
    func disputeRefundedByCustomerService() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let bought = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200))))
        let transaction = try #require(bought.transaction)
        try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: transaction, reason: "not delivered"))
        // price 200: fee 10, royalty 20, vendor share 170, all reserved.
        #expect(try fixture.balance(.disputeReserve(vendor: "shop", currency: .usd)) == 170)
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 0)
        try await fixture.reject(.openDispute(dispute: "d1", user: "alice", transaction: transaction, reason: ""), .disputeExists)
        try await fixture.reject(.openDispute(dispute: "d2", user: "alice", transaction: transaction, reason: ""), .transactionNotCaptured)
        try await fixture.reject(.settle(vendor: "shop", currency: .usd, force: true), .nothingToSettle)
        try await fixture.run(.resolveDispute(dispute: "d1", refund: true, representative: "rep-1"))
        #expect(try fixture.wallet("alice") == 1_000)
        #expect(try fixture.balance(.disputeReserve(vendor: "shop", currency: .usd)) == 0)
        #expect(try fixture.balance(.providerFeeRevenue(currency: .usd)) == 0)
        #expect(try fixture.balance(.rightsHolderPayable(holder: "label", currency: .usd)) == 0)
        try await fixture.reject(.resolveDispute(dispute: "d1", refund: false, representative: "rep-1"), .disputeNotOpen)
        try await fixture.reject(.resolveDispute(dispute: "nope", refund: true, representative: "rep-1"), .unknownDispute)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("a rejected dispute returns the reserve to the vendor, who can then be settled")
    func disputeRejected() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let transaction = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200)))).transaction)
        try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: transaction, reason: "changed my mind"))
        try await fixture.run(.resolveDispute(dispute: "d1", refund: false, representative: "rep-2"))
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 170)
        #expect(try fixture.wallet("alice") == 800)
        // The decision stands: the purchase cannot be disputed again, so its earnings are not reserved again.
        try await fixture.reject(.openDispute(dispute: "d2", user: "alice", transaction: transaction, reason: "again"), .disputeAlreadyDecided)
        #expect(try fixture.balance(.disputeReserve(vendor: "shop", currency: .usd)) == 0)
        try await fixture.run(.settle(vendor: "shop", currency: .usd, force: true))
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a charge by a member whose access was revoked is unauthorized and refunded automatically")
    func unauthorizedRefundedByRule() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.addMember(user: "alice", member: "lodger"))
        let transaction = try #require(try await fixture.run(.purchase(
            user: "alice", member: "lodger", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300)))).transaction)
        try await fixture.run(.removeMember(user: "alice", member: "lodger"))
        let result = try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: transaction, reason: "not me"))
        #expect(result.events.count == 2)
        guard case .disputeResolved(let resolved) = result.events.last else { Issue.record("no DisputeResolved"); return }
        #expect(resolved.decidedBy == .rule)
        #expect(resolved.refunded == 300)
        #expect(try fixture.wallet("alice") == 1_000)
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("disputes of unknown or other users' purchases are refused")
    func disputeRejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.givenUser("bob", funds: 0)
        let transaction = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms()))).transaction)
        try await fixture.reject(.openDispute(dispute: "d1", user: "bob", transaction: transaction, reason: ""), .unknownTransaction)
        try await fixture.reject(.openDispute(dispute: "d1", user: "alice", transaction: "tx-1", reason: ""), .unknownTransaction)
        let held = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms()), holdSeconds: 60)).transaction)
        try await fixture.reject(.openDispute(dispute: "d1", user: "alice", transaction: held, reason: ""), .transactionNotCaptured)
    }

    @Test("a user's list of live lots holds only lots with tokens: spent and expired lots leave it, tokens coming back bring a lot back")
    func liveLots() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        func live() throws -> [String] { try fixture.ledger.read { try $0.incentiveLots(ofUser: "alice") }.sorted() }
        let soon = fixture.clock.now + 3_600_000
        try await fixture.run(.issueIncentive(lot: "a", user: "alice", currency: .usd, amount: 30, issuer: nil, expiresAtMilliseconds: nil, vendors: nil))
        try await fixture.run(.issueIncentive(lot: "b", user: "alice", currency: .usd, amount: 50, issuer: nil, expiresAtMilliseconds: soon, vendors: nil))
        #expect(try live() == ["a", "b"])
        // 60: "b" expires first, so it pays 50 and "a" the other 10.
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 60))))
        #expect(try live() == ["a"])
        // A hold takes the rest of "a"; its void gives the tokens back.
        let held = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 20)), holdSeconds: 60)).transaction)
        #expect(try live() == [])
        try await fixture.run(.void(vendor: "shop", transaction: held))
        #expect(try live() == ["a"])
        // A lot that expires with tokens left leaves the list with its expiry.
        try await fixture.run(.issueIncentive(lot: "c", user: "alice", currency: .usd, amount: 5, issuer: nil, expiresAtMilliseconds: soon, vendors: nil))
        #expect(try live() == ["a", "c"])
        fixture.clock.advance(seconds: 3_600)
        try await fixture.run(.expireIncentive(lot: "c"))
        #expect(try live() == ["a"])
        // Spending still finds the live lot.
        let last = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 25))))
        guard case .purchaseCaptured(let paid) = last.events.first else { Issue.record("no capture"); return }
        #expect(paid.sources.map(\.account) == ["lot:a:USD", "wallet:alice:USD"])
        #expect(try live() == [])
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("incentive lots pay before paid tokens, earliest expiry first, only where allowed; expiry returns the rest")
    func incentives() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.registerVendor(vendor: "other", name: "Other", sites: ["https://other.example/"], feeBasisPoints: 0,
                                              settlement: .init(periodSeconds: 60)))
        // Shop pays for the lot it issues out of what it has earned (bob's purchase).
        try await fixture.givenUser("bob", funds: 1_000)
        try await fixture.run(.purchase(user: "bob", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))))
        let soon = fixture.clock.now + 3_600_000
        try await fixture.run(.issueIncentive(lot: "late", user: "alice", currency: .usd, amount: 50, issuer: nil, expiresAtMilliseconds: nil, vendors: nil))
        try await fixture.run(.issueIncentive(lot: "early", user: "alice", currency: .usd, amount: 30, issuer: "shop", expiresAtMilliseconds: soon, vendors: ["shop"]))
        try await fixture.reject(.issueIncentive(lot: "early", user: "alice", currency: .usd, amount: 1, issuer: nil, expiresAtMilliseconds: nil, vendors: nil), .incentiveExists)
        try await fixture.reject(.issueIncentive(lot: "x", user: "alice", currency: .usd, amount: 1, issuer: nil, expiresAtMilliseconds: fixture.clock.now, vendors: nil), .expiryNotInFuture)
        try await fixture.reject(.issueIncentive(lot: "x", user: "alice", currency: .usd, amount: 0, issuer: nil, expiresAtMilliseconds: nil, vendors: nil), .amountNotPositive)
        try await fixture.reject(.issueIncentive(lot: "x", user: "alice", currency: .usd, amount: 1, issuer: "nobody", expiresAtMilliseconds: nil, vendors: nil), .unknownVendor)
        // 40 at shop: 30 from "early" (expires first), 10 from "late", nothing from the wallet.
        let first = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 40))))
        guard case .purchaseCaptured(let paid) = first.events.first else { Issue.record("no capture"); return }
        #expect(paid.sources.map(\.account) == ["lot:early:USD", "lot:late:USD"])
        #expect(try fixture.wallet("alice") == 1_000)
        // Content that names incentive IDs accepts only those lots.
        var named = LedgerFixture.terms(price: 45)
        named.incentiveIDs = ["early"]
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(named)))
        #expect(try fixture.wallet("alice") == 955)
        #expect(try fixture.balance(.incentiveLot(lot: "late", currency: .usd)) == 40)
        try await fixture.reject(.expireIncentive(lot: "late"), .incentiveNotExpired)
        try await fixture.reject(.expireIncentive(lot: "missing"), .unknownIncentive)
        try await fixture.run(.issueIncentive(lot: "short", user: "alice", currency: .usd, amount: 20, issuer: nil, expiresAtMilliseconds: soon, vendors: nil))
        fixture.clock.advance(seconds: 3_600)
        let expired = try await fixture.run(.expireIncentive(lot: "short"))
        guard case .incentiveExpired(let event) = expired.events.first else { Issue.record("no expiry"); return }
        #expect(event.amount == 20)
        #expect(try fixture.balance(.incentiveFunding(issuer: "provider", currency: .usd)) == -50)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("a vendor pays for its incentive tokens out of its unsettled earnings, never more than they hold; an expired lot's rest comes back to it, and settlement pays only what it earned")
    func vendorFundedLots() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let head = fixture.ledger.journal.head
        let nothing = try await fixture.reject(.issueIncentive(lot: "gift", user: "alice", currency: .usd, amount: 1, issuer: "shop",
                                                               expiresAtMilliseconds: nil, vendors: nil), .insufficientFunds)
        #expect(nothing?.headroom == 0)
        #expect(fixture.ledger.journal.head == head)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))))
        let payable = LedgerAccount.vendorPayable(vendor: "shop", currency: .usd)
        let earned = try fixture.balance(payable)
        #expect(earned == 85, "100 less the 5 % fee and the 10 % royalty")
        let over = try await fixture.reject(.issueIncentive(lot: "gift", user: "alice", currency: .usd, amount: earned + 1, issuer: "shop",
                                                            expiresAtMilliseconds: nil, vendors: nil), .insufficientFunds)
        #expect(over?.headroom == earned)

        let soon = fixture.clock.now + 3_600_000
        try await fixture.run(.issueIncentive(lot: "gift", user: "alice", currency: .usd, amount: 60, issuer: "shop", expiresAtMilliseconds: soon, vendors: ["shop"]))
        #expect(try fixture.balance(payable) == earned - 60)
        #expect(try fixture.balance(.incentiveFunding(issuer: "shop", currency: .usd)) == 0, "no vendor owes the provider for its tokens")
        // Alice spends 40 of the gift at shop: shop earns its share of that price as usual.
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms("song-2", price: 40))))
        #expect(try fixture.wallet("alice") == 900)
        let beforeExpiry = try fixture.balance(payable)
        #expect(beforeExpiry == earned - 60 + 34)
        fixture.clock.advance(seconds: 3_600)
        try await fixture.run(.expireIncentive(lot: "gift"))
        #expect(try fixture.balance(payable) == beforeExpiry + 20, "the 20 not spent come back to shop")
        let settled = try await fixture.run(.settle(vendor: "shop", currency: .usd, force: true))
        guard case .vendorSettled(let settlement) = settled.events.first else { Issue.record("no settlement"); return }
        #expect(settlement.amount == 85 + 34 - 40, "paid what it earned on 140 of sales less the 40 of its own tokens spent")
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a voided hold paid by a lot gives the lot its tokens back")
    func voidReturnsLot() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100)
        try await fixture.run(.issueIncentive(lot: "promo", user: "alice", currency: .usd, amount: 30, issuer: nil, expiresAtMilliseconds: nil, vendors: nil))
        let held = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 50)), holdSeconds: 60)).transaction)
        #expect(try fixture.balance(.incentiveLot(lot: "promo", currency: .usd)) == 0)
        try await fixture.run(.void(vendor: "shop", transaction: held))
        #expect(try fixture.balance(.incentiveLot(lot: "promo", currency: .usd)) == 30)
        #expect(try fixture.wallet("alice") == 100)
    }
}
