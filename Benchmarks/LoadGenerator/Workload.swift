import Foundation

// The standard purchase workload (/work/shared/bench/WORKLOAD.md): parameters, the generator,
// and the totals a run must end on.

/// splitmix64, all arithmetic modulo 2^64.
struct SplitMix64 {
    var x: UInt64

    init(seed: UInt64) { x = seed }

    mutating func next() -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Mode: String {
    /// One purchase per request (`POST /v1/vendor/purchases`).
    case single
    /// Consecutive chunks of `BATCH` purchases, one `POST /v1/vendor/purchases/batch` per vendor
    /// present in the chunk (a batch is signed by one vendor).
    case batched
    /// Setup and N single purchases, then reads offered at a fixed rate (`Reads.swift`).
    case reads
}

struct Parameters {
    var users = 10_000
    var vendors = 100
    var purchases = 200_000
    var clients = 16
    var batch = 1000
    var seed: UInt64 = 42
    var initial: Int64 = 1_000_000
    var currency = "USD"
    var url = "http://127.0.0.1:8080"
    var adminKey = ""
    var mode = Mode.single
    /// Concurrent requests during setup and read-back (untimed); defaults to max(C, 32).
    var setupClients = 32
    /// What the server does to make an acknowledged purchase durable (reported verbatim).
    var durability = "journal: LMDB default durable commit (data pages then meta page synced), group commit, acknowledged after commit"

    static let maxPrice: UInt64 = 500
    static let feeBasisPoints: Int64 = 500
    static let royaltyBasisPoints: Int64 = 1000

    var isDefault: Bool {
        users == 10_000 && vendors == 100 && purchases == 200_000 && seed == 42 && initial == 1_000_000 && currency == "USD"
    }

    static func fromEnvironment() throws -> Parameters {
        let environment = ProcessInfo.processInfo.environment
        var parameters = Parameters()
        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else { throw UsageError("\(name) must be an integer in \(range), got '\(text)'") }
            return value
        }
        if let value = try int("U", 1...10_000_000) { parameters.users = value }
        if let value = try int("V", 1...100_000) { parameters.vendors = value }
        if let value = try int("N", 1...100_000_000) { parameters.purchases = value }
        if let value = try int("C", 1...4096) { parameters.clients = value }
        if let value = try int("BATCH", 1...1000) { parameters.batch = value }
        if let text = environment["SEED"], !text.isEmpty {
            guard let value = UInt64(text) else { throw UsageError("SEED must be an unsigned 64-bit integer, got '\(text)'") }
            parameters.seed = value
        }
        if let text = environment["INITIAL"], !text.isEmpty {
            guard let value = Int64(text), value > 0 else { throw UsageError("INITIAL must be a positive integer, got '\(text)'") }
            parameters.initial = value
        }
        if let text = environment["CURRENCY"], !text.isEmpty { parameters.currency = text }
        if let text = environment["TALLY_URL"], !text.isEmpty { parameters.url = text }
        guard let key = environment["TALLY_ADMIN_KEY"], !key.isEmpty else { throw UsageError("TALLY_ADMIN_KEY is required (the server's admin bearer key)") }
        parameters.adminKey = key
        if let text = environment["MODE"], !text.isEmpty {
            guard let mode = Mode(rawValue: text) else { throw UsageError("MODE must be single, batched or reads, got '\(text)'") }
            parameters.mode = mode
        }
        parameters.setupClients = max(parameters.clients, 32)
        if let value = try int("SETUP_C", 1...4096) { parameters.setupClients = value }
        if let text = environment["DURABILITY"], !text.isEmpty { parameters.durability = text }
        return parameters
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The N purchases, drawn in order i = 0 ..< N, stored column-wise.
struct Draws: Sendable {
    var user: [Int32]
    var vendor: [Int32]
    var price: [Int32]

    init(_ parameters: Parameters) {
        var generator = SplitMix64(seed: parameters.seed)
        let count = parameters.purchases
        user = []; vendor = []; price = []
        user.reserveCapacity(count); vendor.reserveCapacity(count); price.reserveCapacity(count)
        for _ in 0..<count {
            let r1 = generator.next()
            let r2 = generator.next()
            let r3 = generator.next()
            user.append(Int32(r1 % UInt64(parameters.users)))
            vendor.append(Int32(r2 % UInt64(parameters.vendors)))
            price.append(Int32(1 + r3 % Parameters.maxPrice))
        }
    }

    var count: Int { price.count }
}

struct Totals: Equatable, CustomStringConvertible {
    var usersSpent: Int64 = 0
    var vendorsNet: Int64 = 0
    var fees: Int64 = 0
    var royalties: Int64 = 0

    /// WORKLOAD.md's cross-check for the default parameters.
    static let workloadDefaults = Totals(usersSpent: 50_168_514, vendorsNet: 42_828_423, fees: 2_413_363, royalties: 4_926_728)

    /// What the accepted purchases must add up to (integer units, rounding down).
    static func expected(_ draws: Draws, accepted: (Int) -> Bool) -> Totals {
        var totals = Totals()
        for index in 0..<draws.count where accepted(index) {
            let price = Int64(draws.price[index])
            let fee = price * 5 / 100
            let royalty = price * 10 / 100
            totals.usersSpent += price
            totals.fees += fee
            totals.royalties += royalty
            totals.vendorsNet += price - fee - royalty
        }
        return totals
    }

    var description: String {
        "users_spent=\(usersSpent) vendors_net=\(vendorsNet) fees=\(fees) royalties=\(royalties)"
    }
}
