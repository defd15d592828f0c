import Journal
import Testing
@testable import Ledger

/// Paying tokens back out of a wallet (`returnFunds`, event `FundsReturned`): the holder's right
/// to redeem at par, and the way customer service empties an account before erasing a person.
@Suite("Ledger: paying tokens back (payouts)")
struct LedgerPayoutTests {
    /// Alice with 500 in her wallet by card, 100 of it held for a purchase, 300 by check still
    /// pending, a 25-token incentive lot and an unused 1,000 credit line.
    static func givenAliceWithEveryKindOfMoney(_ fixture: LedgerFixture) async throws {
        try await fixture.givenShopAndAlice(funds: 500)
        _ = try await fixture.run(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)), holdSeconds: 60))
        try await fixture.run(.addFunds(funding: "chk", user: "alice", currency: .usd, amount: 300, method: .check))
        try await fixture.run(.issueIncentive(lot: "promo", user: "alice", currency: .usd, amount: 25, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        try await fixture.run(.approveCreditLine(user: "alice", currency: .usd, limit: 1_000))
    }

    @Test("a payout takes the wallet's own balance out of Tally through the method named, and nothing else")
    func payout() async throws {
        let fixture = try LedgerFixture()
        try await Self.givenAliceWithEveryKindOfMoney(fixture)
        #expect(try fixture.wallet("alice") == 400)

        let refused = try await fixture.reject(
            .returnFunds(payout: "p1", user: "alice", currency: .usd, amount: 401, method: .bankDebit, representative: "rep-1"),
            .insufficientFunds)
        #expect(refused?.headroom == 400)
        #expect(refused?.field == "amount")

        let result = try await fixture.run(
            .returnFunds(payout: "p1", user: "alice", currency: .usd, amount: 400, method: .bankDebit, representative: "rep-1"))
        guard case .fundsReturned(let returned)? = result.events.first else {
            Issue.record("expected FundsReturned, got \(result.events)")
            return
        }
        #expect(returned.postings == [Posting(debit: .wallet(user: "alice", currency: .usd),
                                              credit: .fundingClearing(method: .bankDebit, currency: .usd), amount: 400)])
        #expect(returned.representative == "rep-1")
        #expect(try fixture.wallet("alice") == 0)
        #expect(try fixture.balance(.fundingClearing(method: .bankDebit, currency: .usd)) == 400)
        // The held, pending, incentive and credit money are where they were.
        #expect(try fixture.balance(.holds(user: "alice", currency: .usd)) == 100)
        #expect(try fixture.balance(.pending(user: "alice", currency: .usd)) == 300)
        #expect(try fixture.balance(.incentiveLot(lot: "promo", currency: .usd)) == 25)
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == 0)
        #expect(try fixture.balancesSumToZero())
        let record = try fixture.ledger.read { try $0.payout("p1") }
        #expect(record == PayoutRecord(user: "alice", currency: .usd, amount: 400, method: .bankDebit, representative: "rep-1",
                                       timeMilliseconds: returned.timeMilliseconds))

        // Nothing is left to pay back, and the cleared check can go back once it is in the wallet.
        try await fixture.reject(.returnFunds(payout: "p2", user: "alice", currency: .usd, amount: 1, method: .card, representative: "rep-1"),
                                 .insufficientFunds)
        try await fixture.run(.clearFunds(funding: "chk"))
        try await fixture.run(.returnFunds(payout: "p2", user: "alice", currency: .usd, amount: 300, method: .check, representative: "rep-1"))
        #expect(try fixture.wallet("alice") == 0)
        #expect(try fixture.balance(.fundingClearing(method: .check, currency: .usd)) == 0)
    }

    @Test("payout rejections: IDs, representative, amounts, method, account, wallet, a retried payout")
    func rejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 500)
        func payout(_ id: String = "p", user: String = "alice", currency: Currency = .usd, amount: Int64 = 10,
                    method: FundingMethod = .card, representative: String = "rep-1") -> LedgerCommand {
            .returnFunds(payout: id, user: user, currency: currency, amount: amount, method: method, representative: representative)
        }
        try await fixture.reject(payout("has space"), .invalidIdentifier)
        try await fixture.reject(payout(""), .invalidIdentifier)
        try await fixture.reject(payout(representative: ""), .invalidIdentifier)
        try await fixture.reject(payout(amount: 0), .amountNotPositive)
        try await fixture.reject(payout(amount: -10), .amountNotPositive)
        let method = try await fixture.reject(payout(method: .providerIssue), .payoutMethodNotAllowed)
        #expect(method?.field == "method")
        try await fixture.reject(payout(user: "nobody"), .unknownAccount)
        try await fixture.reject(payout(currency: Currency(code: "EUR")!), .walletNotOpen)
        try await fixture.reject(payout(amount: .max), .amountOverflow)
        let short = try await fixture.reject(payout(amount: 501), .insufficientFunds)
        #expect(short?.headroom == 500)

        try await fixture.run(payout("once", amount: 10))
        // The same payout again (a retry after a timeout) is refused: money never leaves twice.
        let again = try await fixture.reject(payout("once", amount: 10), .payoutExists)
        #expect(again?.field == "payout")
        #expect(try fixture.wallet("alice") == 490)
    }

    @Test("a replay of a journal with payouts gives the live write model")
    func replay() async throws {
        let fixture = try LedgerFixture()
        try await Self.givenAliceWithEveryKindOfMoney(fixture)
        try await fixture.run(.returnFunds(payout: "p1", user: "alice", currency: .usd, amount: 150, method: .card, representative: "rep-1"))
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }
}
