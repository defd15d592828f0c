/// The pure fold `(state, event) -> state`: the same code applies an accepted command's events
/// live and replays the journal from empty, so both give the same write model.
enum LedgerFold {
    /// Applies `event`, appended at `sequence`, to `state`.
    ///
    /// `idempotencyKeyIsNew` says the caller has just looked the event's idempotency key up in
    /// this same state and found no record (the first event of a command `Ledger.execute` or
    /// `executeBatch` decided), so the fold need not look again; the result is the same.
    static func apply(_ event: LedgerEvent, at sequence: UInt64, to state: inout LedgerState, idempotencyKeyIsNew: Bool = false) throws {
        try applyPostings(event.postings, at: sequence, to: &state)
        // The key's record names the first sequence its request appended.
        if let mark = event.idempotency, try idempotencyKeyIsNew || state.idempotency(vendor: mark.vendor, key: mark.key) == nil {
            state.setRecord("idem/" + mark.vendor + "/" + mark.key, IdempotencyRecord(requestDigest: mark.requestDigest, sequence: sequence))
        }
        switch event {
        case .accountOpened(let event):
            state.setRecord("user/" + event.user, UserRecord(
                channel: event.channel, referringVendor: event.referringVendor, representative: event.representative,
                members: [:], wallets: [], creditLimits: [:], limits: [], openedAtMilliseconds: event.timeMilliseconds))
        case .memberAdded(let event):
            try updateUser(event.user, in: &state) { $0.members[event.member] = true }
        case .memberRemoved(let event):
            try updateUser(event.user, in: &state) { $0.members[event.member] = false }
        case .walletOpened(let event):
            try updateUser(event.user, in: &state) { $0.wallets.append(event.currency) }
        case .creditLineApproved(let event):
            try updateUser(event.user, in: &state) { $0.creditLimits[event.currency.code] = event.limit }
        case .spendingLimitSet(let event):
            try updateUser(event.user, in: &state) { user in
                user.limits.removeAll { $0.hasScope(of: event.limit) }
                if !event.removed { user.limits.append(event.limit) }
            }
        case .fundsAdded(let event):
            // Every funding is recorded, so its ID can never be used twice.
            state.setRecord("funding/" + event.funding, FundingRecord(
                user: event.user, currency: event.currency, amount: event.amount, method: event.method,
                status: event.pending ? .pending : .cleared))
        case .fundsCleared(let event):
            try updateFunding(event.funding, in: &state) { $0.status = .cleared }
        case .fundsFailed(let event):
            try updateFunding(event.funding, in: &state) { $0.status = .failed }
        case .fundsReturned(let event):
            // Recorded so that a payout ID is never used twice.
            state.setRecord("payout/" + event.payout, PayoutRecord(
                user: event.user, currency: event.currency, amount: event.amount, method: event.method,
                representative: event.representative, timeMilliseconds: event.timeMilliseconds))
            if event.requested == true { try updatePayoutRequest(event.payout, in: &state) { $0.status = .paid } }
        case .payoutRequested(let event):
            state.setRecord("payoutrequest/" + event.payout, PayoutRequestRecord(
                user: event.user, currency: event.currency, amount: event.amount, method: event.method, status: .requested,
                timeMilliseconds: event.timeMilliseconds))
        case .payoutDeclined(let event):
            try updatePayoutRequest(event.payout, in: &state) { $0.status = .declined }
        case .royaltiesPaid(let event):
            // Recorded so that a payout ID is never used twice.
            state.setRecord("royaltypayout/" + event.payout, RoyaltyPayoutRecord(
                holder: event.holder, currency: event.currency, amount: event.amount,
                representative: event.representative, timeMilliseconds: event.timeMilliseconds))
        case .vendorRegistered(let event):
            state.setRecord("vendor/" + event.vendor, VendorRecord(
                name: event.name, sites: event.sites, feeBasisPoints: event.feeBasisPoints, settlement: event.settlement,
                lastSettledAtMilliseconds: event.timeMilliseconds, settledThroughSequence: sequence))
        case .vendorUpdated(let event):
            guard var record = try state.vendor(event.vendor) else {
                throw LedgerFoldError(sequence: sequence, reason: "vendor \(event.vendor) updated but never registered")
            }
            if let name = event.name { record.name = name }
            if let sites = event.sites { record.sites = sites }
            if let fee = event.feeBasisPoints { record.feeBasisPoints = fee }
            if let settlement = event.settlement { record.settlement = settlement }
            state.setRecord("vendor/" + event.vendor, record)
        case .contentRegistered(let event):
            state.setRecord("content/\(event.vendor)/\(event.terms.content)", event.terms)
        case .purchaseAuthorized(let event):
            state.setRecord("txn/" + event.transaction, TransactionRecord(
                user: event.user, member: event.member, vendor: event.vendor, terms: event.terms, status: .held,
                holdExpiresAtMilliseconds: event.holdExpiresAtMilliseconds, sources: event.sources, vendorData: event.vendorData))
            try recordSpend(user: event.user, entry: SpendEntry(
                timeMilliseconds: event.timeMilliseconds, amount: event.terms.price, vendor: event.vendor,
                member: event.member, transaction: event.transaction), in: &state)
        case .purchaseCaptured(let event):
            if event.oneStep {
                state.setRecord("txn/" + event.transaction, TransactionRecord(captured: event))
                try recordSpend(user: event.user, entry: SpendEntry(
                    timeMilliseconds: event.timeMilliseconds, amount: event.terms.price, vendor: event.vendor,
                    member: event.member, transaction: event.transaction), in: &state)
            } else {
                try updateTransaction(event.transaction, in: &state) {
                    $0.status = .captured
                    $0.fee = event.fee
                    $0.royalties = event.royalties
                }
                // The spending log keeps the authorization's time (limits count a purchase
                // when its funds are held); a referral counts it from its capture.
                state.setRecord("capturedat/" + event.transaction, event.timeMilliseconds)
            }
        case .purchaseVoided(let event):
            try updateTransaction(event.transaction, in: &state) { $0.status = event.reason == .voided ? .voided : .expired }
            try forgetSpend(user: event.user, transaction: event.transaction, in: &state)
        case .purchaseRefunded(let event):
            guard var record = try state.transaction(event.transaction) else {
                throw LedgerFoldError(sequence: sequence, reason: "unknown transaction \(event.transaction)")
            }
            let remaining = event.remaining ?? 0
            guard event.refunded > 0, remaining >= 0, event.refunded + remaining == record.remaining else {
                throw LedgerFoldError(sequence: sequence, reason:
                    "\(event.transaction) refunded \(event.refunded) leaving \(remaining), but \(record.remaining) of its price was paid")
            }
            if remaining == 0 {
                record.status = .refunded
                record.refundedParts = nil
                try forgetSpend(user: event.user, transaction: event.transaction, in: &state)
            } else {
                record.recordPartialRefund(event.refunded)
                try lowerSpend(user: event.user, transaction: event.transaction, by: event.refunded, in: &state)
            }
            state.setRecord("txn/" + event.transaction, record)
        case .tokensTransferred:
            break
        case .disputeOpened(let event):
            state.setRecord("dispute/" + event.dispute, DisputeRecord(
                transaction: event.transaction, user: event.user, vendor: event.vendor, currency: event.currency,
                reserved: event.reserved, status: .open, disputed: event.disputed))
            try updateTransaction(event.transaction, in: &state) { $0.status = .disputed }
        case .disputeResolved(let event):
            guard var dispute = try state.dispute(event.dispute) else {
                throw LedgerFoldError(sequence: sequence, reason: "unknown dispute \(event.dispute)")
            }
            dispute.status = event.outcome == .refunded ? .refunded : .rejected
            state.setRecord("dispute/" + event.dispute, dispute)
            try updateTransaction(event.transaction, in: &state) {
                $0.status = event.outcome == .refunded ? .refunded : .captured
                if event.outcome == .refunded { $0.refundedParts = nil }
            }
            if event.outcome == .rejected { state.setRecord("rejected/" + event.transaction, event.dispute) }
            if event.outcome == .refunded { try forgetSpend(user: event.user, transaction: event.transaction, in: &state) }
        case .incentiveIssued(let event):
            state.setRecord("lot/" + event.lot, IncentiveLot(issued: event))
            // Joins the user's live lots below, with its positive balance.
        case .incentiveExpired:
            break
        case .referralPolicySet(let event):
            state.setRecord("referralpolicy/" + event.vendor, event.policy)
        case .referralRewarded(let event):
            state.setRecord("referral/" + event.user, ReferralRecord(
                vendor: event.vendor, currency: event.currency, amount: event.amount,
                qualifyingTransactions: event.qualifyingTransactions, status: .rewarded))
        case .entitlementUsed(let event):
            state.setRecord("uses/" + event.transaction, event.use)
        case .referralReversed(let event):
            guard var referral = try state.referral(user: event.user) else {
                throw LedgerFoldError(sequence: sequence, reason: "no referral reward for \(event.user)")
            }
            referral.status = .reversed
            state.setRecord("referral/" + event.user, referral)
        case .vendorSettled(let event):
            guard try state.vendor(event.vendor) != nil else { throw LedgerFoldError(sequence: sequence, reason: "unknown vendor") }
            state.setRecord("settled/\(event.vendor)/\(event.currency.code)",
                            SettlementMark(throughSequence: event.coversThroughSequence, atMilliseconds: event.timeMilliseconds))
        }
        try keepLiveLots(event.postings, at: sequence, in: &state)
    }

