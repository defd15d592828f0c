/// Checked arithmetic on minor units. Money never wraps: an overflow is a rejection.
enum Money {
    static func add(_ lhs: Int64, _ rhs: Int64) throws(LedgerRejection) -> Int64 {
        let (sum, overflow) = lhs.addingReportingOverflow(rhs)
        if overflow { throw LedgerRejection(.amountOverflow, "\(lhs) + \(rhs) overflows a 64-bit amount") }
        return sum
    }

    static func subtract(_ lhs: Int64, _ rhs: Int64) throws(LedgerRejection) -> Int64 {
        let (difference, overflow) = lhs.subtractingReportingOverflow(rhs)
        if overflow { throw LedgerRejection(.amountOverflow, "\(lhs) - \(rhs) overflows a 64-bit amount") }
        return difference
    }

    /// `amount * basisPoints / 10_000`, rounded down, without intermediate overflow.
    static func share(of amount: Int64, basisPoints: Int64) -> Int64 {
        precondition(amount >= 0 && basisPoints >= 0 && basisPoints <= 10_000)
        // Every real price fits the 64-bit product (up to about 9 * 10^14); a 128-bit division
        // is a library call, paid per royalty and fee by the decider and the audit.
        if amount <= Int64.max / 10_000 { return amount * basisPoints / 10_000 }
        return Int64(Int128(amount) * Int128(basisPoints) / 10_000)
    }

    /// The largest amount one command may carry: 10^15 minor units (ten trillion dollars).
    /// Far above any real payment, and far enough below 2^63 that sums of many such amounts
    /// (a user's lots, a vendor's earnings) stay representable wherever they are added up.
    static let amountMax: Int64 = 1_000_000_000_000_000

    static func positive(_ amount: Int64, _ field: String) throws(LedgerRejection) {
        if amount <= 0 { throw LedgerRejection(.amountNotPositive, "\(field) must be a positive number of minor units, got \(amount)", field: field) }
        if amount > amountMax { throw LedgerRejection(.amountOverflow, "\(field) is at most \(amountMax) minor units, got \(amount)", field: field) }
    }
}
