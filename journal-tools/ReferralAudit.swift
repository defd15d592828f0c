import Ledger

/// Referral rewards held in order to what earned them: a reward goes to the vendor that
/// brought the user (`AccountOpened.referringVendor`), once per user, in the currency and for
/// the amount of that vendor's referral policy at the time (the last `ReferralPolicySet`), and
/// names at least one qualifying purchase; a reversal undoes a reward not yet reversed, by the
/// same vendor and for the same amount, because one of its qualifying purchases (named) was
/// refunded. `FundsAudit` checks each event's postings.
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

    mutating func apply(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        do {
            try check(event, at: sequence)
            return nil
        } catch {
            return error
        }
    }

    private mutating func check(_ event: LedgerEvent, at sequence: UInt64) throws(AuditFailure) {
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
