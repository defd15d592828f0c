import Journal
import Ledger

/// Spending limits held in order (claims 23–24): with the whole history, every purchase (an
/// authorization, or a one-step capture) stays within the limits its buyer had set at its time
/// (`SpendingLimitSet`), by the ledger's one rule (``SpendingLimit/enforce(_:amount:member:vendor:time:spending:)``)
/// over the buyer's spending as the journal tells it. A purchase counts at its price from its
/// authorization (or one-step capture), less what partial refunds gave back, and no longer
/// counts once it is voided, expired or wholly refunded (by its vendor or a dispute), as in the
/// ledger's spending log. A purchase over a limit fails as `purchase-inconsistent` (exit 38).
///
/// Only purchases of the last 30 days (the longest window) can count. Most users never set a
/// limit, and handing every purchase's buyer, vendor, member and transaction to the in-order
/// pass cost the 10M-event audit a third more CPU; so a user is followed on its own (`followed`)
/// only from its first limit. Until then the workers hand over only a ``Mark`` of each purchase
/// or lowering (a hash of the buyer and the time, kept in journal order in `recent`), and the
/// first limit reads that user's recent events back from the journal. The workers hand over
/// each event of a user followed when their chunk began in full (``following``); one that
/// began to be followed within the chunk has its events decoded again by the in-order pass.
///
/// In a range that does not start at sequence 1 the limits set and the spending before it are
/// not known, and nothing is checked (`note`).
struct SpendingAudit {
    /// What one event changes in a user's limits or spending, reduced by the workers.
    enum Change {
        /// A limit was set or replaced, or removed (`removed`).
        indirect case limit(user: String, limit: SpendingLimit, removed: Bool)
        /// A purchase at `entry.amount` in `currency`, to be held to the limits, then counted.
        case spend(user: String, currency: Currency, entry: SpendEntry)
        /// At `time`, a purchase's cost went down by `by`, or (nil) it no longer counts.
        case lower(user: String, transaction: String, by: Int64?, time: UInt64)

        var user: String {
            switch self {
            case .limit(let user, _, _), .spend(let user, _, _), .lower(let user, _, _, _): return user
            }
        }

        /// When it happened: a limit's time does not matter.
        var time: UInt64 {
            switch self {
            case .limit: return 0
            case .spend(_, _, let entry): return entry.timeMilliseconds
            case .lower(_, _, _, let time): return time
            }
        }
    }

    /// A purchase or lowering of a user not followed (when its chunk began): enough to find
    /// it again in the journal (``SpendingAudit/subject(of:)``).
    struct Mark {
        let userHash: Int
        let time: UInt64
    }

    /// What the workers hand over of an event that concerns spending.
    enum Input {
        /// The whole change: a limit, or an event of a user followed.
        indirect case change(Change)
        case mark(Mark)
    }

    /// Reads the change of the event at a sequence of the journal back.
    typealias ChangeReader = (UInt64) throws -> Change?

    private struct Spent {
        var currency: Currency
        var entry: SpendEntry
    }

    /// One user followed on its own: its limits and its recent spending.
    private struct Account {
        var limits: [SpendingLimit] = []
        var spending: [Spent] = []
        /// How many purchases the last dropping of old ones kept.
        var kept = 0

        /// Holds `spent` to the limits that apply to it (the ledger's rule: the reason it breaks
        /// one, or nil), then counts it.
        mutating func spend(_ spent: Spent) -> String? {
            let entry = spent.entry
            var breach: String?
            let applicable = limits.isEmpty ? [] : SpendingLimit.applicable(limits, currency: spent.currency, member: entry.member, vendor: entry.vendor)
            if !applicable.isEmpty {
                do {
                    try SpendingLimit.enforce(
                        applicable, amount: entry.amount, member: entry.member, vendor: entry.vendor, time: entry.timeMilliseconds,
                        spending: spending.lazy.filter { $0.currency == spent.currency }.map(\.entry))
                } catch {
                    breach = (error as? LedgerRejection)?.message ?? "\(error)"
                }
            }
            if spending.count >= 2 * kept + 16 {
                spending.removeAll { $0.entry.timeMilliseconds <= SpendingAudit.horizon(entry.timeMilliseconds) }
                kept = spending.count
            }
            spending.append(spent)
            return breach
        }

