import Ledger

/// Money that waits, held in order to how it ends: offline funds stay pending until they are
/// cleared or fail, and a payout a user asked for stays outgoing until customer service pays
/// it or declines it. Each ends once, for the user, currency and amount it began with (a
/// failed funding goes back to the clearing account of its own method, a payout is paid
/// through the method asked for), and the IDs they wait under are never used twice: one per
/// funding, and one space for payouts to users, requested or not, and royalty payouts.
///
/// `FundsAudit` checks, event by event, that the postings move what the event says; this
/// checks what the event says against the event that began the wait. It keeps one entry per
/// funding and payout ID of the range; funds or payouts that began before the range are not
/// known and are counted (`unchecked`), unless the range is the whole history, where they are
/// refused.
struct PendingFundsAudit {
    /// What began a wait: the user, the currency, the amount and the method.
    struct Waiting: Equatable {
        var user: String
        var currency: Currency
        var amount: Int64
        var method: FundingMethod
    }

    private var pendingFunds: [String: Waiting] = [:]
    private var requestedPayouts: [String: Waiting] = [:]
    private var fundingIDs: Set<String> = []
    private var payoutIDs: Set<String> = []
    /// Whether every ID used and every wait begun has been seen; ends of waits that began
    /// before the range are counted there.
    private var coverage: HistoryCoverage

    init(wholeHistory: Bool) {
        coverage = HistoryCoverage(wholeHistory: wholeHistory)
    }

    /// Whether `apply` has anything to check of `event`: the pipelined audit hands only these
    /// to it, in order.
    static func concerns(_ event: LedgerEvent) -> Bool {
        switch event {
        case .fundsAdded, .fundsCleared, .fundsFailed, .fundsReturned, .payoutRequested, .payoutDeclined, .royaltiesPaid: return true
        default: return false
        }
    }

    /// Checks `event` against the waits begun before it and records what it begins or ends.
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
        case .fundsAdded(let added):
            guard fundingIDs.insert(added.funding).inserted else { throw fail("funds \(added.funding) are added a second time") }
            if added.pending {
                pendingFunds[added.funding] = Waiting(user: added.user, currency: added.currency, amount: added.amount, method: added.method)
            }
        case .fundsCleared(let cleared):
            let what = "the clearing of funds \(cleared.funding)"
            guard let waiting = try Self.take(&pendingFunds, cleared.funding, used: fundingIDs, coverage: &coverage, what: what, at: sequence) else { return }
            // FundsAudit held the postings to a deposit out of pending:<user>:<currency>.
            let code = cleared.postings.first?.currency.code
            let moved = cleared.postings.reduce(Int64(0)) { $0 &+ $1.amount }
            guard cleared.user == waiting.user, code == waiting.currency.code, moved == waiting.amount else {
                throw fail("\(what) gives \(moved) \(code ?? "") to \(cleared.user), where \(waiting.user) added \(waiting.amount) \(waiting.currency.code)")
            }
        case .fundsFailed(let failed):
            let what = "the failure of funds \(failed.funding)"
            guard let waiting = try Self.take(&pendingFunds, failed.funding, used: fundingIDs, coverage: &coverage, what: what, at: sequence) else { return }
            let pending = LedgerAccount.pending(user: waiting.user, currency: waiting.currency).name
            let back = LedgerAccount.fundingClearing(method: waiting.method, currency: waiting.currency).name
            guard failed.user == waiting.user, RefundAudit.movesOnly(failed.postings, waiting.amount, from: pending, to: back) else {
                throw fail("\(what) of \(failed.user) moves \(RefundAudit.describe(failed.postings)), where the \(waiting.amount) "
                            + "\(waiting.user) added by \(waiting.method.rawValue) goes back: \(pending) -> \(back)")
            }
        case .payoutRequested(let requested):
            guard payoutIDs.insert(requested.payout).inserted else { throw fail("payout \(requested.payout) is used a second time") }
            requestedPayouts[requested.payout] = Waiting(user: requested.user, currency: requested.currency, amount: requested.amount, method: requested.method)
        case .fundsReturned(let returned) where returned.requested != true:
            guard payoutIDs.insert(returned.payout).inserted else { throw fail("payout \(returned.payout) is used a second time") }
        case .royaltiesPaid(let paid):
            guard payoutIDs.insert(paid.payout).inserted else { throw fail("payout \(paid.payout) is used a second time") }
        case .fundsReturned(let returned):
            try end(payout: returned.payout, "the payment", user: returned.user, returned.currency, returned.amount, returned.method, at: sequence)
        case .payoutDeclined(let declined):
            try end(payout: declined.payout, "the decline", user: declined.user, declined.currency, declined.amount, declined.method, at: sequence)
        default:
            break
        }
    }

    /// A requested payout paid or declined: it must be waiting, and the event must name what
    /// the request named (its postings were held to those fields by `FundsAudit`).
    private mutating func end(
        payout: String, _ what: String, user: String, _ currency: Currency, _ amount: Int64, _ method: FundingMethod, at sequence: UInt64
    ) throws(AuditFailure) {
        guard let waiting = try Self.take(&requestedPayouts, payout, used: payoutIDs, coverage: &coverage, what: "\(what) of payout \(payout)", at: sequence) else {
            return
        }
        let named = Waiting(user: user, currency: currency, amount: amount, method: method)
        guard named == waiting else {
            throw AuditFailure(kind: .fundsInconsistent, sequence: sequence, message:
                "\(what) of payout \(payout) is of \(amount) \(currency.code) to \(user) by \(method.rawValue), where "
                + "\(waiting.user) asked for \(waiting.amount) \(waiting.currency.code) by \(waiting.method.rawValue)")
        }
    }

    /// Ends the wait under `id` in `waits`: what began it, or nil when it began before the
    /// range (counted as unchecked). It throws when nothing waits under an ID the range used
    /// (the wait has ended already, or the ID never began one) or, with the whole history,
    /// under any ID.
    private static func take(
        _ waits: inout [String: Waiting], _ id: String, used: Set<String>, coverage: inout HistoryCoverage, what: String, at sequence: UInt64
    ) throws(AuditFailure) -> Waiting? {
        if let waiting = waits.removeValue(forKey: id) { return waiting }
        let failure = AuditFailure(kind: .fundsInconsistent, sequence: sequence,
                                   message: "\(what): nothing waits under that ID (it never began, or it ended already)")
        if used.contains(id) { throw failure }
        try coverage.unknown(failure)
        return nil
    }

    /// What the report says when some ends of waits could not be checked, or nil.
    var note: String? {
        coverage.unchecked == 0 ? nil
            : "\(coverage.unchecked) clearings, failures or payouts of funds added or payouts requested before the range were not checked against them"
    }
}
