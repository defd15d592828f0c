import Ledger

/// The refund half of the ledger audit: no purchase gives back more than its buyer paid.
///
/// A refund (`PurchaseRefunded` by its vendor, or `DisputeResolved` refunding a dispute) states
/// what it gives back, and its postings must move exactly that much. With the capture in the
/// audited range, it must also give back no more than the buyer still pays (the captured price
/// less earlier refunds), say what remains truthfully (`remaining`; an older refund without it,
/// or a dispute's refund, gives back all that remains), and a purchase whose whole price is back
/// can be neither refunded nor disputed again; a dispute disputes what is still paid. The audit keeps one entry per captured purchase.
struct RefundAudit {
    /// What one event tells about a purchase's payment.
    enum Step: Equatable {
        /// A purchase was captured at `price` in `currency`.
        case capture(transaction: String, currency: String, price: Int64)
        /// A refund of `amount`; `remaining` is what the event says the buyer still pays after
        /// it (nil: all that remained went back).
        case refund(transaction: String, amount: Int64, remaining: Int64?, what: String)
        /// A dispute was opened of what the buyer still paid (`disputed`; nil in events from
        /// before partial refunds existed).
        case dispute(transaction: String, disputed: Int64?, what: String)
    }

    /// What a captured purchase's buyer still pays, and in which currency (an index into
    /// `currencies`; `Paid.none` marks a transaction not captured).
    struct Paid {
        var amount: Int64
        var currency: Int32
        static let none = Paid(amount: 0, currency: -1)
    }

    /// The ledger's own transaction IDs (``ServerTransactionID``, `tx-<sequence>`) created in
    /// the range, by their sequence less `first`: one array slot, not a hashed string, per
    /// capture (a 10-million-event audit holds millions of them).
    private var bySequence: [Paid] = []
    /// Every other transaction ID: created before the range, or not made by the ledger.
    private var byID: [String: Paid] = [:]
    private var currencies: [String] = []
    /// The range's first and last sequence: a server-created ID names a sequence up to `last`.
    let first: UInt64
    let last: UInt64
    /// Every capture a refund can name has been seen (the range starts at sequence 1).
    var wholeHistory: Bool { first == 1 }
    /// Refunds checked against what the buyer paid, and per currency what they gave back.
    private(set) var checked: UInt64 = 0
    private(set) var refundedTotals: [String: Int64] = [:]
    /// Refunds and disputes of purchases captured before the range (not checked against it).
    private(set) var unchecked: UInt64 = 0

    init(first: UInt64, last: UInt64) {
        self.first = first
        self.last = last
    }

    /// The dense slot of a server-created ID in the range, or nil.
    private func slot(_ transaction: String) -> Int? {
        guard let sequence = ServerTransactionID.sequence(of: transaction), sequence >= first, sequence <= last else { return nil }
        return Int(sequence - first)
    }

    private func paid(_ transaction: String) -> Paid? {
        if let slot = slot(transaction) {
            guard slot < bySequence.count, bySequence[slot].currency >= 0 else { return nil }
            return bySequence[slot]
        }
        return byID[transaction]
    }

    private mutating func setPaid(_ transaction: String, _ paid: Paid) {
        if let slot = slot(transaction) {
            if slot >= bySequence.count {
                bySequence.append(contentsOf: repeatElement(.none, count: slot + 1 - bySequence.count))
            }
            bySequence[slot] = paid
        } else {
            byID[transaction] = paid
        }
    }

    /// The payment step an event is, if any.
    static func step(of event: LedgerEvent) -> Step? {
        switch event {
        case .purchaseCaptured(let captured):
            return .capture(transaction: captured.transaction, currency: captured.terms.currency.code, price: captured.terms.price)
        case .purchaseRefunded(let refunded):
            return .refund(transaction: refunded.transaction, amount: refunded.refunded, remaining: refunded.remaining, what: "the refund")
        case .disputeResolved(let resolved) where resolved.outcome == .refunded:
            return .refund(transaction: resolved.transaction, amount: resolved.refunded, remaining: nil, what: "dispute \(resolved.dispute)")
        case .disputeOpened(let opened):
            return .dispute(transaction: opened.transaction, disputed: opened.disputed, what: "dispute \(opened.dispute)")
        default:
            return nil
        }
    }

