// The standard purchase workload (/work/shared/bench/WORKLOAD.md) as every benchmark draws it:
// the generator, the purchases, the rounding rule and the cross-check totals. One definition,
// so that the ledger benchmark and the HTTP load generator can never drift apart, and the
// spec's totals are checked by a test (BenchmarkSupportTests).

/// splitmix64, all arithmetic modulo 2^64.
public struct SplitMix64: Sendable {
    public var x: UInt64

    public init(seed: UInt64) { x = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public enum StandardWorkload {
    /// Prices are 1 ... maxPrice.
    public static let maxPrice: Int64 = 500
    /// Every vendor's fee and every content item's single royalty share.
    public static let feeBasisPoints: Int64 = 500
    public static let royaltyBasisPoints: Int64 = 1000

    /// The defaults, whose totals WORKLOAD.md states.
    public static let defaultUsers = 10_000
    public static let defaultVendors = 100
    public static let defaultPurchases = 200_000
    public static let defaultSeed: UInt64 = 42
    public static let defaultInitial: Int64 = 1_000_000
    public static let defaultCurrency = "USD"

    public static func isDefault(users: Int, vendors: Int, purchases: Int, seed: UInt64, initial: Int64, currency: String) -> Bool {
        users == defaultUsers && vendors == defaultVendors && purchases == defaultPurchases && seed == defaultSeed
            && initial == defaultInitial && currency == defaultCurrency
    }

    /// Integer units, rounding down: `fee = price * 5 / 100`.
    @inlinable
    public static func fee(of price: Int64) -> Int64 { price * feeBasisPoints / 10_000 }

    /// `royalty = price * 10 / 100`, rounding down.
    @inlinable
    public static func royalty(of price: Int64) -> Int64 { price * royaltyBasisPoints / 10_000 }

    /// Purchases `i = 0 ..< count` in order, each drawn as three values: `user = r1 % users`,
    /// `vendor = r2 % vendors`, `price = 1 + r3 % maxPrice`.
    @inlinable
    public static func draw(
        seed: UInt64, users: Int, vendors: Int, count: Int, _ body: (_ user: Int, _ vendor: Int, _ price: Int64) -> Void
    ) {
        var generator = SplitMix64(seed: seed)
        for _ in 0..<count {
            let r1 = generator.next()
            let r2 = generator.next()
            let r3 = generator.next()
            body(Int(r1 % UInt64(users)), Int(r2 % UInt64(vendors)), 1 + Int64(r3 % UInt64(maxPrice)))
        }
    }
}

/// What the ledger must hold after the timed phase: the buyers' spending, the vendors' net
/// payables, the provider's fees and the rights holders' royalties.
public struct WorkloadTotals: Equatable, Sendable, CustomStringConvertible {
    public var usersSpent: Int64
    public var vendorsNet: Int64
    public var fees: Int64
    public var royalties: Int64

    public init(usersSpent: Int64 = 0, vendorsNet: Int64 = 0, fees: Int64 = 0, royalties: Int64 = 0) {
        self.usersSpent = usersSpent
        self.vendorsNet = vendorsNet
        self.fees = fees
        self.royalties = royalties
    }

    /// WORKLOAD.md's cross-check: the totals of the default parameters, nothing rejected.
    public static let defaults = WorkloadTotals(usersSpent: 50_168_514, vendorsNet: 42_828_423, fees: 2_413_363, royalties: 4_926_728)

    /// One accepted purchase at `price`: the buyer pays it, the vendor keeps it less the fee
    /// and the royalty.
    @inlinable
    public mutating func add(price: Int64) {
        let fee = StandardWorkload.fee(of: price)
        let royalty = StandardWorkload.royalty(of: price)
        usersSpent += price
        fees += fee
        royalties += royalty
        vendorsNet += price - fee - royalty
    }

    public var description: String {
        "users_spent=\(usersSpent) vendors_net=\(vendorsNet) fees=\(fees) royalties=\(royalties)"
    }
}
