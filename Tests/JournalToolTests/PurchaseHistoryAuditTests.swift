@testable import Ledger
import Testing
@testable import journal_tool

@Suite("journal-tool verify: a purchase's lots, hold and fee are held to its time, vendor and the vendor's rate")
struct PurchaseHistoryAuditTests {
    @Test("a purchase draws only on lots that may pay for it then: not expired, not restricted to other vendors, accepted by the content")
    func usableLots() {
        var audit = RefundAuditTests.audit(first: 1, last: 50)
        #expect(audit.apply(RefundAuditTests.lot("l-old", user: "u", expiresAt: 100), at: 1) == nil)
        #expect(audit.apply(RefundAuditTests.lot("l-w", user: "u", vendors: ["w"]), at: 2) == nil)
        #expect(audit.apply(RefundAuditTests.lot("l-vw", user: "u", expiresAt: 10_000, vendors: ["w", "v"]), at: 3) == nil)
        #expect(audit.apply(.lot(IncentiveLot(lot: "l-eur", user: "u", currency: .eur, issuer: "v", expiresAtMilliseconds: nil, vendors: nil)), at: 4) == nil)
        #expect(audit.apply(RefundAuditTests.hold("tx-5", lots: ["l-old"], at: 99), at: 5) == nil)
        #expect(audit.apply(RefundAuditTests.hold("tx-6", lots: ["l-old"], at: 100), at: 6)?.message
            == "tx-6 draws on lot l-old, which may not pay for it: it expired at 100, and the purchase is at 100")
        #expect(audit.apply(RefundAuditTests.hold("tx-6", lots: ["l-w"]), at: 6)?.message == "tx-6 draws on lot l-w, which may not pay for it: it may be spent only at w, not at v")
        #expect(audit.apply(RefundAuditTests.hold("tx-6", lots: ["l-vw"], incentiveIDs: ["l-w"]), at: 6)?.message
            == "tx-6 draws on lot l-vw, which may not pay for it: c accepts only incentives l-w")
        #expect(audit.apply(RefundAuditTests.hold("tx-6", lots: ["l-eur"]), at: 6)?.message == "tx-6 draws on lot l-eur, which may not pay for it: it holds EUR, not USD")
        #expect(audit.apply(RefundAuditTests.hold("tx-6", lots: ["l-vw"], at: 9_999, incentiveIDs: ["l-vw"]), at: 6) == nil)
        // A one-step capture is held to the same rule.
        let late = PurchaseCaptured(
            transaction: "tx-7", user: "u", member: nil, vendor: "v",
            terms: ContentTerms(content: "c", title: "C", price: 100, currency: .usd, url: "https://v.example/c"), oneStep: true,
            sources: [FundingSource(account: "lot:l-vw:USD", amount: 100)], fee: 0, royalties: [], rounding: royaltyRoundingRule,
            entitlement: AccessTerms(), postings: [], idempotency: nil, timeMilliseconds: 10_000)
        #expect(audit.apply(RefundAudit.capture(late), at: 7)?.message
            == "tx-7 draws on lot l-vw, which may not pay for it: it expired at 10000, and the purchase is at 10000")
        #expect(audit.apply(RefundAudit.capture(late), at: 7)?.kind == .purchaseInconsistent)
        // In a range, a lot issued before it is known for neither owner nor use.
        var range = RefundAuditTests.audit(first: 20, last: 50)
        #expect(range.apply(RefundAuditTests.hold("tx-21", lots: ["l-old"], at: 5_000), at: 21) == nil)
    }

    @Test("a capture's fee is its vendor's rate at the time of the capture; the vendor registered once, its rate within 0-10,000")
    func fees() {
        func capture(_ transaction: String, price: Int64 = 1_000, fee: Int64, vendor: String = "v") -> RefundAudit.Step {
            RefundAudit.capture(PurchaseCaptured(
                transaction: transaction, user: "u", member: nil, vendor: vendor,
                terms: ContentTerms(content: "c", title: "C", price: price, currency: .usd, url: "https://v.example/c"), oneStep: true,
                sources: [FundingSource(account: "wallet:u:USD", amount: price)], fee: fee, royalties: [], rounding: royaltyRoundingRule,
                entitlement: AccessTerms(), postings: [], idempotency: nil, timeMilliseconds: 5))
        }
        var audit = RefundAuditTests.audit(first: 1, last: 50, feeBasisPoints: 250)
        #expect(audit.apply(capture("tx-2", fee: 25), at: 2) == nil)
        #expect(audit.apply(capture("tx-3", price: 999, fee: 24), at: 3) == nil, "rounded down")
        #expect(audit.apply(capture("tx-4", fee: 50), at: 4)?.message == "tx-4 pays a fee of 50, where v's rate of 250 basis points gives 25 of 1000")
        #expect(audit.apply(capture("tx-4", fee: 0), at: 4)?.kind == .purchaseInconsistent)
        // A change of rate holds for the captures after it; a change of anything else keeps it.
        #expect(audit.apply(.vendor(vendor: "v", feeBasisPoints: 500, registered: false), at: 5) == nil)
        #expect(audit.apply(capture("tx-6", fee: 50), at: 6) == nil)
        #expect(audit.apply(.vendor(vendor: "v", feeBasisPoints: nil, registered: false), at: 7) == nil)
        #expect(audit.apply(capture("tx-8", fee: 25), at: 8)?.message == "tx-8 pays a fee of 25, where v's rate of 500 basis points gives 50 of 1000")
        // With the whole history, every vendor was registered, once, at a rate in 0-10,000.
        #expect(audit.apply(capture("tx-9", fee: 0, vendor: "w"), at: 9)?.message == "tx-9 is sold by w, which was never registered")
        #expect(audit.apply(.vendor(vendor: "w", feeBasisPoints: nil, registered: false), at: 9)?.message == "vendor w is changed, but was never registered")
        #expect(audit.apply(.vendor(vendor: "v", feeBasisPoints: 100, registered: true), at: 9)?.message == "vendor v is registered a second time")
        #expect(audit.apply(.vendor(vendor: "v", feeBasisPoints: 10_001, registered: false), at: 9)?.message
            == "vendor v is given a fee of 10001 basis points, outside 0-10,000")
        #expect(audit.apply(.vendor(vendor: "w", feeBasisPoints: -1, registered: true), at: 9)?.kind == .purchaseInconsistent)
        // In a range, a vendor registered before it is not known: its captures' fees are not checked.
        var range = RefundAuditTests.audit(first: 20, last: 50)
        #expect(range.apply(capture("tx-21", fee: 7, vendor: "w"), at: 21) == nil)
        #expect(range.apply(.vendor(vendor: "w", feeBasisPoints: nil, registered: false), at: 22) == nil)
    }

    @Test("a lot expires once its time has come, for the user it was issued to, back to its issuer, all that is left of it")
    func lotExpiry() {
        var audit = RefundAuditTests.audit(first: 1, last: 50)
        #expect(audit.apply(RefundAuditTests.lot("l", user: "u", expiresAt: 100), at: 1) == nil)
        #expect(audit.apply(.lot(IncentiveLot(lot: "lv", user: "u", currency: .usd, issuer: "v", expiresAtMilliseconds: 100, vendors: nil)), at: 2) == nil)
        #expect(audit.apply(RefundAuditTests.lot("forever", user: "u"), at: 3) == nil)
        #expect(audit.apply(.lotExpired(lot: "l", user: "u", from: "lot:l:USD", to: "incentives:provider:USD", amount: 10, time: 99), at: 4)?.message
            == "the expiry of incentive lot l comes at 99, but the lot expires at 100")
        #expect(audit.apply(.lotExpired(lot: "forever", user: "u", from: "lot:forever:USD", to: "incentives:provider:USD", amount: 10, time: 99), at: 4)?.message
            == "the expiry of incentive lot forever comes at 99, but the lot expires never")
        #expect(audit.apply(.lotExpired(lot: "l", user: "w", from: "lot:l:USD", to: "incentives:provider:USD", amount: 10, time: 100), at: 4)?.message
            == "the expiry of incentive lot l names w, but the lot was issued to u")
        #expect(audit.apply(.lotExpired(lot: "lv", user: "u", from: "lot:lv:USD", to: "incentives:provider:USD", amount: 10, time: 100), at: 4)?.message
            == "the expiry of incentive lot lv gives what was left to incentives:provider:USD, not back to its issuer v's vendor:v:USD")
        #expect(audit.apply(.lotExpired(lot: "nope", user: "u", from: "lot:nope:USD", to: "incentives:provider:USD", amount: 10, time: 100), at: 4)?.kind == .fundsInconsistent)
        #expect(audit.apply(.lotExpired(lot: "l", user: "u", from: "lot:l:USD", to: "incentives:provider:USD", amount: 10, time: 100), at: 4) == nil)
        #expect(audit.apply(RefundAuditTests.lot("l", user: "w"), at: 5)?.message == "incentive lot l is issued a second time")
        // With the whole history the lot's balance is known: all of it goes back, no more, no less.
        #expect(audit.apply(.lotExpired(lot: "lv", user: "u", from: "lot:lv:USD", to: "vendor:v:USD", amount: 10, time: 150), at: 5, accountHeld: 11)?.message
            == "the expiry of incentive lot lv gives back 10, where the lot held 11: an expiry gives back all that is left")
        #expect(audit.apply(.lotExpired(lot: "lv", user: "u", from: "lot:lv:USD", to: "vendor:v:USD", amount: 10, time: 150), at: 5, accountHeld: 9)?.kind
            == .fundsInconsistent)
        #expect(audit.apply(.lotExpired(lot: "lv", user: "u", from: "lot:lv:USD", to: "vendor:v:USD", amount: 10, time: 150), at: 5, accountHeld: 10) == nil)
        var range = RefundAuditTests.audit(first: 20, last: 50)
        #expect(range.apply(.lotExpired(lot: "nope", user: "u", from: "lot:nope:USD", to: "anywhere", amount: 10, time: 1), at: 21) == nil)
    }

    @Test("a hold's purchase number changes with its terms, royalty schedule, sources and member")
    func purchaseNumber() {
        let terms = LedgerJournal.terms("song", vendor: "shop", price: 250, holders: ["label", "writer"])
        let sources = [FundingSource(account: "wallet:u:USD", amount: 250)]
        let number = RefundAudit.purchaseNumber(terms: terms, sources: sources, member: nil)
        #expect(RefundAudit.purchaseNumber(terms: terms, sources: sources, member: nil) == number)
        var other = terms
        other.royalties[1].holder = "mallory"
        #expect(RefundAudit.purchaseNumber(terms: other, sources: sources, member: nil) != number)
        other = terms
        other.price = 251
        #expect(RefundAudit.purchaseNumber(terms: other, sources: sources, member: nil) != number)
        #expect(RefundAudit.purchaseNumber(terms: terms, sources: [FundingSource(account: "lot:l:USD", amount: 250)], member: nil) != number)
        #expect(RefundAudit.purchaseNumber(terms: terms, sources: sources, member: "m") != number)
    }

    @Test("with the payable known, a dispute reserves exactly the vendor's part of what is still paid, as far as the payable holds it")
    func reserveAsFarAsThePayableHolds() {
        // 1,000 with a fee of 50 and 100 to label: the vendor's part is 850.
        let capture = RefundAuditTests.captured("tx-2", price: 1_000, fee: 50, royalties: [RoyaltyPayment(holder: "label", amount: 100)])
        func audit() -> RefundAudit {
            var audit = RefundAuditTests.audit(first: 1, last: 50, [2: capture], feeBasisPoints: 500)
            #expect(audit.apply(RefundAudit.capture(capture), at: 2) == nil)
            return audit
        }
        var full = audit()
        #expect(full.apply(RefundAuditTests.dispute("tx-2", disputed: 1_000, reserved: 849), at: 3, accountHeld: 5_000)?.message
            == "dispute d reserves 849, where the vendor's part 850 of what is still paid, as far as vendor:v:USD holds it (5000), is 850")
        #expect(full.apply(RefundAuditTests.dispute("tx-2", disputed: 1_000, reserved: 850), at: 3, accountHeld: 5_000) == nil)
        var short = audit()
        #expect(short.apply(RefundAuditTests.dispute("tx-2", disputed: 1_000, reserved: 850), at: 3, accountHeld: 300)?.message.contains("is 300") == true)
        #expect(short.apply(RefundAuditTests.dispute("tx-2", disputed: 1_000, reserved: 300), at: 3, accountHeld: 300) == nil)
        var owing = audit()
        #expect(owing.apply(RefundAuditTests.dispute("tx-2", disputed: 1_000, reserved: 0), at: 3, accountHeld: -20) == nil, "a payable in debt reserves nothing")
        var unknown = audit()
        #expect(unknown.apply(RefundAuditTests.dispute("tx-2", disputed: 1_000, reserved: 10), at: 3) == nil, "without the payable, only the bound")
    }

    @Test("the buyer-and-vendor number tells pairs apart, also pairs whose IDs run together the same")
    func partiesNumber() {
        #expect(RefundAudit.parties(user: "alice", vendor: "shop") == RefundAudit.parties(user: "alice", vendor: "shop"))
        #expect(RefundAudit.parties(user: "ab", vendor: "c") != RefundAudit.parties(user: "a", vendor: "bc"))
        #expect(RefundAudit.parties(user: "alice", vendor: "shop") != RefundAudit.parties(user: "shop", vendor: "alice"))
        let numbers = Set((0..<10_000).map { RefundAudit.parties(user: "u\($0)", vendor: "v") })
        #expect(numbers.count == 10_000)
    }

    @Test("with the whole history, a purchase by a member is by an active member of the buyer's account; a dispute of one made by the buyer is authorized")
    func members() {
        var audit = RefundAuditTests.audit(first: 1, last: 50)
        let byMember = PurchaseCaptured(
            transaction: "tx-3", user: "u", member: "m", vendor: "v",
            terms: ContentTerms(content: "c", title: "C", price: 100, currency: .usd, url: "https://v.example/c"), oneStep: true,
            sources: [FundingSource(account: "wallet:u:USD", amount: 100)], fee: 0, royalties: [], rounding: royaltyRoundingRule,
            entitlement: AccessTerms(), postings: [], idempotency: nil, timeMilliseconds: 5)
        #expect(audit.apply(RefundAudit.capture(byMember), at: 3)?.message == "tx-3 is bought by m, not an active member of u's account")
        #expect(audit.apply(.member(user: "u", member: "m", active: true), at: 1) == nil)
        #expect(audit.apply(.member(user: "w", member: "n", active: true), at: 1) == nil)
        let hold = RefundAudit.Step.hold(transaction: "tx-2", user: "u", drawn: nil, price: 100, parties: RefundAuditTests.buyer, expiresAt: 1_000,
                                         purchase: 1, byMember: .of("u", "n"), sources: [], currency: .usd)
        #expect(audit.apply(hold, at: 2)?.message == "tx-2 is bought by n, not an active member of u's account")
        #expect(audit.apply(.member(user: "u", member: "m", active: false), at: 2) == nil)
        #expect(audit.apply(RefundAudit.capture(byMember), at: 3)?.kind == .purchaseInconsistent)
        #expect(audit.apply(.member(user: "u", member: "m", active: true), at: 2) == nil)
        #expect(audit.apply(RefundAudit.capture(byMember), at: 3) == nil)
        // A charge the buyer made itself is never unauthorized by the rule.
        var own = RefundAuditTests.audit(first: 1, last: 50, [4: RefundAuditTests.captured("tx-4", price: 100)])
        #expect(own.apply(RefundAudit.capture(RefundAuditTests.captured("tx-4", price: 100)), at: 4) == nil)
        #expect(own.apply(RefundAuditTests.dispute("tx-4", disputed: 100, unauthorized: true), at: 5)?.message
            == "dispute d marks the charge unauthorized, but it was made by u itself")
        // In a range, members added before it are not known.
        var range = RefundAuditTests.audit(first: 20, last: 50)
        #expect(range.apply(RefundAudit.capture(byMember), at: 23) == nil)
    }
}