        mutating func lower(_ transaction: String, by amount: Int64?) {
            if let amount {
                for index in spending.indices where spending[index].entry.transaction == transaction {
                    spending[index].entry.amount = max(spending[index].entry.amount &- amount, 0)
                }
            } else {
                spending.removeAll { $0.entry.transaction == transaction }
            }
        }

        /// Applies a purchase or lowering without checking it (read back when the user begins to
        /// be followed, before any limit).
        mutating func replay(_ change: Change) {
            switch change {
            case .spend(_, let currency, let entry): _ = spend(Spent(currency: currency, entry: entry))
            case .lower(_, let transaction, let amount, _): lower(transaction, by: amount)
            case .limit: break
            }
        }
    }

    let wholeHistory: Bool
    private let readChange: ChangeReader
    /// The purchases and lowerings of users not followed, of the last 30 days or so, in journal
    /// order (dropped in bulk once the list has doubled).
    private var recent: [(mark: Mark, sequence: UInt64)] = []
    private var recentKept = 0
    /// The users with a limit set, each with its limits and recent spending.
    private var followed: [String: Account] = [:]
    private var followedHashes: Set<Int> = []
    /// The users followed, for the workers to hand over their events in full.
    private(set) var following: Set<String> = []

    init(wholeHistory: Bool, readChange: @escaping ChangeReader) {
        self.wholeHistory = wholeHistory
        self.readChange = readChange
    }

    /// Reads the events of `reader`'s journal back.
    static func changeReader(_ reader: any JournalStorageReader) -> ChangeReader {
        let read = RefundAudit.eventReader(reader)
        return { sequence in try read(sequence).flatMap(change(of:)) }
    }

    /// Purchases at or before this are too old to count at `time` or after it.
    static func horizon(_ time: UInt64) -> UInt64 {
        let window = SpendingLimit.longestWindowMilliseconds
        return time > window ? time - window : 0
    }

    /// The user and time of an event that concerns spending, without the rest of its change
    /// (the same events as ``change(of:)``), and whether it sets a limit.
    static func subject(of event: LedgerEvent) -> (user: String, time: UInt64, limit: Bool)? {
        switch event {
        case .spendingLimitSet(let set): return (set.user, 0, true)
        case .purchaseAuthorized(let authorized): return (authorized.user, authorized.timeMilliseconds, false)
        case .purchaseCaptured(let captured): return captured.oneStep ? (captured.user, captured.timeMilliseconds, false) : nil
        case .purchaseVoided(let voided): return (voided.user, voided.timeMilliseconds, false)
        case .purchaseRefunded(let refunded): return (refunded.user, refunded.timeMilliseconds, false)
        case .disputeResolved(let resolved): return resolved.outcome == .refunded ? (resolved.user, resolved.timeMilliseconds, false) : nil
        default: return nil
        }
    }

    /// What the workers hand over of `event`, given the users `following` when its chunk began.
    static func input(of event: LedgerEvent, following: Set<String>) -> Input? {
        guard let subject = subject(of: event) else { return nil }
        if subject.limit || (!following.isEmpty && following.contains(subject.user)) { return change(of: event).map { .change($0) } }
        return .mark(Mark(userHash: subject.user.hashValue, time: subject.time))
    }

    /// The same for a change already in hand (the tests').
    static func input(of change: Change, following: Set<String>) -> Input {
        if case .limit = change { return .change(change) }
        return following.contains(change.user) ? .change(change) : .mark(Mark(userHash: change.user.hashValue, time: change.time))
    }

