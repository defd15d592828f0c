import Ledger

/// Money arriving for a user or leaving one, held to what the ledger does, event by event: it
/// reaches or leaves only the user the event names.
///
/// Funds added online come out of the method's funding clearing account and go to the user:
/// first repaying the credit line, the rest to the wallet (`LedgerDecider.deposit`), the
/// amount in all. Offline funds go to the user's pending funds, the amount exactly, until a
/// `FundsCleared` moves them from there to the user (as a deposit) or a `FundsFailed` back to
/// a funding clearing account. A transfer moves the amount out of the sender's wallet to
/// another user, as a deposit. An incentive lot's tokens come from its issuer
/// (`LedgerAccount.incentiveSource`) into the lot, and what is left of it at its expiry leaves
/// the lot in one posting; a referral reward moves from the provider's fees to the vendor's
/// payable, and its reversal back. A payout moves its amount out of the user's own wallet
/// (``payoutFailure(_:_:amount:at:from:to:_:)``). Whether what ends a wait (a clearing, a
/// failure, a payout paid or declined) is what began it needs the history:
/// ``PendingFundsAudit`` checks it.
enum FundsAudit {
    /// Why `event`'s postings move money between other accounts than the rules allow, or nil
    /// (nil for every other kind of event).
    static func failure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        let problem: String?
        switch event {
        case .fundsAdded(let added):
            let code = added.currency.code, from = "funding:\(added.method.rawValue):\(code)"
            if added.pending != added.method.isOffline {
                problem = "says pending is \(added.pending) for \(added.method.rawValue), which is \(added.method.isOffline ? "" : "not ")offline"
            } else if added.pending {
                let to = LedgerAccount.pending(user: added.user, currency: added.currency).name
                problem = added.amount > 0 && RefundAudit.movesOnly(added.postings, added.amount, from: from, to: to)
                    ? nil : "moves \(RefundAudit.describe(added.postings)), where offline funds move \(from) -> \(to) \(added.amount)"
            } else {
                problem = depositProblem(added.postings, from: { $0 == from }, source: from, to: added.user, code: code, amount: added.amount)
            }
            return problem.map { fail("funds \(added.funding) for \(added.user) " + $0, at: sequence) }
        case .fundsCleared(let cleared):
            let code = cleared.postings.first?.currency.code ?? ""
            problem = depositProblem(cleared.postings, from: { PurchaseAudit.isAccount($0, "pending", of: cleared.user, code) },
                                     source: "pending:\(cleared.user):\(code)", to: cleared.user, code: code, amount: nil)
            return problem.map { fail("the clearing of funds \(cleared.funding) for \(cleared.user) " + $0, at: sequence) }
        case .fundsFailed(let failed):
            let moved = failed.postings.allSatisfy {
                PurchaseAudit.isAccount($0.debit, "pending", of: failed.user, $0.currency.code) && LedgerAudit.starts($0.credit, with: "funding:")
            }
            guard failed.postings.count <= 1, moved else {
                return fail("the failure of funds \(failed.funding) for \(failed.user) moves \(RefundAudit.describe(failed.postings)), "
                            + "where pending funds go back from pending:\(failed.user) to their funding account", at: sequence)
            }
            return nil
        case .tokensTransferred(let transfer):
            let code = transfer.currency.code
            if transfer.from == transfer.to {
                problem = "is to the sender"
            } else {
                problem = depositProblem(transfer.postings, from: { PurchaseAudit.isAccount($0, "wallet", of: transfer.from, code) },
                                         source: "wallet:\(transfer.from):\(code)", to: transfer.to, code: code, amount: transfer.amount)
            }
            return problem.map { fail("the transfer from \(transfer.from) to \(transfer.to) " + $0, at: sequence) }
        case .incentiveIssued(let issued):
            let from = LedgerAccount.incentiveSource(issuer: issued.issuer, currency: issued.currency).name
            let to = LedgerAccount.incentiveLot(lot: issued.lot, currency: issued.currency).name
            return oneMoveFailure(issued.postings, issued.amount, from: from, to: to, at: sequence) {
                "incentive lot \(issued.lot) for \(issued.user) is issued with \($0), where \(issued.issuer)'s tokens move \(from) -> \(to) \(issued.amount)"
            }
        case .incentiveExpired(let expired):
            // Back to whoever issued the lot: the history knows (``RefundAudit``).
            let lot = expired.postings.first.map { LedgerAccount.incentiveLot(lot: expired.lot, currency: $0.currency).name }
            guard let lot, expired.amount > 0, RefundAudit.movesOnly(expired.postings, expired.amount, from: lot, to: expired.postings[0].credit) else {
                return fail("the expiry of incentive lot \(expired.lot) moves \(RefundAudit.describe(expired.postings)), "
                            + "where its \(expired.amount) left moves out of lot:\(expired.lot) in one posting", at: sequence)
            }
            return nil
        case .referralRewarded(let rewarded):
            let from = LedgerAccount.providerFeeRevenue(currency: rewarded.currency).name
            let to = LedgerAccount.vendorPayable(vendor: rewarded.vendor, currency: rewarded.currency).name
            return oneMoveFailure(rewarded.postings, rewarded.amount, from: from, to: to, at: sequence) {
                "the referral reward of \(rewarded.vendor) for \(rewarded.user) moves \($0), where the provider pays it: \(from) -> \(to) \(rewarded.amount)"
            }
        case .referralReversed(let reversed):
            let currency = reversed.postings.first?.currency
            let from = currency.map { LedgerAccount.vendorPayable(vendor: reversed.vendor, currency: $0).name }
            let to = currency.map { LedgerAccount.providerFeeRevenue(currency: $0).name }
            guard let from, let to, reversed.amount > 0, RefundAudit.movesOnly(reversed.postings, reversed.amount, from: from, to: to) else {
                return fail("the reversal of \(reversed.vendor)'s referral reward for \(reversed.user) moves \(RefundAudit.describe(reversed.postings)), "
                            + "where it moves \(reversed.amount) back from \(reversed.vendor)'s payable to the provider's fees", at: sequence)
            }
            return nil
        case .payoutRequested(let requested):
            return payoutFailure(requested.payout, "the request", amount: requested.amount, at: sequence,
                                 from: .wallet(user: requested.user, currency: requested.currency),
                                 to: .outgoing(user: requested.user, currency: requested.currency), requested.postings)
        case .fundsReturned(let returned):
            let from: LedgerAccount = returned.requested == true
                ? .outgoing(user: returned.user, currency: returned.currency) : .wallet(user: returned.user, currency: returned.currency)
            return payoutFailure(returned.payout, "the payment", amount: returned.amount, at: sequence,
                                 from: from, to: .fundingClearing(method: returned.method, currency: returned.currency), returned.postings)
        case .payoutDeclined(let declined):
            return payoutFailure(declined.payout, "the decline", amount: declined.amount, at: sequence,
                                 from: .outgoing(user: declined.user, currency: declined.currency),
                                 to: .wallet(user: declined.user, currency: declined.currency), declined.postings)
        default:
            return nil
        }
    }

    /// What is wrong with a deposit's postings, or nil: each from the source (`from`), to
    /// `user`'s credit line or wallet in `code`, `amount` in all (when known).
    static func depositProblem(
        _ postings: [Posting], from: (String) -> Bool, source: String, to user: String, code: String, amount: Int64?
    ) -> String? {
        var total: Int64 = 0
        for posting in postings {
            let toUser = PurchaseAudit.isAccount(posting.credit, "wallet", of: user, code) || PurchaseAudit.isAccount(posting.credit, "credit", of: user, code)
            guard from(posting.debit), toUser else {
                return "moves \(posting.amount) from \(posting.debit) to \(posting.credit), where it moves from \(source) to \(user)'s credit line or wallet"
            }
            total &+= posting.amount
        }
        if let amount, total != amount { return "moves \(total) of its amount \(amount)" }
        return nil
    }

    /// A payout to a user moves its amount, a positive one, in one posting: asked for, out of
    /// the user's wallet into the user's outgoing funds; paid, out of those (or at once out of
    /// the wallet) to the clearing account of the method it travels by; declined, back from
    /// the outgoing funds to the wallet.
    static func payoutFailure(
        _ payout: String, _ what: String, amount: Int64, at sequence: UInt64, from: LedgerAccount, to: LedgerAccount, _ postings: [Posting]
    ) -> AuditFailure? {
        let debit = from.name, credit = to.name
        return oneMoveFailure(postings, amount, from: debit, to: credit, at: sequence) {
            "\(what) of payout \(payout) moves \($0), where it moves \(debit) -> \(credit) \(amount)"
        }
    }

    /// Unless `postings` are one posting of `amount`, a positive one, from `from` to `to`: a
    /// failure whose message `problem` makes of what they move.
    static func oneMoveFailure(
        _ postings: [Posting], _ amount: Int64, from: String, to: String, at sequence: UInt64, _ problem: (String) -> String
    ) -> AuditFailure? {
        guard amount > 0, RefundAudit.movesOnly(postings, amount, from: from, to: to) else {
            return fail(problem(RefundAudit.describe(postings)), at: sequence)
        }
        return nil
    }

    static func fail(_ message: String, at sequence: UInt64) -> AuditFailure {
        AuditFailure(kind: .fundsInconsistent, sequence: sequence, message: message)
    }
}
