import Journal
import Testing
@testable import Ledger

/// A user asks for tokens to be paid back (`requestPayout`, event `PayoutRequested`); customer
/// service pays the request (`completePayout`, a `FundsReturned` marked `requested`) or declines
/// it (`declinePayout`, `PayoutDeclined`).
@Suite("Ledger: payouts users ask for")
struct LedgerPayoutRequestTests {
    static let outgoing = LedgerAccount.outgoing(user: "alice", currency: .usd)

    @Test("a request sets the amount aside at once; paying it sends it out by the method asked for")
    func requestAndPay() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 500)
        let requested = try await fixture.run(.requestPayout(payout: "q1", user: "alice", currency: .usd, amount: 300, method: .bankDebit))
        guard case .payoutRequested(let request)? = requested.events.first else {
            Issue.record("expected PayoutRequested, got \(requested.events)")
            return
        }
        #expect(request.postings == [Posting(debit: .wallet(user: "alice", currency: .usd), credit: Self.outgoing, amount: 300)])
        #expect(try fixture.wallet("alice") == 200)
        #expect(try fixture.balance(Self.outgoing) == 300)
        // What is set aside cannot be spent meanwhile.
        let short = try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 250))), .insufficientFunds)
        #expect(short?.headroom == 200)

        let paid = try await fixture.run(.completePayout(payout: "q1", representative: "rep-1"))
        guard case .fundsReturned(let returned)? = paid.events.first else {
            Issue.record("expected FundsReturned, got \(paid.events)")
            return
        }
        #expect(returned.requested == true && returned.method == .bankDebit && returned.amount == 300 && returned.representative == "rep-1")
        #expect(returned.postings == [Posting(debit: Self.outgoing, credit: .fundingClearing(method: .bankDebit, currency: .usd), amount: 300)])
        #expect(try fixture.balance(Self.outgoing) == 0)
        #expect(try fixture.wallet("alice") == 200)
        #expect(try fixture.ledger.read { try $0.payoutRequest("q1") }?.status == .paid)
        #expect(try fixture.ledger.read { try $0.payout("q1") }?.amount == 300)
        // Decided once.
        try await fixture.reject(.completePayout(payout: "q1", representative: "rep-1"), .payoutNotPending)
        try await fixture.reject(.declinePayout(payout: "q1", representative: "rep-1", reason: "late"), .payoutNotPending)
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a declined request gives the amount back to the wallet, with the representative's reason")
    func decline() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 500)
        try await fixture.run(.requestPayout(payout: "q1", user: "alice", currency: .usd, amount: 120, method: .card))
        try await fixture.reject(.declinePayout(payout: "q1", representative: "rep-1", reason: ""), .invalidText)
        let declined = try await fixture.run(.declinePayout(payout: "q1", representative: "rep-1", reason: "the card has expired"))
        guard case .payoutDeclined(let event)? = declined.events.first else {
            Issue.record("expected PayoutDeclined, got \(declined.events)")
            return
        }
        #expect(event.reason == "the card has expired" && event.amount == 120)
        #expect(try fixture.wallet("alice") == 500)
        #expect(try fixture.balance(Self.outgoing) == 0)
        #expect(try fixture.ledger.read { try $0.payoutRequest("q1") }?.status == .declined)
        try await fixture.reject(.completePayout(payout: "q1", representative: "rep-1"), .payoutNotPending)
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("request rejections: amount, method, account, wallet, funds, a payout ID used by any payout; unknown requests")
    func rejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 500)
        func ask(_ id: String = "q", user: String = "alice", currency: Currency = .usd, amount: Int64 = 10,
                 method: FundingMethod = .card) -> LedgerCommand {
            .requestPayout(payout: id, user: user, currency: currency, amount: amount, method: method)
        }
        try await fixture.reject(ask("has space"), .invalidIdentifier)
        try await fixture.reject(ask(amount: 0), .amountNotPositive)
        try await fixture.reject(ask(amount: -5), .amountNotPositive)
        let method = try await fixture.reject(ask(method: .providerIssue), .payoutMethodNotAllowed)
        #expect(method?.field == "method")
        try await fixture.reject(ask(user: "nobody"), .unknownAccount)
        try await fixture.reject(ask(currency: Currency(code: "EUR")!), .walletNotOpen)
        let short = try await fixture.reject(ask(amount: 501), .insufficientFunds)
        #expect(short?.headroom == 500 && short?.field == "amount")
        try await fixture.run(.returnFunds(payout: "p1", user: "alice", currency: .usd, amount: 10, method: .card, representative: "rep-1"))
        try await fixture.reject(ask("p1"), .payoutExists)
        try await fixture.run(ask("q1"))
        try await fixture.reject(ask("q1"), .payoutExists)
        try await fixture.reject(.returnFunds(payout: "q1", user: "alice", currency: .usd, amount: 10, method: .card, representative: "rep-1"), .payoutExists)
        try await fixture.reject(.completePayout(payout: "nope", representative: "rep-1"), .unknownPayout)
        try await fixture.reject(.declinePayout(payout: "nope", representative: "rep-1", reason: "no"), .unknownPayout)
        try await fixture.reject(.completePayout(payout: "q1", representative: ""), .invalidIdentifier)
        // A payout made at once is no request to decide.
        try await fixture.reject(.completePayout(payout: "p1", representative: "rep-1"), .unknownPayout)
    }

    @Test("a user's keyed request sent twice is the first answer and sets aside nothing more")
    func keyedRetry() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 500)
        let command = LedgerCommand.requestPayout(payout: "q1", user: "alice", currency: .usd, amount: 100, method: .card)
        let first = try await fixture.run(command, key: "ask-1", scope: IdempotencyScope.user("alice"))
        let again = try await fixture.run(command, key: "ask-1", scope: IdempotencyScope.user("alice"))
        #expect(again.replayed && again.events == first.events)
        #expect(try fixture.wallet("alice") == 400)
    }
}
