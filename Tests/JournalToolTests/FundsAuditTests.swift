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

    @Test("a payout moves its amount out of its own user's wallet: asked for to outgoing, paid to the method's clearing account, declined back")
    func payouts() {
        func requested(_ moves: [(String, String, Int64)], amount: Int64 = 700) -> String? {
            Self.says(.payoutRequested(PayoutRequested(payout: "p", user: "u", currency: .usd, amount: amount, method: .bankDebit,
                                                       postings: Self.postings(moves), idempotency: nil, timeMilliseconds: 1)))
        }
        func returned(requested: Bool?, _ moves: [(String, String, Int64)]) -> String? {
            Self.says(.fundsReturned(FundsReturned(payout: "p", user: "u", currency: .usd, amount: 700, method: .bankDebit, representative: "r",
                                                   requested: requested, postings: Self.postings(moves), idempotency: nil, timeMilliseconds: 1)))
        }
        func declined(_ moves: [(String, String, Int64)]) -> String? {
            Self.says(.payoutDeclined(PayoutDeclined(payout: "p", user: "u", currency: .usd, amount: 700, method: .bankDebit, representative: "r",
                                                     reason: "no", postings: Self.postings(moves), timeMilliseconds: 1)))
        }
        #expect(requested([("wallet:u:USD", "outgoing:u:USD", 700)]) == nil)
        #expect(requested([("wallet:w:USD", "outgoing:u:USD", 700)])
            == "the request of payout p moves wallet:w:USD -> outgoing:u:USD 700, where it moves wallet:u:USD -> outgoing:u:USD 700")
        #expect(requested([("wallet:u:USD", "outgoing:u:USD", 600)])?.contains("where it moves wallet:u:USD -> outgoing:u:USD 700") == true)
        #expect(requested([], amount: 0) == "the request of payout p moves nothing, where it moves wallet:u:USD -> outgoing:u:USD 0")
        #expect(returned(requested: nil, [("wallet:u:USD", "funding:bankDebit:USD", 700)]) == nil)
        #expect(returned(requested: true, [("outgoing:u:USD", "funding:bankDebit:USD", 700)]) == nil)
        #expect(returned(requested: true, [("wallet:u:USD", "funding:bankDebit:USD", 700)])
            == "the payment of payout p moves wallet:u:USD -> funding:bankDebit:USD 700, where it moves outgoing:u:USD -> funding:bankDebit:USD 700")
        #expect(returned(requested: nil, [("wallet:u:USD", "wallet:w:USD", 700)])?.contains("where it moves wallet:u:USD -> funding:bankDebit:USD 700") == true)
        #expect(returned(requested: nil, [("wallet:u:USD", "funding:card:USD", 700)])?.contains("funding:bankDebit:USD 700") == true)
        #expect(declined([("outgoing:u:USD", "wallet:u:USD", 700)]) == nil)
        #expect(declined([("outgoing:u:USD", "wallet:w:USD", 700)])
            == "the decline of payout p moves outgoing:u:USD -> wallet:w:USD 700, where it moves outgoing:u:USD -> wallet:u:USD 700")
    }

    /// Runs `events` through a pending-funds audit, in order from sequence 1: the first failure's
    /// sequence and message, or nil.
    static func pending(_ events: [LedgerEvent], wholeHistory: Bool = true) -> (sequence: UInt64, message: String)? {
        var audit = PendingFundsAudit(wholeHistory: wholeHistory)
        for (index, event) in events.enumerated() {
            if let failure = audit.apply(event, at: UInt64(index + 1)) {
                #expect(failure.kind == .fundsInconsistent)
                return (failure.sequence, failure.message)
            }
        }
        return nil
    }

    static func added(_ funding: String, user: String = "u", amount: Int64 = 100, method: FundingMethod = .check) -> LedgerEvent {
        let to = method.isOffline ? "pending:\(user):USD" : "wallet:\(user):USD"
        return .fundsAdded(FundsAdded(funding: funding, user: user, currency: .usd, amount: amount, method: method, throughVendor: nil,
                                      pending: method.isOffline, postings: postings([("funding:\(method.rawValue):USD", to, amount)]),
                                      idempotency: nil, timeMilliseconds: 1))
    }

    static func cleared(_ funding: String, user: String = "u", amount: Int64 = 100, currency: Currency = .usd) -> LedgerEvent {
        .fundsCleared(FundsCleared(funding: funding, user: user, postings: postings([("pending:\(user):\(currency.code)", "wallet:\(user):\(currency.code)", amount)], currency),
                                   timeMilliseconds: 2))
    }

    static func failed(_ funding: String, user: String = "u", amount: Int64 = 100, method: FundingMethod = .check) -> LedgerEvent {
        .fundsFailed(FundsFailed(funding: funding, user: user, postings: postings([("pending:\(user):USD", "funding:\(method.rawValue):USD", amount)]),
                                 timeMilliseconds: 2))
    }

    @Test("offline funds end once, for the user, currency and amount they were added with; a failure goes back by their own method")
    func pendingFundsEndOnce() throws {
        #expect(Self.pending([Self.added("f"), Self.cleared("f")]) == nil)
        #expect(Self.pending([Self.added("f"), Self.failed("f")]) == nil)
        #expect(Self.pending([Self.added("f", method: .card), Self.added("g"), Self.cleared("g")]) == nil)
        let twice = try #require(Self.pending([Self.added("f"), Self.cleared("f"), Self.cleared("f")]))
        #expect(twice.sequence == 3 && twice.message == "the clearing of funds f: nothing waits under that ID (it never began, or it ended already)")
        #expect(Self.pending([Self.added("f"), Self.cleared("f"), Self.failed("f")])?.sequence == 3)
        #expect(Self.pending([Self.added("f", method: .card), Self.cleared("f")])?.message.contains("nothing waits under that ID") == true)
        #expect(Self.pending([Self.cleared("f")])?.message.contains("nothing waits under that ID") == true)
        #expect(Self.pending([Self.added("f"), Self.added("f", method: .card)])?.message == "funds f are added a second time")
        #expect(Self.pending([Self.added("f"), Self.cleared("f", amount: 150)])?.message
            == "the clearing of funds f gives 150 USD to u, where u added 100 USD")
        #expect(Self.pending([Self.added("f"), Self.cleared("f", user: "w")])?.message
            == "the clearing of funds f gives 100 USD to w, where u added 100 USD")
        #expect(Self.pending([Self.added("f"), Self.cleared("f", currency: .eur)])?.message
            == "the clearing of funds f gives 100 EUR to u, where u added 100 USD")
        #expect(Self.pending([Self.added("f"), Self.failed("f", amount: 90)])?.message
            == "the failure of funds f of u moves pending:u:USD -> funding:check:USD 90, where the 100 u added by check goes back: pending:u:USD -> funding:check:USD")
        #expect(Self.pending([Self.added("f"), Self.failed("f", method: .moneyOrder)])?.message.contains("funding:moneyOrder:USD 100, where") == true)
        #expect(Self.pending([Self.added("f"), Self.failed("f", user: "w")])?.message.contains("the failure of funds f of w moves") == true)
    }

    static func requested(_ payout: String, user: String = "u", amount: Int64 = 700, currency: Currency = .usd) -> LedgerEvent {
        .payoutRequested(PayoutRequested(payout: payout, user: user, currency: currency, amount: amount, method: .bankDebit,
                                         postings: postings([("wallet:\(user):\(currency.code)", "outgoing:\(user):\(currency.code)", amount)], currency),
                                         idempotency: nil, timeMilliseconds: 1))
    }

    static func paid(_ payout: String, requested: Bool? = true, user: String = "u", amount: Int64 = 700, method: FundingMethod = .bankDebit) -> LedgerEvent {
        let from = requested == true ? "outgoing:\(user):USD" : "wallet:\(user):USD"
        return .fundsReturned(FundsReturned(payout: payout, user: user, currency: .usd, amount: amount, method: method, representative: "r",
                                            requested: requested, postings: postings([(from, "funding:\(method.rawValue):USD", amount)]),
                                            idempotency: nil, timeMilliseconds: 2))
    }

    static func declined(_ payout: String, user: String = "u", amount: Int64 = 700) -> LedgerEvent {
        .payoutDeclined(PayoutDeclined(payout: payout, user: user, currency: .usd, amount: amount, method: .bankDebit, representative: "r",
                                       reason: "no", postings: postings([("outgoing:\(user):USD", "wallet:\(user):USD", amount)]), timeMilliseconds: 2))
    }

    @Test("a payout asked for is paid or declined once, as asked; payout IDs are one space, used once")
    func payoutsEndOnce() throws {
        #expect(Self.pending([Self.requested("p"), Self.paid("p")]) == nil)
        #expect(Self.pending([Self.requested("p"), Self.declined("p")]) == nil)
        #expect(Self.pending([Self.paid("p", requested: nil), Self.requested("q"), Self.paid("q")]) == nil)
        let twice = try #require(Self.pending([Self.requested("p"), Self.paid("p"), Self.declined("p")]))
        #expect(twice.sequence == 3 && twice.message == "the decline of payout p: nothing waits under that ID (it never began, or it ended already)")
        #expect(Self.pending([Self.paid("p")])?.message.contains("the payment of payout p: nothing waits") == true)
        #expect(Self.pending([Self.paid("p", requested: nil), Self.paid("p")])?.message.contains("nothing waits") == true)
        #expect(Self.pending([Self.paid("p", requested: nil), Self.requested("p")])?.message == "payout p is used a second time")
        #expect(Self.pending([Self.requested("p"), Self.paid("p", requested: nil)])?.message == "payout p is used a second time")
        let royalties = LedgerEvent.royaltiesPaid(RoyaltiesPaid(payout: "p", holder: "h", currency: .usd, amount: 5, representative: "r",
                                                               postings: Self.postings([("holder:h:USD", "funding:bankDebit:USD", 5)]),
                                                               idempotency: nil, timeMilliseconds: 1))
        #expect(Self.pending([royalties, Self.requested("p")])?.message == "payout p is used a second time")
        #expect(Self.pending([Self.requested("p"), Self.paid("p", amount: 900)])?.message
            == "the payment of payout p is of 900 USD to u by bankDebit, where u asked for 700 USD by bankDebit")
        #expect(Self.pending([Self.requested("p"), Self.paid("p", method: .card)])?.message.contains("by card, where u asked for 700 USD by bankDebit") == true)
        #expect(Self.pending([Self.requested("p"), Self.declined("p", user: "w")])?.message
            == "the decline of payout p is of 700 USD to w by bankDebit, where u asked for 700 USD by bankDebit")
        #expect(Self.pending([Self.requested("p", currency: .eur), Self.paid("p")])?.message.contains("where u asked for 700 EUR") == true)
    }

    @Test("in a range, an end of a wait begun before it is counted, not refused; one ended twice in it is refused")
    func pendingInRange() throws {
        var audit = PendingFundsAudit(wholeHistory: false)
        #expect(audit.apply(Self.cleared("f"), at: 5) == nil)
        #expect(audit.apply(Self.paid("p"), at: 6) == nil)
        #expect(audit.note == "2 clearings, failures or payouts of funds added or payouts requested before the range were not checked against them")
        #expect(audit.apply(Self.added("g"), at: 7) == nil)
        #expect(audit.apply(Self.failed("g"), at: 8) == nil)
        #expect(audit.apply(Self.cleared("g"), at: 9)?.message.contains("nothing waits under that ID") == true)
        #expect(PendingFundsAudit(wholeHistory: true).note == nil)
    }

    @Test("an incentive lot is funded by its issuer, leaves in one posting when it expires; a referral reward goes from the fees to its vendor, and back")
    func incentivesAndReferrals() {
        func issued(issuer: String = "provider", _ moves: [(String, String, Int64)]) -> String? {
            Self.says(.incentiveIssued(IncentiveIssued(lot: "l", user: "u", currency: .usd, amount: 300, issuer: issuer, expiresAtMilliseconds: nil,
                                                       vendors: nil, postings: Self.postings(moves), idempotency: nil, timeMilliseconds: 1)))
        }
        #expect(issued([("incentives:provider:USD", "lot:l:USD", 300)]) == nil)
        #expect(issued(issuer: "v", [("vendor:v:USD", "lot:l:USD", 300)]) == nil)
        #expect(issued(issuer: "v", [("incentives:provider:USD", "lot:l:USD", 300)])
            == "incentive lot l for u is issued with incentives:provider:USD -> lot:l:USD 300, where v's tokens move vendor:v:USD -> lot:l:USD 300")
        #expect(issued([("incentives:provider:USD", "lot:m:USD", 300)])?.contains("where provider's tokens move") == true)
        #expect(issued([("incentives:provider:USD", "lot:l:USD", 200)])?.contains("lot:l:USD 300") == true)
        func expired(_ moves: [(String, String, Int64)], amount: Int64 = 50) -> String? {
            Self.says(.incentiveExpired(IncentiveExpired(lot: "l", user: "u", amount: amount, postings: Self.postings(moves), timeMilliseconds: 1)))
        }
        #expect(expired([("lot:l:USD", "incentives:provider:USD", 50)]) == nil)
        #expect(expired([("lot:m:USD", "incentives:provider:USD", 50)])
            == "the expiry of incentive lot l moves lot:m:USD -> incentives:provider:USD 50, where its 50 left moves out of lot:l in one posting")
        #expect(expired([("lot:l:USD", "incentives:provider:USD", 40)])?.contains("where its 50 left") == true)
        #expect(expired([], amount: 50)?.contains("moves nothing") == true)
        func rewarded(_ moves: [(String, String, Int64)]) -> String? {
            Self.says(.referralRewarded(ReferralRewarded(vendor: "v", user: "u", currency: .usd, amount: 40, qualifyingTransactions: ["tx-1"],
                                                         postings: Self.postings(moves), timeMilliseconds: 1)))
        }
        func reversed(_ moves: [(String, String, Int64)]) -> String? {
            Self.says(.referralReversed(ReferralReversed(vendor: "v", user: "u", amount: 40, transaction: "tx-1", postings: Self.postings(moves), timeMilliseconds: 1)))
        }
        #expect(rewarded([("fees:USD", "vendor:v:USD", 40)]) == nil)
        #expect(rewarded([("fees:USD", "wallet:u:USD", 40)])
            == "the referral reward of v for u moves fees:USD -> wallet:u:USD 40, where the provider pays it: fees:USD -> vendor:v:USD 40")
        #expect(reversed([("vendor:v:USD", "fees:USD", 40)]) == nil)
        #expect(reversed([("vendor:w:USD", "fees:USD", 40)])
            == "the reversal of v's referral reward for u moves vendor:w:USD -> fees:USD 40, where it moves 40 back from v's payable to the provider's fees")
        #expect(reversed([])?.contains("moves nothing") == true)
    }

    @Test("a referral reward goes once to the vendor that brought the user, at its policy, for purchases of the user's that earned it; a reversal undoes it once, for a purchase that qualified")
    func referrals() throws {
        let policy = LedgerEvent.referralPolicySet(ReferralPolicySet(
            vendor: "v", policy: ReferralPolicy(currency: .usd, rewardAmount: 40, minimumSpend: 100, confirmationSeconds: 60), idempotency: nil, timeMilliseconds: 1))
        func opened(_ user: String, by vendor: String?) -> LedgerEvent {
            .accountOpened(AccountOpened(user: user, channel: vendor == nil ? .providerSite : .vendorLink, referringVendor: vendor, representative: nil, timeMilliseconds: 1))
        }
        func rewarded(_ user: String = "u", vendor: String = "v", amount: Int64 = 40, currency: Currency = .usd, qualifying: [String] = ["tx-1"]) -> LedgerEvent {
            .referralRewarded(ReferralRewarded(vendor: vendor, user: user, currency: currency, amount: amount, qualifyingTransactions: qualifying,
                                               postings: Self.postings([("fees:\(currency.code)", "vendor:\(vendor):\(currency.code)", amount)], currency),
                                               timeMilliseconds: 100_000))
        }
        func reversed(_ user: String = "u", vendor: String = "v", amount: Int64 = 40, transaction: String = "tx-1") -> LedgerEvent {
            .referralReversed(ReferralReversed(vendor: vendor, user: user, amount: amount, transaction: transaction,
                                               postings: Self.postings([("vendor:\(vendor):USD", "fees:USD", amount)]), timeMilliseconds: 3))
        }
        // tx-1: u's purchase, 250 still paid, captured at 1,000 (the reward at 100,000 confirms
        // purchases captured by 40,000).
        func purchase(user: String = "u", currency: Currency = .usd, remaining: Int64 = 250, capturedAt: UInt64 = 1_000, disputed: Bool = false)
            -> RefundAudit.Standing
        {
            RefundAudit.Standing(user: user, currency: currency, remaining: remaining, capturedAt: capturedAt, disputed: disputed)
        }
        func audit(_ events: [LedgerEvent], wholeHistory: Bool = true, standing: [String: RefundAudit.Standing]? = nil) -> String? {
            var audit = ReferralAudit(wholeHistory: wholeHistory)
            for (index, event) in events.enumerated() {
                if let failure = audit.apply(event, at: UInt64(index + 1), standing: standing ?? ["tx-1": purchase()]) {
                    #expect(failure.kind == .fundsInconsistent && failure.sequence == UInt64(index + 1))
                    return failure.message
                }
            }
            return nil
        }
        #expect(audit([policy, opened("u", by: "v"), rewarded(), reversed()]) == nil)
        #expect(audit([policy, opened("u", by: "w"), rewarded()]) == "the referral reward of v for u: u was brought by w")
        #expect(audit([policy, opened("u", by: nil), rewarded()]) == "the referral reward of v for u: u was brought by no vendor")
        #expect(audit([policy, rewarded()]) == "the referral reward of v for u: u never opened an account")
        #expect(audit([opened("u", by: "v"), rewarded()]) == "the referral reward of v for u: v has no referral policy")
        #expect(audit([policy, opened("u", by: "v"), rewarded(amount: 50)]) == "the referral reward of v for u pays 50 USD, where the policy pays 40 USD")
        #expect(audit([policy, opened("u", by: "v"), rewarded(currency: .eur)])?.contains("pays 40 EUR, where the policy pays 40 USD") == true)
        #expect(audit([policy, opened("u", by: "v"), rewarded(qualifying: [])]) == "the referral reward of v for u names no qualifying purchase")
        #expect(audit([policy, opened("u", by: "v"), rewarded(), reversed(), rewarded()])
            == "the referral reward of v for u comes after v was rewarded for u already")
        #expect(audit([policy, opened("u", by: "v"), rewarded(), reversed(), reversed()])
            == "the reversal of v's referral reward for u: the reward was reversed already")
        #expect(audit([policy, opened("u", by: "v"), reversed()]) == "the reversal of v's referral reward for u: no reward was paid for u")
        #expect(audit([policy, opened("u", by: "v"), rewarded(), reversed(amount: 30)])
            == "the reversal of v's referral reward for u takes back 30, where v was paid 40 USD")
        #expect(audit([policy, opened("u", by: "v"), rewarded(), reversed(transaction: "tx-9")])
            == "the reversal of v's referral reward for u names tx-9, which did not qualify for it")
        // The purchases named must have earned the reward, as the ledger counts them.
        let earning = [policy, opened("u", by: "v"), rewarded()]
        let which = "the referral reward of v for u names tx-1, which does not qualify: "
        #expect(audit(earning, standing: [:]) == "the referral reward of v for u names tx-1, not a purchase captured before it")
        #expect(audit(earning, standing: ["tx-1": purchase(user: "w")])?.hasPrefix(which + "a purchase of w in USD") == true)
        #expect(audit(earning, standing: ["tx-1": purchase(currency: .eur)])?.hasPrefix(which + "a purchase of u in EUR") == true)
        #expect(audit(earning, standing: ["tx-1": purchase(remaining: 0)])?.hasPrefix(which) == true)
        #expect(audit(earning, standing: ["tx-1": purchase(disputed: true)])?.contains(", disputed;") == true)
        #expect(audit(earning, standing: ["tx-1": purchase(capturedAt: 40_001)])?.hasSuffix("captured by 40000") == true)
        #expect(audit(earning, standing: ["tx-1": purchase(capturedAt: 40_000)]) == nil)
        #expect(audit(earning, standing: ["tx-1": purchase(remaining: 99)])
            == "the referral reward of v for u names purchases still paying 99, less than the policy's minimum spend of 100")
        #expect(audit([policy, opened("u", by: "v"), rewarded(qualifying: ["tx-1", "tx-2"])],
                      standing: ["tx-1": purchase(remaining: 60), "tx-2": purchase(remaining: 40)]) == nil)
        #expect(audit([policy, opened("u", by: "v"), rewarded(qualifying: ["tx-1", "tx-1"])], standing: ["tx-1": purchase(remaining: 60)])
            == "the referral reward of v for u names a purchase twice")
        // In a range, a user or reward from before it is counted, not refused.
        var range = ReferralAudit(wholeHistory: false)
        #expect(range.apply(rewarded(), at: 1) == nil)
        var earlier = ReferralAudit(wholeHistory: false)
        #expect(earlier.apply(policy, at: 1) == nil && earlier.apply(opened("u", by: "v"), at: 2) == nil)
        #expect(earlier.apply(rewarded(), at: 3) == nil, "a purchase captured before the range")
        #expect(earlier.note?.hasPrefix("1 referral") == true)
        #expect(range.apply(reversed("w"), at: 2) == nil)
        #expect(range.note == "2 referral rewards or reversals of users or rewards before the range were not checked against them")
    }
}
