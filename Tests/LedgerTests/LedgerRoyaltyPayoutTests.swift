import Journal
import Testing
@testable import Ledger

/// Paying rights holders their royalties (`payRoyalties`, event `RoyaltiesPaid`): the holder's
/// whole payable in a currency leaves Tally, as a vendor's settlement does.
@Suite("Ledger: paying rights holders their royalties")
struct LedgerRoyaltyPayoutTests {
    static let label = LedgerAccount.rightsHolderPayable(holder: "label", currency: .usd)

    @Test("a payout pays the holder's whole payable into settlement clearing, once; later royalties are paid by the next")
    func payout() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        // Two purchases of 200: the label's 10 % is 20 each.
        for _ in 0..<2 {
            try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200))))
        }
        #expect(try fixture.balance(Self.label) == 40)

        let result = try await fixture.run(.payRoyalties(payout: "roy-1", holder: "label", currency: .usd, representative: "rep-1"))
        guard case .royaltiesPaid(let paid)? = result.events.first, result.events.count == 1 else {
            Issue.record("expected one RoyaltiesPaid, got \(result.events)")
            return
        }
        #expect(paid.amount == 40)
        #expect(paid.postings == [Posting(debit: Self.label, credit: .settlementClearing(currency: .usd), amount: 40)])
        #expect(try fixture.balance(Self.label) == 0)
        #expect(try fixture.balance(.settlementClearing(currency: .usd)) == 40)
        #expect(try fixture.ledger.read { try $0.royaltyPayout("roy-1") } == RoyaltyPayoutRecord(
            holder: "label", currency: .usd, amount: 40, representative: "rep-1", timeMilliseconds: paid.timeMilliseconds))

        // Nothing more to pay until more is earned.
        let nothing = try await fixture.reject(.payRoyalties(payout: "roy-2", holder: "label", currency: .usd, representative: "rep-1"), .nothingToSettle)
        #expect(nothing?.field == "holder")
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))))
        try await fixture.run(.payRoyalties(payout: "roy-2", holder: "label", currency: .usd, representative: "rep-1"))
        #expect(try fixture.balance(.settlementClearing(currency: .usd)) == 50)
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("payout rejections: IDs, representative, a holder or currency with nothing earned, a payout ID used by either kind of payout")
    func rejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200))))
        func pay(_ id: String = "roy", holder: String = "label", currency: Currency = .usd, representative: String = "rep-1") -> LedgerCommand {
            .payRoyalties(payout: id, holder: holder, currency: currency, representative: representative)
        }
        try await fixture.reject(pay("has space"), .invalidIdentifier)
        try await fixture.reject(pay(holder: ""), .invalidIdentifier)
        try await fixture.reject(pay(representative: "a/b"), .invalidIdentifier)
        try await fixture.reject(pay(holder: "nobody"), .nothingToSettle)
        try await fixture.reject(pay(currency: Currency(code: "EUR")!), .nothingToSettle)
        // The payout IDs of users and of rights holders are one space.
        try await fixture.run(.returnFunds(payout: "p-1", user: "alice", currency: .usd, amount: 10, method: .card, representative: "rep-1"))
        let taken = try await fixture.reject(pay("p-1"), .payoutExists)
        #expect(taken?.field == "payout")
        try await fixture.run(pay("roy-1"))
        try await fixture.reject(pay("roy-1"), .payoutExists)
        try await fixture.reject(.returnFunds(payout: "roy-1", user: "alice", currency: .usd, amount: 10, method: .card, representative: "rep-1"),
                                 .payoutExists)
    }

    @Test("a refund after the royalty was paid out leaves the holder owing; later royalties repay it before anything is paid")
    func refundAfterPayout() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let bought = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300)))).transaction)
        try await fixture.run(.payRoyalties(payout: "roy-1", holder: "label", currency: .usd, representative: "rep-1"))
        try await fixture.run(.refund(vendor: "shop", transaction: bought, reason: "withdrawn"))
        #expect(try fixture.balance(Self.label) == -30)
        #expect(try fixture.wallet("alice") == 1_000)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200))))
        #expect(try fixture.balance(Self.label) == -10)
        try await fixture.reject(.payRoyalties(payout: "roy-2", holder: "label", currency: .usd, representative: "rep-1"), .nothingToSettle)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("a payout sent again with customer service's key is the first answer and pays nothing more")
    func keyedRetry() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200))))
        let command = LedgerCommand.payRoyalties(payout: "roy-1", holder: "label", currency: .usd, representative: "rep-1")
        let first = try await fixture.run(command, key: "pay-label", scope: IdempotencyScope.customerService)
        let again = try await fixture.run(command, key: "pay-label", scope: IdempotencyScope.customerService)
        #expect(again.replayed && again.events == first.events && again.sequences == first.sequences)
        #expect(try fixture.balance(.settlementClearing(currency: .usd)) == 20)
    }
}