    /// The checks a refund needs nothing but itself for: it gives back a positive amount, says
    /// a remainder that is not negative, and its postings move exactly what it gives back; a
    /// rejected dispute gives nothing back.
    static func ownFailure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .refundInconsistent, sequence: sequence, message: message)
        }
        let transaction: String, amount: Int64, postings: [Posting]
        switch event {
        case .purchaseRefunded(let refunded):
            if let remaining = refunded.remaining, remaining < 0 {
                return fail("the refund of \(refunded.transaction) says \(remaining) remains to be paid")
            }
            (transaction, amount, postings) = (refunded.transaction, refunded.refunded, refunded.postings)
        case .disputeResolved(let resolved):
            guard resolved.outcome == .refunded else {
                guard resolved.refunded == 0 else {
                    return fail("dispute \(resolved.dispute) of \(resolved.transaction) was rejected but says \(resolved.refunded) went back")
                }
                return nil
            }
            (transaction, amount, postings) = (resolved.transaction, resolved.refunded, resolved.postings)
        default:
            return nil
        }
        guard amount > 0 else { return fail("a refund of \(transaction) gives back \(amount), not a positive amount") }
        var moved: Int64 = 0
        for posting in postings {
            let (sum, overflow) = moved.addingReportingOverflow(posting.amount)
            guard !overflow else { return fail("the postings of a refund of \(transaction) overflow") }
            moved = sum
        }
        guard moved == amount else {
            return fail("a refund of \(transaction) gives back \(amount) but its postings move \(moved)")
        }
        return nil
    }

    /// Checks `step` against what came before it and records it.
    mutating func apply(_ step: Step, at sequence: UInt64) -> AuditFailure? {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .refundInconsistent, sequence: sequence, message: message)
        }
        switch step {
        case .capture(let transaction, let currency, let price):
            let index: Int32
            if let known = currencies.firstIndex(of: currency) {
                index = Int32(known)
            } else {
                index = Int32(currencies.count)
                currencies.append(currency)
            }
            guard paid(transaction) == nil else { return fail("\(transaction) is captured a second time") }
            setPaid(transaction, Paid(amount: price, currency: index))
        case .refund(let transaction, let amount, let remaining, let what):
            guard let paid = paid(transaction) else {
                if wholeHistory { return fail("\(what) gives back \(amount) of \(transaction), which was never captured") }
                unchecked += 1
                return nil
            }
            guard amount <= paid.amount else {
                return fail("\(what) gives back \(amount) of \(transaction), whose buyer pays only \(paid.amount)")
            }
            let left = paid.amount - amount
            guard (remaining ?? 0) == left else {
                return fail("\(what) of \(transaction) says \(remaining ?? 0) remains to be paid, but \(paid.amount) less \(amount) is \(left)")
            }
            setPaid(transaction, Paid(amount: left, currency: paid.currency))
            checked += 1
            refundedTotals[currencies[Int(paid.currency)], default: 0] &+= amount
        case .dispute(let transaction, let disputed, let what):
            guard let paid = paid(transaction) else {
                if wholeHistory { return fail("\(what) is of \(transaction), which was never captured") }
                unchecked += 1
                return nil
            }
            guard paid.amount > 0 else { return fail("\(what) is of \(transaction), whose whole price went back already") }
            if let disputed, disputed != paid.amount {
                return fail("\(what) says it disputes \(disputed) of \(transaction), whose buyer still pays \(paid.amount)")
            }
        }
        return nil
    }

    /// What the report says when some refunds could not be checked, or nil.
    var note: String? {
        unchecked == 0 ? nil
            : "\(unchecked) refunds or disputes of purchases captured before the range were not checked against what was paid"
    }
}
