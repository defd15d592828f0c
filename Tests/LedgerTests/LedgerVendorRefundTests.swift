import Journal
import Testing
@testable import Ledger

/// A vendor gives a captured purchase's price back by its own decision (`refund`, event
/// `PurchaseRefunded`): what a dispute's refund takes back, with nothing reserved.
@Suite("Ledger: refunds by the vendor")
struct LedgerVendorRefundTests {
    @Test("a refund takes back the fee, the royalty and the vendor's share, and returns the price to the lot, the credit line and the wallet")
    func refundReturnsEverySource() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100)
        try await fixture.run(.issueIncentive(lot: "promo", user: "alice", currency: .usd, amount: 50, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        try await fixture.run(.approveCreditLine(user: "alice", currency: .usd, limit: 500))
        // 400: 50 from the lot, 100 from the wallet, 250 on credit. Fee 20, royalty 40, vendor 340.
        let bought = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400))))
        let transaction = try #require(bought.transaction)
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == -250)
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 340)

        let result = try await fixture.run(.refund(vendor: "shop", transaction: transaction, reason: "the file was corrupt"))
        guard case .purchaseRefunded(let refunded)? = result.events.first, result.events.count == 1 else {
            Issue.record("expected one PurchaseRefunded, got \(result.events)")
            return
        }
        #expect(refunded.refunded == 400)
        #expect(refunded.currency == .usd)
        #expect(refunded.user == "alice")
        #expect(refunded.reason == "the file was corrupt")
        let fees = LedgerAccount.providerFeeRevenue(currency: .usd)
        let label = LedgerAccount.rightsHolderPayable(holder: "label", currency: .usd)
        let payable = LedgerAccount.vendorPayable(vendor: "shop", currency: .usd)
        #expect(refunded.postings == [
            Posting(debit: fees, credit: .incentiveLot(lot: "promo", currency: .usd), amount: 20),
            Posting(debit: label, credit: .incentiveLot(lot: "promo", currency: .usd), amount: 30),
            Posting(debit: label, credit: .creditLine(user: "alice", currency: .usd), amount: 10),
            Posting(debit: payable, credit: .creditLine(user: "alice", currency: .usd), amount: 240),
            Posting(debit: payable, credit: .wallet(user: "alice", currency: .usd), amount: 100),
        ])
        #expect(try fixture.wallet("alice") == 100)
        #expect(try fixture.balance(.incentiveLot(lot: "promo", currency: .usd)) == 50)
        #expect(try fixture.balance(.creditLine(user: "alice", currency: .usd)) == 0)
        #expect(try fixture.balance(fees) == 0)
        #expect(try fixture.balance(label) == 0)
        #expect(try fixture.balance(payable) == 0)
        #expect(try fixture.balancesSumToZero())
        #expect(try fixture.ledger.read { try $0.transaction(transaction) }?.status == .refunded)
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a refunded purchase no longer counts against the user's limits and grants no access")
    func refundFreesLimitAndAccess() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 300)))
        let first = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300)))).transaction)
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300))), .exceedsDailyLimit)
        try await fixture.run(.useEntitlement(user: "alice", transaction: first))
        try await fixture.run(.refund(vendor: "shop", transaction: first, reason: ""))
        try await fixture.reject(.useEntitlement(user: "alice", transaction: first), .transactionNotCaptured)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300))))
        #expect(try fixture.wallet("alice") == 700)
    }

    @Test("a refund after settlement leaves the vendor owing its share; later sales repay it before anything is settled")
    func refundAfterSettlement() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let transaction = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200)))).transaction)
        try await fixture.run(.settle(vendor: "shop", currency: .usd, force: true))
        let payable = LedgerAccount.vendorPayable(vendor: "shop", currency: .usd)
        #expect(try fixture.balance(payable) == 0)
        try await fixture.run(.refund(vendor: "shop", transaction: transaction, reason: "goodwill"))
        #expect(try fixture.balance(payable) == -170)
        #expect(try fixture.wallet("alice") == 1_000)
        try await fixture.reject(.settle(vendor: "shop", currency: .usd, force: true), .nothingToSettle)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))))
        #expect(try fixture.balance(payable) == -85)
        try await fixture.reject(.settle(vendor: "shop", currency: .usd, force: true), .nothingToSettle)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("refund rejections: another vendor's or unknown transaction, held, voided, disputed, refunded, reason too long")
    func rejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.registerVendor(vendor: "other", name: "Other", sites: ["https://other.example/"], feeBasisPoints: 0,
                                              settlement: SettlementPolicy(thresholdAmount: 1_000)))
        let bought = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)))).transaction)

        let unknown = try await fixture.reject(.refund(vendor: "shop", transaction: "tx-999", reason: ""), .unknownTransaction)
        #expect(unknown?.field == "transaction")
        try await fixture.reject(.refund(vendor: "other", transaction: bought, reason: ""), .unknownTransaction)
        try await fixture.reject(.refund(vendor: "shop", transaction: bought, reason: String(repeating: "x", count: 1_001)), .invalidText)

        let held = try #require(try await fixture.run(.authorize(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)), holdSeconds: 60)).transaction)
        let notCaptured = try await fixture.reject(.refund(vendor: "shop", transaction: held, reason: ""), .transactionNotCaptured)
        #expect(notCaptured?.message.contains("held") == true)
        try await fixture.run(.void(vendor: "shop", transaction: held))
        try await fixture.reject(.refund(vendor: "shop", transaction: held, reason: ""), .transactionNotCaptured)

        let disputed = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)))).transaction)
        try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: disputed, reason: "never came"))
        let inDispute = try await fixture.reject(.refund(vendor: "shop", transaction: disputed, reason: ""), .transactionNotCaptured)
        #expect(inDispute?.message.contains("customer service") == true)

        try await fixture.run(.refund(vendor: "shop", transaction: bought, reason: "sorry"))
        // Refunded once: neither the vendor nor a dispute gives the price back again.
        try await fixture.reject(.refund(vendor: "shop", transaction: bought, reason: "sorry"), .transactionNotCaptured)
        try await fixture.reject(.openDispute(dispute: "d2", user: "alice", transaction: bought, reason: "again"), .transactionNotCaptured)
        // 1,000 less the purchase still under dispute.
        #expect(try fixture.wallet("alice") == 900)
        #expect(try fixture.balancesSumToZero())
    }

    @Test("a purchase captured again after a rejected dispute can still be refunded by its vendor")
    func refundAfterRejectedDispute() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let bought = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 200)))).transaction)
        try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: bought, reason: "meh"))
        try await fixture.run(.resolveDispute(dispute: "d1", refund: false, representative: "rep-1"))
        try await fixture.run(.refund(vendor: "shop", transaction: bought, reason: "goodwill after all"))
        #expect(try fixture.wallet("alice") == 1_000)
        #expect(try fixture.balance(.disputeReserve(vendor: "shop", currency: .usd)) == 0)
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 0)
    }

    @Test("a vendor's refund of a qualifying purchase reverses the referral reward in the same command")
    func refundReversesReferral() async throws {
        let fixture = try await LedgerReferralTests.shopWithReferredNewbie()
        let bought = try #require(try await fixture.run(.purchase(
            user: "newbie", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)))).transaction)
        fixture.clock.advance(seconds: 3_600)
        try await fixture.run(.rewardReferral(user: "newbie"))
        let payable = try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd))
        let result = try await fixture.run(.refund(vendor: "shop", transaction: bought, reason: "returned"), key: "r-1")
        #expect(result.events.map(\.typeName) == ["PurchaseRefunded", "ReferralReversed"])
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == payable - 340 - 25)
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a retried refund with the same key returns the first answer; another request with that key is a conflict")
    func idempotentRefund() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let one = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)))).transaction)
        let two = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)))).transaction)
        let first = try await fixture.run(.refund(vendor: "shop", transaction: one, reason: "x"), key: "refund-1")
        let again = try await fixture.run(.refund(vendor: "shop", transaction: one, reason: "x"), key: "refund-1")
        #expect(again.replayed && again.events == first.events && again.sequences == first.sequences)
        try await fixture.reject(.refund(vendor: "shop", transaction: two, reason: "x"), .idempotencyConflict, key: "refund-1")
        #expect(try fixture.wallet("alice") == 900)
    }

    @Test("partial refunds take a proportional part of each party, leftover units to the largest remainders, and give back what paid last first; the rest takes exactly what is left")
    func partialRefunds() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 100)
        try await fixture.run(.issueIncentive(lot: "promo", user: "alice", currency: .usd, amount: 50, issuer: nil,
                                              expiresAtMilliseconds: nil, vendors: nil))
        try await fixture.run(.approveCreditLine(user: "alice", currency: .usd, limit: 500))
        // 400: 50 from the lot, 100 from the wallet, 250 on credit. Fee 20, royalty 40, vendor 340.
        let transaction = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)))).transaction)
        let fees = LedgerAccount.providerFeeRevenue(currency: .usd)
        let label = LedgerAccount.rightsHolderPayable(holder: "label", currency: .usd)
        let payable = LedgerAccount.vendorPayable(vendor: "shop", currency: .usd)
        let credit = LedgerAccount.creditLine(user: "alice", currency: .usd)
        let lot = LedgerAccount.incentiveLot(lot: "promo", currency: .usd)
        let wallet = LedgerAccount.wallet(user: "alice", currency: .usd)

        // 100 of 400: a quarter of each part, exactly; all of it back to the credit line, drawn last.
        let first = try await fixture.run(.refund(vendor: "shop", transaction: transaction, amount: 100, reason: "late"))
        guard case .purchaseRefunded(let quarter)? = first.events.first, first.events.count == 1 else {
            Issue.record("expected one PurchaseRefunded, got \(first.events)")
            return
        }
        #expect(quarter.refunded == 100 && quarter.remaining == 300)
        #expect(quarter.postings == [
            Posting(debit: fees, credit: credit, amount: 5),
            Posting(debit: label, credit: credit, amount: 10),
            Posting(debit: payable, credit: credit, amount: 85),
        ])
        var record = try #require(try fixture.ledger.read { try $0.transaction(transaction) })
        #expect(record.status == .captured && record.refunded == 100 && record.remaining == 300)
        #expect(record.refundedParts == RefundedParts(fee: 5, royalties: [10], sources: [0, 0, 100]))
        #expect(record.refundedParts?.total == 100)

        // 7 of the remaining 300 (fee 15, royalty 30, vendor 255): 0.35, 0.7 and 5.95 round down
        // to 0, 0 and 5; the two units left go to the vendor (remainder 285) and the royalty (210).
        let second = try await fixture.run(.refund(vendor: "shop", transaction: transaction, amount: 7, reason: ""))
        guard case .purchaseRefunded(let seven)? = second.events.first else { Issue.record("no refund"); return }
        #expect(seven.remaining == 293)
        #expect(seven.postings == [
            Posting(debit: label, credit: credit, amount: 1),
            Posting(debit: payable, credit: credit, amount: 6),
        ])

        // The rest: exactly what is left of each part and each source.
        let third = try await fixture.run(.refund(vendor: "shop", transaction: transaction, reason: "returned after all"))
        guard case .purchaseRefunded(let rest)? = third.events.first else { Issue.record("no refund"); return }
        #expect(rest.refunded == 293 && rest.remaining == 0)
        #expect(rest.postings == [
            Posting(debit: fees, credit: lot, amount: 15),
            Posting(debit: label, credit: lot, amount: 29),
            Posting(debit: payable, credit: lot, amount: 6),
            Posting(debit: payable, credit: credit, amount: 143),
            Posting(debit: payable, credit: wallet, amount: 100),
        ])
        record = try #require(try fixture.ledger.read { try $0.transaction(transaction) })
        #expect(record.status == .refunded && record.refundedParts == nil && record.remaining == 0)
        for account in [fees, label, payable, credit] { #expect(try fixture.balance(account) == 0, "\(account)") }
        #expect(try fixture.balance(lot) == 50)
        #expect(try fixture.wallet("alice") == 100)
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
        try await fixture.reject(.refund(vendor: "shop", transaction: transaction, amount: 1, reason: ""), .transactionNotCaptured)
    }

    @Test("refund amount rejections: more than is still paid (with the headroom), zero, negative, beyond the largest amount")
    func partialRefundRejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let bought = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)))).transaction)
        let above = try await fixture.reject(.refund(vendor: "shop", transaction: bought, amount: 401, reason: ""), .refundExceedsPurchase)
        #expect(above?.field == "amount" && above?.headroom == 400)
        try await fixture.run(.refund(vendor: "shop", transaction: bought, amount: 100, reason: ""))
        let afterPart = try await fixture.reject(.refund(vendor: "shop", transaction: bought, amount: 301, reason: ""), .refundExceedsPurchase)
        #expect(afterPart?.headroom == 300)
        #expect(afterPart?.message.contains("300") == true)
        for amount: Int64 in [0, -5, .min] {
            let refused = try await fixture.reject(.refund(vendor: "shop", transaction: bought, amount: amount, reason: ""), .amountNotPositive)
            #expect(refused?.field == "amount")
        }
        try await fixture.reject(.refund(vendor: "shop", transaction: bought, amount: .max, reason: ""), .amountOverflow)
        #expect(try fixture.wallet("alice") == 700)
    }

    @Test("a partial refund keeps the purchase and its access, and frees the spending limits by its amount")
    func partialRefundKeepsPurchase() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.run(.setSpendingLimit(user: "alice", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 300)))
        let first = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 300)))).transaction)
        try await fixture.run(.refund(vendor: "shop", transaction: first, amount: 100, reason: "discount"))
        try await fixture.run(.useEntitlement(user: "alice", transaction: first))
        let limited = try await fixture.reject(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 101))), .exceedsDailyLimit)
        #expect(limited?.headroom == 100)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))))
        #expect(try fixture.wallet("alice") == 700)
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a dispute after a partial refund reserves and refunds only what is still paid")
    func disputeAfterPartialRefund() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let bought = try #require(try await fixture.run(.purchase(
            user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)))).transaction)
        try await fixture.run(.refund(vendor: "shop", transaction: bought, amount: 100, reason: "discount"))
        let opened = try await fixture.run(.openDispute(dispute: "d1", user: "alice", transaction: bought, reason: "still broken"))
        guard case .disputeOpened(let dispute)? = opened.events.first else { Issue.record("no dispute"); return }
        #expect(dispute.reserved == 255)
        #expect(dispute.price == 400 && dispute.disputed == 300)
        #expect(try fixture.ledger.read { try $0.dispute("d1") }?.disputed == 300)
        let resolved = try await fixture.run(.resolveDispute(dispute: "d1", refund: true, representative: "rep-1"))
        guard case .disputeResolved(let refund)? = resolved.events.first else { Issue.record("no resolution"); return }
        #expect(refund.refunded == 300)
        let wallet = LedgerAccount.wallet(user: "alice", currency: .usd)
        #expect(refund.postings == [
            Posting(debit: .providerFeeRevenue(currency: .usd), credit: wallet, amount: 15),
            Posting(debit: .rightsHolderPayable(holder: "label", currency: .usd), credit: wallet, amount: 30),
            Posting(debit: .disputeReserve(vendor: "shop", currency: .usd), credit: wallet, amount: 255),
        ])
        #expect(try fixture.wallet("alice") == 1_000)
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == 0)
        #expect(try fixture.ledger.read { try $0.transaction(bought) }?.status == .refunded)
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("only the refund that gives the rest back reverses a referral reward the purchase qualified")
    func partialRefundKeepsReferral() async throws {
        let fixture = try await LedgerReferralTests.shopWithReferredNewbie()
        let bought = try #require(try await fixture.run(.purchase(
            user: "newbie", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)))).transaction)
        fixture.clock.advance(seconds: 3_600)
        try await fixture.run(.rewardReferral(user: "newbie"))
        let part = try await fixture.run(.refund(vendor: "shop", transaction: bought, amount: 399, reason: "nearly all"))
        #expect(part.events.map(\.typeName) == ["PurchaseRefunded"])
        let rest = try await fixture.run(.refund(vendor: "shop", transaction: bought, amount: 1, reason: "the rest"))
        #expect(rest.events.map(\.typeName) == ["PurchaseRefunded", "ReferralReversed"])
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a partly refunded purchase record round-trips through its layout; a whole one keeps the old bytes")
    func partlyRefundedRecordCodec() throws {
        var record = LedgerFixture.capturedRecord()
        let plain = record.binaryBytes
        #expect(plain.first == 0xA4)
        record.recordPartialRefund(100)
        let parted = record.binaryBytes
        #expect(parted.first == 0xA9)
        #expect(try TransactionRecord.decodeStored(parted) == record)
        #expect(Array(parted.dropLast(parted.count - plain.count).dropFirst()) == Array(plain.dropFirst()))
        for cut in 1 ..< parted.count - plain.count + 1 {
            #expect(throws: (any Error).self) { try TransactionRecord.decodeStored(Array(parted.dropLast(cut))) }
        }
    }
}
