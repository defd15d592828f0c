import Journal
import Testing
@testable import Ledger

@Suite("Ledger: accounts, members, wallets, funding")
struct LedgerAccountTests {
    @Test("accounts open through each channel; a vendor link records the referring vendor")
    func openAccounts() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.run(.openAccount(user: "bob", channel: .vendorLink, referringVendor: "shop"))
        try await fixture.run(.openAccount(user: "carol", channel: .customerService, representative: "rep-7"))
        let bob = try fixture.ledger.read { try $0.user("bob") }
        #expect(bob?.channel == .vendorLink)
        #expect(bob?.referringVendor == "shop")
        #expect(try fixture.ledger.read { try $0.user("carol") }?.representative == "rep-7")
    }

    @Test("account rejections")
    func accountRejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.reject(.openAccount(user: "alice", channel: .providerSite), .accountExists)
        try await fixture.reject(.openAccount(user: "has:colon", channel: .providerSite), .invalidIdentifier)
        try await fixture.reject(.openAccount(user: "", channel: .providerSite), .invalidIdentifier)
        try await fixture.reject(.openAccount(user: "dave", channel: .vendorLink), .unknownReferringVendor)
        try await fixture.reject(.openAccount(user: "dave", channel: .vendorLink, referringVendor: "nobody"), .unknownReferringVendor)
        try await fixture.reject(.openAccount(user: "dave", channel: .customerService), .invalidIdentifier)
        try await fixture.reject(.openAccount(user: "dave", channel: .providerSite, referringVendor: "shop"), .unknownReferringVendor)
        try await fixture.reject(.openAccount(user: "dave", channel: .providerSite, representative: "rep"), .invalidIdentifier)
        try await fixture.reject(.openWallet(user: "alice", currency: .usd), .walletExists)
        try await fixture.reject(.openWallet(user: "nobody", currency: .usd), .unknownAccount)
    }

    @Test("members share the account; a removed member can no longer buy")
    func members() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.run(.addMember(user: "alice", member: "alice-kid"))
        try await fixture.reject(.addMember(user: "alice", member: "alice-kid"), .memberExists)
        let bought = try await fixture.run(.purchase(user: "alice", member: "alice-kid", vendor: "shop", content: .inline(LedgerFixture.terms())))
        #expect(bought.transaction != nil)
        try await fixture.run(.removeMember(user: "alice", member: "alice-kid"))
        try await fixture.reject(.removeMember(user: "alice", member: "alice-kid"), .unknownMember)
        try await fixture.reject(.purchase(user: "alice", member: "alice-kid", vendor: "shop", content: .inline(LedgerFixture.terms())), .unknownMember)
    }

    @Test("online funds reach the wallet at once; offline funds wait until cleared, or go back when failed")
    func funding() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenUser("alice", funds: 0)
        try await fixture.run(.addFunds(funding: "card-1", user: "alice", currency: .usd, amount: 500, method: .card))
        #expect(try fixture.wallet("alice") == 500)
        try await fixture.run(.addFunds(funding: "check-1", user: "alice", currency: .usd, amount: 300, method: .check))
        #expect(try fixture.wallet("alice") == 500)
        #expect(try fixture.balance(.pending(user: "alice", currency: .usd)) == 300)
        try await fixture.run(.clearFunds(funding: "check-1"))
        #expect(try fixture.wallet("alice") == 800)
        try await fixture.reject(.clearFunds(funding: "check-1"), .fundingNotPending)
        try await fixture.run(.addFunds(funding: "mail-1", user: "alice", currency: .usd, amount: 50, method: .mailedBill))
        try await fixture.run(.failFunds(funding: "mail-1"))
        #expect(try fixture.wallet("alice") == 800)
        #expect(try fixture.balance(.pending(user: "alice", currency: .usd)) == 0)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("funding rejections: amounts, currencies, wallets, duplicates")
    func fundingRejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenUser("alice", funds: 0)
        let eur = Currency(code: "EUR")!
        try await fixture.reject(.addFunds(funding: "z", user: "alice", currency: .usd, amount: 0, method: .card), .amountNotPositive)
        try await fixture.reject(.addFunds(funding: "n", user: "alice", currency: .usd, amount: -5, method: .card), .amountNotPositive)
        try await fixture.reject(.addFunds(funding: "e", user: "alice", currency: eur, amount: 5, method: .card), .walletNotOpen)
        try await fixture.reject(.addFunds(funding: "u", user: "nobody", currency: .usd, amount: 5, method: .card), .unknownAccount)
        try await fixture.reject(.addFunds(funding: "v", user: "alice", currency: .usd, amount: 5, method: .card, throughVendor: "nobody"), .unknownVendor)
        try await fixture.run(.addFunds(funding: "big", user: "alice", currency: .usd, amount: Money.amountMax, method: .card))
        try await fixture.reject(.addFunds(funding: "more", user: "alice", currency: .usd, amount: .max, method: .card), .amountOverflow)
        try await fixture.reject(.addFunds(funding: "big", user: "alice", currency: .usd, amount: 1, method: .check), .invalidIdentifier)
        try await fixture.reject(.clearFunds(funding: "nothing"), .unknownFunding)
        #expect(Currency(code: "ABC") == nil)
    }

    @Test("a credit line lets a purchase go past the wallet down to the limit; new funds repay it first")
    func creditLine() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 50)
        try await fixture.run(.approveCreditLine(user: "alice", currency: .usd, limit: 100))
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 120))))
        #expect(try fixture.wallet("alice") == 0)
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == -70)
        let refused = try await fixture.reject(
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 31))), .insufficientFunds)
        #expect(refused?.headroom == 30)
        try await fixture.reject(.approveCreditLine(user: "alice", currency: .usd, limit: 60), .creditLimitNegative)
        try await fixture.run(.addFunds(funding: "pay", user: "alice", currency: .usd, amount: 100, method: .bankDebit))
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == 0)
        #expect(try fixture.wallet("alice") == 30)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("transfers move tokens between users; self-transfers, overdrafts and other currencies are refused")
    func transfers() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenUser("alice", funds: 100)
        try await fixture.givenUser("bob", funds: 0)
        try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 40))
        #expect(try fixture.wallet("alice") == 60)
        #expect(try fixture.wallet("bob") == 40)
        try await fixture.reject(.transfer(from: "alice", to: "alice", currency: .usd, amount: 1), .selfTransfer)
        let over = try await fixture.reject(.transfer(from: "alice", to: "bob", currency: .usd, amount: 61), .insufficientFunds)
        #expect(over?.headroom == 60)
        try await fixture.reject(.transfer(from: "alice", to: "bob", currency: .usd, amount: 0), .amountNotPositive)
        try await fixture.reject(.transfer(from: "alice", to: "nobody", currency: .usd, amount: 1), .unknownAccount)
        try await fixture.reject(.transfer(from: "alice", to: "bob", currency: Currency(code: "EUR")!, amount: 1), .walletNotOpen)
    }
}