    /// What `event` changes for this audit, or nil.
    static func change(of event: LedgerEvent) -> Change? {
        switch event {
        case .spendingLimitSet(let set):
            return .limit(user: set.user, limit: set.limit, removed: set.removed)
        case .purchaseAuthorized(let authorized):
            return .spend(user: authorized.user, currency: authorized.terms.currency, entry: SpendEntry(
                timeMilliseconds: authorized.timeMilliseconds, amount: authorized.terms.price, vendor: authorized.vendor,
                member: authorized.member, transaction: authorized.transaction))
        case .purchaseCaptured(let captured):
            // The capture of a hold counts from its authorization.
            guard captured.oneStep else { return nil }
            return .spend(user: captured.user, currency: captured.terms.currency, entry: SpendEntry(
                timeMilliseconds: captured.timeMilliseconds, amount: captured.terms.price, vendor: captured.vendor,
                member: captured.member, transaction: captured.transaction))
        case .purchaseVoided(let voided):
            return .lower(user: voided.user, transaction: voided.transaction, by: nil, time: voided.timeMilliseconds)
        case .purchaseRefunded(let refunded):
            let whole = (refunded.remaining ?? 0) == 0
            return .lower(user: refunded.user, transaction: refunded.transaction, by: whole ? nil : refunded.refunded,
                          time: refunded.timeMilliseconds)
        case .disputeResolved(let resolved):
            guard resolved.outcome == .refunded else { return nil }
            return .lower(user: resolved.user, transaction: resolved.transaction, by: nil, time: resolved.timeMilliseconds)
        default:
            return nil
        }
    }

    /// Checks and counts what the workers handed over of the event at `sequence`; `change`
    /// decodes that event again when only its mark was handed over and its user is followed.
    mutating func apply(_ input: Input, at sequence: UInt64, change: () throws -> Change?) -> AuditFailure? {
        guard wholeHistory else { return nil }
        switch input {
        case .change(let whole):
            return apply(whole, at: sequence)
        case .mark(let mark):
            if followedHashes.contains(mark.userHash) {
                do {
                    if let whole = try change(), followed[whole.user] != nil { return apply(whole, at: sequence) }
                } catch {
                    return AuditFailure(kind: .undecodableEvent, sequence: sequence, message: "\(error)")
                }
            }
            remember(mark, at: sequence)
            return nil
        }
    }

    /// The same for a change in hand (the one-event-at-a-time audit and the tests).
    mutating func apply(_ change: Change, at sequence: UInt64) -> AuditFailure? {
        guard wholeHistory else { return nil }
        if case .limit(let user, let limit, let removed) = change {
            do {
                try follow(user)
            } catch {
                return AuditFailure(kind: .undecodableEvent, sequence: sequence, message: "\(error)")
            }
            followed[user]?.limits.removeAll { $0.hasScope(of: limit) }
            if !removed { followed[user]?.limits.append(limit) }
            return nil
        }
        guard followed[change.user] != nil else {
            remember(Mark(userHash: change.user.hashValue, time: change.time), at: sequence)
            return nil
        }
        switch change {
        case .spend(let user, let currency, let entry):
            guard let breach = followed[user]?.spend(Spent(currency: currency, entry: entry)) else { return nil }
            let by = entry.member.map { " by member \($0)" } ?? ""
            return AuditFailure(
                kind: .purchaseInconsistent, sequence: sequence,
                message: "\(entry.transaction) of \(user)\(by) at \(entry.vendor) breaks a spending limit set before it: \(breach)")
        case .lower(let user, let transaction, let amount, _):
            followed[user]?.lower(transaction, by: amount)
        case .limit:
            break
        }
        return nil
    }

    /// Appends a purchase or lowering of a user not followed to `recent`, first dropping, once
    /// the list has doubled, what is too old to count again. (A lowering is as old as its
    /// event, never older than its purchase while the clock moves forward.)
    private mutating func remember(_ mark: Mark, at sequence: UInt64) {
        if recent.count >= 2 * recentKept + 1_024 {
            let horizon = Self.horizon(mark.time)
            recent.removeAll { $0.mark.time <= horizon }
            recentKept = recent.count
        }
        recent.append((mark, sequence))
    }

    /// Follows `user` on its own from now on, its recent spending read back from the journal.
    private mutating func follow(_ user: String) throws {
        guard followed[user] == nil else { return }
        let hash = user.hashValue
        var account = Account()
        for (mark, sequence) in recent where mark.userHash == hash {
            if let change = try readChange(sequence), change.user == user { account.replay(change) }
        }
        followed[user] = account
        followedHashes.insert(hash)
        following.insert(user)
    }

    /// What the report says when limits were not checked, or nil.
    var note: String? {
        wholeHistory ? nil : "not checked: the limits set and the spending they count need the history from sequence 1"
    }
}