    /// Keeps `lots/<user>` to the user's lots that hold tokens: a lot joins when its balance
    /// becomes positive (issued, or tokens coming back from a void, an expired hold or a refund)
    /// and leaves when it reaches zero (spent, held or expired). Every purchase reads each lot of
    /// the list, so a list of every lot ever issued would make a user's purchases slower with
    /// every promotion they were ever given. A lot with no tokens can only gain them back
    /// through a posting, which brings it back here.
    private static func keepLiveLots(_ postings: [Posting], at sequence: UInt64, in state: inout LedgerState) throws {
        for index in postings.indices {
            for side in 0..<2 {
                let name = side == 0 ? postings[index].debit : postings[index].credit
                guard name.utf8.starts(with: "lot:".utf8), !Self.seen(name, before: index, side: side, in: postings) else { continue }
                let body = name.dropFirst(4)
                guard let colon = body.lastIndex(of: ":") else { throw LedgerFoldError(sequence: sequence, reason: "bad lot account \(name)") }
                let lot = String(body[..<colon])
                guard let record = try state.incentiveLot(lot) else {
                    throw LedgerFoldError(sequence: sequence, reason: "unknown incentive lot \(lot)")
                }
                let live = try state.incentiveLots(ofUser: record.user)
                let positive = try state.balance(named: name) > 0
                if positive && !live.contains(lot) {
                    state.setRecord("lots/" + record.user, live + [lot])
                } else if !positive && live.contains(lot) {
                    state.setRecord("lots/" + record.user, live.filter { $0 != lot })
                }
            }
        }
    }