@Suite("Ledger: credit and holds")
struct LedgerCreditHoldTests {
    @Test("a hold drawn on credit, released after the credit was repaid, goes back to the wallet")
    func releaseAfterRepayment() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 0)
        try await fixture.run(.approveCreditLine(user: "alice", currency: .usd, limit: 100))
        let transaction = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 50)), holdSeconds: 60)).transaction)
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == -50)
        try await fixture.run(.addFunds(funding: "pay", user: "alice", currency: .usd, amount: 80, method: .card))
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == 0)
        #expect(try fixture.wallet("alice") == 30)
        try await fixture.run(.void(vendor: "shop", transaction: transaction))
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == 0)
        #expect(try fixture.wallet("alice") == 80)
        #expect(try fixture.balancesSumToZero())
    }
}

@Suite("Ledger: stored events")
struct LedgerStoredEventTests {
    static let good = #"{"amount":5,"from":"a","postings":[{"amount":5,"credit":"wallet:b:USD","currency":"USD","debit":"wallet:a:USD"}],"timeMilliseconds":1,"to":"b","currency":"USD"}"#

    @Test(
        "a stored event whose postings break the posting rules, or of an unknown type, is refused, not folded",
        arguments: [
            good.replacingOccurrences(of: #""amount":5,"credit""#, with: #""amount":-5,"credit""#),
            good.replacingOccurrences(of: #""amount":5,"credit""#, with: #""amount":0,"credit""#),
            good.replacingOccurrences(of: "wallet:b:USD", with: "wallet:b:EUR"),
            good.replacingOccurrences(of: "wallet:b:USD", with: "wallet:a:USD"),
            good.replacingOccurrences(of: #""currency":"USD"}"#, with: #""currency":"ABC"}"#),
        ])
    func badPostings(payload: String) throws {
        #expect(throws: (any Error).self) { try LedgerEvent(typeName: "TokensTransferred", payload: Array(payload.utf8)) }
    }

    @Test("a well-formed stored event decodes; an unknown type does not")
    func decoding() throws {
        let event = try LedgerEvent(typeName: "TokensTransferred", payload: Array(Self.good.utf8))
        #expect(event.postings.count == 1)
        #expect(throws: LedgerDecodingError.self) { try LedgerEvent(typeName: "Nonsense", payload: Array(Self.good.utf8)) }
    }
}
