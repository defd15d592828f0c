import Journal
import Testing
@testable import Ledger

@Suite("Ledger: referral rewards")
struct LedgerReferralTests {
    /// Shop rewards 25 for a referred user's 300 of spending confirmed for an hour; "newbie"
    /// came through its link and has 1,000 USD.
    static func shopWithReferredNewbie() async throws -> LedgerFixture {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 0)
        try await fixture.run(.setReferralPolicy(vendor: "shop", policy: ReferralPolicy(
            currency: .usd, rewardAmount: 25, minimumSpend: 300, confirmationSeconds: 3_600)))
        try await fixture.run(.openAccount(user: "newbie", channel: .vendorLink, referringVendor: "shop"))
        try await fixture.run(.openWallet(user: "newbie", currency: .usd))
        try await fixture.run(.addFunds(funding: "nf", user: "newbie", currency: .usd, amount: 1_000, method: .card))
        return fixture
    }

    @Test("the referring vendor is rewarded once the user has really spent, and the reward is reversed if that purchase is refunded")
    func rewardAndReversal() async throws {
        let fixture = try await Self.shopWithReferredNewbie()
        try await fixture.reject(.rewardReferral(user: "newbie"), .referralNotQualified)
        let bought = try await fixture.run(.purchase(user: "newbie", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400))))
        // Spent, but not yet past the confirmation window.
        let early = try await fixture.reject(.rewardReferral(user: "newbie"), .referralNotQualified)
        #expect(early?.headroom == 300)
        fixture.clock.advance(seconds: 3_600)
        let payable = try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd))
        try await fixture.run(.rewardReferral(user: "newbie"))
        #expect(try fixture.balance(.vendorPayable(vendor: "shop", currency: .usd)) == payable + 25)
        try await fixture.reject(.rewardReferral(user: "newbie"), .referralAlreadyRewarded)
        try await fixture.reject(.rewardReferral(user: "alice"), .noReferralPolicy)
        try await fixture.run(.openDispute(dispute: "d", user: "newbie", transaction: bought.transaction!, reason: "refund me"))
        let resolved = try await fixture.run(.resolveDispute(dispute: "d", refund: true, representative: "rep"))
        #expect(resolved.events.map(\.typeName) == ["DisputeResolved", "ReferralReversed"])
        #expect(try fixture.wallet("newbie") == 1_000)
        #expect(try fixture.ledger.read { try $0.referral(user: "newbie") }?.status == .reversed)
        #expect(try fixture.balancesSumToZero())
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("a purchase authorized first counts from its capture: a hold captured late waits the whole confirmation window")
    func lateCaptureWaits() async throws {
        let fixture = try await Self.shopWithReferredNewbie()
        let held = try #require(try await fixture.run(.authorize(
            user: "newbie", vendor: "shop", content: .inline(LedgerFixture.terms(price: 400)), holdSeconds: 86_400)).transaction)
        fixture.clock.advance(seconds: 7_200)
        // Held for two windows, but not captured: nothing has been spent yet.
        try await fixture.reject(.rewardReferral(user: "newbie"), .referralNotQualified)
        try await fixture.run(.capture(vendor: "shop", transaction: held))
        let early = try await fixture.reject(.rewardReferral(user: "newbie"), .referralNotQualified)
        #expect(early?.headroom == 300, "captured now: not yet confirmed, although authorized two hours ago")
        fixture.clock.advance(seconds: 3_600)
        try await fixture.run(.rewardReferral(user: "newbie"))
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("referral policy rejections")
    func policyRejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 0)
        try await fixture.reject(.setReferralPolicy(vendor: "nobody", policy: ReferralPolicy(currency: .usd, rewardAmount: 1, minimumSpend: 1, confirmationSeconds: 1)), .unknownVendor)
        try await fixture.reject(.setReferralPolicy(vendor: "shop", policy: ReferralPolicy(currency: .usd, rewardAmount: 0, minimumSpend: 1, confirmationSeconds: 1)), .amountNotPositive)
        try await fixture.reject(.setReferralPolicy(vendor: "shop", policy: ReferralPolicy(currency: .usd, rewardAmount: 1, minimumSpend: 1, confirmationSeconds: 400 * 86_400)), .invalidVendorPolicy)
        try await fixture.reject(.setReferralPolicy(vendor: "shop", policy: ReferralPolicy(currency: .usd, rewardAmount: 1, minimumSpend: 1, confirmationSeconds: 30 * 86_400 + 1)), .invalidVendorPolicy)
        try await fixture.run(.openAccount(user: "ref", channel: .vendorLink, referringVendor: "shop"))
        try await fixture.reject(.rewardReferral(user: "ref"), .noReferralPolicy)
        try await fixture.run(.setReferralPolicy(vendor: "shop", policy: ReferralPolicy(currency: .usd, rewardAmount: 1, minimumSpend: 1, confirmationSeconds: 30 * 86_400)))
    }
}