    /// Applies `postings` to the balances: each account's key is built and looked up once per
    /// event (a purchase's vendor payable is in three postings), and its changes are added in
    /// posting order, each sum checked. Accounts do not affect one another, so this is posting
    /// by posting, debit then credit, to the last bit, overflow checks included.
    static func applyPostings(_ postings: [Posting], at sequence: UInt64, to state: inout LedgerState) throws {
        let count = postings.count
        for index in 0..<count {
            for side in 0..<2 {
                let name = side == 0 ? postings[index].debit : postings[index].credit
                if Self.seen(name, before: index, side: side, in: postings) { continue }
                // Every change to `name` from this posting side on, in order.
                let deltas = AccountDeltas(postings: postings, name: name, index: index, side: side)
                // Decisions check every balance change for overflow; a fold that overflows means
                // the journal holds an event no decision could have made.
                let ok = try state.addToBalance(key: LedgerState.balanceKey(name), deltas: deltas)
                precondition(ok, "posting overflows a balance at sequence \(sequence)")
            }
        }
    }

    /// Whether `name` is an account of a posting side before side `side` of posting `index`.
    @inline(__always) static func seen(_ name: String, before index: Int, side: Int, in postings: [Posting]) -> Bool {
        if side == 1 && postings[index].debit == name { return true }
        for earlier in 0..<index where postings[earlier].debit == name || postings[earlier].credit == name {
            return true
        }
        return false
    }

