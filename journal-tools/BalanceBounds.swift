/// The bounds the ledger keeps balances within after every event, which the audit holds each
/// recomputed balance to (postings that balance can still spend money that is not there).
///
/// A wallet, held funds, offline funds pending, tokens waiting to be paid back, an incentive
/// lot and a dispute reserve never fall below zero: a purchase, hold or transfer draws no
/// more than is there, and a reserve gives back no more than was reserved. A credit line is
/// never in credit (money arriving repays what is used, the rest goes to the wallet) and has
/// no more in use than its approved limit (`CreditLineApproved`; none approved is a limit of
/// zero; a limit is never approved below what is in use). Every other account (payables that
/// a refund after a payout leaves owing, fees, funding, clearing) has no bound.
enum BalanceBounds {
    enum Kind: UInt8 {
        case unbounded = 0
        case nonNegative
        case creditLine
    }

    /// The bound of an account, by its kind (the prefix of its name).
    static func kind(of account: String) -> Kind {
        if account.hasPrefix("credit:") { return .creditLine }
        let nonNegative = ["wallet:", "holds:", "pending:", "outgoing:", "lot:", "reserve:"]
        return nonNegative.contains(where: { account.hasPrefix($0) }) ? .nonNegative : .unbounded
    }

    /// Why `balance` is out of `account`'s bound after the event at `sequence`, or nil.
    /// `creditLimit` is the credit line's approved limit (0 if none).
    static func failure(_ account: String, balance: Int64, kind: Kind, creditLimit: Int64, at sequence: UInt64) -> AuditFailure? {
        let message: String
        switch kind {
        case .unbounded:
            return nil
        case .nonNegative:
            guard balance < 0 else { return nil }
            message = "\(account) falls to \(balance): it never goes below zero"
        case .creditLine:
            if balance > 0 {
                message = "\(account) rises to \(balance): a credit line is never in credit"
            } else if 0 &- balance > creditLimit {
                message = "\(account) has \(0 &- balance) in use, more than its approved limit of \(creditLimit)"
            } else {
                return nil
            }
        }
        return AuditFailure(kind: .balanceOutOfBounds, sequence: sequence, message: message)
    }

    /// Why approving `limit` for the credit line `account`, whose balance is `balance`, is
    /// wrong, or nil: the ledger approves no limit below zero or below the credit in use.
    static func approvalFailure(_ account: String, limit: Int64, balance: Int64, at sequence: UInt64) -> AuditFailure? {
        guard limit < 0 || 0 &- balance > limit else { return nil }
        return AuditFailure(kind: .balanceOutOfBounds, sequence: sequence,
                            message: "a limit of \(limit) is approved for \(account), with \(0 &- min(balance, 0)) in use")
    }
}
