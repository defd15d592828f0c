@testable import Ledger
import Testing
@testable import journal_tool

@Suite("journal-tool verify: money arriving reaches the user the event names")
struct FundsAuditTests {
    static func postings(_ moves: [(String, String, Int64)], _ currency: Currency = .usd) -> [Posting] {
        moves.map { Posting(debitName: $0.0, creditName: $0.1, amount: $0.2, currency: currency) }
    }

    static func says(_ event: LedgerEvent) -> String? {
        let failure = FundsAudit.failure(event, at: 7)
        if let failure { #expect(failure.kind == .fundsInconsistent && failure.sequence == 7) }
        return failure?.message
    }

    @Test("funds added: online as a deposit of the amount, offline to pending, each from the method's clearing account")
    func added() {
        func added(_ method: FundingMethod, pending: Bool, amount: Int64 = 100, _ moves: [(String, String, Int64)]) -> String? {
            Self.says(.fundsAdded(FundsAdded(funding: "f", user: "u", currency: .usd, amount: amount, method: method, throughVendor: nil,
                                             pending: pending, postings: Self.postings(moves), idempotency: nil, timeMilliseconds: 1)))
        }
        #expect(added(.card, pending: false, [("funding:card:USD", "credit:u:USD", 30), ("funding:card:USD", "wallet:u:USD", 70)]) == nil)
        #expect(added(.check, pending: true, [("funding:check:USD", "pending:u:USD", 100)]) == nil)
        #expect(added(.card, pending: false, [("funding:card:USD", "wallet:w:USD", 100)])
            == "funds f for u moves 100 from funding:card:USD to wallet:w:USD, where it moves from funding:card:USD to u's credit line or wallet")
        #expect(added(.card, pending: false, [("funding:check:USD", "wallet:u:USD", 100)])?.contains("moves 100 from funding:check:USD") == true)
        #expect(added(.card, pending: false, [("funding:card:USD", "wallet:u:USD", 99)]) == "funds f for u moves 99 of its amount 100")
        #expect(added(.card, pending: true, [("funding:card:USD", "pending:u:USD", 100)]) == "funds f for u says pending is true for card, which is not offline")
        #expect(added(.check, pending: true, [("funding:check:USD", "wallet:u:USD", 100)])
            == "funds f for u moves funding:check:USD -> wallet:u:USD 100, where offline funds move funding:check:USD -> pending:u:USD 100")
        #expect(added(.check, pending: true, [("funding:check:USD", "pending:u:USD", 50), ("funding:check:USD", "pending:u:USD", 50)])?
            .contains("where offline funds move") == true)
    }

    @Test("cleared funds go from the user's pending funds to the user; failed ones back to a funding account")
    func clearedAndFailed() {
        func cleared(_ moves: [(String, String, Int64)]) -> String? {
            Self.says(.fundsCleared(FundsCleared(funding: "f", user: "u", postings: Self.postings(moves), timeMilliseconds: 1)))
        }
        func failed(_ moves: [(String, String, Int64)]) -> String? {
            Self.says(.fundsFailed(FundsFailed(funding: "f", user: "u", postings: Self.postings(moves), timeMilliseconds: 1)))
        }
        #expect(cleared([("pending:u:USD", "credit:u:USD", 40), ("pending:u:USD", "wallet:u:USD", 60)]) == nil)
        #expect(cleared([("pending:w:USD", "wallet:u:USD", 60)])?.hasPrefix("the clearing of funds f for u moves 60 from pending:w:USD to wallet:u:USD") == true)
        #expect(cleared([("pending:u:USD", "wallet:w:USD", 60)])?.contains("to wallet:w:USD, where it moves from pending:u:USD to u's credit line or wallet") == true)
        #expect(failed([("pending:u:USD", "funding:check:USD", 60)]) == nil)
        #expect(failed([("pending:u:USD", "wallet:u:USD", 60)])
            == "the failure of funds f for u moves pending:u:USD -> wallet:u:USD 60, where pending funds go back from pending:u to their funding account")
        #expect(failed([("pending:w:USD", "funding:check:USD", 60)])?.contains("moves pending:w:USD -> funding:check:USD 60") == true)
    }

    @Test("a transfer moves its amount out of the sender's wallet to the other user")
    func transfers() {
        func transfer(from: String = "u", to: String = "w", amount: Int64 = 100, _ moves: [(String, String, Int64)]) -> String? {
            Self.says(.tokensTransferred(TokensTransferred(from: from, to: to, currency: .usd, amount: amount, postings: Self.postings(moves),
                                                           idempotency: nil, timeMilliseconds: 1)))
        }
        #expect(transfer([("wallet:u:USD", "credit:w:USD", 10), ("wallet:u:USD", "wallet:w:USD", 90)]) == nil)
        #expect(transfer([("wallet:u:USD", "wallet:m:USD", 100)])
            == "the transfer from u to w moves 100 from wallet:u:USD to wallet:m:USD, where it moves from wallet:u:USD to w's credit line or wallet")
        #expect(transfer([("credit:u:USD", "wallet:w:USD", 100)])?.contains("moves 100 from credit:u:USD") == true)
        #expect(transfer(amount: 101, [("wallet:u:USD", "wallet:w:USD", 100)]) == "the transfer from u to w moves 100 of its amount 101")
        #expect(transfer(to: "u", [("wallet:u:USD", "wallet:u:USD", 100)]) == "the transfer from u to u is to the sender")
        #expect(Self.says(.walletOpened(WalletOpened(user: "u", currency: .usd, timeMilliseconds: 1))) == nil)
    }
}
