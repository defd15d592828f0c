import Ledger

/// The audit's recomputed balances: each account is named once and then addressed by its
/// index, so that folding a posting whose accounts the workers already looked up is an array
/// add, not a hash of the account's name.
struct AccountBalances {
    /// The index of every account, by name, and the names by index, in the order the accounts
    /// were first posted to. Handed to the workers as it is before a chunk (a copy: the fold may
    /// add accounts while they read it). Two lookups per posting: `StringIndex` hashes the name
    /// once, without `Dictionary`'s seeded SipHash.
    private(set) var indices = StringIndex()
    var names: [String] { indices.keys }
    /// Balances, by index.
    private(set) var values: [Int64] = []
    /// Each account's bound (``BalanceBounds``), by index, and the credit lines' approved limits.
    private(set) var bounds: [BalanceBounds.Kind] = []
    private var creditLimits: [String: Int64] = [:]

    var count: Int { indices.count }

    /// The index of `name`, adding the account with a zero balance if it is new.
    mutating func index(of name: String) -> Int32 {
        let hash = StringIndex.hash(name)
        if let index = indices.index(of: name, hash: hash) { return Int32(index) }
        precondition(indices.count < Int(Int32.max), "more accounts than an Int32 index can name")
        let index = Int32(indices.append(name, hash: hash))
        values.append(0)
        bounds.append(BalanceBounds.kind(of: name))
        return index
    }

    /// The balance of `name` (0 when no posting has touched it), without adding it.
    func balance(of name: String) -> Int64 {
        indices.index(of: name).map { values[$0] } ?? 0
    }

    /// Adds `delta` to the balance at `index`; false, changing nothing, when the sum overflows.
    mutating func add(_ delta: Int64, at index: Int32) -> Bool {
        let (sum, overflow) = values[Int(index)].addingReportingOverflow(delta)
        if overflow { return false }
        values[Int(index)] = sum
        return true
    }

    /// Whether the account at `index` has a bound to check after each event that touches it.
    @inline(__always)
    func isBounded(_ index: Int32) -> Bool { bounds[Int(index)] != .unbounded }

    /// The balance at `index` is surely within its bound (a credit line's needs its limit:
    /// ``boundsFailure(at:sequence:)`` says).
    @inline(__always)
    func isSurelyWithinBounds(_ index: Int32) -> Bool {
        switch bounds[Int(index)] {
        case .unbounded: return true
        case .nonNegative: return values[Int(index)] >= 0
        case .creditLine: return false
        }
    }

    /// Why the balance at `index` is out of its bound after the event at `sequence`, or nil.
    func boundsFailure(at index: Int32, sequence: UInt64) -> AuditFailure? {
        let name = indices.keys[Int(index)], kind = bounds[Int(index)]
        return BalanceBounds.failure(name, balance: values[Int(index)], kind: kind,
                                     creditLimit: kind == .creditLine ? creditLimits[name] ?? 0 : 0, at: sequence)
    }

    /// Records the approval of `limit` for the credit line `name` (an account no posting may
    /// have touched yet, which stays unlisted); why it is wrong, or nil.
    mutating func approveCreditLimit(_ limit: Int64, for name: String, sequence: UInt64) -> AuditFailure? {
        if let failure = BalanceBounds.approvalFailure(name, limit: limit, balance: balance(of: name), at: sequence) { return failure }
        creditLimits[name] = limit
        return nil
    }

    /// Every balance by account name.
    var dictionary: [String: Int64] {
        Dictionary(uniqueKeysWithValues: zip(indices.keys, values))
    }
}
