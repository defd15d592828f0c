import Foundation
import Ledger
import TallyTestSupport
import Testing
@testable import journal_tool

@Suite("journal-tool verify: balances stay within the ledger's bounds", .serialized)
struct BalanceBoundsTests {
    @Test("each kind of account has its bound; what leaves it is named with the rule")
    func rules() {
        for account in ["wallet:u:USD", "holds:u:USD", "pending:u:USD", "outgoing:u:USD", "lot:l-1:USD", "reserve:v:EUR"] {
            #expect(BalanceBounds.kind(of: account) == .nonNegative, "\(account)")
            #expect(BalanceBounds.failure(account, balance: 0, kind: .nonNegative, creditLimit: 0, at: 5) == nil)
            let below = BalanceBounds.failure(account, balance: -1, kind: .nonNegative, creditLimit: 0, at: 5)
            #expect(below == AuditFailure(kind: .balanceOutOfBounds, sequence: 5, message: "\(account) falls to -1: it never goes below zero"))
        }
        #expect(BalanceBounds.kind(of: "credit:u:USD") == .creditLine)
        // Payables a refund after a payout leaves owing, fees, funding and clearing have no bound.
        for account in ["vendor:v:USD", "holder:label:USD", "fees:USD", "incentives:shop:USD", "funding:card:USD", "settlement:USD",
                        "walletx:u:USD", "credits:u:USD"] {
            #expect(BalanceBounds.kind(of: account) == .unbounded, "\(account)")
            #expect(BalanceBounds.failure(account, balance: .min, kind: .unbounded, creditLimit: 0, at: 5) == nil)
        }
        #expect(BalanceBounds.failure("credit:u:USD", balance: -300, kind: .creditLine, creditLimit: 300, at: 7) == nil)
        #expect(BalanceBounds.failure("credit:u:USD", balance: -301, kind: .creditLine, creditLimit: 300, at: 7)?.message
            == "credit:u:USD has 301 in use, more than its approved limit of 300")
        #expect(BalanceBounds.failure("credit:u:USD", balance: -1, kind: .creditLine, creditLimit: 0, at: 7)?.message
            == "credit:u:USD has 1 in use, more than its approved limit of 0")
        #expect(BalanceBounds.failure("credit:u:USD", balance: 2, kind: .creditLine, creditLimit: 300, at: 7)?.message
            == "credit:u:USD rises to 2: a credit line is never in credit")
        #expect(BalanceBounds.approvalFailure("credit:u:USD", limit: 200, balance: -200, at: 9) == nil)
        #expect(BalanceBounds.approvalFailure("credit:u:USD", limit: 199, balance: -200, at: 9)?.message
            == "a limit of 199 is approved for credit:u:USD, with 200 in use")
        #expect(BalanceBounds.approvalFailure("credit:u:USD", limit: -1, balance: 0, at: 9)?.kind == .balanceOutOfBounds)
        #expect(AuditFailure.Kind.balanceOutOfBounds.exitCode.rawValue == 37)
    }

    /// A journal where bob buys on credit (a limit of 500, then 400), repays it with more
    /// (the rest to his wallet), and transfers to alice.
    static func creditJournal(_ directory: String) async throws {
        let (journal, ledger) = try LedgerJournal.open(directory)
        defer { journal.close() }
        func run(_ command: LedgerCommand) async throws { _ = try await ledger.execute(command) }
        try await run(.registerVendor(vendor: "shop", name: "Shop", sites: ["https://shop.example/"], feeBasisPoints: 500,
                                      settlement: SettlementPolicy(thresholdAmount: 1_000_000)))
        for user in ["alice", "bob"] {
            try await run(.openAccount(user: user, channel: .providerSite))
            try await run(.openWallet(user: user, currency: .usd))
        }
        try await run(.addFunds(funding: "f-bob", user: "bob", currency: .usd, amount: 100, method: .card))
        try await run(.approveCreditLine(user: "bob", currency: .usd, limit: 500))
        // 100 from the wallet, 300 on credit.
        try await run(.purchase(user: "bob", vendor: "shop", content: .inline(LedgerJournal.terms("a", vendor: "shop", price: 400, holders: ["label"]))))
        try await run(.approveCreditLine(user: "bob", currency: .usd, limit: 400))
        // 300 repays the credit, 100 goes to the wallet.
        try await run(.addFunds(funding: "f-bob-2", user: "bob", currency: .usd, amount: 400, method: .card))
        try await run(.transfer(from: "bob", to: "alice", currency: .usd, amount: 70))
    }

    @Test("a ledger journal with credit lines passes; a re-signed one that overdraws a wallet or a credit line is found (exit 37)")
    func tampered() async throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        try await Self.creditJournal(data)
        let clean = try ToolRun.run(["verify", "--data", data, "--json"])
        #expect(clean.status == 0, "\(clean.summary)")

        func expectOutOfBounds(_ typeName: String, nth: Int = 0, says: String, failsAt: UInt64? = nil,
                               sourceLocation: SourceLocation = #_sourceLocation, _ change: @escaping (String) -> String) throws {
            try VerifyAuditTests.expectFailure(data, typeName: typeName, nth: nth, kind: .balanceOutOfBounds, says: says, failsAt: failsAt,
                                               sourceLocation: sourceLocation, change)
        }
        // Bob transfers 700 he does not have: the postings balance, his wallet does not.
        try expectOutOfBounds("TokensTransferred", says: "wallet:bob:USD falls to -600: it never goes below zero") {
            $0.replacingOccurrences(of: "\"amount\":70", with: "\"amount\":700")
        }
        // The first limit approved at 200: the purchase puts 300 on credit.
        let purchase = try Self.sequence(of: "PurchaseCaptured", in: data)
        try expectOutOfBounds("CreditLineApproved", says: "credit:bob:USD has 300 in use, more than its approved limit of 200", failsAt: purchase) {
            $0.replacingOccurrences(of: "\"limit\":500", with: "\"limit\":200")
        }
        // The second limit approved below the 300 then in use.
        try expectOutOfBounds("CreditLineApproved", nth: 1, says: "a limit of 250 is approved for credit:bob:USD, with 300 in use") {
            $0.replacingOccurrences(of: "\"limit\":400", with: "\"limit\":250")
        }
        // The 100 that went to the wallet sent to the credit line too: it would be in credit.
        try expectOutOfBounds("FundsAdded", nth: 1, says: "credit:bob:USD rises to 100: a credit line is never in credit") {
            $0.replacingOccurrences(of: "\"credit\":\"wallet:bob:USD\"", with: "\"credit\":\"credit:bob:USD\"")
        }
    }

    /// The sequence of the first event of `typeName`.
    static func sequence(of typeName: String, in data: String) throws -> UInt64 {
        let raw = try RawJournal(data)
        for sequence in 1...(try raw.lastSequence()) where try raw.event(sequence).typeName == typeName { return sequence }
        throw RawJournalError("no \(typeName)")
    }
}
