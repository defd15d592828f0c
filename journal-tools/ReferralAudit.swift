import Ledger

/// Referral rewards held in order to what earned them: a reward goes to the vendor that
/// brought the user (`AccountOpened.referringVendor`), once per user, in the currency and for
/// the amount of that vendor's referral policy at the time (the last `ReferralPolicySet`), and
/// names at least one qualifying purchase; a reversal undoes a reward not yet reversed, by the
/// same vendor and for the same amount, because one of its qualifying purchases (named) was
/// refunded. `FundsAudit` checks each event's postings.
///
/// The purchases a reward names must have earned it, as the ledger counts them: each a
/// purchase of the user's (named once) in the policy's currency, captured at least the
/// confirmation window before the reward, not wholly refunded and not under an open dispute,
/// and together still paying at least the policy's minimum spend (``RefundAudit/Standing``).
/// A purchase captured before the range is not known: counted, or refused with the whole
/// history.
///
/// It keeps one entry per user referred and per reward in the range. A user opened before the
/// range, or a reward paid before it, is not known: their events are counted (`unchecked`),
/// unless the range is the whole history, where they are refused.
struct ReferralAudit {
    private struct Reward {
        var vendor: String
        var currency: Currency
        var amount: Int64
        var qualifying: [String]
        var reversed: Bool
    }

    private var referrers: [String: String] = [:]
    private var opened: Set<String> = []
    private var policies: [String: ReferralPolicy] = [:]
    private var rewards: [String: Reward] = [:]
    private var coverage: HistoryCoverage

    init(wholeHistory: Bool) {
        coverage = HistoryCoverage(wholeHistory: wholeHistory)
    }

    /// Whether `apply` has anything to check or record of `event`.
    static func concerns(_ event: LedgerEvent) -> Bool {
        switch event {
        case .accountOpened, .referralPolicySet, .referralRewarded, .referralReversed: return true
        default: return false
        }
    }

    /// `standing` tells where each purchase a reward names stands (``RefundAudit/standing(of:)``),
    /// read before the call.
    mutating func apply(_ event: LedgerEvent, at sequence: UInt64, standing: [String: RefundAudit.Standing] = [:]) -> AuditFailure? {
        do {
            try check(event, at: sequence, standing: standing)
            return nil
        } catch {
            return error
        }
    }

    private mutating func check(_ event: LedgerEvent, at sequence: UInt64, standing: [String: RefundAudit.Standing]) throws(AuditFailure) {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .fundsInconsistent, sequence: sequence, message: message)
        }
        switch event {
        case .accountOpened(let account):
            opened.insert(account.user)
            if let vendor = account.referringVendor { referrers[account.user] = vendor }
        case .referralPolicySet(let set):
            policies[set.vendor] = set.policy
        case .referralRewarded(let rewarded):
            let what = "the referral reward of \(rewarded.vendor) for \(rewarded.user)"
            if let earlier = rewards[rewarded.user] {
                throw fail("\(what) comes after \(earlier.vendor) was rewarded for \(rewarded.user) already")
            }
            rewards[rewarded.user] = Reward(vendor: rewarded.vendor, currency: rewarded.currency, amount: rewarded.amount,
                                            qualifying: rewarded.qualifyingTransactions, reversed: false)
            guard opened.contains(rewarded.user) else {
                return try coverage.unknown(fail("\(what): \(rewarded.user) never opened an account"))
            }
            guard referrers[rewarded.user] == rewarded.vendor else {
                throw fail("\(what): \(rewarded.user) was brought by \(referrers[rewarded.user] ?? "no vendor")")
            }
            guard let policy = policies[rewarded.vendor] else {
                return try coverage.unknown(fail("\(what): \(rewarded.vendor) has no referral policy"))
            }
            guard policy.currency == rewarded.currency, policy.rewardAmount == rewarded.amount else {
                throw fail("\(what) pays \(rewarded.amount) \(rewarded.currency.code), where the policy pays \(policy.rewardAmount) \(policy.currency.code)")
            }
            guard !rewarded.qualifyingTransactions.isEmpty else { throw fail("\(what) names no qualifying purchase") }
            guard Set(rewarded.qualifyingTransactions).count == rewarded.qualifyingTransactions.count else {
                throw fail("\(what) names a purchase twice")
            }
            let confirmed = rewarded.timeMilliseconds > policy.confirmationSeconds * 1000 ? rewarded.timeMilliseconds - policy.confirmationSeconds * 1000 : 0
            var spent: Int64 = 0
            for transaction in rewarded.qualifyingTransactions {
                guard let purchase = standing[transaction] else {
                    try coverage.unknown(fail("\(what) names \(transaction), not a purchase captured before it"))
                    return
                }
                guard purchase.user == rewarded.user, purchase.currency == policy.currency, purchase.remaining > 0, !purchase.disputed,
                      purchase.capturedAt <= confirmed else {
                    throw fail("\(what) names \(transaction), which does not qualify: "
                               + "a purchase of \(purchase.user) in \(purchase.currency.code), \(purchase.remaining) still paid, captured at \(purchase.capturedAt)"
                               + "\(purchase.disputed ? ", disputed" : ""); it needs one of \(rewarded.user)'s in \(policy.currency.code), not wholly refunded"
                               + " or disputed, captured by \(confirmed)")
                }
                spent = spent &+ purchase.remaining
            }
            guard spent >= policy.minimumSpend else {
                throw fail("\(what) names purchases still paying \(spent), less than the policy's minimum spend of \(policy.minimumSpend)")
            }
        case .referralReversed(let reversed):
            let what = "the reversal of \(reversed.vendor)'s referral reward for \(reversed.user)"
            guard let reward = rewards[reversed.user] else {
                return try coverage.unknown(fail("\(what): no reward was paid for \(reversed.user)"))
            }
            guard !reward.reversed else { throw fail("\(what): the reward was reversed already") }
            guard reward.vendor == reversed.vendor, reward.amount == reversed.amount,
                  reversed.postings.allSatisfy({ $0.currency == reward.currency }) else {
                throw fail("\(what) takes back \(reversed.amount), where \(reward.vendor) was paid \(reward.amount) \(reward.currency.code)")
            }
            guard reward.qualifying.contains(reversed.transaction) else {
                throw fail("\(what) names \(reversed.transaction), which did not qualify for it")
            }
            rewards[reversed.user]?.reversed = true
        default:
            break
        }
    }

    /// What the report says when some referral events could not be checked, or nil.
    var note: String? {
        coverage.unchecked == 0 ? nil : "\(coverage.unchecked) referral rewards or reversals of users or rewards before the range were not checked against them"
    }
}