    /// Spending older than the longest window (30 days) is dropped when new spending is added.
    static let spendRetentionMilliseconds = SpendingLimit.longestWindowMilliseconds

    private static func recordSpend(user: String, entry: SpendEntry, in state: inout LedgerState) throws {
        let horizon = entry.timeMilliseconds > spendRetentionMilliseconds ? entry.timeMilliseconds - spendRetentionMilliseconds : 0
        try state.addSpending(user, entry, horizon: horizon)
    }

    /// A purchase released or refunded no longer counts against the user's limits.
    private static func forgetSpend(user: String, transaction: String, in state: inout LedgerState) throws {
        var entries = try state.spending(user)
        entries.removeAll { $0.transaction == transaction }
        state.setSpending(user, entries)
    }

    /// Spending limits count what a partly refunded purchase still costs.
    private static func lowerSpend(user: String, transaction: String, by amount: Int64, in state: inout LedgerState) throws {
        var entries = try state.spending(user)
        for index in entries.indices where entries[index].transaction == transaction {
            entries[index].amount = max(entries[index].amount - amount, 0)
        }
        state.setSpending(user, entries)
    }

    private static func updateUser(_ id: String, in state: inout LedgerState, _ change: (inout UserRecord) -> Void) throws {
        guard var user = try state.user(id) else { throw LedgerFoldError(sequence: 0, reason: "unknown user \(id)") }
        change(&user)
        state.setRecord("user/" + id, user)
    }

    private static func updatePayoutRequest(_ id: String, in state: inout LedgerState, _ change: (inout PayoutRequestRecord) -> Void) throws {
        guard var request = try state.payoutRequest(id) else { throw LedgerFoldError(sequence: 0, reason: "unknown payout request \(id)") }
        change(&request)
        state.setRecord("payoutrequest/" + id, request)
    }

    private static func updateFunding(_ id: String, in state: inout LedgerState, _ change: (inout FundingRecord) -> Void) throws {
        guard var funding = try state.funding(id) else { throw LedgerFoldError(sequence: 0, reason: "unknown funding \(id)") }
        change(&funding)
        state.setRecord("funding/" + id, funding)
    }

    private static func updateTransaction(_ id: String, in state: inout LedgerState, _ change: (inout TransactionRecord) -> Void) throws {
        guard var transaction = try state.transaction(id) else { throw LedgerFoldError(sequence: 0, reason: "unknown transaction \(id)") }
        change(&transaction)
        state.setRecord("txn/" + id, transaction)
    }
}

/// The balance changes of one account in a list of postings, in posting order (debit side
/// before credit side), from a given posting side on.
struct AccountDeltas: Sequence, IteratorProtocol {
    let postings: [Posting]
    let name: String
    var index: Int
    var side: Int

    mutating func next() -> Int64? {
        while index < postings.count {
            let posting = postings[index]
            let current = side
            if side == 0 { side = 1 } else { side = 0; index += 1 }
            if current == 0 {
                if posting.debit == name { return 0 &- posting.amount }
            } else if posting.credit == name {
                return posting.amount
            }
        }
        return nil
    }
}

/// An event the fold cannot apply: the journal holds something no decision would have made.
public struct LedgerFoldError: Error, Sendable, CustomStringConvertible {
    public let sequence: UInt64
    public let reason: String
    public var description: String { "cannot fold event \(sequence): \(reason)" }
}
