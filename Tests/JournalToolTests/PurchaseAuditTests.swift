@testable import Ledger
import Testing
@testable import journal_tool

@Suite("journal-tool verify: a purchase is paid by its buyer, for its price, to its vendor")
struct PurchaseAuditTests {
    /// A one-step capture of 1,000 by `u` from `v` with a 5 % fee and 10 % to label, paid from
    /// `sources` (the wallet by default), with the postings the ledger writes for it.
    static func capture(sources: [FundingSource]? = nil, moves: [(String, String, Int64)]? = nil) -> PurchaseCaptured {
        var captured = RefundAuditTests.captured(
            "tx-1", price: 1_000, fee: 50, royalties: [RoyaltyPayment(holder: "label", amount: 100)], sources: sources)
        captured.terms.royalties = [RoyaltyShare(holder: "label", basisPoints: 1_000)]
        let paying = captured.sources.map { ($0.account, "vendor:v:USD", $0.amount) }
        captured.postings = (moves ?? paying + [("vendor:v:USD", "fees:USD", 50), ("vendor:v:USD", "holder:label:USD", 100)]).map {
            Posting(debitName: $0.0, creditName: $0.1, amount: $0.2, currency: .usd)
        }
        return captured
    }

    static func says(_ captured: PurchaseCaptured) -> String? {
        let failure = PurchaseAudit.failure(.purchaseCaptured(captured), at: 4)
        if let failure { #expect(failure.kind == .purchaseInconsistent && failure.sequence == 4) }
        return failure?.message
    }

    @Test("what the ledger writes passes: the wallet, the credit line and lots in the purchase's currency, a hold's capture")
    func valid() {
        #expect(Self.says(Self.capture()) == nil)
        #expect(Self.says(Self.capture(sources: [FundingSource(account: "lot:l-1:USD", amount: 300), FundingSource(account: "wallet:u:USD", amount: 600),
                                                 FundingSource(account: "credit:u:USD", amount: 100)])) == nil)
        var held = Self.capture(moves: [("holds:u:USD", "vendor:v:USD", 1_000), ("vendor:v:USD", "fees:USD", 50), ("vendor:v:USD", "holder:label:USD", 100)])
        held.oneStep = false
        #expect(Self.says(held) == nil)
        held.postings[0] = Posting(debitName: "holds:w:USD", creditName: "vendor:v:USD", amount: 1_000, currency: .usd)
        #expect(Self.says(held) == "tx-1 pays with holds:w:USD -> vendor:v:USD 1000, where its sources give holds:u:USD -> vendor:v:USD 1000")
    }

    @Test("sources that are not the buyer's, not positive, in another currency or not the price are refused")
    func sources() {
        for (sources, says) in [
            ([FundingSource(account: "wallet:w:USD", amount: 1_000)], "draws 1000 from wallet:w:USD, not from its buyer u's wallet or credit line or a lot in USD"),
            ([FundingSource(account: "wallet:uu:USD", amount: 1_000)], "draws 1000 from wallet:uu:USD"),
            ([FundingSource(account: "wallet:u:EUR", amount: 1_000)], "draws 1000 from wallet:u:EUR"),
            ([FundingSource(account: "holds:u:USD", amount: 1_000)], "draws 1000 from holds:u:USD"),
            ([FundingSource(account: "lot:a:b:USD", amount: 1_000)], "draws 1000 from lot:a:b:USD"),
            ([FundingSource(account: "lot::USD", amount: 1_000)], "draws 1000 from lot::USD"),
            ([FundingSource(account: "wallet:u:USD", amount: 0), FundingSource(account: "wallet:u:USD", amount: 1_000)],
             "draws 0 from wallet:u:USD: a source pays a positive amount"),
            ([FundingSource(account: "wallet:u:USD", amount: 999)], "draws 999 from its sources for a price of 1000"),
            ([FundingSource(account: "wallet:u:USD", amount: .max), FundingSource(account: "credit:u:USD", amount: 1)], "draws more than a 64-bit amount"),
        ] {
            // The sources are judged before the postings (which here stay the wallet's).
            let message = Self.says(Self.capture(sources: sources, moves: [
                ("wallet:u:USD", "vendor:v:USD", 1_000), ("vendor:v:USD", "fees:USD", 50), ("vendor:v:USD", "holder:label:USD", 100)]))
            #expect(message?.hasPrefix("tx-1 " + says) == true, "\(String(describing: message))")
        }
    }

    @Test("royalties other than the schedule's, a fee and royalties above the price, or money paid elsewhere are refused")
    func split() {
        var captured = Self.capture()
        captured.royalties = [RoyaltyPayment(holder: "label", amount: 101)]
        #expect(Self.says(captured) == "tx-1 lists royalties label 101 where its schedule gives label 100")
        captured = Self.capture()
        captured.terms.royalties = [RoyaltyShare(holder: "label", basisPoints: 10_001)]
        #expect(Self.says(captured) == "tx-1 gives label a share of 10001 basis points")
        captured = Self.capture()
        captured.terms.price = -1
        #expect(Self.says(captured) == "tx-1 has a price of -1")
        captured = Self.capture()
        captured.fee = 950
        #expect(Self.says(captured) == "tx-1 pays out a fee of 950 and royalties, 1050 in all, of a price of 1000")
        captured.fee = -1
        #expect(Self.says(captured)?.contains("pays out a fee of -1") == true)
        // After the payment, the vendor's payable pays only the fee and the rights holders.
        captured = Self.capture(moves: [("wallet:u:USD", "vendor:v:USD", 1_000), ("vendor:v:USD", "wallet:m:USD", 50), ("vendor:v:USD", "holder:label:USD", 100)])
        #expect(Self.says(captured) == "tx-1 moves 50 from vendor:v:USD to wallet:m:USD: a capture pays its vendor, and out of vendor:v:USD only the fee and the rights holders")
        captured = Self.capture(moves: [("wallet:u:USD", "vendor:v:USD", 1_000), ("vendor:w:USD", "fees:USD", 50), ("vendor:v:USD", "holder:label:USD", 100)])
        #expect(Self.says(captured)?.contains("moves 50 from vendor:w:USD to fees:USD") == true)
        captured = Self.capture(moves: [("wallet:u:USD", "vendor:v:USD", 900)])
        #expect(Self.says(captured) == "tx-1 pays with wallet:u:USD -> vendor:v:USD 900, where its sources give wallet:u:USD -> vendor:v:USD 1000")
        captured = Self.capture(moves: [])
        #expect(Self.says(captured) == "tx-1 pays with nothing, where its sources give wallet:u:USD -> vendor:v:USD 1000")
    }

    @Test("the quick royalty-and-fee check passes what the ledger writes and leaves anything unusual to the full one")
    func quickCaptureCheck() {
        #expect(LedgerAudit.capturePaysAsListed(Self.capture()))
        var twice = Self.capture()
        twice.royalties = [RoyaltyPayment(holder: "label", amount: 60), RoyaltyPayment(holder: "label", amount: 40)]
        #expect(!LedgerAudit.capturePaysAsListed(twice))
        #expect(LedgerAudit.captureFailure(twice, at: 4) == nil, "the full check sums a holder listed twice")
        var other = Self.capture(moves: [("wallet:u:USD", "vendor:v:USD", 1_000), ("vendor:v:USD", "fees:USD", 50), ("vendor:v:USD", "holder:studio:USD", 100)])
        #expect(!LedgerAudit.capturePaysAsListed(other))
        #expect(LedgerAudit.captureFailure(other, at: 4)?.message == "tx-1 lists 100 for holder:label:USD but its postings credit 0")
        other = Self.capture(moves: [("wallet:u:USD", "vendor:v:USD", 1_000), ("vendor:v:USD", "fees:USD", 49), ("vendor:v:USD", "holder:label:USD", 100)])
        #expect(!LedgerAudit.capturePaysAsListed(other))
        #expect(LedgerAudit.captureFailure(other, at: 4)?.message == "tx-1 lists 50 for fees:USD but its postings credit 49")
        var free = Self.capture(moves: [("wallet:u:USD", "vendor:v:USD", 1_000), ("vendor:v:USD", "holder:label:USD", 100)])
        free.fee = 0
        #expect(LedgerAudit.capturePaysAsListed(free))
        free.postings.append(Posting(debitName: "vendor:v:USD", creditName: "fees:USD", amount: 1, currency: .usd))
        #expect(!LedgerAudit.capturePaysAsListed(free))
        #expect(LedgerAudit.captureFailure(free, at: 4)?.message == "tx-1 credits 1 to fees:USD, which its royalties and fee do not list")
    }

    @Test("an authorization holds exactly its sources in the buyer's held funds")
    func authorizations() {
        let captured = Self.capture()
        func held(_ sources: [FundingSource], _ moves: [(String, String, Int64)]) -> String? {
            let authorized = PurchaseAuthorized(
                transaction: "tx-1", user: "u", member: nil, vendor: "v", terms: captured.terms, holdExpiresAtMilliseconds: 9, sources: sources,
                postings: moves.map { Posting(debitName: $0.0, creditName: $0.1, amount: $0.2, currency: .usd) }, idempotency: nil, timeMilliseconds: 1)
            return PurchaseAudit.failure(.purchaseAuthorized(authorized), at: 3)?.message
        }
        let sources = [FundingSource(account: "lot:l:USD", amount: 400), FundingSource(account: "wallet:u:USD", amount: 600)]
        #expect(held(sources, [("lot:l:USD", "holds:u:USD", 400), ("wallet:u:USD", "holds:u:USD", 600)]) == nil)
        #expect(held(sources, [("lot:l:USD", "holds:u:USD", 400), ("wallet:u:USD", "holds:w:USD", 600)])
            == "tx-1 holds with lot:l:USD -> holds:u:USD 400, wallet:u:USD -> holds:w:USD 600, where its sources give lot:l:USD -> holds:u:USD 400, wallet:u:USD -> holds:u:USD 600")
        #expect(held(sources, [("lot:l:USD", "holds:u:USD", 400)])?.contains("where its sources give") == true)
        #expect(held([FundingSource(account: "wallet:w:USD", amount: 1_000)], [("wallet:w:USD", "holds:u:USD", 1_000)])?
            .contains("draws 1000 from wallet:w:USD, not from its buyer u's") == true)
        #expect(held([FundingSource(account: "wallet:u:USD", amount: 10)], [("wallet:u:USD", "holds:u:USD", 10)]) == "tx-1 draws 10 from its sources for a price of 1000")
    }

    @Test("a hold is captured or released once, for its price, by its buyer and vendor, back to the buyer")
    func holds() {
        var audit = RefundAuditTests.audit(first: 1, last: 50)
        let buyer = RefundAuditTests.buyer
        func hold(_ transaction: String) -> RefundAudit.Step {
            RefundAuditTests.hold(transaction, expiresAt: 1_000)
        }
        func capture(_ transaction: String, price: Int64 = 100, oneStep: Bool = false, at time: UInt64 = 500, purchase: UInt64 = 7) -> RefundAudit.Step {
            .capture(transaction: transaction, currency: "USD", price: price, parties: buyer, oneStep: oneStep, vendor: "v", fee: 0,
                     detail: oneStep ? nil : RefundAudit.CaptureDetail(drawn: nil, byMember: nil, time: time, purchase: purchase))
        }
        func release(
            _ transaction: String, amount: Int64 = 100, user: String = "u", lots: [String] = [], expired: Bool = false, at time: UInt64 = 500
        ) -> RefundAudit.Step {
            .release(transaction: transaction, user: user, vendor: "v", amount: amount,
                     postings: lots.map { Posting(debit: .holds(user: user, currency: .usd), credit: .incentiveLot(lot: $0, currency: .usd), amount: 1) }, expired: expired, time: time)
        }
        let none = "a hold, but none is open: never authorized, or captured or released already"
        #expect(audit.apply(capture("tx-1"), at: 2)?.message == "tx-1 captures " + none)
        #expect(audit.apply(release("tx-1"), at: 2)?.message == "tx-1 releases " + none)
        #expect(audit.apply(hold("tx-1"), at: 1) == nil)
        #expect(audit.apply(hold("tx-1"), at: 2)?.message == "tx-1 is authorized a second time")
        #expect(audit.apply(capture("tx-1", oneStep: true), at: 3)?.message == "tx-1 is held, and captured as a one-step purchase")
        #expect(audit.apply(capture("tx-1", price: 90), at: 3)?.message == "tx-1 captures 90 of a hold of 100")
        #expect(audit.apply(release("tx-1", user: "w"), at: 3)?.message == "tx-1 releases a hold of another buyer or vendor")
        #expect(audit.apply(release("tx-1", amount: 99), at: 3)?.message == "tx-1 releases 99 of a hold of 100")
        #expect(audit.apply(capture("tx-1"), at: 3) == nil)
        #expect(audit.apply(release("tx-1"), at: 4)?.message == "tx-1 releases " + none)
        #expect(audit.apply(hold("tx-1"), at: 4)?.message == "tx-1 is authorized a second time")
        // A hold is captured before it expires, and expires not before its expiry.
        #expect(audit.apply(hold("tx-12"), at: 12) == nil)
        #expect(audit.apply(capture("tx-12", at: 1_000), at: 13)?.message == "tx-12 is captured at 1000, but its hold expired at 1000")
        #expect(audit.apply(capture("tx-12", purchase: 8), at: 13)?.message == "tx-12 captures other terms, sources or member than its authorization held")
        #expect(audit.apply(release("tx-12", expired: true, at: 999), at: 13)?.message == "tx-12 expires at 999, before its hold's expiry at 1000")
        #expect(audit.apply(release("tx-12", expired: true, at: 1_000), at: 13) == nil)
        #expect(audit.apply(hold("tx-14"), at: 14) == nil)
        #expect(audit.apply(release("tx-14", at: 2_000), at: 15) == nil, "a vendor may void a hold after its expiry, before the sweeper does")
        // Released: neither captured nor released again.
        #expect(audit.apply(hold("tx-5"), at: 5) == nil)
        #expect(audit.apply(release("tx-5"), at: 6) == nil)
        #expect(audit.apply(capture("tx-5"), at: 7)?.message == "tx-5 captures " + none)
        // Back to a lot only when it was issued to the buyer.
        #expect(audit.apply(RefundAuditTests.lot("l-9", user: "m"), at: 8) == nil)
        #expect(audit.apply(hold("tx-8"), at: 9) == nil)
        #expect(audit.apply(release("tx-8", lots: ["l-9"]), at: 10)?.message == "the release of tx-8 gives back to lot l-9, which was issued to m, not to its buyer u")
        #expect(audit.apply(release("tx-8", lots: ["l-9"]), at: 10)?.kind == .purchaseInconsistent)
        // In a range, a hold authorized before it is not known.
        var range = RefundAuditTests.audit(first: 20, last: 50)
        #expect(range.apply(release("tx-3"), at: 21) == nil)
        #expect(range.apply(capture("tx-4"), at: 22) == nil)

        // The release's own postings: out of the buyer's held funds, back to the buyer.
        func released(_ moves: [(String, String, Int64)]) -> String? {
            let voided = PurchaseVoided(transaction: "tx-8", user: "u", vendor: "v", reason: .expired,
                                        postings: moves.map { Posting(debitName: $0.0, creditName: $0.1, amount: $0.2, currency: .usd) },
                                        idempotency: nil, timeMilliseconds: 1)
            return PurchaseAudit.failure(.purchaseVoided(voided), at: 10)?.message
        }
        #expect(released([("holds:u:USD", "wallet:u:USD", 60), ("holds:u:USD", "credit:u:USD", 30), ("holds:u:USD", "lot:l-9:USD", 10)]) == nil)
        #expect(released([("holds:u:USD", "wallet:m:USD", 60)])
            == "the release of tx-8 moves 60 from holds:u:USD to wallet:m:USD, not from its buyer u's held funds back to the buyer")
        #expect(released([("holds:m:USD", "wallet:u:USD", 60)])?.contains("moves 60 from holds:m:USD") == true)
        #expect(released([("vendor:v:USD", "wallet:u:USD", 60)])?.contains("moves 60 from vendor:v:USD") == true)
    }
}
